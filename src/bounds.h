// SPDX-License-Identifier: GPL-2.0-or-later
/* bounds.h - what a guest can make one daemon hold, and the defaults (see bounds.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#define BOUND_TCP_DEFAULT       4096u
#define BOUND_HALF_OPEN_DEFAULT 1024u
#define BOUND_UDP_DEFAULT       4096u
#define BOUND_BUFFERED_DEFAULT  (64u << 20)
#define BOUND_BUFFERED_MIN      (64u << 10)
#define BOUND_COUNT_MAX         (1u << 20)
/* Descriptors kept for the daemon itself (tap, API clients, forwards, pipes, logs). */
#define BOUND_FD_RESERVE 1200u

struct bounds {
	unsigned tcp;       /* --max-tcp: concurrent TCP connections */
	unsigned half_open; /* --max-half-open: of those, not yet established */
	unsigned udp;       /* --max-udp: UDP flows (guest address and port pairs) */
	uint64_t buffered;  /* --max-buffered: bytes held for the host, all TCP connections */
};

void bounds_default(struct bounds *l);
/* Host sockets libslirp may hold in all (its TCP, UDP and ICMP sockets). */
unsigned bounds_sockets(const struct bounds *l);
/*
 * Lower the counts, keeping their proportions, so that every socket they allow plus
 * BOUND_FD_RESERVE fits in nofile descriptors. true: something was lowered.
 */
bool bounds_fit(struct bounds *l, rlim_t nofile);
