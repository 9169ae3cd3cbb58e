// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcpseg.c - TCP segments in Ethernet frames, for slirpns's own TCP endpoint (tcpout.c):
 * reading the namespace's segments and writing ours, with no connection state.
 *
 * Parsing takes untagged IPv4 (no fragments) and IPv6 (TCP right after the fixed header:
 * libslirp gets anything with extension headers) frames and checks every length against the
 * frame before anything is read; of the options only MSS and window scale matter, and only in
 * a SYN (the SYN-ACK we send offers neither SACK nor timestamps, so the namespace uses none).
 * Building writes the headers of a segment from the connection's far end to the namespace:
 * the gateway's MAC, the far address as source, DF set, TTL 64. The TCP checksum is left for
 * the caller: in full without offloads (tcpseg_full_csum()), or partial with them (frame.c).
 */
#include "config.h"
#include "tcpseg.h"
#include "frame.h"

#include <glib.h>
#include <string.h>

void tcpseg_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void tcpseg_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void parse_syn_options(const uint8_t *o, size_t n, struct seg *s)
{
	for (size_t i = 0; i < n;) {
		if (o[i] == 0)
			break;
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
			break;
		if (o[i] == 2 && o[i + 1] == 4)
			s->mss = (uint16_t)(o[i + 2] << 8 | o[i + 3]);
		else if (o[i] == 3 && o[i + 1] == 3)
			s->wscale = MIN(o[i + 2], 14);
		i += o[i + 1];
	}
}

/* The IP part: addresses into s->key, and where TCP starts and the segment ends. */
static bool parse_ip(const uint8_t *f, size_t len, struct seg *s, size_t *t, size_t *end)
{
	uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
	const uint8_t *ip = f + TCPSEG_ETH_HLEN;
	if (type == 0x0800) {
		size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = (size_t)(ip[2] << 8 | ip[3]);
		if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 6 || (ip[6] & 0x3f) || ip[7] ||
		    tot < ihl + 20 || TCPSEG_ETH_HLEN + tot > len)
			return false;
		memcpy(s->key.gaddr, ip + 12, 4);
		memcpy(s->key.faddr, ip + 16, 4);
		*t = TCPSEG_ETH_HLEN + ihl;
		*end = TCPSEG_ETH_HLEN + tot;
		return true;
	}
	if (type == 0x86dd) {
		size_t plen = (size_t)(ip[4] << 8 | ip[5]);
		if ((ip[0] >> 4) != 6 || ip[6] != 6 || plen < 20 ||
		    TCPSEG_ETH_HLEN + 40 + plen > len)
			return false;
		s->key.v6 = 1;
		memcpy(s->key.gaddr, ip + 8, 16);
		memcpy(s->key.faddr, ip + 24, 16);
		*t = TCPSEG_ETH_HLEN + 40;
		*end = *t + plen;
		return true;
	}
	return false;
}

bool tcpseg_parse(const uint8_t *f, size_t len, struct seg *s)
{
	memset(s, 0, sizeof(*s));
	s->wscale = -1;
	size_t t, end;
	if (len < TCPSEG_ETH_HLEN + 40 || !parse_ip(f, len, s, &t, &end))
		return false;
	const uint8_t *th = f + t;
	size_t doff = (size_t)(th[12] >> 4) * 4;
	if (doff < 20 || t + doff > end)
		return false;
	s->frame = f;
	s->key.gport = (uint16_t)(th[0] << 8 | th[1]);
	s->key.fport = (uint16_t)(th[2] << 8 | th[3]);
	s->seq = get32(th + 4);
	s->ack = get32(th + 8);
	s->flags = th[13] & 0x3f;
	s->win = (uint16_t)(th[14] << 8 | th[15]);
	s->data = th + doff;
	s->len = end - t - doff;
	if (s->flags & TH_SYN)
		parse_syn_options(th + 20, doff - 20, s);
	return true;
}

/* The IP header; returns its length. */
static size_t ip_header(uint8_t *h, const struct tcpseg_out *o, size_t tcplen)
{
	const struct conn_key *k = o->key;
	if (!k->v6) {
		memset(h, 0, 20);
		h[0] = 0x45;
		tcpseg_put16(h + 2, (uint16_t)(20 + tcplen));
		tcpseg_put16(h + 4, o->ip_id);
		h[6] = 0x40; /* DF */
		h[8] = 64;
		h[9] = 6;
		memcpy(h + 12, k->faddr, 4);
		memcpy(h + 16, k->gaddr, 4);
		tcpseg_put16(h + 10, (uint16_t)~csum_fold(csum_add(h, 20, 0)));
		return 20;
	}
	tcpseg_put32(h, 0x60000000);
	tcpseg_put16(h + 4, (uint16_t)tcplen);
	h[6] = 6;
	h[7] = 64;
	memcpy(h + 8, k->faddr, 16);
	memcpy(h + 24, k->gaddr, 16);
	return 40;
}

size_t tcpseg_headers(uint8_t *f, const struct tcpseg_out *o)
{
	memcpy(f, o->guest_mac, 6);
	memcpy(f + 6, o->gw_mac, 6);
	tcpseg_put16(f + 12, o->key->v6 ? 0x86dd : 0x0800);
	size_t ip = ip_header(f + TCPSEG_ETH_HLEN, o, 20 + o->optlen + o->payload);
	uint8_t *th = f + TCPSEG_ETH_HLEN + ip;
	tcpseg_put16(th, o->key->fport);
	tcpseg_put16(th + 2, o->key->gport);
	tcpseg_put32(th + 4, o->seq);
	tcpseg_put32(th + 8, o->ack);
	th[12] = (uint8_t)(((20 + o->optlen) / 4) << 4);
	th[13] = o->flags;
	tcpseg_put16(th + 14, o->win);
	tcpseg_put32(th + 16, 0); /* checksum, urgent pointer */
	if (o->optlen > 0)
		memcpy(th + 20, o->opts, o->optlen);
	return TCPSEG_ETH_HLEN + ip + 20 + o->optlen;
}

void tcpseg_full_csum(uint8_t *f, bool v6, size_t hdrs, size_t optlen, size_t len)
{
	size_t t = hdrs - 20 - optlen, tcplen = len - t;
	uint32_t sum;
	if (v6) {
		uint8_t rest[8] = {0, 0, (uint8_t)(tcplen >> 8), (uint8_t)tcplen, 0, 0, 0, 6};
		sum = csum_add(rest, 8, csum_add(f + TCPSEG_ETH_HLEN + 8, 32, 0));
	} else {
		uint8_t rest[4] = {0, 6, (uint8_t)(tcplen >> 8), (uint8_t)tcplen};
		sum = csum_add(rest, 4, csum_add(f + TCPSEG_ETH_HLEN + 12, 8, 0));
	}
	tcpseg_put16(f + t + 16, (uint16_t)~csum_fold(csum_add(f + t, tcplen, sum)));
}
