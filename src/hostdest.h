// SPDX-License-Identifier: GPL-2.0-or-later
/* hostdest.h - where the namespace's traffic to an address goes on the host (see hostdest.c). */
#pragma once

#include "options.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * The host address and port for traffic the namespace sends to faddr:port (IPv4 in the first
 * 4 bytes unless v6), for slirpns's own endpoints. false: not theirs, leave it to libslirp.
 */
bool hostdest_for(const struct options *o, bool v6, const uint8_t faddr[16], uint16_t port,
                  struct sockaddr_storage *ss, socklen_t *sl);

/* libslirp's MAC address for the gateway and every address beyond it: 52:55 and network+2. */
void hostdest_gateway_mac(const struct options *o, uint8_t mac[6]);
