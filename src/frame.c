// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * frame.c - the packet surgery the tap offloads need, as pure functions over byte buffers.
 *
 * With IFF_VNET_HDR and TUNSETOFFLOAD the namespace's kernel hands us frames with checksums
 * left to us (VIRTIO_NET_HDR_F_NEEDS_CSUM) and TCP segments of up to 64 KiB (TSO), and
 * accepts the same from us (GSO). libslirp verifies every checksum it receives and sizes its
 * TCP segments by the MSS the namespace advertises, so:
 *  - incoming: frame_complete_csum() finishes the partial checksum; frame_raise_syn_mss()
 *    raises the MSS option of SYNs to what libslirp's (large) MTU allows, so libslirp sends
 *    big segments even when the namespace's MTU is 1500;
 *  - outgoing: frame_csum_partial_out() turns a TCP segment's checksum back into the
 *    pseudo-header sum with VIRTIO_NET_HDR_F_NEEDS_CSUM, as vhost-net does: a local socket in
 *    the namespace then takes it without summing 64 KiB again (that work would run in our
 *    write() call), and a namespace that forwards it computes the checksum on the way out;
 *  - outgoing: frame_vnet_hdr_out() describes a segment larger than the namespace's MTU as
 *    GSO TCP with the MSS that MTU allows, so the namespace's kernel takes it as one packet
 *    and does not re-segment it. Every frame is also marked VIRTIO_NET_HDR_F_DATA_VALID
 *    (libslirp computed its checksums), but tun ignores that flag on write (only the
 *    virtio-net driver honours it): the namespace's kernel still verifies every checksum, so a
 *    frame damaged on its way in is dropped and retransmitted, not delivered. Only damage the
 *    checksum cannot see gets through; tests/integration/integrity_*.sh compare SHA-256.
 * Only untagged IPv4 and IPv6 (without extension headers before TCP) are touched; anything
 * else passes unchanged. Every offset is bounds-checked: frames come from an untrusted guest.
 */
#include "config.h"
#include "frame.h"

#include <arpa/inet.h>
#include <string.h>

#define ETH_HLEN_  14
#define ETH_P_IP_  0x0800
#define ETH_P_IP6_ 0x86dd
#define PROTO_TCP  6
#define TCP_SYN    0x02

/*
 * The ones' complement sum does not depend on byte order as long as the result is swapped
 * back at the end (RFC 1071), so sum the buffer as native 64-bit words, four at a time, each
 * split into 32-bit halves so that no carry is lost, then fold and swap.
 */
static uint64_t sum_words(const uint8_t *p, size_t len, uint64_t acc)
{
	uint64_t w[4];
	while (len >= 32) {
		memcpy(w, p, 32);
		acc += (w[0] & 0xffffffff) + (w[0] >> 32) + (w[1] & 0xffffffff) + (w[1] >> 32) +
		       (w[2] & 0xffffffff) + (w[2] >> 32) + (w[3] & 0xffffffff) + (w[3] >> 32);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		memcpy(w, p, 8);
		acc += (w[0] & 0xffffffff) + (w[0] >> 32);
		p += 8;
		len -= 8;
	}
	uint8_t tail[8] = {0};
	memcpy(tail, p, len);
	memcpy(w, tail, 8);
	return acc + (w[0] & 0xffffffff) + (w[0] >> 32);
}

uint32_t csum_add(const void *buf, size_t len, uint32_t sum)
{
	uint64_t acc = sum_words(buf, len, 0);
	acc = (acc >> 32) + (acc & 0xffffffff);
	acc = (acc >> 32) + (acc & 0xffffffff);
	uint32_t s = (uint32_t)((acc >> 16) + (acc & 0xffff));
	s = (s >> 16) + (s & 0xffff);
	/* On a little-endian host the 16-bit sum is byte-swapped relative to network order. */
	uint16_t native = (uint16_t)s;
	uint16_t be = ntohs(native);
	uint32_t total = (uint32_t)be + sum;
	return (total >> 16) + (total & 0xffff);
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum >> 16) + (sum & 0xffff);
	return (uint16_t)sum;
}

bool frame_complete_csum(uint8_t *frame, size_t len, unsigned start, unsigned offset)
{
	if (start >= len || (size_t)start + offset + 2 > len)
		return false;
	uint16_t c = (uint16_t)~csum_fold(csum_add(frame + start, len - start, 0));
	/* UDP sends a computed 0 as 0xffff (0 means "no checksum"); TCP accepts either. */
	if (c == 0)
		c = 0xffff;
	frame[start + offset] = (uint8_t)(c >> 8);
	frame[start + offset + 1] = (uint8_t)c;
	return true;
}

/* Locate the TCP header of an untagged IPv4/IPv6 frame; 0 when it is not TCP. */
static size_t tcp_offset(const uint8_t *f, size_t len, bool *v6)
{
	if (len < ETH_HLEN_ + 20)
		return 0;
	uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
	const uint8_t *ip = f + ETH_HLEN_;
	size_t off;
	if (type == ETH_P_IP_) {
		size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
		/* Not a fragment (offset 0, MF clear), and TCP. */
		if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != PROTO_TCP || (ip[6] & 0x3f) || ip[7])
			return 0;
		off = ETH_HLEN_ + ihl;
		*v6 = false;
	} else if (type == ETH_P_IP6_) {
		if (len < ETH_HLEN_ + 40 || (ip[0] >> 4) != 6 || ip[6] != PROTO_TCP)
			return 0;
		off = ETH_HLEN_ + 40;
		*v6 = true;
	} else {
		return 0;
	}
	if (off + 20 > len)
		return 0;
	return off;
}

/* RFC 1624 incremental update of a checksum field for one 16-bit word changing. */
static void csum_replace16(uint8_t *field, uint16_t old, uint16_t new_)
{
	uint16_t hc = (uint16_t)(field[0] << 8 | field[1]);
	uint32_t sum = (uint16_t)~hc + (uint32_t)(uint16_t)~old + new_;
	uint16_t res = (uint16_t)~csum_fold(sum);
	field[0] = (uint8_t)(res >> 8);
	field[1] = (uint8_t)res;
}

bool frame_raise_syn_mss(uint8_t *frame, size_t len, uint16_t mss4, uint16_t mss6, bool csum_valid)
{
	bool v6;
	size_t t = tcp_offset(frame, len, &v6);
	if (t == 0 || !(frame[t + 13] & TCP_SYN))
		return false;
	size_t doff = (size_t)(frame[t + 12] >> 4) * 4;
	if (doff < 20 || t + doff > len)
		return false;
	uint16_t want = v6 ? mss6 : mss4;
	for (size_t o = t + 20; o < t + doff;) {
		uint8_t kind = frame[o];
		if (kind == 0)
			break;
		if (kind == 1) {
			o++;
			continue;
		}
		if (o + 1 >= t + doff || frame[o + 1] < 2 || o + frame[o + 1] > t + doff)
			break;
		if (kind == 2 && frame[o + 1] == 4) {
			uint16_t cur = (uint16_t)(frame[o + 2] << 8 | frame[o + 3]);
			if (cur >= want)
				return false;
			frame[o + 2] = (uint8_t)(want >> 8);
			frame[o + 3] = (uint8_t)want;
			if (csum_valid)
				csum_replace16(frame + t + 16, cur, want);
			return true;
		}
		o += frame[o + 1];
	}
	return false;
}

void frame_vnet_hdr_out(const uint8_t *frame, size_t len, unsigned mtu, struct virtio_net_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	if (len <= ETH_HLEN_ + mtu)
		return;
	bool v6;
	size_t t = tcp_offset(frame, len, &v6);
	if (t == 0)
		return;
	size_t doff = (size_t)(frame[t + 12] >> 4) * 4;
	size_t hdrs = t + doff; /* Ethernet + IP + TCP */
	if (doff < 20 || hdrs >= len || hdrs - ETH_HLEN_ >= mtu)
		return;
	h->gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h->hdr_len = (uint16_t)hdrs;
	h->gso_size = (uint16_t)(mtu - (hdrs - ETH_HLEN_));
}

/* The TCP length an IPv4/IPv6 header declares for the segment at t; 0 if inconsistent. */
static size_t tcp_len_declared(const uint8_t *f, size_t len, size_t t, bool v6)
{
	const uint8_t *ip = f + ETH_HLEN_;
	size_t l =
	    v6 ? (size_t)(ip[4] << 8 | ip[5]) : (size_t)(ip[2] << 8 | ip[3]) - (t - ETH_HLEN_);
	if (v6 && t != ETH_HLEN_ + 40)
		return 0;
	return l >= 20 && t + l <= len ? l : 0;
}

size_t frame_csum_partial_out(const uint8_t *frame, size_t len, struct virtio_net_hdr *h,
                              uint8_t csum[2])
{
	bool v6;
	size_t t = tcp_offset(frame, len, &v6);
	if (t == 0)
		return 0;
	size_t tcplen = tcp_len_declared(frame, len, t, v6);
	if (tcplen == 0)
		return 0;
	const uint8_t *ip = frame + ETH_HLEN_;
	uint32_t sum;
	if (v6) { /* source, destination, 32-bit length, three zero bytes, next header */
		const uint8_t rest[8] = {(uint8_t)(tcplen >> 24),
		                         (uint8_t)(tcplen >> 16),
		                         (uint8_t)(tcplen >> 8),
		                         (uint8_t)tcplen,
		                         0,
		                         0,
		                         0,
		                         PROTO_TCP};
		sum = csum_add(rest, 8, csum_add(ip + 8, 32, 0));
	} else { /* source, destination, zero, protocol, 16-bit length */
		const uint8_t rest[4] = {0, PROTO_TCP, (uint8_t)(tcplen >> 8), (uint8_t)tcplen};
		sum = csum_add(rest, 4, csum_add(ip + 12, 8, 0));
	}
	uint16_t c = csum_fold(sum);
	csum[0] = (uint8_t)(c >> 8);
	csum[1] = (uint8_t)c;
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = (uint16_t)t;
	h->csum_offset = 16;
	return t + 16;
}

bool frame_is_tcp(const uint8_t *frame, size_t len)
{
	bool v6;
	return tcp_offset(frame, len, &v6) != 0;
}
