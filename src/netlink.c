// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * netlink.c - configure links, addresses and routes with rtnetlink, never with ip(8).
 *
 * Used by the namespace child (netns.c) for -c/--configure. Each request is one message built
 * in a stack buffer (header, ifinfomsg/ifaddrmsg/rtmsg, then attributes), sent with NLM_F_ACK,
 * and followed by a blocking read of the kernel's NLMSG_ERROR answer, whose code becomes the
 * GError. The socket is opened by the caller in the namespace being configured.
 */
#include "config.h"
#include "netlink.h"
#include "util.h"

#include <errno.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct nl_req {
	struct nlmsghdr hdr;
	char buf[512];
};

static void *nl_tail(struct nl_req *r)
{
	return (char *)&r->hdr + NLMSG_ALIGN(r->hdr.nlmsg_len);
}

static void nl_put(struct nl_req *r, const void *data, size_t len)
{
	memcpy(nl_tail(r), data, len);
	r->hdr.nlmsg_len = NLMSG_ALIGN(r->hdr.nlmsg_len) + len;
}

static void nl_attr(struct nl_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = nl_tail(r);
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->hdr.nlmsg_len = NLMSG_ALIGN(r->hdr.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static void nl_init(struct nl_req *r, unsigned short type, unsigned short flags)
{
	memset(r, 0, sizeof(*r));
	r->hdr.nlmsg_len = NLMSG_LENGTH(0);
	r->hdr.nlmsg_type = type;
	r->hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->hdr.nlmsg_seq = 1;
}

int nl_open(GError **err)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		set_error(err, errno, "socket(AF_NETLINK)");
	return fd;
}

/* Send the request and wait for its acknowledgement. */
static bool nl_talk(int nl, struct nl_req *r, const char *what, GError **err)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	if (sendto(nl, r, r->hdr.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return set_error(err, errno, "netlink %s", what);
	char buf[4096];
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return set_error(err, errno, "netlink %s: recv", what);
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = NLMSG_DATA(h);
			if (e->error != 0)
				return set_error(err, -e->error, "netlink %s", what);
			return true;
		}
	}
}

bool nl_link_setup(int nl, int ifindex, unsigned mtu, const uint8_t *mac, GError **err)
{
	struct nl_req r;
	nl_init(&r, RTM_NEWLINK, 0);
	struct ifinfomsg ifi = {
	    .ifi_family = AF_UNSPEC,
	    .ifi_index = ifindex,
	    .ifi_flags = IFF_UP,
	    .ifi_change = IFF_UP,
	};
	nl_put(&r, &ifi, sizeof(ifi));
	if (mtu != 0)
		nl_attr(&r, IFLA_MTU, &mtu, sizeof(uint32_t));
	if (mac != NULL)
		nl_attr(&r, IFLA_ADDRESS, mac, 6);
	return nl_talk(nl, &r, "set link", err);
}

bool nl_addr4_add(int nl, int ifindex, struct in_addr addr, unsigned prefix, GError **err)
{
	struct nl_req r;
	nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	struct ifaddrmsg ifa = {
	    .ifa_family = AF_INET,
	    .ifa_prefixlen = (unsigned char)prefix,
	    .ifa_scope = RT_SCOPE_UNIVERSE,
	    .ifa_index = (unsigned)ifindex,
	};
	nl_put(&r, &ifa, sizeof(ifa));
	struct in_addr brd = {.s_addr = addr.s_addr | htonl(0xffffffffu >> prefix)};
	nl_attr(&r, IFA_LOCAL, &addr, sizeof(addr));
	nl_attr(&r, IFA_ADDRESS, &addr, sizeof(addr));
	nl_attr(&r, IFA_BROADCAST, &brd, sizeof(brd));
	return nl_talk(nl, &r, "add address", err);
}

bool nl_route4_default(int nl, int ifindex, struct in_addr gateway, GError **err)
{
	struct nl_req r;
	nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	struct rtmsg rt = {
	    .rtm_family = AF_INET,
	    .rtm_table = RT_TABLE_MAIN,
	    .rtm_protocol = RTPROT_BOOT,
	    .rtm_scope = RT_SCOPE_UNIVERSE,
	    .rtm_type = RTN_UNICAST,
	};
	nl_put(&r, &rt, sizeof(rt));
	uint32_t oif = (uint32_t)ifindex;
	nl_attr(&r, RTA_GATEWAY, &gateway, sizeof(gateway));
	nl_attr(&r, RTA_OIF, &oif, sizeof(oif));
	return nl_talk(nl, &r, "add default route", err);
}
