// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ipfrag.c - IPv4 fragments from the namespace are reassembled here, so libslirp never sees
 * one.
 *
 * Why: libslirp 4.7.0 as Debian 12 ships it crashes (SIGBUS/SIGSEGV on a pointer made of
 * packet bytes) on a single frame: a last fragment (MF clear, offset > 0) of a datagram for
 * which it has no reassembly queue yet. Any process in the container can send one, so any
 * container could kill its own network daemon. The fuzzer (tests/fuzz/fuzz_frame.c) found
 * it; tests/fuzz/corpus/frame/crash-* and tests/unit/test_ipfrag.c keep it found. (The
 * source of ip_reass() looks right; the binary's first-fragment path does not see the
 * fragment it just queued, which reads like an aliasing-dependent miscompile. A source build
 * of the same version does not crash. Either way, the shipped library is what we run.)
 *
 * How: a fragment is checked (header checksum, lengths, non-last fragments a non-zero
 * multiple of 8 bytes, nothing past 65535 bytes) and copied into its datagram's buffer, found
 * by (source, destination, id, protocol). Once the first fragment, the last one and every
 * 8-byte block in between have arrived, the datagram goes to libslirp as one unfragmented
 * frame: the first fragment's Ethernet and IP headers, total length and header checksum
 * rewritten, fragment field cleared. Later bytes overwrite earlier ones where fragments
 * overlap; a fragment that contradicts the datagram's known end discards the datagram.
 * Anything malformed is dropped here (libslirp would drop it too). Datagrams still incomplete
 * after IPFRAG_TIMEOUT_MS are discarded; at most IPFRAG_MAX are kept (the oldest goes), each
 * with a 64 KiB buffer allocated only while it is in progress.
 *
 * Frames that are not IPv4 fragments pass unchanged, at the cost of a few comparisons.
 * libslirp 4.7 drops IPv6 fragments itself, harmlessly.
 */
#include "config.h"
#include "ipfrag.h"
#include "frame.h"

#include <glib.h>
#include <string.h>

#define IPFRAG_MAX        16
#define IPFRAG_TIMEOUT_MS 15000
#define ETH_HLEN_         14
#define IP_MAX            65535 /* largest IPv4 datagram, header included */
#define IP_MF_            0x2000
#define IP_OFFMASK_       0x1fff
#define BLOCKS            (IP_MAX / 8 + 1)

struct datagram {
	bool used;
	uint8_t src[4], dst[4], id[2], proto;
	int64_t deadline_ms;
	size_t hlen;  /* the first fragment's header length; 0 until it came */
	size_t total; /* payload length, once the last fragment came */
	bool have_last;
	size_t max_end;                 /* furthest payload byte received */
	uint8_t head[ETH_HLEN_ + 60];   /* the first fragment's Ethernet and IP headers */
	uint8_t *data;                  /* payload, IP_MAX bytes */
	uint8_t have[(BLOCKS + 7) / 8]; /* which 8-byte blocks of payload arrived */
};

struct ipfrag {
	struct datagram dg[IPFRAG_MAX];
	uint8_t *out; /* the last completed datagram */
};

struct ipfrag *ipfrag_new(void)
{
	return g_new0(struct ipfrag, 1);
}

static void discard(struct datagram *d)
{
	g_free(d->data);
	memset(d, 0, sizeof(*d));
}

void ipfrag_free(struct ipfrag *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < IPFRAG_MAX; i++)
		discard(&r->dg[i]);
	g_free(r->out);
	g_free(r);
}

unsigned ipfrag_pending(const struct ipfrag *r)
{
	unsigned n = 0;
	for (int i = 0; i < IPFRAG_MAX; i++)
		n += r->dg[i].used;
	return n;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The datagram this fragment belongs to, or a fresh one (expired or oldest slot reused). */
static struct datagram *find(struct ipfrag *r, const uint8_t *ip, int64_t now_ms)
{
	struct datagram *free_slot = NULL, *oldest = NULL;
	for (int i = 0; i < IPFRAG_MAX; i++) {
		struct datagram *d = &r->dg[i];
		if (d->used && d->deadline_ms <= now_ms)
			discard(d);
		if (!d->used) {
			free_slot = free_slot ? free_slot : d;
			continue;
		}
		if (memcmp(d->src, ip + 12, 4) == 0 && memcmp(d->dst, ip + 16, 4) == 0 &&
		    memcmp(d->id, ip + 4, 2) == 0 && d->proto == ip[9])
			return d;
		if (oldest == NULL || d->deadline_ms < oldest->deadline_ms)
			oldest = d;
	}
	struct datagram *d = free_slot;
	if (d == NULL) {
		d = oldest;
		discard(d);
	}
	d->used = true;
	memcpy(d->src, ip + 12, 4);
	memcpy(d->dst, ip + 16, 4);
	memcpy(d->id, ip + 4, 2);
	d->proto = ip[9];
	d->deadline_ms = now_ms + IPFRAG_TIMEOUT_MS;
	d->data = g_malloc(IP_MAX);
	return d;
}

static bool complete(const struct datagram *d)
{
	if (d->hlen == 0 || !d->have_last)
		return false;
	for (size_t b = 0; b < (d->total + 7) / 8; b++)
		if (!(d->have[b / 8] & (1u << (b % 8))))
			return false;
	return true;
}

enum ipfrag_result ipfrag_input(struct ipfrag *r, const uint8_t *frame, size_t len, int64_t now_ms,
                                const uint8_t **out, size_t *out_len)
{
	if (len < ETH_HLEN_ + 20 || get16(frame + 12) != 0x0800)
		return IPFRAG_PASS;
	const uint8_t *ip = frame + ETH_HLEN_;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	uint16_t frag = get16(ip + 6);
	bool mf = frag & IP_MF_;
	size_t off = (size_t)(frag & IP_OFFMASK_) * 8;
	if ((ip[0] >> 4) != 4 || (!mf && off == 0))
		return IPFRAG_PASS; /* not a fragment (or not IPv4: libslirp's to judge) */

	/* A fragment: from here on libslirp never sees it. Drop what it would drop. */
	size_t tot = get16(ip + 2);
	if (ihl < 20 || ETH_HLEN_ + ihl > len || tot < ihl || ETH_HLEN_ + tot > len || ip[8] == 0 ||
	    csum_fold(csum_add(ip, ihl, 0)) != 0xffff)
		return IPFRAG_HELD;
	size_t plen = tot - ihl, end = off + plen;
	if ((mf && (plen == 0 || plen % 8 != 0)) || end > IP_MAX - 20)
		return IPFRAG_HELD;

	struct datagram *d = find(r, ip, now_ms);
	if (!mf) {
		if ((d->have_last && d->total != end) || d->max_end > end)
			return discard(d), IPFRAG_HELD; /* two different ends */
		d->have_last = true;
		d->total = end;
	} else if (d->have_last && end > d->total) {
		return discard(d), IPFRAG_HELD; /* data past the end */
	}
	if (off == 0) {
		if (ihl + (d->have_last ? d->total : d->max_end) > IP_MAX)
			return discard(d), IPFRAG_HELD;
		memcpy(d->head, frame, ETH_HLEN_ + ihl);
		d->hlen = ihl;
	}
	if (d->hlen != 0 && d->hlen + end > IP_MAX)
		return discard(d), IPFRAG_HELD;
	memcpy(d->data + off, ip + ihl, plen);
	for (size_t b = off / 8; b < (end + 7) / 8; b++)
		d->have[b / 8] |= (uint8_t)(1u << (b % 8));
	d->max_end = MAX(d->max_end, end);
	if (!complete(d))
		return IPFRAG_HELD;

	if (r->out == NULL)
		r->out = g_malloc(ETH_HLEN_ + IP_MAX);
	size_t hl = d->hlen;
	memcpy(r->out, d->head, ETH_HLEN_ + hl);
	uint8_t *oip = r->out + ETH_HLEN_;
	put16(oip + 2, (uint16_t)(hl + d->total));
	put16(oip + 6, 0);
	put16(oip + 10, 0);
	put16(oip + 10, (uint16_t)~csum_fold(csum_add(oip, hl, 0)));
	memcpy(oip + hl, d->data, d->total);
	*out = r->out;
	*out_len = ETH_HLEN_ + hl + d->total;
	discard(d);
	return IPFRAG_DONE;
}
