// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_ipfrag.c - IPv4 reassembly in front of libslirp (src/ipfrag.c): fragments in and out of
 * order, overlapping, lone last fragments (the order that crashes Debian's libslirp 4.7.0),
 * malformed fragments, expiry and the bound on datagrams in progress. A reassembled datagram
 * must be byte for byte the datagram that was fragmented, with a valid header checksum.
 */
#include "config.h"
#include "frame.h"
#include "ipfrag.h"

#include <criterion/criterion.h>
#include <glib.h>
#include <string.h>

#define ETH 14

static struct ipfrag *r;
static void setup(void)
{
	r = ipfrag_new();
}
static void teardown(void)
{
	ipfrag_free(r);
}
TestSuite(ipfrag, .init = setup, .fini = teardown);

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void fix_csum(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4;
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~csum_fold(csum_add(ip, ihl, 0)));
}

/* An Ethernet frame holding a whole UDP-ish datagram of n payload bytes with IP id `id`. */
static size_t whole(uint8_t *f, size_t n, unsigned id)
{
	memset(f, 0, ETH + 20);
	memcpy(f, "\x52\x55\x0a\x00\x02\x02\x02\xde\xad\xbe\xef\x01\x08\x00", ETH);
	uint8_t *ip = f + ETH;
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(20 + n));
	put16(ip + 4, id);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, "\x0a\x00\x02\x64\x0a\x00\x02\x03", 8);
	for (size_t i = 0; i < n; i++)
		ip[20 + i] = (uint8_t)(i * 7 + id);
	fix_csum(ip);
	return ETH + 20 + n;
}

/* Fragment [off, off+n) of the datagram in w (MF unless it reaches the end). */
static size_t piece(uint8_t *f, const uint8_t *w, size_t wlen, size_t off, size_t n)
{
	size_t total = wlen - ETH - 20;
	memcpy(f, w, ETH + 20);
	memcpy(f + ETH + 20, w + ETH + 20 + off, n);
	uint8_t *ip = f + ETH;
	put16(ip + 2, (unsigned)(20 + n));
	put16(ip + 6, (unsigned)((off / 8) | (off + n < total ? 0x2000 : 0)));
	fix_csum(ip);
	return ETH + 20 + n;
}

static enum ipfrag_result feed(const uint8_t *f, size_t len, int64_t now, const uint8_t **out,
                               size_t *out_len)
{
	return ipfrag_input(r, f, len, now, out, out_len);
}

/* Feed the pieces of w in the given order; the last must complete it, the others be held. */
static void expect_reassembly(const uint8_t *w, size_t wlen, const size_t (*pieces)[2],
                              size_t npieces)
{
	static uint8_t f[70000];
	const uint8_t *out = NULL;
	size_t out_len = 0;
	for (size_t i = 0; i < npieces; i++) {
		size_t len = piece(f, w, wlen, pieces[i][0], pieces[i][1]);
		enum ipfrag_result res = feed(f, len, 1000, &out, &out_len);
		cr_assert_eq(res, i + 1 < npieces ? IPFRAG_HELD : IPFRAG_DONE, "piece %zu", i);
	}
	cr_assert_eq(out_len, wlen);
	cr_assert(memcmp(out, w, wlen) == 0, "reassembled datagram differs");
	cr_assert_eq(csum_fold(csum_add(out + ETH, 20, 0)), 0xffff, "bad header checksum");
	cr_assert_eq(ipfrag_pending(r), 0);
}

Test(ipfrag, non_fragments_pass)
{
	uint8_t f[200];
	const uint8_t *out;
	size_t out_len;
	size_t len = whole(f, 100, 1);
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_PASS);
	f[ETH + 6] = 0x40; /* DF */
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_PASS);
	f[12] = 0x08, f[13] = 0x06; /* ARP */
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_PASS);
	cr_assert_eq(feed(f, 20, 0, &out, &out_len), IPFRAG_PASS);
	f[12] = 0x86, f[13] = 0xdd; /* IPv6 */
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_PASS);
	cr_assert_eq(ipfrag_pending(r), 0);
}

Test(ipfrag, in_order)
{
	static uint8_t w[9000];
	size_t wlen = whole(w, 8000, 2);
	const size_t p[][2] = {{0, 1480},    {1480, 1480}, {2960, 1480},
	                       {4440, 1480}, {5920, 1480}, {7400, 600}};
	expect_reassembly(w, wlen, p, G_N_ELEMENTS(p));
}

/* The order that crashes libslirp 4.7.0 when it sees the fragments itself. */
Test(ipfrag, last_fragment_first)
{
	static uint8_t w[3000];
	size_t wlen = whole(w, 2000, 3);
	const size_t p[][2] = {{1480, 520}, {0, 1480}};
	expect_reassembly(w, wlen, p, G_N_ELEMENTS(p));
}

Test(ipfrag, shuffled_and_overlapping)
{
	static uint8_t w[5000];
	size_t wlen = whole(w, 4001, 4);
	const size_t p[][2] = {{2000, 1000}, {4000, 1}, {800, 1600}, {3000, 1001}, {0, 808}};
	expect_reassembly(w, wlen, p, G_N_ELEMENTS(p));
}

Test(ipfrag, lone_last_fragment_is_held_then_expires)
{
	static uint8_t w[200], f[200];
	const uint8_t *out;
	size_t out_len;
	size_t wlen = whole(w, 54, 5);
	size_t len = piece(f, w, wlen, 16, 38);
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_HELD);
	cr_assert_eq(ipfrag_pending(r), 1);
	/* 15 s later the datagram is gone: the first fragment alone does not complete it. */
	len = piece(f, w, wlen, 0, 16);
	cr_assert_eq(feed(f, len, 15000, &out, &out_len), IPFRAG_HELD);
	cr_assert_eq(ipfrag_pending(r), 1);
}

Test(ipfrag, malformed_fragments_are_dropped)
{
	static uint8_t w[3000], f[3000];
	const uint8_t *out;
	size_t out_len;
	size_t wlen = whole(w, 2000, 6);
	size_t len = piece(f, w, wlen, 0, 1480);
	f[ETH + 10] ^= 1; /* header checksum */
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_HELD);
	len = piece(f, w, wlen, 0, 1001); /* not a multiple of 8, MF */
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_HELD);
	len = piece(f, w, wlen, 0, 1480);
	cr_assert_eq(feed(f, len - 1, 0, &out, &out_len), IPFRAG_HELD); /* frame too short */
	f[ETH + 8] = 0, fix_csum(f + ETH);                              /* TTL 0 */
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_HELD);
	cr_assert_eq(ipfrag_pending(r), 0);
	/* Past 65535 bytes. */
	len = piece(f, w, wlen, 1480, 520);
	put16(f + ETH + 6, 8190);
	fix_csum(f + ETH);
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_HELD);
	cr_assert_eq(ipfrag_pending(r), 0);
}

Test(ipfrag, contradicting_ends_discard_the_datagram)
{
	static uint8_t w[3000], f[3000];
	const uint8_t *out;
	size_t out_len;
	size_t wlen = whole(w, 2000, 7);
	size_t len = piece(f, w, wlen, 1480, 520);
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_HELD);
	len = piece(f, w, wlen, 1480, 400);
	put16(f + ETH + 6, 1480 / 8); /* another "last" fragment, ending elsewhere */
	fix_csum(f + ETH);
	cr_assert_eq(feed(f, len, 0, &out, &out_len), IPFRAG_HELD);
	cr_assert_eq(ipfrag_pending(r), 0);
}

Test(ipfrag, bounded_datagrams_in_progress)
{
	static uint8_t w[3000], f[3000];
	const uint8_t *out;
	size_t out_len;
	for (unsigned id = 100; id < 200; id++) {
		size_t wlen = whole(w, 2000, id);
		size_t len = piece(f, w, wlen, 0, 1480);
		cr_assert_eq(feed(f, len, id, &out, &out_len), IPFRAG_HELD);
	}
	cr_assert_eq(ipfrag_pending(r), 16);
	/* The newest ones are kept: the last datagram still completes. */
	size_t wlen = whole(w, 2000, 199);
	size_t len = piece(f, w, wlen, 1480, 520);
	cr_assert_eq(feed(f, len, 300, &out, &out_len), IPFRAG_DONE);
	cr_assert_eq(out_len, wlen);
}
