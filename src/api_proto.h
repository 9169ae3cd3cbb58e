// SPDX-License-Identifier: GPL-2.0-or-later
/* api_proto.h - the API's request -> response logic, free of I/O (see api_proto.c). */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define API_MAX_REQUEST (64 * 1024)

/* One port forward, as the API shows it. */
struct forward {
	unsigned id;
	bool udp;
	char host_addr[INET6_ADDRSTRLEN]; /* normalised text */
	uint16_t host_port;               /* the real port, also when 0 was asked for */
	char guest_addr[INET6_ADDRSTRLEN];
	uint16_t guest_port;
};

/* "udp [::1]:8080 -> 10.0.2.100:80": the forward as log lines name it (g_free it). */
char *forward_text(const struct forward *fw);

/* What the protocol needs from the daemon; main.c wires libslirp in, the unit tests a fake. */
struct api_backend {
	/* Open the forward. When fw->host_port is 0, choose a port and store it there. */
	bool (*add)(void *opaque, struct forward *fw, GError **err);
	void (*remove)(void *opaque, const struct forward *fw);
	/* Extra facts for get_info's "return" object, and the live connections (arrays/objects). */
	json_t *(*info)(void *opaque);
	json_t *(*connections)(void *opaque);
	void *opaque;
};

struct api_proto;

/* default_guest4: where forwards go when the request names no guest_addr (network+100). */
struct api_proto *api_proto_new(const struct api_backend *backend, struct in_addr default_guest4,
                                bool ipv6);
void api_proto_free(struct api_proto *p);

/* Handle one request (raw bytes, possibly invalid); returns the response, never NULL. */
char *api_proto_handle(struct api_proto *p, const char *req, size_t len);

/* Add a forward outside any request (command-line -p); the id is stored in fw->id. */
bool api_proto_add(struct api_proto *p, struct forward *fw, GError **err);
unsigned api_proto_forward_count(const struct api_proto *p);

/* Is a partial request worth waiting for? false when it is complete or already hopeless. */
bool api_proto_incomplete(const char *req, size_t len);
