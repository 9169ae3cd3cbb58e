// SPDX-License-Identifier: GPL-2.0-or-later
/* api.h - the API socket server (see api.c). */
#pragma once

#include "api_proto.h"
#include "loop.h"

struct api_server;

/* Listen on path (mode 0600, a stale file replaced); requests go to proto. */
struct api_server *api_server_new(const char *path, struct loop *l, struct api_proto *proto,
                                  GError **err);
/* Close every connection and remove the socket file (works inside the sandbox too). */
void api_server_free(struct api_server *s);
