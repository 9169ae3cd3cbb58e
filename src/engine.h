// SPDX-License-Identifier: GPL-2.0-or-later
/* engine.h - the libslirp instance and its callbacks (see engine.c). */
#pragma once

#include "options.h"

#include <linux/virtio_net.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <stdint.h>

struct engine_stats {
	uint64_t frames_in, bytes_in;   /* namespace -> slirpns */
	uint64_t frames_out, bytes_out; /* slirpns -> namespace */
	uint64_t frames_dropped;        /* could not be written to the tap */
	uint64_t frames_malformed;      /* refused on the way in (bad offload header) */
	uint64_t guest_errors;
};

struct engine;

struct engine *engine_new(const struct options *opt, int tapfd);
/*
 * libslirp's configuration for opt's network (without outbound addresses, which need storage
 * that outlives the call): network+2 gateway, +3 DNS, +15 DHCP, IPv6 prefix ::2 and ::3.
 */
void engine_slirp_config(const struct options *opt, unsigned slirp_mtu, SlirpConfig *cfg);
void engine_free(struct engine *e);
Slirp *engine_slirp(struct engine *e);
const struct engine_stats *engine_stats(const struct engine *e);
/* Whether the tap carries virtio-net headers (offloads on). */
bool engine_offload(const struct engine *e);

struct pcap;
/* Show every frame crossing the tap to this capture (NULL: none); see pcap.c. */
void engine_set_pcap(struct engine *e, struct pcap *p);
/*
 * --target-type=bess: carry frames over fd, a connected BESS peer (plain frames), or nowhere
 * (-1: frames from libslirp are dropped). The engine was created with tapfd -1.
 */
void engine_set_link(struct engine *e, int fd);

/*
 * Write one frame to the namespace (libslirp's, or the outbound fast path's: with offloads
 * its TCP checksum is left to frame.c's partial convention). false: dropped.
 */
bool engine_send_frame(struct engine *e, const void *frame, size_t len);
/* The same with the virtio-net header given (only when engine_offload()). */
bool engine_send_frame_vnet(struct engine *e, const struct virtio_net_hdr *h, const void *frame,
                            size_t len);

struct tcpout;
/* Offer every frame from the namespace to the outbound fast path first (see tcpout.c). */
void engine_set_tcpout(struct engine *e, struct tcpout *t);
/* Frames of UDP forwards' loopback clients go through u both ways (udpreply.c); NULL: none. */
struct udpreply;
void engine_set_udpreply(struct engine *e, struct udpreply *u);

/* hide(opaque, fd) true: libslirp is not told that its fd is readable (a forward listener
 * that the fast path accepts on itself). */
void engine_hide_readable(struct engine *e, bool (*hide)(void *opaque, int fd), void *opaque);

/* Feed one frame from the namespace to libslirp (IPv4 fragments through ipfrag.c first). */
void engine_input(struct engine *e, const uint8_t *frame, size_t len);
/* Read every frame the tap has (bounded) and feed it to libslirp. false: tap is gone. */
bool engine_tap_readable(struct engine *e, GError **err);

/*
 * One poll round's libslirp part: add libslirp's fds to the array (after the first `base`
 * entries, which belong to the caller) and lower *timeout_ms to what libslirp and its timers
 * need. After poll(), engine_poll_done() hands libslirp the results and fires due timers.
 */
void engine_poll_prepare(struct engine *e, GArray *pollfds, int *timeout_ms);
void engine_poll_done(struct engine *e, GArray *pollfds, bool poll_failed);
