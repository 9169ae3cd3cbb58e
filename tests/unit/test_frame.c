// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_frame.c - the tap offload helpers (src/frame.c): checksum arithmetic against a
 * byte-by-byte reference, completing NEEDS_CSUM checksums, raising the MSS of SYNs, and the
 * virtio-net header for outgoing frames, including malformed and truncated frames.
 */
#include "frame.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* RFC 1071 the slow way: big-endian 16-bit words, odd byte padded. */
static uint16_t ref_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s >> 16) + (s & 0xffff);
	return (uint16_t)s;
}

Test(csum, matches_reference_for_every_length_and_alignment)
{
	uint8_t buf[300];
	srand(1);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len++)
			cr_assert_eq(csum_fold(csum_add(buf + off, len, 0)),
			             ref_sum(buf + off, len), "off %zu len %zu", off, len);
}

Test(csum, all_ones_and_carries)
{
	uint8_t buf[65536];
	memset(buf, 0xff, sizeof(buf));
	cr_assert_eq(csum_fold(csum_add(buf, sizeof(buf), 0)), ref_sum(buf, sizeof(buf)));
	cr_assert_eq(csum_fold(csum_add(buf, 3, 0xffff)), csum_fold(ref_sum(buf, 3) + 0xffffu));
}

/* Build an Ethernet+IPv4+TCP SYN with an MSS option; returns its length. */
static size_t make_syn4(uint8_t *f, uint16_t mss, uint8_t flags, size_t payload)
{
	memset(f, 0, 14 + 20 + 24 + payload);
	f[12] = 0x08;
	f[13] = 0x00;
	uint8_t *ip = f + 14;
	size_t iplen = 20 + 24 + payload;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	ip[12] = 10, ip[15] = 100;
	ip[16] = 10, ip[19] = 2;
	uint8_t *t = ip + 20;
	t[0] = 0x30, t[1] = 0x39, t[2] = 0x00, t[3] = 0x50;
	t[12] = 6 << 4; /* 24-byte header */
	t[13] = flags;
	t[20] = 2, t[21] = 4, t[22] = (uint8_t)(mss >> 8), t[23] = (uint8_t)mss;
	for (size_t i = 0; i < payload; i++)
		t[24 + i] = (uint8_t)i;
	return 14 + iplen;
}

/* Verify the TCP checksum of an IPv4 frame with the pseudo-header. */
static bool tcp4_csum_ok(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14;
	size_t tcplen = len - 34;
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	pseudo[10] = (uint8_t)(tcplen >> 8);
	pseudo[11] = (uint8_t)tcplen;
	uint32_t s = csum_add(pseudo, 12, 0);
	s = csum_add(f + 34, tcplen, s);
	return csum_fold(s) == 0xffff;
}

static void set_full_csum(uint8_t *f, size_t len)
{
	f[34 + 16] = f[34 + 17] = 0;
	const uint8_t *ip = f + 14;
	size_t tcplen = len - 34;
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0, pseudo[9] = 6, pseudo[10] = (uint8_t)(tcplen >> 8),
	pseudo[11] = (uint8_t)tcplen;
	uint16_t c = (uint16_t)~csum_fold(csum_add(f + 34, tcplen, csum_add(pseudo, 12, 0)));
	f[34 + 16] = (uint8_t)(c >> 8);
	f[34 + 17] = (uint8_t)c;
}

/* What the kernel hands over with NEEDS_CSUM: the field holds the pseudo-header sum. */
static void set_partial_csum(uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14;
	size_t tcplen = len - 34;
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0, pseudo[9] = 6, pseudo[10] = (uint8_t)(tcplen >> 8),
	pseudo[11] = (uint8_t)tcplen;
	uint16_t c = csum_fold(csum_add(pseudo, 12, 0));
	f[34 + 16] = (uint8_t)(c >> 8);
	f[34 + 17] = (uint8_t)c;
}

Test(complete, fills_in_a_partial_tcp_checksum)
{
	uint8_t f[2000];
	size_t len = make_syn4(f, 1460, 0x10, 1001);
	set_partial_csum(f, len);
	cr_assert_not(tcp4_csum_ok(f, len));
	cr_assert(frame_complete_csum(f, len, 34, 16));
	cr_assert(tcp4_csum_ok(f, len));
}

Test(complete, refuses_offsets_outside_the_frame)
{
	uint8_t f[100] = {0};
	cr_assert_not(frame_complete_csum(f, sizeof(f), 100, 0));
	cr_assert_not(frame_complete_csum(f, sizeof(f), 98, 1));
	cr_assert_not(frame_complete_csum(f, sizeof(f), 60, 60000));
	cr_assert(frame_complete_csum(f, sizeof(f), 90, 8));
}

Test(mss, raises_syn_mss_and_keeps_a_valid_checksum)
{
	uint8_t f[200];
	size_t len = make_syn4(f, 1460, 0x02, 0);
	set_full_csum(f, len);
	cr_assert(frame_raise_syn_mss(f, len, 65480, 65460, true));
	cr_assert_eq(f[34 + 22] << 8 | f[34 + 23], 65480);
	cr_assert(tcp4_csum_ok(f, len));
}

Test(mss, raises_syn_ack_with_partial_checksum_left_for_completion)
{
	uint8_t f[200];
	size_t len = make_syn4(f, 1460, 0x12, 0);
	set_partial_csum(f, len);
	cr_assert(frame_raise_syn_mss(f, len, 65480, 65460, false));
	cr_assert(frame_complete_csum(f, len, 34, 16));
	cr_assert(tcp4_csum_ok(f, len));
}

Test(mss, leaves_non_syn_larger_mss_and_other_frames_alone)
{
	uint8_t f[200], copy[200];
	size_t len = make_syn4(f, 1460, 0x10, 0); /* ACK only */
	memcpy(copy, f, len);
	cr_assert_not(frame_raise_syn_mss(f, len, 65480, 65460, true));
	len = make_syn4(f, 65495, 0x02, 0); /* already larger */
	cr_assert_not(frame_raise_syn_mss(f, len, 65480, 65460, true));
	len = make_syn4(f, 1460, 0x02, 0);
	f[13] = 0x06; /* ARP */
	cr_assert_not(frame_raise_syn_mss(f, len, 65480, 65460, true));
	len = make_syn4(f, 1460, 0x02, 0);
	f[14 + 7] = 8; /* a fragment */
	cr_assert_not(frame_raise_syn_mss(f, len, 65480, 65460, true));
	cr_assert_eq(memcmp(copy, copy, 1), 0);
}

Test(mss, survives_truncated_and_hostile_options)
{
	uint8_t f[200];
	size_t len = make_syn4(f, 1460, 0x02, 0);
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t g[200];
		memcpy(g, f, len);
		frame_raise_syn_mss(g, cut, 65480, 65460, true);
	}
	f[34 + 20] = 7, f[34 + 21] = 0; /* option length 0 would loop forever */
	cr_assert_not(frame_raise_syn_mss(f, len, 65480, 65460, true));
	f[34 + 21] = 200; /* runs past the header */
	cr_assert_not(frame_raise_syn_mss(f, len, 65480, 65460, true));
	f[34 + 12] = 15 << 4; /* data offset past the frame */
	cr_assert_not(frame_raise_syn_mss(f, len, 65480, 65460, true));
}

Test(vnet, small_frames_are_plain_and_marked_valid)
{
	uint8_t f[200];
	size_t len = make_syn4(f, 1460, 0x10, 100);
	struct virtio_net_hdr h;
	frame_vnet_hdr_out(f, len, 1500, &h);
	cr_assert_eq(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	cr_assert_eq(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
}

Test(vnet, large_tcp_segments_become_gso_with_the_mtus_mss)
{
	static uint8_t f[70000];
	size_t len = make_syn4(f, 1460, 0x10, 30000);
	struct virtio_net_hdr h;
	frame_vnet_hdr_out(f, len, 1500, &h);
	cr_assert_eq(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(h.hdr_len, 14 + 20 + 24);
	cr_assert_eq(h.gso_size, 1500 - 20 - 24);
	frame_vnet_hdr_out(f, len, 65520, &h);
	cr_assert_eq(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	f[14 + 9] = 17; /* UDP: never GSO */
	frame_vnet_hdr_out(f, len, 1500, &h);
	cr_assert_eq(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
}

Test(vnet, tcp_checksums_go_out_partial_with_the_pseudo_header_sum)
{
	static uint8_t f[70000];
	size_t len = make_syn4(f, 1460, 0x10, 30001);
	set_full_csum(f, len);
	struct virtio_net_hdr h;
	uint8_t csum[2];
	frame_vnet_hdr_out(f, len, 1500, &h);
	size_t pos = frame_csum_partial_out(f, len, &h, csum);
	cr_assert_eq(pos, 34 + 16);
	cr_assert_eq(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	cr_assert_eq(h.csum_start, 34);
	cr_assert_eq(h.csum_offset, 16);
	cr_assert_eq(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	/* What the receiver does with NEEDS_CSUM must give back libslirp's full checksum. */
	uint8_t full[2] = {f[pos], f[pos + 1]};
	f[pos] = csum[0];
	f[pos + 1] = csum[1];
	cr_assert(frame_complete_csum(f, len, h.csum_start, h.csum_offset));
	cr_assert_eq(f[pos], full[0]);
	cr_assert_eq(f[pos + 1], full[1]);
	f[14 + 9] = 17; /* not TCP: left alone */
	cr_assert_eq(frame_csum_partial_out(f, len, &h, csum), 0);
}
