// SPDX-License-Identifier: GPL-2.0-or-later
/* frame.h - pure Ethernet/IP/TCP helpers for the tap's offloads (see frame.c). */
#pragma once

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The 16-bit ones' complement sum of buf, added to sum (not folded, not inverted). */
uint32_t csum_add(const void *buf, size_t len, uint32_t sum);
uint16_t csum_fold(uint32_t sum);

/*
 * VIRTIO_NET_HDR_F_NEEDS_CSUM: the field at start+offset holds the pseudo-header sum; sum
 * from start to the end of the frame and store the final checksum. false if out of bounds.
 */
bool frame_complete_csum(uint8_t *frame, size_t len, unsigned start, unsigned offset);

/*
 * If frame is a TCP segment with SYN set and an MSS option below the given values (IPv4 /
 * IPv6), raise the option to them, so that libslirp sends segments that large. When
 * csum_valid the TCP checksum is updated incrementally; otherwise it is left for
 * frame_complete_csum(). Returns true if the frame changed.
 */
bool frame_raise_syn_mss(uint8_t *frame, size_t len, uint16_t mss4, uint16_t mss6, bool csum_valid);

/*
 * The virtio-net header for a frame libslirp produced (checksums complete): GSO TCP with
 * gso_size fitting the namespace's MTU when the IP packet is larger than mtu, else no GSO.
 */
void frame_vnet_hdr_out(const uint8_t *frame, size_t len, unsigned mtu, struct virtio_net_hdr *h);

/*
 * For a TCP frame from libslirp: describe its checksum as partial (NEEDS_CSUM, csum_start,
 * csum_offset in h) and put the pseudo-header sum to send in its place into csum. Returns the
 * offset of the checksum field in the frame, 0 when the frame is not TCP (leave it as it is).
 */
size_t frame_csum_partial_out(const uint8_t *frame, size_t len, struct virtio_net_hdr *h,
                              uint8_t csum[2]);

/* Is this an untagged IPv4/IPv6 TCP segment (not a fragment)? */
bool frame_is_tcp(const uint8_t *frame, size_t len);
