// SPDX-License-Identifier: GPL-2.0-or-later
/* engine.h - the libslirp instance and its callbacks (see engine.c). */
#pragma once

#include "admit.h"
#include "options.h"
#include "sink.h"

#include <linux/virtio_net.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <stdint.h>

struct engine_stats {
	uint64_t guest_errors;
	uint64_t frames_refused; /* would have opened a libslirp socket beyond the caps */
};

struct engine;

/* libslirp for opt's network; its frames for the namespace go to sink. */
struct engine *engine_new(const struct options *opt, const struct frame_sink *sink);
/*
 * libslirp's configuration for opt's network (without outbound addresses, which need storage
 * that outlives the call): network+2 gateway, +3 DNS, +15 DHCP, IPv6 prefix ::2 and ::3.
 */
void engine_slirp_config(const struct options *opt, unsigned slirp_mtu, SlirpConfig *cfg);
void engine_free(struct engine *e);
Slirp *engine_slirp(struct engine *e);
const struct engine_stats *engine_stats(const struct engine *e);
/* libslirp's sockets and UDP flows against the caps (admit.c). */
struct admit_stats engine_admit_stats(const struct engine *e);
/* Frames of UDP forwards' loopback clients go through u both ways (udpreply.c); NULL: none. */
struct udpreply;
void engine_set_udpreply(struct engine *e, struct udpreply *u);
/* hide(opaque, fd) true: libslirp is not told that its fd is readable (a forward listener
 * that the fast path accepts on itself). */
void engine_hide_readable(struct engine *e, bool (*hide)(void *opaque, int fd), void *opaque);

/*
 * Feed one whole frame from the namespace to libslirp (IPv4 fragments already reassembled,
 * checksums complete), through admit.c's gate.
 */
void engine_input(struct engine *e, const uint8_t *frame, size_t len);

/*
 * One poll round's libslirp part: add libslirp's fds to the array (after the first `base`
 * entries, which belong to the caller) and lower *timeout_ms to what libslirp and its timers
 * need. After poll(), engine_poll_done() hands libslirp the results and fires due timers.
 */
void engine_poll_prepare(struct engine *e, GArray *pollfds, int *timeout_ms);
void engine_poll_done(struct engine *e, GArray *pollfds, bool poll_failed);
