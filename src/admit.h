// SPDX-License-Identifier: GPL-2.0-or-later
/* admit.h - may a frame for libslirp make it open a host socket? (see admit.c) */
#pragma once

#include "bounds.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct admit_stats {
	unsigned udp_flows;    /* UDP flows libslirp holds a socket for, as mirrored here */
	unsigned sockets;      /* libslirp's sockets: last poll round, plus opened since */
	uint64_t refused_tcp;  /* SYNs dropped: libslirp's sockets at their cap */
	uint64_t refused_udp;  /* datagrams dropped that would have opened a flow */
	uint64_t refused_icmp; /* echo requests dropped: libslirp's sockets at their cap */
};

struct admit;

/* gw, dns, gw6: addresses of the virtual network that libslirp answers itself. */
struct admit *admit_new(const struct bounds *l, struct in_addr gw, struct in_addr dns,
                        struct in6_addr gw6);
void admit_free(struct admit *a);

/* libslirp's sockets, as many fds as its poll round asked us to watch. */
void admit_set_sockets(struct admit *a, unsigned n);
/* A whole frame (no fragment) from the namespace for libslirp. false: drop it. */
bool admit_input(struct admit *a, const uint8_t *frame, size_t len, int64_t now_ms);
/* A frame libslirp sends to the namespace: a UDP answer keeps its flow alive. */
void admit_output(struct admit *a, const uint8_t *frame, size_t len, int64_t now_ms);
/* Forget the flows libslirp has expired by now. */
void admit_expire(struct admit *a, int64_t now_ms);
struct admit_stats admit_stats(const struct admit *a);
