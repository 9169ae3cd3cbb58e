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
 */
#include "config.h"
#include "forward.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static socklen_t make_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return sizeof(*in);
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		return sizeof(*in6);
	}
	return 0;
}

/* Ask the kernel for a free port on the host address. */
static bool pick_ephemeral(const struct forward *fw, uint16_t *port, GError **err)
{
	struct sockaddr_storage ss;
	socklen_t len = make_sockaddr(fw->host_addr, 0, &ss);
	autoclose_fd int s = socket(ss.ss_family, (fw->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
				    0);
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

static bool open_once(Slirp *slirp, const struct forward *fw, GError **err)
{
	struct sockaddr_storage host, guest;
	socklen_t hlen = make_sockaddr(fw->host_addr, fw->host_port, &host);
	socklen_t glen = make_sockaddr(fw->guest_addr, fw->guest_port, &guest);
	if (hlen == 0 || glen == 0)
		return set_error(err, 0, "bad address");
	errno = 0;
	if (slirp_add_hostxfwd(slirp, (struct sockaddr *)&host, hlen, (struct sockaddr *)&guest,
			       glen, host_flags(fw, host.ss_family)) < 0) {
		int e = errno ? errno : EADDRINUSE;
		return set_error(err, e, "%s:%u", fw->host_addr, fw->host_port);
	}
	return true;
}

bool forward_open(Slirp *slirp, struct forward *fw, GError **err)
{
	if (fw->host_port != 0)
		return open_once(slirp, fw, err);
	for (int attempt = 0;; attempt++) {
		g_autoptr(GError) e = NULL;
		if (!pick_ephemeral(fw, &fw->host_port, err))
			return false;
		if (open_once(slirp, fw, &e))
			return true;
		fw->host_port = 0;
		if (attempt == 8) {
			g_propagate_error(err, g_steal_pointer(&e));
			return false;
		}
	}
}

void forward_close(Slirp *slirp, const struct forward *fw)
{
	struct sockaddr_storage host;
	socklen_t hlen = make_sockaddr(fw->host_addr, fw->host_port, &host);
	slirp_remove_hostxfwd(slirp, (struct sockaddr *)&host, hlen, host_flags(fw, host.ss_family));
}
