// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hostdest.c - where the namespace's traffic to an address goes on the host, for slirpns's
 * own TCP and UDP endpoints (tcpout.c, udpout.c), the same way for both.
 *
 * The gateway (network+2, or the IPv6 prefix's ::2) is the host's loopback, as in libslirp,
 * unless --disable-host-loopback (then libslirp refuses it). An address outside the virtual
 * network is itself. The rest of the virtual network (the DNS address, DHCP, other guests),
 * 0/8, loopback, multicast and broadcast, and for IPv6 link-local, unspecified and v4-mapped
 * addresses, stay with libslirp, which knows what they mean or refuses them.
 */
#include "config.h"
#include "hostdest.h"

#include <arpa/inet.h>
#include <string.h>

static bool v4_in_net(const struct options *o, const uint8_t a[4])
{
	uint32_t x;
	memcpy(&x, a, 4);
	return (x & o->mask.s_addr) == (o->net.s_addr & o->mask.s_addr);
}

static bool dest4(const struct options *o, const uint8_t *a, struct sockaddr_in *sin)
{
	struct in_addr gw = addr4_offset(o->net, 2);
	if (memcmp(a, &gw, 4) == 0) {
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return !o->disable_host_loopback;
	}
	if (v4_in_net(o, a) || a[0] == 0 || a[0] == 127 || a[0] >= 224)
		return false;
	memcpy(&sin->sin_addr, a, 4);
	return true;
}

static bool dest6(const struct options *o, const uint8_t *a, struct sockaddr_in6 *sin6)
{
	struct in6_addr d, gw = o->net6;
	memcpy(&d, a, 16);
	gw.s6_addr[15] = 2;
	if (memcmp(&d, &gw, 16) == 0) {
		sin6->sin6_addr = in6addr_loopback;
		return !o->disable_host_loopback;
	}
	if (memcmp(&d, &o->net6, 8) == 0 || IN6_IS_ADDR_MULTICAST(&d) ||
	    IN6_IS_ADDR_LINKLOCAL(&d) || IN6_IS_ADDR_LOOPBACK(&d) || IN6_IS_ADDR_UNSPECIFIED(&d) ||
	    IN6_IS_ADDR_V4MAPPED(&d))
		return false;
	sin6->sin6_addr = d;
	return true;
}

bool hostdest_for(const struct options *o, bool v6, const uint8_t faddr[16], uint16_t port,
                  struct sockaddr_storage *ss, socklen_t *sl)
{
	memset(ss, 0, sizeof(*ss));
	if (!v6) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sl = sizeof(*sin);
		return dest4(o, faddr, sin);
	}
	if (!o->ipv6)
		return false;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	*sl = sizeof(*sin6);
	return dest6(o, faddr, sin6);
}

void hostdest_gateway_mac(const struct options *o, uint8_t mac[6])
{
	struct in_addr gw = addr4_offset(o->net, 2);
	mac[0] = 0x52;
	mac[1] = 0x55;
	memcpy(mac + 2, &gw, 4);
}
