// SPDX-License-Identifier: GPL-2.0-or-later
/* tapring.h - reading the tap through an io_uring multishot read (see tapring.c). */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

struct tapring_stats {
	uint64_t arms;           /* multishot reads submitted (the first, and after each end) */
	uint64_t out_of_buffers; /* ends because every buffer held a frame not yet taken */
};

struct tapring;

/* A ring reading tapfd's frames (each at most frame_max bytes), or NULL and why not. */
struct tapring *tapring_new(int tapfd, size_t frame_max, GError **err);
void tapring_free(struct tapring *r);
/* The fd to poll for POLLIN instead of the tap's. */
int tapring_fd(const struct tapring *r);
/*
 * The next frame read: its length, with *frame pointing at it until the next call; 0 if none is
 * ready now; -1 (err set) if the tap failed. Each call gives the previous frame's buffer back.
 */
ssize_t tapring_read(struct tapring *r, uint8_t **frame, GError **err);
const struct tapring_stats *tapring_stats(const struct tapring *r);
