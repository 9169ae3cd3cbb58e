// SPDX-License-Identifier: GPL-2.0-or-later
/* netlink.h - interface configuration over rtnetlink (see netlink.c). */
#pragma once

#include <glib.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* Set MTU (0 = leave), MAC (NULL = leave) and bring the link up. */
bool nl_link_setup(int nl, int ifindex, unsigned mtu, const uint8_t *mac, GError **err);
bool nl_addr4_add(int nl, int ifindex, struct in_addr addr, unsigned prefix, GError **err);
bool nl_route4_default(int nl, int ifindex, struct in_addr gateway, GError **err);
/* Open an rtnetlink socket in the current network namespace. */
int nl_open(GError **err);
