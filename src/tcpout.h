// SPDX-License-Identifier: GPL-2.0-or-later
/* tcpout.h - the outbound fast path: the namespace's TCP connections without libslirp (see
 * tcpout.c). */
#pragma once

#include "sink.h"
#include "loop.h"
#include "options.h"

#include <jansson.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tcpout;

struct tcpout_stats {
	bool enabled;
	uint64_t total;     /* outbound connections opened on this path */
	uint64_t total_in;  /* forwarded clients taken (tcpout_take()) */
	uint64_t active_in; /* of those, open now */
	uint64_t active;    /* outbound, open now */
	/* Against the bounds (bounds.c): */
	uint64_t half_open;   /* connections not yet established */
	uint64_t buffered;    /* bytes held for the host (and small answers for the namespace) */
	uint64_t refused;     /* SYNs refused: --max-tcp connections were open */
	uint64_t evicted;     /* half-open connections reset: --max-half-open were waiting */
	uint64_t buffer_full; /* segments cut short: --max-buffered bytes were held */
};

/* NULL never: when the path is off (--outbound-fast-path=off), tcpout_input() takes nothing. */
struct tcpout *tcpout_new(const struct options *opt, const struct frame_sink *sink, struct loop *l);
void tcpout_free(struct tcpout *t);

/*
 * A frame from the namespace, before any checksum completion. true: it belongs to (or opened)
 * a connection of this path and was consumed; false: give it to libslirp.
 */
bool tcpout_input(struct tcpout *t, const uint8_t *frame, size_t len);
/* The end of a batch of frames: send the ACKs the batch made due (one per connection). */
void tcpout_flush(struct tcpout *t);

/* Would tcpout_take() take a client whose family matches its guest's? */
bool tcpout_ready(const struct tcpout *t);
/*
 * A client accepted on a TCP port forward (non-blocking: accept4(SOCK_NONBLOCK)), from a
 * non-loopback address, for guest (an address and port in the namespace): open a connection
 * to guest from the client's own address and port, as libslirp would, and relay it. false:
 * not taken (the caller keeps client).
 */
bool tcpout_take(struct tcpout *t, int client, const struct sockaddr *peer,
                 const struct sockaddr *guest);

struct tcpout_stats tcpout_stats(const struct tcpout *t);
/* Append one list_connections row per connection to list. */
void tcpout_connections(const struct tcpout *t, json_t *list);
