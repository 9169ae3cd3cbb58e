// SPDX-License-Identifier: GPL-2.0-or-later
/* forward.h - open and close port forwards (see forward.c). */
#pragma once

#include "api_proto.h"
#include "fastpath.h"
#include "loop.h"
#include "relay.h"

#include <slirp/libslirp.h>

struct forwarder;

struct forwarder *forwarder_new(Slirp *slirp, struct loop *l, struct fastpath *fp);
void forwarder_free(struct forwarder *f);
/* Register UDP forwards' sockets with u (udpreply.c); before any forward is opened. */
struct udpreply;
void forwarder_set_udpreply(struct forwarder *f, struct udpreply *u);

/* Listen on fw's host address and port (choosing one when it is 0) and forward to the guest. */
bool forwarder_open(struct forwarder *f, struct forward *fw, GError **err);
void forwarder_close(struct forwarder *f, const struct forward *fw);
const struct relay_set *forwarder_relays(const struct forwarder *f);
