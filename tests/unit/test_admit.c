// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_admit.c - the gate in front of libslirp (src/admit.c): which frames from the namespace
 * may make libslirp open a host socket, against --max-udp and the socket total, and how the
 * UDP flow table follows libslirp's expiry (240 s, 10 s after a DNS answer).
 *
 * Frames are built here byte by byte (Ethernet, IPv4 or IPv6, then UDP, TCP or ICMP), as the
 * namespace would send them; times are given in milliseconds.
 */
#include "config.h"
#include "admit.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

static struct bounds lim;
static struct admit *a;
static uint8_t frame[128];

static void setup(void)
{
	lim = (struct bounds){.tcp = 4, .half_open = 4, .udp = 3, .buffered = 1 << 20};
	struct in_addr gw, dns;
	struct in6_addr gw6;
	inet_pton(AF_INET, "10.0.2.2", &gw);
	inet_pton(AF_INET, "10.0.2.3", &dns);
	inet_pton(AF_INET6, "fd00::2", &gw6);
	a = admit_new(&lim, gw, dns, gw6);
}

static void teardown(void)
{
	admit_free(a);
}

TestSuite(admit, .init = setup, .fini = teardown);

/* An IPv4 frame from src to dst carrying l4 (protocol proto); returns its length. */
static size_t v4(uint8_t proto, const char *src, const char *dst, const uint8_t *l4, size_t n)
{
	memset(frame, 0, sizeof(frame));
	frame[12] = 0x08;
	uint8_t *ip = frame + 14;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + n) >> 8);
	ip[3] = (uint8_t)(20 + n);
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	memcpy(ip + 20, l4, n);
	return 14 + 20 + n;
}

static size_t v6(uint8_t proto, const char *src, const char *dst, const uint8_t *l4, size_t n)
{
	memset(frame, 0, sizeof(frame));
	frame[12] = 0x86;
	frame[13] = 0xdd;
	uint8_t *ip = frame + 14;
	ip[0] = 0x60;
	ip[5] = (uint8_t)n;
	ip[6] = proto;
	ip[7] = 64;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	memcpy(ip + 40, l4, n);
	return 14 + 40 + n;
}

static size_t udp4(const char *src, int sport, const char *dst, int dport)
{
	uint8_t u[12] = {
	    (uint8_t)(sport >> 8), (uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport, 0, 12};
	return v4(17, src, dst, u, sizeof(u));
}

static bool from_guest(const char *src, int sport, const char *dst, int dport, int64_t now)
{
	size_t n = udp4(src, sport, dst, dport);
	return admit_input(a, frame, n, now);
}

/* libslirp's answer: from dst:dport back to the guest's src:sport. */
static void answer(const char *src, int sport, const char *dst, int dport, int64_t now)
{
	size_t n = udp4(dst, dport, src, sport);
	admit_output(a, frame, n, now);
}

static size_t syn4(const char *dst, uint8_t flags)
{
	uint8_t t[20] = {0x30, 0x39, 0x00, 0x50, [12] = 0x50, [13] = flags};
	return v4(6, "10.0.2.100", dst, t, sizeof(t));
}

static size_t echo4(const char *dst)
{
	uint8_t e[8] = {8};
	return v4(1, "10.0.2.100", dst, e, sizeof(e));
}

Test(admit, udp_flows_up_to_the_cap)
{
	cr_assert(from_guest("10.0.2.100", 1000, "192.0.2.1", 53, 0));
	cr_assert(from_guest("10.0.2.100", 1001, "192.0.2.1", 53, 0));
	cr_assert(from_guest("10.0.2.100", 1002, "192.0.2.1", 9, 0));
	cr_assert_eq(admit_stats(a).udp_flows, 3);
	/* A fourth flow is refused, and keeps being refused; the three known ones pass. */
	cr_assert_not(from_guest("10.0.2.100", 1003, "192.0.2.1", 9, 1));
	cr_assert_not(from_guest("10.0.2.101", 1000, "192.0.2.1", 9, 2));
	cr_assert(from_guest("10.0.2.100", 1000, "198.51.100.7", 443, 3)); /* any destination */
	cr_assert(from_guest("10.0.2.100", 1002, "192.0.2.1", 9, 3));
	struct admit_stats st = admit_stats(a);
	cr_assert_eq(st.refused_udp, 2);
	cr_assert_eq(st.udp_flows, 3);
	cr_assert_eq(st.sockets, 3);
}

Test(admit, flows_expire_as_libslirp_expires_them)
{
	cr_assert(from_guest("10.0.2.100", 1000, "192.0.2.1", 9, 0));
	cr_assert(from_guest("10.0.2.100", 1001, "192.0.2.1", 53, 0));
	cr_assert(from_guest("10.0.2.100", 1002, "192.0.2.1", 9, 0));
	answer("10.0.2.100", 1001, "192.0.2.1", 53, 1000);  /* a DNS answer: 10 s from now */
	answer("10.0.2.100", 1002, "192.0.2.1", 9, 100000); /* keeps 1002 alive */
	admit_expire(a, 1000 + 10000);
	cr_assert_eq(admit_stats(a).udp_flows, 3, "not before libslirp's 10 s");
	admit_expire(a, 1000 + 12001);
	cr_assert_eq(admit_stats(a).udp_flows, 2, "the DNS flow is gone after 10 s and slack");
	admit_expire(a, 242000);
	cr_assert_eq(admit_stats(a).udp_flows, 1, "the idle flow after 240 s and slack");
	admit_expire(a, 100000 + 242001);
	cr_assert_eq(admit_stats(a).udp_flows, 0);
	/* Room again: a new flow is taken (once libslirp's next poll round counts fewer fds). */
	admit_set_sockets(a, 0);
	cr_assert(from_guest("10.0.2.100", 2000, "192.0.2.1", 9, 400000));
}

Test(admit, a_full_table_expires_before_it_refuses)
{
	for (int p = 0; p < 3; p++)
		cr_assert(from_guest("10.0.2.100", 1000 + p, "192.0.2.1", 9, 0));
	admit_set_sockets(a, 0); /* libslirp closed them meanwhile */
	cr_assert(from_guest("10.0.2.100", 2000, "192.0.2.1", 9, 242001));
	cr_assert_eq(admit_stats(a).udp_flows, 1);
}

Test(admit, a_guest_datagram_moves_a_dns_flow_back_to_240_s)
{
	cr_assert(from_guest("10.0.2.100", 1000, "192.0.2.1", 53, 0));
	answer("10.0.2.100", 1000, "192.0.2.1", 53, 0);
	cr_assert(from_guest("10.0.2.100", 1000, "192.0.2.1", 80, 1)); /* now to port 80 */
	admit_expire(a, 20000);
	cr_assert_eq(admit_stats(a).udp_flows, 1);
	answer("10.0.2.100", 1000, "192.0.2.1", 80, 2); /* fport 80: the long timeout */
	admit_expire(a, 200000);
	cr_assert_eq(admit_stats(a).udp_flows, 1);
}

Test(admit, answers_to_unknown_flows_are_ignored)
{
	answer("10.0.2.100", 1000, "192.0.2.1", 9, 0);
	cr_assert_eq(admit_stats(a).udp_flows, 0);
}

Test(admit, dhcp_to_the_gateway_is_libslirps_own)
{
	for (int i = 0; i < 10; i++) {
		cr_assert(from_guest("0.0.0.0", 68, "255.255.255.255", 67, i));
		cr_assert(from_guest("10.0.2.100", 68, "10.0.2.2", 67, i));
	}
	cr_assert_eq(admit_stats(a).udp_flows, 0);
	/* Port 67 elsewhere is an ordinary flow. */
	cr_assert(from_guest("10.0.2.100", 68, "192.0.2.1", 67, 0));
	cr_assert_eq(admit_stats(a).udp_flows, 1);
}

Test(admit, dhcpv6_to_the_gateway_or_its_group)
{
	uint8_t u[8] = {0x02, 0x22, 0x02, 0x23, 0, 8};
	size_t n = v6(17, "fe80::1", "ff02::1:2", u, sizeof(u));
	cr_assert(admit_input(a, frame, n, 0));
	n = v6(17, "fe80::1", "fd00::2", u, sizeof(u));
	cr_assert(admit_input(a, frame, n, 0));
	cr_assert_eq(admit_stats(a).udp_flows, 0);
	n = v6(17, "fd00::100", "2001:db8::2", u, sizeof(u)); /* ends in ::2, not the gateway */
	cr_assert(admit_input(a, frame, n, 0));
	cr_assert_eq(admit_stats(a).udp_flows, 1);
}

Test(admit, ipv6_flows_count_like_ipv4)
{
	uint8_t u[8] = {0x30, 0x39, 0x00, 0x35, 0, 8};
	const char *src[] = {"fd00::100", "fd00::101", "fd00::102", "fd00::103"};
	for (int i = 0; i < 3; i++) {
		size_t n = v6(17, src[i], "2001:db8::1", u, sizeof(u));
		cr_assert(admit_input(a, frame, n, 0));
	}
	size_t n = v6(17, src[3], "2001:db8::1", u, sizeof(u));
	cr_assert_not(admit_input(a, frame, n, 0));
	/* The same port from an IPv4 address is another flow. */
	cr_assert_not(from_guest("10.0.2.100", 0x3039, "192.0.2.1", 53, 0));
}

Test(admit, syns_against_the_socket_total)
{
	/* bounds_sockets() is tcp + udp = 7: four of libslirp's sockets exist already. */
	admit_set_sockets(a, 4);
	for (int i = 0; i < 3; i++) {
		size_t n = syn4("192.0.2.1", 0x02);
		cr_assert(admit_input(a, frame, n, 0), "SYN %d", i);
	}
	size_t n = syn4("192.0.2.1", 0x02);
	cr_assert_not(admit_input(a, frame, n, 0));
	/* Segments that open nothing always pass: SYN-ACK, ACK, RST. */
	n = syn4("192.0.2.1", 0x12);
	cr_assert(admit_input(a, frame, n, 0));
	n = syn4("192.0.2.1", 0x10);
	cr_assert(admit_input(a, frame, n, 0));
	n = syn4("192.0.2.1", 0x04);
	cr_assert(admit_input(a, frame, n, 0));
	/* A new flow cannot take a socket either, even with the UDP table empty. */
	cr_assert_not(from_guest("10.0.2.100", 1000, "192.0.2.1", 9, 0));
	struct admit_stats st = admit_stats(a);
	cr_assert_eq(st.refused_tcp, 1);
	cr_assert_eq(st.refused_udp, 1);
	/* The next poll round counts fewer: room again. */
	admit_set_sockets(a, 0);
	n = syn4("192.0.2.1", 0x02);
	cr_assert(admit_input(a, frame, n, 0));
}

Test(admit, pings_outside_take_a_socket)
{
	admit_set_sockets(a, 7);
	size_t n = echo4("192.0.2.1");
	cr_assert_not(admit_input(a, frame, n, 0));
	cr_assert_eq(admit_stats(a).refused_icmp, 1);
	n = echo4("10.0.2.2"); /* libslirp answers these itself */
	cr_assert(admit_input(a, frame, n, 0));
	n = echo4("10.0.2.3");
	cr_assert(admit_input(a, frame, n, 0));
	uint8_t reply[8] = {0}; /* an echo reply opens nothing */
	n = v4(1, "10.0.2.100", "192.0.2.1", reply, sizeof(reply));
	cr_assert(admit_input(a, frame, n, 0));
}

Test(admit, what_it_cannot_read_passes)
{
	admit_set_sockets(a, 100);
	cr_assert(admit_input(a, frame, 0, 0));
	cr_assert(admit_input(a, frame, 20, 0));
	size_t n = udp4("10.0.2.100", 1000, "192.0.2.1", 9);
	frame[12] = 0x08;
	frame[13] = 0x06; /* ARP */
	cr_assert(admit_input(a, frame, n, 0));
	n = udp4("10.0.2.100", 1000, "192.0.2.1", 9);
	frame[14 + 6] = 0x00;
	frame[14 + 7] = 0x10; /* a later fragment: no UDP header */
	cr_assert(admit_input(a, frame, n, 0));
	n = udp4("10.0.2.100", 1000, "192.0.2.1", 9);
	frame[14] = 0x4f; /* a header longer than the frame */
	cr_assert(admit_input(a, frame, n, 0));
	/* A truncated UDP header: libslirp drops it without a socket. */
	uint8_t u[4] = {0x03, 0xe8, 0, 9};
	n = v4(17, "10.0.2.100", "192.0.2.1", u, sizeof(u));
	cr_assert(admit_input(a, frame, n, 0));
	cr_assert_eq(admit_stats(a).udp_flows, 0);
}
