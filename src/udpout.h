// SPDX-License-Identifier: GPL-2.0-or-later
/* udpout.h - slirpns's own UDP endpoint: the namespace's UDP flows without libslirp (see
 * udpout.c). */
#pragma once

#include "loop.h"
#include "options.h"
#include "sink.h"

#include <jansson.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct udpout;

struct udpout_stats {
	bool enabled;
	uint64_t flows;          /* open now */
	uint64_t total;          /* opened so far */
	uint64_t evicted;        /* closed to make room: --max-udp flows were open */
	uint64_t expired;        /* closed after --udp-timeout idle */
	uint64_t unreachable;    /* ICMP port unreachable sent to the namespace */
	uint64_t dgrams_out;     /* namespace -> host */
	uint64_t dgrams_in;      /* host -> namespace */
	uint64_t clients;        /* flows opened by clients of UDP port forwards */
	uint64_t client_dropped; /* their datagrams dropped: no guest MAC yet, or a clash */
	uint64_t gso_frames;     /* host -> namespace frames of several datagrams (UDP GSO) */
	uint64_t gso_sends;      /* namespace -> host sends of several datagrams (UDP_SEGMENT) */
	uint64_t gso_refused;    /* flows whose socket refused UDP_SEGMENT (then sendmmsg) */
};

/* Off (udpout_input() takes nothing) with --outbound-fast-path=off. */
struct udpout *udpout_new(const struct options *opt, const struct frame_sink *sink, struct loop *l);
void udpout_free(struct udpout *u);

/*
 * A whole datagram from the namespace (IPv4 fragments already reassembled), checksums
 * complete. true: it belongs to a flow of this endpoint and was consumed; false: libslirp's.
 */
bool udpout_input(struct udpout *u, const uint8_t *frame, size_t len);

/* Send what udpout_input() gathered; the datapath calls it at the end of each tap batch. */
void udpout_flush(struct udpout *u);

/*
 * A UDP port forward to guest_addr:guest_port exists (or, release, no longer): what the
 * namespace sends from there answers the forward's clients and stays with libslirp.
 * Counted: two forwards to the same guest end need two releases.
 */
void udpout_reserve(struct udpout *u, const char *guest_addr, uint16_t guest_port);
void udpout_release(struct udpout *u, const char *guest_addr, uint16_t guest_port);

/* Read what the host sockets have for the namespace (the loop does this when they are
 * readable; the frame fuzzer calls it itself). */
void udpout_poll(struct udpout *u);

/*
 * Clients of UDP port forwards (udpfwd.c owns the forwards' sockets). When fd is readable,
 * udpout_client_readable() reads its datagrams (several per recvmmsg(), a few calls at most):
 * each reaches guest_addr:guest_port from its client's address (the gateway's for a loopback
 * or other-family client), and what the namespace answers from there goes back to that client
 * through fd. udpout_forget_socket(): fd is closing; its flows end.
 */
struct udpout_client {
	int fd;
	bool v6_guest;
	uint8_t guest_addr[16]; /* IPv4 in the first 4 bytes */
	uint16_t guest_port;
};
void udpout_client_readable(struct udpout *u, const struct udpout_client *c);
void udpout_forget_socket(struct udpout *u, int fd);
/* The namespace's MAC address (the tap's), before it has sent anything. */
void udpout_set_guest_mac(struct udpout *u, const uint8_t mac[6]);
bool udpout_enabled(const struct udpout *u);

struct udpout_stats udpout_stats(const struct udpout *u);
/* Append one list_connections row per flow to list. */
void udpout_connections(const struct udpout *u, json_t *list);
