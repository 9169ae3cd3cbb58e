// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_udpreply.c - UDP forwards' loopback clients (src/udpreply.c): a datagram to a
 * forward's guest endpoint from 127.0.0.1 is rewritten to come from the gateway with valid
 * checksums; the guest's answer to the gateway at a learnt client port is sent from the
 * forward's socket to 127.0.0.1 and consumed, and nothing else is (unlearnt port, another
 * guest port, a wrong checksum, forwards sharing a guest endpoint, truncated frames); bind()
 * is captured between udpreply_begin() and udpreply_end().
 */
#include "frame.h"
#include "udpreply.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GW    "10.0.2.2"
#define GUEST "10.0.2.100"

static struct in_addr a4(const char *s)
{
	struct in_addr a;
	inet_pton(AF_INET, s, &a);
	return a;
}

static uint16_t udp_sum(const uint8_t *ip, const uint8_t *udp, size_t ulen)
{
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	pseudo[10] = (uint8_t)(ulen >> 8);
	pseudo[11] = (uint8_t)ulen;
	return csum_fold(csum_add(udp, ulen, csum_add(pseudo, 12, 0)));
}

/* Ethernet + IPv4 + UDP with valid checksums; returns the frame's length. */
static size_t make_udp4(uint8_t *f, const char *src, uint16_t sport, const char *dst,
                        uint16_t dport, const char *payload)
{
	size_t plen = strlen(payload), ulen = 8 + plen, iplen = 20 + ulen;
	memset(f, 0, 14 + iplen);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *udp = ip + 20;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[8] = 64;
	ip[9] = 17;
	struct in_addr s = a4(src), d = a4(dst);
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	uint16_t c = (uint16_t)~csum_fold(csum_add(ip, 20, 0));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	memcpy(udp + 8, payload, plen);
	c = (uint16_t)~udp_sum(ip, udp, ulen);
	if (c == 0)
		c = 0xffff;
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;
	return 14 + iplen;
}

/* A UDP socket on 127.0.0.1 (port chosen by the kernel); its port in *port. */
static int udp_socket(uint16_t *port)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(s >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0);
	socklen_t l = sizeof(a);
	cr_assert(getsockname(s, (struct sockaddr *)&a, &l) == 0);
	*port = ntohs(a.sin_port);
	return s;
}

static struct sockaddr_in guest_ep(uint16_t port)
{
	return (struct sockaddr_in){
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = a4(GUEST)};
}

Test(udpreply, bind_is_captured_between_begin_and_end)
{
	uint16_t p;
	udpreply_begin();
	int s = udp_socket(&p);
	cr_assert_eq(udpreply_end(), s);
	int t = udp_socket(&p);
	udpreply_begin();
	cr_assert_eq(udpreply_end(), -1, "a bind before begin is not captured");
	close(s);
	close(t);
}

Test(udpreply, loopback_source_is_rewritten_to_the_gateway)
{
	struct udpreply *u = udpreply_new(a4(GW));
	struct sockaddr_in g = guest_ep(81);
	udpreply_add(u, 1000, &g);
	uint8_t f[128], orig[128];
	size_t len = make_udp4(f, "127.0.0.1", 40000, GUEST, 81, "hello");
	memcpy(orig, f, len);
	const uint8_t *out = udpreply_to_guest(u, f, len);
	cr_assert_neq(out, f, "a copy is sent");
	cr_assert_eq(memcmp(f, orig, len), 0, "the original is left alone");
	struct in_addr src;
	memcpy(&src, out + 14 + 12, 4);
	cr_assert_eq(src.s_addr, a4(GW).s_addr);
	cr_assert_eq(csum_fold(csum_add(out + 14, 20, 0)), 0xffff, "IP header checksum");
	cr_assert_eq(udp_sum(out + 14, out + 34, len - 34), 0xffff, "UDP checksum");
	cr_assert_eq(memcmp(out + 34 + 8, "hello", 5), 0);

	/* Not to a forward's endpoint, or from elsewhere: passed through unchanged. */
	len = make_udp4(f, "127.0.0.1", 40000, GUEST, 82, "x");
	cr_assert_eq(udpreply_to_guest(u, f, len), f);
	len = make_udp4(f, "192.0.2.1", 40000, GUEST, 81, "x");
	cr_assert_eq(udpreply_to_guest(u, f, len), f);
	udpreply_free(u);
}

Test(udpreply, answers_to_learnt_ports_go_out_of_the_forward_socket)
{
	uint16_t fport, cport;
	int fwd = udp_socket(&fport);
	int client = udp_socket(&cport);
	struct udpreply *u = udpreply_new(a4(GW));
	struct sockaddr_in g = guest_ep(81);
	udpreply_add(u, fwd, &g);
	uint8_t f[128];

	/* Before any client datagram, an answer to the gateway is libslirp's. */
	size_t len = make_udp4(f, GUEST, 81, GW, cport, "early");
	cr_assert_not(udpreply_from_guest(u, f, len));

	len = make_udp4(f, GW, cport, GUEST, 81, "ask");
	cr_assert_eq(udpreply_to_guest(u, f, len), f);
	len = make_udp4(f, GUEST, 81, GW, cport, "answer");
	cr_assert(udpreply_from_guest(u, f, len));
	char buf[64];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(client, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	cr_assert_eq(n, 6);
	cr_assert_eq(memcmp(buf, "answer", 6), 0);
	cr_assert_eq(ntohs(from.sin_port), fport, "sent from the forward's socket");

	/* Other ports, other sources, a bad checksum, truncated frames: not ours. */
	len = make_udp4(f, GUEST, 81, GW, (uint16_t)(cport + 1), "x");
	cr_assert_not(udpreply_from_guest(u, f, len));
	len = make_udp4(f, GUEST, 82, GW, cport, "x");
	cr_assert_not(udpreply_from_guest(u, f, len));
	len = make_udp4(f, GUEST, 81, "10.0.2.3", cport, "x");
	cr_assert_not(udpreply_from_guest(u, f, len));
	len = make_udp4(f, GUEST, 81, GW, cport, "answer");
	f[len - 1] ^= 1;
	cr_assert_not(udpreply_from_guest(u, f, len));
	f[len - 1] ^= 1;
	for (size_t l = 0; l < len; l++)
		cr_assert_not(udpreply_from_guest(u, f, l), "truncated to %zu", l);

	/* Forgotten: back to libslirp. */
	udpreply_forget(u, fwd);
	cr_assert_not(udpreply_from_guest(u, f, len));
	udpreply_free(u);
	close(fwd);
	close(client);
}

Test(udpreply, forwards_sharing_a_guest_endpoint_are_left_to_libslirp)
{
	struct udpreply *u = udpreply_new(a4(GW));
	struct sockaddr_in g = guest_ep(81);
	udpreply_add(u, 1000, &g);
	udpreply_add(u, 1001, &g);
	uint8_t f[128];
	size_t len = make_udp4(f, "127.0.0.1", 40000, GUEST, 81, "x");
	cr_assert_eq(udpreply_to_guest(u, f, len), f, "not rewritten");
	len = make_udp4(f, GW, 40000, GUEST, 81, "x");
	udpreply_to_guest(u, f, len);
	len = make_udp4(f, GUEST, 81, GW, 40000, "x");
	cr_assert_not(udpreply_from_guest(u, f, len));
	udpreply_free(u);
}
