// SPDX-License-Identifier: GPL-2.0-or-later
/* udpreply.h - UDP forwards and their clients on the host's loopback (see udpreply.c). */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct udpreply;

/* gw: the gateway address the guest sees loopback clients as (10.0.2.2). */
struct udpreply *udpreply_new(struct in_addr gw);
void udpreply_free(struct udpreply *u);

/* Around slirp_add_hostxfwd() of a UDP forward: udpreply_end() returns the fd libslirp bound
 * (-1 if none). udpreply_add() then answers loopback clients on that fd for guest (u may be
 * NULL: nothing to do). */
void udpreply_begin(void);
int udpreply_end(void);
void udpreply_add(struct udpreply *u, int fd, const struct sockaddr_in *guest);
/* Before slirp_remove_hostxfwd() of the forward that fd belongs to. */
void udpreply_forget(struct udpreply *u, int fd);

/* A frame libslirp sends to the guest: learns the ports of loopback clients of forwards, and
 * returns the frame to send instead (frame itself, or a copy from the gateway, see udpreply.c). */
const uint8_t *udpreply_to_guest(struct udpreply *u, const uint8_t *frame, size_t len);
/* A frame from the guest: true if it was a reply to a loopback client, sent and consumed. */
bool udpreply_from_guest(struct udpreply *u, const uint8_t *frame, size_t len);
