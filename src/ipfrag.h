// SPDX-License-Identifier: GPL-2.0-or-later
/* ipfrag.h - IPv4 reassembly in front of libslirp (see ipfrag.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ipfrag;

struct ipfrag *ipfrag_new(void);
void ipfrag_free(struct ipfrag *r);

enum ipfrag_result {
	IPFRAG_PASS, /* not an IPv4 fragment: hand the frame to libslirp as it is */
	IPFRAG_HELD, /* a fragment, kept for later (or dropped as malformed): nothing to hand on */
	IPFRAG_DONE, /* it completed a datagram: hand *out to libslirp instead */
};

/*
 * Look at one Ethernet frame from the namespace (now_ms: a monotonic clock, for expiry). On
 * IPFRAG_DONE, *out and *out_len give the whole datagram as one unfragmented Ethernet frame,
 * valid until the next call.
 */
enum ipfrag_result ipfrag_input(struct ipfrag *r, const uint8_t *frame, size_t len, int64_t now_ms,
                                const uint8_t **out, size_t *out_len);

/* Datagrams in progress (for tests and stats). */
unsigned ipfrag_pending(const struct ipfrag *r);
