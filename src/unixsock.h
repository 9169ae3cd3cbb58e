// SPDX-License-Identifier: GPL-2.0-or-later
/* unixsock.h - listening Unix sockets at a path, removable after the sandbox (see unixsock.c). */
#pragma once

#include <glib.h>
#include <stdbool.h>

struct unix_listener {
	int fd;     /* the listening socket, non-blocking */
	int dirfd;  /* O_PATH fd of the socket file's directory */
	char *name; /* the socket file's name in dirfd */
};

/*
 * Listen on path with a socket of the given type (SOCK_STREAM, SOCK_SEQPACKET). what names it
 * in errors ("api socket", "bess socket"). On failure u holds nothing to release but what
 * unix_listener_close() releases.
 */
bool unix_listener_open(struct unix_listener *u, const char *what, const char *path, int type,
                        int backlog, GError **err);
/* Close the socket and remove its file. */
void unix_listener_close(struct unix_listener *u);
