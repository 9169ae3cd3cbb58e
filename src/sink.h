// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sink.h - where an endpoint's frames for the namespace go. datapath.c provides one; the
 * endpoints (engine.c for libslirp, tcpout.c) are given it and never name the datapath, so
 * calls only ever go down the chain (datapath -> endpoint) and frames come back through this.
 */
#pragma once

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>

struct frame_sink {
	/* A whole frame (checksums as frame.c's conventions leave them). false: dropped. */
	bool (*send)(void *opaque, const void *frame, size_t len);
	/* A frame behind the given virtio-net header; only when vnet is true. */
	bool (*send_vnet)(void *opaque, const struct virtio_net_hdr *h, const void *frame,
	                  size_t len);
	void *opaque;
	bool vnet;          /* the tap takes virtio-net headers (offloads on) */
	unsigned slirp_mtu; /* what libslirp is told: larger than the MTU with offloads */
};
