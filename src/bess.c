// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bess.c - --target-type=bess: libslirp's network served to a User-Mode Linux instance over
 * a BESS socket instead of a namespace's tap.
 *
 * Theory of operation
 *
 * UML's vector network driver with the BESS transport (vec0:transport=bess,dst=PATH)
 * connects an AF_UNIX SOCK_SEQPACKET socket to PATH. Each message on that connection is one
 * whole Ethernet frame, in both directions, with no header before it: the same plain frames
 * as a tap without IFF_VNET_HDR. So this file only provides the fd; the datapath's tap I/O
 * (tap.c) reads and writes it as it would a plain tap, and libslirp uses --mtu as is.
 *
 * At startup, before the sandbox hides the file system, we bind and listen at PATH: the file
 * is created mode 0600 (only our user can connect), a stale socket file there is replaced and
 * anything else is refused, as for the API socket. The directory stays open (O_PATH) so that
 * the file is removed at exit with unlinkat(), sandbox or not. The loop watches the listening
 * socket; accept4() is all the filter has to allow for it.
 *
 * One peer at a time. The first to connect becomes the link: datapath_set_link() points the
 * datapath's frame I/O at it. Whoever connects while it is attached is accepted and closed at
 * once (it reads end of file), with one warning per attached peer so a loop of attempts
 * cannot flood stderr. When the peer hangs up (a read finds end of file or fails), it is
 * detached: frames libslirp sends meanwhile are dropped as on an unplugged cable, and the next
 * peer to connect takes its place with libslirp's state (connections, DHCP leases) as it was.
 * Frames still queued when the peer hangs up are read before it is detached. A zero-length
 * message reads as end of file, so it too ends the peer's session (UML never sends one).
 */
#include "config.h"
#include "bess.h"
#include "unixsock.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BESS_BACKLOG 4

struct bess {
	struct datapath *dp;
	struct loop *loop;
	char *path;
	struct unix_listener sock;
	struct loop_watch *listen_watch;
	int peer_fd;
	struct loop_watch *peer_watch;
	bool warned; /* a second peer was refused while this one is attached */
};

static void detach_peer(struct bess *b, const char *why)
{
	log_debug("bess %s: peer detached: %s", b->path, why);
	datapath_set_link(b->dp, -1);
	loop_unwatch(b->loop, b->peer_watch);
	b->peer_watch = NULL;
	close(b->peer_fd);
	b->peer_fd = -1;
}

static void on_peer(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct bess *b = data;
	g_autoptr(GError) err = NULL;
	/* A hang-up with frames still queued keeps them readable: end of file comes after. */
	if (!datapath_tap_readable(b->dp, &err))
		detach_peer(b, g_str_has_suffix(err->message, "end of file") ? "the peer hung up"
		                                                             : err->message);
	else if (revents & (POLLERR | POLLNVAL))
		detach_peer(b, "socket error");
}

static void log_peer(const struct bess *b, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		log_debug("bess %s: peer attached (pid %d, uid %u)", b->path, (int)cred.pid,
		          (unsigned)cred.uid);
	else
		log_debug("bess %s: peer attached", b->path);
}

static void attach_peer(struct bess *b, int fd)
{
	if (slirpns_debug)
		log_peer(b, fd);
	b->peer_fd = fd;
	b->warned = false;
	b->peer_watch = loop_watch_fd(b->loop, fd, POLLIN, on_peer, b);
	datapath_set_link(b->dp, fd);
}

static void refuse_peer(struct bess *b, int fd)
{
	close(fd);
	if (!b->warned)
		log_warn("bess %s: a second peer connected and was refused (one at a time)",
		         b->path);
	else
		log_debug("bess %s: another peer refused", b->path);
	b->warned = true;
}

static void on_listen(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct bess *b = data;
	for (;;) {
		int fd = accept4(b->sock.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("bess %s: accept: %s", b->path, g_strerror(errno));
			return;
		}
		if (b->peer_fd >= 0)
			refuse_peer(b, fd);
		else
			attach_peer(b, fd);
	}
}

struct bess *bess_new(const char *path, struct datapath *dp, struct loop *l, GError **err)
{
	struct bess *b = g_new0(struct bess, 1);
	b->dp = dp;
	b->loop = l;
	b->path = g_strdup(path);
	b->peer_fd = -1;
	if (!unix_listener_open(&b->sock, "bess socket", path, SOCK_SEQPACKET, BESS_BACKLOG, err)) {
		bess_free(b);
		return NULL;
	}
	b->listen_watch = loop_watch_fd(l, b->sock.fd, POLLIN, on_listen, b);
	return b;
}

void bess_free(struct bess *b)
{
	if (b == NULL)
		return;
	if (b->peer_fd >= 0)
		detach_peer(b, "exiting");
	if (b->listen_watch)
		loop_unwatch(b->loop, b->listen_watch);
	unix_listener_close(&b->sock);
	g_free(b->path);
	g_free(b);
}
