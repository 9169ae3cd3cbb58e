// SPDX-License-Identifier: GPL-2.0-or-later
/* tcpseg.h - TCP segments in Ethernet frames: parse and build, no state (see tcpseg.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCPSEG_ETH_HLEN 14

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)

/* A connection's identity as the namespace sees it; zero-filled so it hashes as bytes. */
struct conn_key {
	uint8_t v6;
	uint8_t pad;
	uint16_t gport, fport;        /* guest's port, the port it connected to (host order) */
	uint8_t gaddr[16], faddr[16]; /* IPv4 in the first 4 bytes */
};

/* A parsed TCP segment from the namespace. */
struct seg {
	struct conn_key key;
	const uint8_t *frame;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *data;
	size_t len;
	uint16_t mss; /* SYN option, 0 if absent */
	int wscale;   /* SYN option, -1 if absent */
};

/* Locate IP and TCP in an untagged frame; false for anything that is not a whole segment. */
bool tcpseg_parse(const uint8_t *f, size_t len, struct seg *s);

/* What a segment to the namespace carries (from key's far end to its guest end). */
struct tcpseg_out {
	const struct conn_key *key;
	const uint8_t *guest_mac, *gw_mac;
	uint32_t seq, ack; /* ack is written as given (0 without TH_ACK) */
	uint8_t flags;
	uint16_t win; /* the window field as sent */
	const uint8_t *opts;
	size_t optlen; /* a multiple of 4 */
	size_t payload;
	uint16_t ip_id;
};

/*
 * Write Ethernet, IP (IPv4 header checksum included) and TCP headers for o into f; returns
 * their length. The TCP checksum field is left 0, for tcpseg_full_csum() or an offload.
 */
size_t tcpseg_headers(uint8_t *f, const struct tcpseg_out *o);
/* The full TCP checksum of a frame of len bytes whose headers take hdrs (optlen of options). */
void tcpseg_full_csum(uint8_t *f, bool v6, size_t hdrs, size_t optlen, size_t len);

void tcpseg_put16(uint8_t *p, uint16_t v);
void tcpseg_put32(uint8_t *p, uint32_t v);
