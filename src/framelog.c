// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * framelog.c - --debug: what the frames say about connections, DHCP leases and DNS.
 *
 * Theory of operation
 *
 * libslirp reports none of these events, but every one of them shows in the frames that cross
 * the tap, so with --debug the engine passes each frame here (engine.c; without --debug this
 * file is never called and costs nothing). We read only headers, bounds-checked at every step
 * since the guest writes them, and log one line per event:
 *
 *  - TCP connection setup and teardown: a SYN without ACK (from the guest: an outgoing
 *    connection; to the guest: a port forward being connected), a FIN from either side, a RST.
 *  - DHCP leases: a DHCPACK sent to the guest (UDP 67 -> 68, BOOTREPLY, option 53 = 5): the
 *    address, the client's MAC and the lease time.
 *  - DNS: a query from the guest to the built-in server (network+3, or ::3 with IPv6) on UDP
 *    port 53: the name, the type, and what becomes of it (forwarded to the host's nameserver,
 *    or dropped with --disable-dns); an answer from it: the name, the response code and the
 *    record count.
 *
 * Payloads are never logged: addresses, ports, MACs, flags, counts, and a queried name with
 * anything but letters, digits, '-' and '_' shown as '?'. IPv4 fragments after the first,
 * IPv6 extension headers and VLAN tags are not looked into.
 */
#include "config.h"
#include "framelog.h"
#include "util.h"

#include <arpa/inet.h>
#include <string.h>

#define ETH_HLEN     14
#define ETH_P_IPV4   0x0800
#define ETH_P_IPV6   0x86dd
#define TCP_FIN      0x01
#define TCP_SYN      0x02
#define TCP_RST      0x04
#define TCP_ACK      0x10
#define DHCP_MAGIC   0x63825363u
#define DNS_NAME_MAX 256

static struct {
	struct in_addr dns4;
	struct in6_addr dns6;
	bool disable_dns;
} cfg;

/* One IP packet: its endpoints as text, and its transport header and payload. */
struct packet {
	char src[INET6_ADDRSTRLEN + 2], dst[INET6_ADDRSTRLEN + 2]; /* "[v6]" in brackets */
	uint8_t proto;
	bool to_dns, from_dns; /* addressed to / sent by the built-in DNS server */
	const uint8_t *l4;
	size_t l4len;
};

void framelog_init(const struct options *opt)
{
	cfg.dns4 = addr4_offset(opt->net, 3);
	cfg.dns6 = opt->net6;
	cfg.dns6.s6_addr[15] = 3;
	cfg.disable_dns = opt->disable_dns;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool parse_ipv4(const uint8_t *ip, size_t len, struct packet *pk)
{
	if (len < 20 || ip[0] >> 4 != 4)
		return false;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	size_t total = MIN((size_t)get16(ip + 2), len);
	if (ihl < 20 || total < ihl || (get16(ip + 6) & 0x1fff) != 0)
		return false; /* bad header, or a fragment after the first */
	inet_ntop(AF_INET, ip + 12, pk->src, sizeof(pk->src));
	inet_ntop(AF_INET, ip + 16, pk->dst, sizeof(pk->dst));
	pk->proto = ip[9];
	pk->to_dns = memcmp(ip + 16, &cfg.dns4, 4) == 0;
	pk->from_dns = memcmp(ip + 12, &cfg.dns4, 4) == 0;
	pk->l4 = ip + ihl;
	pk->l4len = total - ihl;
	return true;
}

static void bracketed(const uint8_t *a, char *out, size_t cap)
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, a, buf, sizeof(buf));
	g_snprintf(out, cap, "[%s]", buf);
}

static bool parse_ipv6(const uint8_t *ip, size_t len, struct packet *pk)
{
	if (len < 40 || ip[0] >> 4 != 6)
		return false;
	bracketed(ip + 8, pk->src, sizeof(pk->src));
	bracketed(ip + 24, pk->dst, sizeof(pk->dst));
	pk->proto = ip[6]; /* extension headers are not followed */
	pk->to_dns = memcmp(ip + 24, &cfg.dns6, 16) == 0;
	pk->from_dns = memcmp(ip + 8, &cfg.dns6, 16) == 0;
	pk->l4 = ip + 40;
	pk->l4len = MIN((size_t)get16(ip + 4), len - 40);
	return true;
}

static void log_tcp(const struct packet *pk, bool to_guest)
{
	if (pk->l4len < 20)
		return;
	uint16_t sport = get16(pk->l4), dport = get16(pk->l4 + 2);
	uint8_t flags = pk->l4[13];
	const char *what;
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		what = to_guest ? "connection request to the guest (port forward)"
		                : "connection request from the guest";
	else if (flags & TCP_RST)
		what = "reset";
	else if (flags & TCP_FIN)
		what = "closed (FIN)";
	else
		return;
	log_debug("tcp %s:%u -> %s:%u: %s", pk->src, sport, pk->dst, dport, what);
}

static void log_dhcp(const uint8_t *b, size_t len)
{
	if (len < 240 || b[0] != 2 || get32(b + 236) != DHCP_MAGIC)
		return;
	int type = -1;
	uint32_t lease = 0;
	for (size_t i = 240; i < len && b[i] != 255;) {
		if (b[i] == 0) {
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + b[i + 1] > len)
			break;
		if (b[i] == 53 && b[i + 1] >= 1)
			type = b[i + 2];
		if (b[i] == 51 && b[i + 1] >= 4)
			lease = get32(b + i + 2);
		i += 2 + (size_t)b[i + 1];
	}
	if (type != 5 && type != 6)
		return;
	char addr[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, b + 16, addr, sizeof(addr));
	const uint8_t *m = b + 28;
	if (type == 5)
		log_debug("dhcp: lease %s to %02x:%02x:%02x:%02x:%02x:%02x for %u s", addr, m[0],
		          m[1], m[2], m[3], m[4], m[5], lease);
	else
		log_debug("dhcp: request of %02x:%02x:%02x:%02x:%02x:%02x refused (DHCPNAK)", m[0],
		          m[1], m[2], m[3], m[4], m[5]);
}

/* The question's name (letters, digits, '-', '_'; anything else as '?'); its end in *end. */
static bool dns_qname(const uint8_t *b, size_t len, char out[DNS_NAME_MAX], size_t *end)
{
	size_t i = 12, o = 0;
	while (i < len && b[i] != 0) {
		size_t n = b[i];
		if (n > 63 || i + 1 + n > len || o + n + 1 >= DNS_NAME_MAX)
			return false; /* compression pointer, truncated, or too long */
		if (o > 0)
			out[o++] = '.';
		for (size_t k = 0; k < n; k++) {
			uint8_t c = b[i + 1 + k];
			out[o++] = g_ascii_isalnum(c) || c == '-' || c == '_' ? (char)c : '?';
		}
		i += 1 + n;
	}
	if (i >= len)
		return false;
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	*end = i + 1;
	return true;
}

static const char *dns_type(uint16_t t, char buf[16])
{
	static const struct {
		uint16_t type;
		const char *name;
	} names[] = {{1, "A"},    {2, "NS"},     {5, "CNAME"}, {6, "SOA"},
	             {12, "PTR"}, {15, "MX"},    {16, "TXT"},  {28, "AAAA"},
	             {33, "SRV"}, {65, "HTTPS"}, {255, "ANY"}};
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
		if (names[i].type == t)
			return names[i].name;
	g_snprintf(buf, 16, "TYPE%u", t);
	return buf;
}

static const char *dns_rcode(unsigned rc)
{
	static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
	                                    "NXDOMAIN", "NOTIMP",  "REFUSED"};
	return rc < G_N_ELEMENTS(names) ? names[rc] : "error";
}

static void log_dns(const struct packet *pk, uint16_t port, const uint8_t *b, size_t len,
                    bool to_guest)
{
	char name[DNS_NAME_MAX], tbuf[16];
	size_t end;
	if (len < 12 || get16(b + 4) == 0 || !dns_qname(b, len, name, &end) || end + 4 > len)
		return;
	const char *type = dns_type(get16(b + end), tbuf);
	bool response = b[2] & 0x80;
	if (!to_guest && !response)
		log_debug("dns: query %s %s from %s:%u: %s", name, type, pk->src, port,
		          cfg.disable_dns ? "not answered (--disable-dns)"
		                          : "forwarded to the host's nameserver");
	else if (to_guest && response)
		log_debug("dns: answer to %s:%u for %s %s: %s, %u record(s)", pk->dst, port, name,
		          type, dns_rcode(b[3] & 0x0f), get16(b + 6));
}

static void log_udp(const struct packet *pk, bool to_guest)
{
	if (pk->l4len < 8)
		return;
	uint16_t sport = get16(pk->l4), dport = get16(pk->l4 + 2);
	size_t ulen = get16(pk->l4 + 4);
	if (ulen < 8)
		return;
	const uint8_t *b = pk->l4 + 8;
	size_t len = MIN(ulen, pk->l4len) - 8;
	if (to_guest && sport == 67 && dport == 68)
		log_dhcp(b, len);
	else if (!to_guest && dport == 53 && pk->to_dns)
		log_dns(pk, sport, b, len, false);
	else if (to_guest && sport == 53 && pk->from_dns)
		log_dns(pk, dport, b, len, true);
}

void framelog_frame(const uint8_t *frame, size_t len, bool to_guest)
{
	struct packet pk;
	if (len < ETH_HLEN)
		return;
	uint16_t type = get16(frame + 12);
	const uint8_t *ip = frame + ETH_HLEN;
	size_t iplen = len - ETH_HLEN;
	if (type == ETH_P_IPV4 ? !parse_ipv4(ip, iplen, &pk)
	                       : type != ETH_P_IPV6 || !parse_ipv6(ip, iplen, &pk))
		return;
	if (pk.proto == IPPROTO_TCP)
		log_tcp(&pk, to_guest);
	else if (pk.proto == IPPROTO_UDP)
		log_udp(&pk, to_guest);
}
