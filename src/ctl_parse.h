// SPDX-License-Identifier: GPL-2.0-or-later
/* ctl_parse.h - slirpnsctl's forward spec grammar and API requests (see ctl_parse.c). */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * One "add" request: `[HOSTADDR:]HOSTPORT:GUESTPORT[/GUESTADDR][/tcp|/udp]`, where either port may
 * be a range A-B (both ranges of the same length; a single host port 0 asks for an ephemeral one).
 * The forwards are host_port+i -> guest_port+i for i in [0, count).
 */
struct ctl_forward {
	bool udp;
	char host_addr[INET6_ADDRSTRLEN];  /* as the daemon wants it; "0.0.0.0" by default */
	char guest_addr[INET6_ADDRSTRLEN]; /* "" for the daemon's default (network+100) */
	uint16_t host_port;                /* the first one; 0 = ephemeral (count is 1) */
	uint16_t guest_port;               /* the first one */
	unsigned count;                    /* how many ports, >= 1 */
	bool proto_in_spec;                /* a /tcp or /udp suffix set udp */
};

/* "tcp" or "udp" (case-insensitive) into *udp; false for anything else. */
bool ctl_parse_proto(const char *s, bool *udp);

/* Parse SPEC into fw (fw->udp is kept unless SPEC ends in /tcp or /udp); false with *err
 * set to a one-line message. */
bool ctl_parse_forward(const char *spec, struct ctl_forward *fw, GError **err);

/* The add_hostfwd request for the i-th port of fw (i < fw->count). */
json_t *ctl_add_request(const struct ctl_forward *fw, unsigned i);
/* A request without arguments ({"execute":CMD}). */
json_t *ctl_simple_request(const char *cmd);
/* remove_hostfwd for id. */
json_t *ctl_remove_request(json_int_t id);

/* A forward id as given on the command line: a decimal integer >= 1. */
bool ctl_parse_id(const char *s, json_int_t *id);

#define CTL_ERROR (ctl_error_quark())
GQuark ctl_error_quark(void);
