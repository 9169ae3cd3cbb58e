// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * udpreply.c - UDP forwards and their clients on the host's loopback.
 *
 * libslirp hands the guest a datagram that a client on the host's 127.0.0.1 sent to a UDP
 * forward as coming from the gateway (10.0.2.2:<client port>). Its handling of the answers
 * has two faults (slirp4netns 1.2 shows both), which come from one socket per forward keeping
 * a single peer address, overwritten by each datagram of the guest (udp_input() stores the
 * guest's destination as the socket's peer):
 *  - the answer to 10.0.2.2 is translated as any new flow from the guest to the gateway
 *    (sotranslate_out()): to 127.0.0.1, or, with disable_host_loopback, to nothing: EPERM,
 *    the answer is dropped. So with --disable-host-loopback, which dockerd-rootless.sh always
 *    passes, a UDP forward answered only clients that were not on the host's loopback;
 *  - once the guest has answered a client elsewhere (192.0.2.1), the peer is that address, and
 *    the next datagram from 127.0.0.1 is no longer translated (sotranslate_in() only
 *    translates while the peer is in the virtual network): the guest sees it from 127.0.0.1,
 *    which it cannot answer.
 * So we carry loopback clients' datagrams ourselves, both ways. The frames libslirp sends to
 * the guest tell us which loopback clients a forward has: a UDP datagram to the forward's
 * guest address and port from the gateway, or from 127.0.0.1 (which we then rewrite to come
 * from the gateway, fixing both checksums), carries the client's port. A datagram from the
 * guest, from a forward's guest address and port to the gateway at one of those ports, is sent
 * from the forward's own socket to 127.0.0.1:<that port>, as libslirp would without the
 * option, and libslirp never sees it. Every other datagram to the gateway still goes to
 * libslirp (which refuses it under --disable-host-loopback): the guest still cannot reach
 * anything on the host's loopback that did not write to it first through a forward. Each
 * forward remembers at most PORTS_MAX client ports (then it starts afresh). When several
 * forwards lead to the same guest address and port, the frames do not tell which one a
 * client came through, so such forwards are left to libslirp as before.
 *
 * The forward's socket is libslirp's: we learn its fd by interposing bind() while
 * slirp_add_hostxfwd() runs for a UDP forward (udpreply_begin()/udpreply_end()), as
 * fastpath.c interposes listen(). Only IPv4 guests, and (for the rewrite) datagrams that fit
 * one frame, are handled; frames are parsed with bounds checks (they come from an untrusted
 * guest) and an answer whose UDP checksum is wrong is left to libslirp, which drops it.
 */
#include "config.h"
#include "udpreply.h"
#include "frame.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PORTS_MAX 4096

struct ufwd {
	int fd;
	struct in_addr guest_addr;
	uint16_t guest_port; /* host order */
	GHashTable *ports;   /* client ports (host order, as GUINT_TO_POINTER) */
};

struct udpreply {
	struct in_addr gw;
	GPtrArray *fwds;         /* of struct ufwd * */
	uint8_t buf[65536 + 64]; /* a rewritten frame for the guest */
};

static bool capturing;
static int captured_fd = -1;

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (capturing)
		captured_fd = fd;
	return (int)syscall(SYS_bind, fd, addr, len);
}

static void ufwd_free(gpointer p)
{
	struct ufwd *f = p;
	g_hash_table_destroy(f->ports);
	g_free(f);
}

struct udpreply *udpreply_new(struct in_addr gw)
{
	struct udpreply *u = g_new0(struct udpreply, 1);
	u->gw = gw;
	u->fwds = g_ptr_array_new_with_free_func(ufwd_free);
	return u;
}

void udpreply_free(struct udpreply *u)
{
	if (u == NULL)
		return;
	g_ptr_array_free(u->fwds, TRUE);
	g_free(u);
}

void udpreply_begin(void)
{
	capturing = true;
	captured_fd = -1;
}

int udpreply_end(void)
{
	int fd = captured_fd;
	capturing = false;
	captured_fd = -1;
	return fd;
}

void udpreply_add(struct udpreply *u, int fd, const struct sockaddr_in *guest)
{
	if (u == NULL || fd < 0 || guest->sin_family != AF_INET)
		return;
	struct ufwd *f = g_new0(struct ufwd, 1);
	f->fd = fd;
	f->guest_addr = guest->sin_addr;
	f->guest_port = ntohs(guest->sin_port);
	f->ports = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_ptr_array_add(u->fwds, f);
}

void udpreply_forget(struct udpreply *u, int fd)
{
	if (u == NULL || fd < 0)
		return;
	for (guint i = 0; i < u->fwds->len; i++) {
		struct ufwd *f = g_ptr_array_index(u->fwds, i);
		if (f->fd == fd) {
			g_ptr_array_remove_index(u->fwds, i);
			return;
		}
	}
}

/* An untagged, unfragmented IPv4 UDP datagram (or the first fragment, when first_ok). */
struct udp_view {
	struct in_addr src, dst;
	uint16_t sport, dport; /* host order */
	const uint8_t *ip;     /* the IP header */
	size_t ip_hlen;
	const uint8_t *udp; /* the UDP header */
	size_t udp_len;     /* header and payload, from the UDP length field */
};

static bool parse_udp4(const uint8_t *f, size_t len, bool first_ok, struct udp_view *v)
{
	if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00)
		return false;
	const uint8_t *ip = f + 14;
	size_t avail = len - 14;
	size_t hlen = (size_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || hlen < 20 || ip[9] != 17)
		return false;
	size_t tot = ((size_t)ip[2] << 8) | ip[3];
	if (tot < hlen + 8 || tot > avail)
		return false;
	uint16_t frag = (uint16_t)(((ip[6] << 8) | ip[7]) & 0x3fff); /* MF and offset */
	if (frag != 0 && !(first_ok && (frag & 0x1fff) == 0))
		return false;
	const uint8_t *udp = ip + hlen;
	size_t ulen = ((size_t)udp[4] << 8) | udp[5];
	if (frag == 0 && (ulen < 8 || ulen > tot - hlen))
		return false;
	memcpy(&v->src, ip + 12, 4);
	memcpy(&v->dst, ip + 16, 4);
	v->sport = (uint16_t)((udp[0] << 8) | udp[1]);
	v->dport = (uint16_t)((udp[2] << 8) | udp[3]);
	v->ip = ip;
	v->ip_hlen = hlen;
	v->udp = udp;
	v->udp_len = ulen;
	return true;
}

/* The forward to guest addr:port; NULL if none, or if several share it (see the top). */
static struct ufwd *find(struct udpreply *u, struct in_addr addr, uint16_t port)
{
	struct ufwd *found = NULL;
	for (guint i = 0; i < u->fwds->len; i++) {
		struct ufwd *f = g_ptr_array_index(u->fwds, i);
		if (f->guest_port == port && f->guest_addr.s_addr == addr.s_addr) {
			if (found != NULL)
				return NULL;
			found = f;
		}
	}
	return found;
}

/* RFC 1624: the ones' complement checksum at sum after 4 bytes changed from `from` to `to`. */
static void csum_replace4(uint8_t *sum, const uint8_t *from, const uint8_t *to, bool udp)
{
	uint32_t s = (uint16_t) ~((sum[0] << 8) | sum[1]);
	for (int i = 0; i < 4; i += 2) {
		s += (uint16_t) ~((from[i] << 8) | from[i + 1]);
		s += (uint32_t)((to[i] << 8) | to[i + 1]);
	}
	uint16_t c = (uint16_t)~csum_fold(s);
	if (udp && c == 0)
		c = 0xffff;
	sum[0] = (uint8_t)(c >> 8);
	sum[1] = (uint8_t)c;
}

const uint8_t *udpreply_to_guest(struct udpreply *u, const uint8_t *frame, size_t len)
{
	struct udp_view v;
	if (u == NULL || u->fwds->len == 0 || !parse_udp4(frame, len, true, &v))
		return frame;
	bool loopback = v.src.s_addr == htonl(INADDR_LOOPBACK);
	if (v.src.s_addr != u->gw.s_addr && !loopback)
		return frame;
	struct ufwd *f = find(u, v.dst, v.dport);
	if (f == NULL)
		return frame;
	if (loopback) {
		/* Only a whole datagram can be rewritten (its later fragments carry no ports). */
		if ((((v.ip[6] << 8) | v.ip[7]) & 0x3fff) != 0 || len > sizeof(u->buf))
			return frame;
		memcpy(u->buf, frame, len);
		uint8_t *ip = u->buf + (v.ip - frame);
		uint8_t *udp = u->buf + (v.udp - frame);
		uint8_t gw[4];
		memcpy(gw, &u->gw, 4);
		csum_replace4(ip + 10, ip + 12, gw, false);
		if (udp[6] != 0 || udp[7] != 0)
			csum_replace4(udp + 6, ip + 12, gw, true);
		memcpy(ip + 12, gw, 4);
		frame = u->buf;
	}
	if (g_hash_table_size(f->ports) >= PORTS_MAX)
		g_hash_table_remove_all(f->ports);
	g_hash_table_add(f->ports, GUINT_TO_POINTER((guint)v.sport));
	return frame;
}

/* The UDP checksum (0: none) over the pseudo-header, header and payload is right. */
static bool udp_csum_ok(const struct udp_view *v)
{
	uint16_t sum_field = (uint16_t)((v->udp[6] << 8) | v->udp[7]);
	if (sum_field == 0)
		return true;
	uint8_t pseudo[12];
	memcpy(pseudo, v->ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	pseudo[10] = (uint8_t)(v->udp_len >> 8);
	pseudo[11] = (uint8_t)v->udp_len;
	uint32_t s = csum_add(pseudo, sizeof(pseudo), 0);
	s = csum_add(v->udp, v->udp_len, s);
	return csum_fold(s) == 0xffff;
}

bool udpreply_from_guest(struct udpreply *u, const uint8_t *frame, size_t len)
{
	struct udp_view v;
	if (u == NULL || u->fwds->len == 0 || !parse_udp4(frame, len, false, &v) ||
	    v.dst.s_addr != u->gw.s_addr)
		return false;
	struct ufwd *f = find(u, v.src, v.sport);
	if (f == NULL || !g_hash_table_contains(f->ports, GUINT_TO_POINTER((guint)v.dport)) ||
	    !udp_csum_ok(&v))
		return false;
	struct sockaddr_in to = {.sin_family = AF_INET,
	                         .sin_port = htons(v.dport),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ssize_t n;
	do
		n = sendto(f->fd, v.udp + 8, v.udp_len - 8, MSG_DONTWAIT, (struct sockaddr *)&to,
		           sizeof(to));
	while (n < 0 && errno == EINTR);
	return true; /* sent, or lost as a full socket buffer would lose it */
}
