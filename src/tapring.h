// SPDX-License-Identifier: GPL-2.0-or-later
/* tapring.h - the tap read and written through io_uring (see tapring.c). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct tapring_stats {
	uint64_t arms;           /* multishot reads submitted (the first, and after each end) */
	uint64_t out_of_buffers; /* ends because every buffer held a frame not yet taken */
	uint64_t queued_writes;  /* frames written through the write ring */
	uint64_t write_batches;  /* io_uring_enter(2) calls that submitted them */
	uint64_t write_errors;   /* of them, refused by the tap (dropped) */
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
/*
 * Queue one frame (the iovecs' bytes, header included) for the tap; true if queued (it is
 * copied), false if the caller must write it itself: too large, or no write ring. Queued frames
 * go in order at the next tapring_flush(), which a false return has already done.
 */
bool tapring_write(struct tapring *r, const struct iovec *iov, int cnt);
/* Submit the queued frames (one io_uring_enter(2)) and free the slots of those written. */
void tapring_flush(struct tapring *r);
const struct tapring_stats *tapring_stats(const struct tapring *r);
