// SPDX-License-Identifier: GPL-2.0-or-later
/* bess.h - --target-type=bess: one User-Mode Linux peer on a SOCK_SEQPACKET socket (see bess.c). */
#pragma once

#include "datapath.h"
#include "loop.h"

#include <glib.h>

struct bess;

/*
 * Listen at path (before the sandbox) and serve the peer that connects through the datapath's
 * frame I/O, from the loop. NULL with *err when the socket cannot be created.
 */
struct bess *bess_new(const char *path, struct datapath *dp, struct loop *l, GError **err);
/* Drop the peer, stop listening and remove the socket file. */
void bess_free(struct bess *b);
