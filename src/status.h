// SPDX-License-Identifier: GPL-2.0-or-later
/* status.h - what get_info and list_connections report (see status.c). */
#pragma once

#include "datapath.h"
#include "engine.h"
#include "options.h"
#include "tcpout.h"

#include <jansson.h>

/* get_info's facts: version, network layout, MTU, IPv6, counters. */
json_t *status_info(const struct options *opt, struct engine *e,
                    const struct datapath_stats *st);
/* The live connections, parsed from libslirp's connection table. */
json_t *status_connections(struct engine *e);
/* Parse libslirp's slirp_connection_info() text (exposed for the unit tests). */
json_t *status_parse_connection_info(const char *text);
/* How many rows status_parse_connection_info() would give, without building them. */
size_t status_count_connections(const char *text);
/* get_info's "limits": each cap (bounds.c), what is held against it, and what was refused. */
json_t *status_bounds(const struct bounds *l, const struct tcpout_stats *ts,
                      const struct admit_stats *as);
/* Note whether the target's user namespace is the daemon's own, for get_info's nsenter
 * command: once at startup, while /proc is there (before the sandbox). */
void status_probe_target(const struct options *opt);
/* get_info's "target": {type, pid, netns_path, userns_path, nsenter} (see status.c). */
json_t *status_target(const struct options *opt);
