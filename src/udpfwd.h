// SPDX-License-Identifier: GPL-2.0-or-later
/* udpfwd.h - UDP port forwards through slirpns's own UDP endpoint (see udpfwd.c). */
#pragma once

#include "api_proto.h"
#include "loop.h"
#include "options.h"
#include "udpout.h"

#include <glib.h>
#include <stdbool.h>

struct udpfwd;

/* Off (udpfwd_enabled() false) with --port-fast-path=off or without the UDP endpoint. */
struct udpfwd *udpfwd_new(const struct options *opt, struct udpout *udp, struct loop *l);
void udpfwd_free(struct udpfwd *f);
bool udpfwd_enabled(const struct udpfwd *f);

/* Open fw (host_port 0: the kernel's choice, stored in fw->host_port); close it. */
bool udpfwd_open(struct udpfwd *f, struct forward *fw, GError **err);
void udpfwd_close(struct udpfwd *f, const struct forward *fw);
