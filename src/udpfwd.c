// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * udpfwd.c - UDP port forwards served by slirpns's own UDP endpoint (udpout.c), not libslirp.
 *
 * A forward is one host UDP socket bound to host_addr:host_port (IPv6 addresses IPv6-only, so
 * "0.0.0.0:P" and "[::]:P" can coexist; no SO_REUSEADDR, so another process of the same user
 * cannot bind the port beside us and take its datagrams). Port 0 lets the kernel choose, and
 * the port it chose is the forward's. When the socket is readable, recvmmsg() reads up to
 * RECV_SLOTS datagrams at once (a few rounds per wake-up); each is copied into the frame
 * udpout.c builds for the namespace (where runs of them become one GSO frame) and handed to it
 * with the client's address; udpout.c keeps a flow per client, as for the namespace's own flows, so
 * what the namespace answers from guest_addr:guest_port goes back to that client through this
 * socket, batched like every other flow's datagrams.
 *
 * What the namespace sees as the client: its own address, or the gateway (10.0.2.2, fd00::2)
 * for a client on the host's loopback or of the other family, as libslirp shows them. Unlike
 * libslirp's, forwards may cross families (an IPv6 host address to an IPv4 guest).
 *
 * Off (every UDP forward through libslirp, forward.c) with --port-fast-path=off or
 * --outbound-fast-path=off.
 */
#include "config.h"
#include "udpfwd.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Datagrams per recvmmsg() (each into a slot of the largest size), and calls per wake-up. */
#define RECV_SLOTS  16
#define RECV_ROUNDS 4
#define SLOT_SIZE   65536

struct listener {
	struct udpfwd *owner;
	int fd;
	struct loop_watch *watch;
	char host_addr[INET6_ADDRSTRLEN];
	uint16_t host_port;
	bool v6_guest;
	uint8_t guest_addr[16];
	uint16_t guest_port;
};

struct udpfwd {
	struct udpout *udp;
	struct loop *loop;
	bool enabled;
	GPtrArray *listeners; /* of struct listener * (owned) */
	uint8_t *slots;       /* RECV_SLOTS * SLOT_SIZE, for recvmmsg() */
	struct sockaddr_storage from[RECV_SLOTS];
};

/* One recvmmsg(): datagrams into the slots, then each into the frame udpout.c builds. */
static int read_round(struct listener *ls)
{
	struct udpfwd *f = ls->owner;
	struct mmsghdr mm[RECV_SLOTS];
	struct iovec iov[RECV_SLOTS];
	for (int i = 0; i < RECV_SLOTS; i++) {
		iov[i] = (struct iovec){.iov_base = f->slots + (size_t)i * SLOT_SIZE,
		                        .iov_len = SLOT_SIZE};
		mm[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &f->from[i],
		                                     .msg_namelen = sizeof(f->from[i]),
		                                     .msg_iov = &iov[i],
		                                     .msg_iovlen = 1}};
	}
	int n = recvmmsg(ls->fd, mm, RECV_SLOTS, MSG_DONTWAIT, NULL);
	struct udpout_client c = {
	    .fd = ls->fd, .v6_guest = ls->v6_guest, .guest_port = ls->guest_port};
	memcpy(c.guest_addr, ls->guest_addr, sizeof(c.guest_addr));
	for (int i = 0; i < n; i++) {
		size_t cap, len = MIN(mm[i].msg_len, (unsigned)UINT16_MAX);
		uint8_t *buf = udpout_client_buffer(f->udp, ls->v6_guest, &cap);
		memcpy(buf, iov[i].iov_base, MIN(len, cap));
		c.from = (struct sockaddr *)&f->from[i];
		c.from_len = mm[i].msg_hdr.msg_namelen;
		udpout_client_datagram(f->udp, &c, buf, MIN(len, cap));
	}
	return n;
}

/* A few rounds per wake-up, so one busy forward cannot starve the rest of the loop. */
static void on_readable(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct listener *ls = data;
	for (int r = 0; r < RECV_ROUNDS && read_round(ls) == RECV_SLOTS; r++)
		;
	udpout_flush(ls->owner->udp);
}

static void listener_free(gpointer p)
{
	struct listener *ls = p;
	udpout_forget_socket(ls->owner->udp, ls->fd);
	loop_unwatch(ls->owner->loop, ls->watch);
	close(ls->fd);
	g_free(ls);
}

struct udpfwd *udpfwd_new(const struct options *opt, struct udpout *udp, struct loop *l)
{
	struct udpfwd *f = g_new0(struct udpfwd, 1);
	f->udp = udp;
	f->loop = l;
	f->enabled = udpout_enabled(udp) && !opt->port_fast_path_off;
	f->listeners = g_ptr_array_new_with_free_func(listener_free);
	if (f->enabled)
		f->slots = g_malloc((size_t)RECV_SLOTS * SLOT_SIZE);
	return f;
}

void udpfwd_free(struct udpfwd *f)
{
	if (f == NULL)
		return;
	g_ptr_array_unref(f->listeners);
	g_free(f->slots);
	g_free(f);
}

bool udpfwd_enabled(const struct udpfwd *f)
{
	return f != NULL && f->enabled;
}

/* A bound, non-blocking socket for the forward; fw->host_port becomes the bound port. */
static int open_socket(struct forward *fw, GError **err)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_parse(fw->host_addr, fw->host_port, &ss);
	if (len == 0)
		return set_error(err, 0, "bad host_addr \"%s\"", fw->host_addr), -1;
	autoclose_fd int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return set_error(err, errno, "socket"), -1;
	int one = 1;
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return set_error(err, errno, "IPV6_V6ONLY"), -1;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return set_error(err, errno, "%s:%u", fw->host_addr, fw->host_port), -1;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return set_error(err, errno, "getsockname"), -1;
	fw->host_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
	int r = fd;
	fd = -1;
	return r;
}

bool udpfwd_open(struct udpfwd *f, struct forward *fw, GError **err)
{
	struct listener *ls = g_new0(struct listener, 1);
	ls->owner = f;
	ls->guest_port = fw->guest_port;
	if (inet_pton(AF_INET, fw->guest_addr, ls->guest_addr) != 1) {
		ls->v6_guest = true;
		if (inet_pton(AF_INET6, fw->guest_addr, ls->guest_addr) != 1) {
			g_free(ls);
			return set_error(err, 0, "bad guest_addr \"%s\"", fw->guest_addr);
		}
	}
	ls->fd = open_socket(fw, err);
	if (ls->fd < 0) {
		g_free(ls);
		return false;
	}
	g_strlcpy(ls->host_addr, fw->host_addr, sizeof(ls->host_addr));
	ls->host_port = fw->host_port;
	ls->watch = loop_watch_fd(f->loop, ls->fd, POLLIN, on_readable, ls);
	g_ptr_array_add(f->listeners, ls);
	if (slirpns_debug) {
		g_autofree char *text = forward_text(fw);
		log_debug("forward %s: added", text);
	}
	return true;
}

void udpfwd_close(struct udpfwd *f, const struct forward *fw)
{
	for (guint i = 0; i < f->listeners->len; i++) {
		struct listener *ls = g_ptr_array_index(f->listeners, i);
		if (ls->host_port == fw->host_port && strcmp(ls->host_addr, fw->host_addr) == 0) {
			if (slirpns_debug) {
				g_autofree char *text = forward_text(fw);
				log_debug("forward %s: removed", text);
			}
			g_ptr_array_remove_index_fast(f->listeners, i);
			return;
		}
	}
}
