// SPDX-License-Identifier: GPL-2.0-or-later
/* fastpath.h - port forwards for host-loopback clients without libslirp (see fastpath.c). */
#pragma once

#include "loop.h"
#include "options.h"
#include "relay.h"

#include <sys/socket.h>

struct fastpath;

struct fastpath_stats {
	unsigned long long fast_total; /* connections that took the fast path */
	unsigned long long fast_active;
	unsigned long long slirp_total; /* forwarded connections left to libslirp */
	bool enabled;
};

/*
 * Start the namespace helper (before the sandbox: it needs to join the namespaces). Returns
 * NULL, and the daemon uses libslirp for every forwarded connection, when --port-fast-path=off,
 * with --netns-type=tapfd, or when the helper cannot start (with a warning).
 */
struct fastpath *fastpath_new(const struct options *opt);
void fastpath_attach(struct fastpath *fp, struct loop *l);
void fastpath_free(struct fastpath *fp);
struct tcpout;
/* Offer forwarded clients from non-loopback addresses to t (see tcpout_take()). */
void fastpath_set_tcpout(struct fastpath *fp, struct tcpout *t);

/*
 * Around slirp_add_hostxfwd() of a TCP forward: the listening socket libslirp creates is
 * recognised (begin) and then registered (end) so that its loopback clients are diverted.
 * end returns the listening fd, or -1 when none was created.
 */
void fastpath_begin_listen(struct fastpath *fp, const struct sockaddr *guest, socklen_t len);
int fastpath_end_listen(struct fastpath *fp);
void fastpath_forget(struct fastpath *fp, int listen_fd);

/* Relay an accepted client (non-blocking: accept4(SOCK_NONBLOCK)) to guest through a socket
 * inside the namespace; false if off. */
bool fastpath_take(struct fastpath *fp, int client, const struct sockaddr *guest, socklen_t len);

struct fastpath_stats fastpath_stats(const struct fastpath *fp);
/* Does the fast path accept on this libslirp listener itself right now (libslirp must then
 * not see it readable)? */
bool fastpath_owns_listener(struct fastpath *fp, int fd);
