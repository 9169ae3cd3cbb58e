// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * forward.c - port forwards as libslirp host forwards.
 *
 * A forward is a listening socket that libslirp owns (slirp_add_hostxfwd): each connection
 * accepted there becomes a connection from the gateway (for host-loopback clients) or from the
 * client's own address (for everyone else) to guest_addr:guest_port inside the namespace.
 * IPv6 host addresses are opened IPv6-only, so "0.0.0.0:P" and "[::]:P" can coexist as with
 * other container tools. The guest side is IPv4, or IPv6 when -6 is on and the request names
 * an IPv6 guest address.
 *
 * host_port 0 asks for an ephemeral port: the kernel picks one for a socket of ours that we
 * close at once and hand to libslirp, retrying if someone takes it in between.
 *
 * libslirp 4.7 cannot forward between address families (it reads an IPv6 client address as
 * an IPv4 one), so a TCP forward from an IPv6 host address to an IPv4 guest is built in two
 * hops: our own IPv6 listener, whose connections relay.c splices to an internal libslirp
 * forward on 127.0.0.1:<ephemeral>. The guest sees such clients as the gateway address, as
 * it sees every loopback client. UDP across families is refused with a clear error.
 *
 * TCP clients on the host's loopback take the fast path when it is on (fastpath.c): the
 * listening sockets libslirp creates here are registered with it, and the cross-family
 * listener hands such clients (all of them, since the guest cannot see an IPv6 source
 * anyway) to it directly.
 */
#include "config.h"
#include "forward.h"
#include "udpreply.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TCP forward from an IPv6 host address to an IPv4 guest (see above). */
struct cross_forward {
	struct forwarder *owner;
	bool udp;
	char host_addr[INET6_ADDRSTRLEN];
	uint16_t host_port;
	int listen_fd;
	struct loop_watch *watch;
	struct forward inner;          /* the libslirp forward on 127.0.0.1 */
	struct sockaddr_storage guest; /* for the fast path */
	socklen_t guest_len;
};

struct forwarder {
	Slirp *slirp;
	struct loop *loop;
	struct fastpath *fastpath; /* NULL: every connection through libslirp */
	struct udpreply *udpreply; /* NULL: libslirp answers UDP clients alone */
	GPtrArray *cross;          /* of struct cross_forward * */
	GHashTable *listeners; /* "tcp host:port" -> libslirp's listening fd (udp: its socket) */
	struct relay_set relays;
};

static char *listener_key(const struct forward *fw)
{
	return g_strdup_printf("%s [%s]:%u", fw->udp ? "udp" : "tcp", fw->host_addr, fw->host_port);
}

/* Ask the kernel for a free port on the host address. */
static bool pick_ephemeral(const struct forward *fw, uint16_t *port, GError **err)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_parse(fw->host_addr, 0, &ss);
	autoclose_fd int s =
	    socket(ss.ss_family, (fw->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (s < 0)
		return set_error(err, errno, "socket");
	if (bind(s, (struct sockaddr *)&ss, len) < 0)
		return set_error(err, errno, "%s", fw->host_addr);
	len = sizeof(ss);
	if (getsockname(s, (struct sockaddr *)&ss, &len) < 0)
		return set_error(err, errno, "getsockname");
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return true;
}

static int host_flags(const struct forward *fw, int family)
{
	int flags = fw->udp ? SLIRP_HOSTFWD_UDP : 0;
	if (family == AF_INET6)
		flags |= SLIRP_HOSTFWD_V6ONLY;
	return flags;
}

static bool open_once(struct forwarder *f, const struct forward *fw, GError **err)
{
	struct sockaddr_storage host, guest;
	socklen_t hlen = sockaddr_parse(fw->host_addr, fw->host_port, &host);
	socklen_t glen = sockaddr_parse(fw->guest_addr, fw->guest_port, &guest);
	if (hlen == 0 || glen == 0)
		return set_error(err, 0, "bad address");
	if (fw->udp)
		udpreply_begin();
	else
		fastpath_begin_listen(f->fastpath, (struct sockaddr *)&guest, glen);
	errno = 0;
	int rc =
	    slirp_add_hostxfwd(f->slirp, (struct sockaddr *)&host, hlen, (struct sockaddr *)&guest,
	                       glen, host_flags(fw, host.ss_family));
	int e = errno ? errno : EADDRINUSE;
	int lfd = fw->udp ? udpreply_end() : fastpath_end_listen(f->fastpath);
	if (rc < 0)
		return set_error(err, e, "%s:%u", fw->host_addr, fw->host_port);
	if (fw->udp && lfd >= 0 && guest.ss_family == AF_INET && f->udpreply != NULL)
		udpreply_add(f->udpreply, lfd, (struct sockaddr_in *)&guest);
	if (lfd >= 0)
		g_hash_table_replace(f->listeners, listener_key(fw), GINT_TO_POINTER(lfd));
	return true;
}

static bool open_slirp(struct forwarder *f, struct forward *fw, GError **err)
{
	if (fw->host_port != 0)
		return open_once(f, fw, err);
	for (int attempt = 0;; attempt++) {
		g_autoptr(GError) e = NULL;
		if (!pick_ephemeral(fw, &fw->host_port, err))
			return false;
		if (open_once(f, fw, &e))
			return true;
		fw->host_port = 0;
		if (attempt == 8) {
			g_propagate_error(err, g_steal_pointer(&e));
			return false;
		}
	}
}

static void close_slirp(struct forwarder *f, const struct forward *fw)
{
	g_autofree char *key = listener_key(fw);
	gpointer lfd;
	if (g_hash_table_lookup_extended(f->listeners, key, NULL, &lfd)) {
		if (fw->udp)
			udpreply_forget(f->udpreply, GPOINTER_TO_INT(lfd));
		else
			fastpath_forget(f->fastpath, GPOINTER_TO_INT(lfd));
		g_hash_table_remove(f->listeners, key);
	}
	struct sockaddr_storage host;
	socklen_t hlen = sockaddr_parse(fw->host_addr, fw->host_port, &host);
	slirp_remove_hostxfwd(f->slirp, (struct sockaddr *)&host, hlen,
	                      host_flags(fw, host.ss_family));
}

static int addr_family(const char *addr)
{
	struct in6_addr a;
	return inet_pton(AF_INET, addr, &a) == 1 ? AF_INET : AF_INET6;
}

static void cross_free(struct cross_forward *c)
{
	if (c->watch)
		loop_unwatch(c->owner->loop, c->watch);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->inner.host_port != 0)
		close_slirp(c->owner, &c->inner);
	g_free(c);
}

/* A client on the IPv6 listener: connect to the inner forward and relay. */
static void on_cross_accept(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct cross_forward *c = data;
	for (;;) {
		int a = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (a < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (a < 0)
			return;
		if (fastpath_take(c->owner->fastpath, a, (struct sockaddr *)&c->guest,
		                  c->guest_len))
			continue;
		struct sockaddr_in inner = {.sin_family = AF_INET,
		                            .sin_port = htons(c->inner.host_port),
		                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int b = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (b < 0 || (connect(b, (struct sockaddr *)&inner, sizeof(inner)) < 0 &&
		              errno != EINPROGRESS)) {
			log_warn("forward [%s]:%u: connect to inner forward: %s", c->host_addr,
			         c->host_port, g_strerror(errno));
			if (b >= 0)
				close(b);
			close(a);
			continue;
		}
		relay_start(l, a, b, &c->owner->relays);
	}
}

static bool cross_listen(struct cross_forward *c, struct forward *fw, GError **err)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_parse(fw->host_addr, fw->host_port, &ss);
	c->listen_fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		return set_error(err, errno, "socket");
	int one = 1;
	setsockopt(c->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(c->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(c->listen_fd, (struct sockaddr *)&ss, len) < 0)
		return set_error(err, errno, "[%s]:%u", fw->host_addr, fw->host_port);
	if (listen(c->listen_fd, SOMAXCONN) < 0)
		return set_error(err, errno, "listen");
	len = sizeof(ss);
	getsockname(c->listen_fd, (struct sockaddr *)&ss, &len);
	fw->host_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return true;
}

static bool open_cross(struct forwarder *f, struct forward *fw, GError **err)
{
	if (fw->udp)
		return set_error(err, 0,
		                 "UDP from an IPv6 host address needs an IPv6 guest_addr (and -6)");
	struct cross_forward *c = g_new0(struct cross_forward, 1);
	c->owner = f;
	c->listen_fd = -1;
	c->inner = *fw;
	g_strlcpy(c->inner.host_addr, "127.0.0.1", sizeof(c->inner.host_addr));
	c->inner.host_port = 0;
	c->guest_len = sockaddr_parse(fw->guest_addr, fw->guest_port, &c->guest);
	if (!cross_listen(c, fw, err) || !open_slirp(f, &c->inner, err)) {
		cross_free(c);
		return false;
	}
	c->udp = fw->udp;
	g_strlcpy(c->host_addr, fw->host_addr, sizeof(c->host_addr));
	c->host_port = fw->host_port;
	c->watch = loop_watch_fd(f->loop, c->listen_fd, POLLIN, on_cross_accept, c);
	g_ptr_array_add(f->cross, c);
	return true;
}

struct forwarder *forwarder_new(Slirp *slirp, struct loop *l, struct fastpath *fp)
{
	struct forwarder *f = g_new0(struct forwarder, 1);
	f->slirp = slirp;
	f->loop = l;
	f->fastpath = fp;
	f->listeners = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	f->cross = g_ptr_array_new_with_free_func((GDestroyNotify)cross_free);
	relay_set_init(&f->relays);
	return f;
}

void forwarder_set_udpreply(struct forwarder *f, struct udpreply *u)
{
	f->udpreply = u;
}

void forwarder_free(struct forwarder *f)
{
	if (f == NULL)
		return;
	relay_set_clear(&f->relays);
	g_ptr_array_unref(f->cross);
	g_hash_table_unref(f->listeners);
	g_free(f);
}

/* --debug: "tcp 0.0.0.0:8080 -> 10.0.2.100:80" (IPv6 addresses in brackets). */
static void log_forward(const struct forward *fw, const char *what, const GError *err)
{
	g_autofree char *text = forward_text(fw);
	log_debug("forward %s: %s%s%s", text, what, err ? ": " : "", err ? err->message : "");
}

bool forwarder_open(struct forwarder *f, struct forward *fw, GError **err)
{
	int hf = addr_family(fw->host_addr), gf = addr_family(fw->guest_addr);
	bool ok;
	if (hf == AF_INET && gf == AF_INET6) /* libslirp 4.7 asserts on the first connection */
		ok = set_error(err, 0,
		               "an IPv4 host_addr cannot forward to an IPv6 guest_addr "
		               "(use an IPv6 host_addr such as \"::\")");
	else
		ok = hf == AF_INET6 && gf == AF_INET ? open_cross(f, fw, err)
		                                     : open_slirp(f, fw, err);
	if (slirpns_debug)
		log_forward(fw, ok ? "added" : "not added", ok || err == NULL ? NULL : *err);
	return ok;
}

void forwarder_close(struct forwarder *f, const struct forward *fw)
{
	if (slirpns_debug)
		log_forward(fw, "removed", NULL);
	for (guint i = 0; i < f->cross->len; i++) {
		struct cross_forward *c = g_ptr_array_index(f->cross, i);
		if (c->udp == fw->udp && c->host_port == fw->host_port &&
		    strcmp(c->host_addr, fw->host_addr) == 0) {
			g_ptr_array_remove_index_fast(f->cross, i);
			return;
		}
	}
	close_slirp(f, fw);
}

const struct relay_set *forwarder_relays(const struct forwarder *f)
{
	return &f->relays;
}
