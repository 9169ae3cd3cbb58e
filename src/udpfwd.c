// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * udpfwd.c - UDP port forwards served by slirpns's own UDP endpoint (udpout.c), not libslirp.
 *
 * A forward is one host UDP socket bound to host_addr:host_port (IPv6 addresses IPv6-only, so
 * "0.0.0.0:P" and "[::]:P" can coexist; no SO_REUSEADDR, so another process of the same user
 * cannot bind the port beside us and take its datagrams). Port 0 lets the kernel choose, and
 * the port it chose is the forward's. When the socket is readable, udpout.c reads it
 * (several datagrams per recvmmsg(), runs of them to the namespace as one GSO frame); udpout.c
 * keeps a flow per client, as for the namespace's own flows, so what the namespace answers from
 * guest_addr:guest_port goes back to that client through this socket, batched like every other
 * flow's datagrams.
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

struct listener {
	struct udpfwd *owner;
	struct loop_watch *watch;
	char host_addr[INET6_ADDRSTRLEN];
	uint16_t host_port;
	struct udpout_client client; /* its socket and guest end, for udpout.c */
};

struct udpfwd {
	struct udpout *udp;
	struct loop *loop;
	bool enabled;
	GPtrArray *listeners; /* of struct listener * (owned) */
};

static void on_readable(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct listener *ls = data;
	udpout_client_readable(ls->owner->udp, &ls->client);
}

static void listener_free(gpointer p)
{
	struct listener *ls = p;
	udpout_forget_socket(ls->owner->udp, ls->client.fd);
	loop_unwatch(ls->owner->loop, ls->watch);
	close(ls->client.fd);
	g_free(ls);
}

struct udpfwd *udpfwd_new(const struct options *opt, struct udpout *udp, struct loop *l)
{
	struct udpfwd *f = g_new0(struct udpfwd, 1);
	f->udp = udp;
	f->loop = l;
	f->enabled = udpout_enabled(udp) && !opt->port_fast_path_off;
	f->listeners = g_ptr_array_new_with_free_func(listener_free);
	return f;
}

void udpfwd_free(struct udpfwd *f)
{
	if (f == NULL)
		return;
	g_ptr_array_unref(f->listeners);
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
	struct udpout_client *c = &ls->client;
	c->guest_port = fw->guest_port;
	if (inet_pton(AF_INET, fw->guest_addr, c->guest_addr) != 1) {
		c->v6_guest = true;
		if (inet_pton(AF_INET6, fw->guest_addr, c->guest_addr) != 1) {
			g_free(ls);
			return set_error(err, 0, "bad guest_addr \"%s\"", fw->guest_addr);
		}
	}
	c->fd = open_socket(fw, err);
	if (c->fd < 0) {
		g_free(ls);
		return false;
	}
	g_strlcpy(ls->host_addr, fw->host_addr, sizeof(ls->host_addr));
	ls->host_port = fw->host_port;
	ls->watch = loop_watch_fd(f->loop, c->fd, POLLIN, on_readable, ls);
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
