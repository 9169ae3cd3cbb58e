// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * admit.c - the gate in front of libslirp: may this frame from the namespace make libslirp
 * open a host socket? (The caps themselves, and why, are in bounds.c.)
 *
 * libslirp opens a host socket for a TCP SYN, for the first UDP datagram from a guest
 * address and port (it keys its UDP sockets by the guest's end only), and for every ICMP
 * echo request to an outside address, and has no bound of its own. We cannot ask libslirp
 * how many it holds without parsing text, so we count:
 *  - all its sockets: the fds its last poll round asked us to watch, plus one for every
 *    socket-opening frame let through since (so a batch of frames cannot overshoot);
 *  - its UDP flows, in a table that mirrors libslirp's: a flow is created by a datagram
 *    from the guest, kept alive by datagrams either way, and expires when libslirp's would:
 *    240 s after the last datagram, or 10 s after an answer to a datagram sent to port 53
 *    (libslirp's "DNS sockets die fast" rule), plus a little slack so that we never forget
 *    a flow before libslirp does. Two queues, one per timeout, each in expiry order, make
 *    refresh and expiry O(1).
 * A SYN or an echo request is refused once all sockets are at bounds_sockets(); a datagram
 * of a new flow once the flows are at --max-udp or all sockets are at theirs. Datagrams of
 * known flows, DHCP and DHCPv6 to the gateway, IPv6's ICMP and pings to the virtual network
 * (libslirp answers those itself) always pass.
 */
#include "config.h"
#include "admit.h"
#include "util.h"

#include <glib.h>
#include <string.h>

#define ETH_HLEN_       14
#define EXPIRE_SLACK_MS 2000
#define EXPIRE_MS       (240000 + EXPIRE_SLACK_MS)
#define EXPIRE_FAST_MS  (10000 + EXPIRE_SLACK_MS)

struct flow_key {
	uint8_t v6;
	uint8_t pad;
	uint16_t port;    /* the guest's port, host order */
	uint8_t addr[16]; /* the guest's address (IPv4 in the first 4 bytes) */
};

struct flow {
	struct flow_key key;
	int64_t expires_ms;
	uint16_t fport; /* where the guest's last datagram went */
	bool fast;      /* in a->fast, not a->slow */
	GList link;     /* in a->fast or a->slow */
};

struct admit {
	const struct bounds *lim;
	struct in_addr gw, dns;
	struct in6_addr gw6;
	GHashTable *flows; /* struct flow_key * -> struct flow * (owned) */
	GQueue slow, fast; /* of the same flows, by expires_ms */
	unsigned sockets;
	struct admit_stats st;
};

/* What a frame is to libslirp, from its headers. */
struct pkt {
	bool v6;
	uint8_t proto;
	const uint8_t *src, *dst; /* addresses */
	const uint8_t *l4;
	size_t l4len;
};

static guint key_hash(gconstpointer p)
{
	return hash_bytes(p, sizeof(struct flow_key));
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(a, b, sizeof(struct flow_key)) == 0;
}

struct admit *admit_new(const struct bounds *l, struct in_addr gw, struct in_addr dns,
                        struct in6_addr gw6)
{
	struct admit *a = g_new0(struct admit, 1);
	a->lim = l;
	a->gw = gw;
	a->dns = dns;
	a->gw6 = gw6;
	a->flows = g_hash_table_new_full(key_hash, key_equal, NULL, g_free);
	g_queue_init(&a->slow);
	g_queue_init(&a->fast);
	return a;
}

void admit_free(struct admit *a)
{
	if (a == NULL)
		return;
	g_hash_table_unref(a->flows);
	g_free(a);
}

/* Headers of an IPv4 or IPv6 frame; false for anything else or a truncated one. */
static bool parse(const uint8_t *f, size_t len, struct pkt *p)
{
	if (len < ETH_HLEN_ + 20)
		return false;
	uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
	const uint8_t *ip = f + ETH_HLEN_;
	size_t n = len - ETH_HLEN_;
	if (type == 0x0800) {
		size_t hl = (size_t)(ip[0] & 0x0f) * 4;
		if ((ip[0] >> 4) != 4 || hl < 20 || hl > n)
			return false;
		if ((ip[6] & 0x1f) != 0 || ip[7] != 0)
			return false; /* a later fragment: no ports (ipfrag.c reassembles them
			                 first) */
		*p = (struct pkt){
		    .proto = ip[9], .src = ip + 12, .dst = ip + 16, .l4 = ip + hl, .l4len = n - hl};
		return true;
	}
	if (type == 0x86dd && n >= 40 && (ip[0] >> 4) == 6) {
		*p = (struct pkt){.v6 = true,
		                  .proto = ip[6],
		                  .src = ip + 8,
		                  .dst = ip + 24,
		                  .l4 = ip + 40,
		                  .l4len = n - 40};
		return true;
	}
	return false;
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static struct flow_key make_key(const struct pkt *p, const uint8_t *addr, uint16_t port)
{
	struct flow_key k = {.v6 = p->v6, .port = port};
	memcpy(k.addr, addr, p->v6 ? 16 : 4);
	return k;
}

static bool is_addr4(const uint8_t *a, struct in_addr want)
{
	return memcmp(a, &want, 4) == 0;
}

/* Traffic libslirp answers itself, without a host socket. */
static bool udp_local(const struct admit *a, const struct pkt *p, uint16_t dport)
{
	static const uint8_t dhcp6_mcast[16] = {0xff, 0x02, [13] = 0x01, [15] = 0x02};
	if (!p->v6)
		return dport == 67 &&
		       (is_addr4(p->dst, a->gw) || memcmp(p->dst, "\xff\xff\xff\xff", 4) == 0);
	return dport == 547 &&
	       (memcmp(p->dst, &a->gw6, 16) == 0 || memcmp(p->dst, dhcp6_mcast, 16) == 0);
}

static void flow_queue(struct admit *a, struct flow *f, bool fast, int64_t now_ms)
{
	g_queue_unlink(f->fast ? &a->fast : &a->slow, &f->link);
	f->fast = fast;
	f->expires_ms = now_ms + (fast ? EXPIRE_FAST_MS : EXPIRE_MS);
	g_queue_push_tail_link(fast ? &a->fast : &a->slow, &f->link);
}

static void flow_drop(struct admit *a, struct flow *f)
{
	g_queue_unlink(f->fast ? &a->fast : &a->slow, &f->link);
	g_hash_table_remove(a->flows, &f->key);
}

static void expire_queue(struct admit *a, GQueue *q, int64_t now_ms)
{
	while (q->head != NULL) {
		struct flow *f = q->head->data;
		if (f->expires_ms > now_ms)
			break;
		flow_drop(a, f);
	}
}

void admit_expire(struct admit *a, int64_t now_ms)
{
	expire_queue(a, &a->slow, now_ms);
	expire_queue(a, &a->fast, now_ms);
}

static bool sockets_full(const struct admit *a)
{
	return a->sockets >= bounds_sockets(a->lim);
}

static bool admit_udp(struct admit *a, const struct pkt *p, int64_t now_ms)
{
	if (p->l4len < 8)
		return true; /* libslirp drops it */
	uint16_t sport = get16(p->l4), dport = get16(p->l4 + 2);
	if (udp_local(a, p, dport))
		return true;
	struct flow_key k = make_key(p, p->src, sport);
	struct flow *f = g_hash_table_lookup(a->flows, &k);
	if (f == NULL) {
		if (g_hash_table_size(a->flows) >= a->lim->udp)
			admit_expire(a, now_ms);
		if (g_hash_table_size(a->flows) >= a->lim->udp || sockets_full(a)) {
			a->st.refused_udp++;
			return false;
		}
		f = g_new0(struct flow, 1);
		f->key = k;
		f->link.data = f;
		g_queue_push_tail_link(&a->slow, &f->link);
		g_hash_table_insert(a->flows, &f->key, f);
		a->sockets++;
	}
	f->fport = dport;
	flow_queue(a, f, false, now_ms);
	return true;
}

static bool admit_opening(struct admit *a, uint64_t *refused)
{
	if (sockets_full(a)) {
		(*refused)++;
		return false;
	}
	a->sockets++;
	return true;
}

bool admit_input(struct admit *a, const uint8_t *frame, size_t len, int64_t now_ms)
{
	struct pkt p;
	if (!parse(frame, len, &p))
		return true;
	switch (p.proto) {
	case 6: /* TCP: a SYN without ACK makes libslirp connect() */
		if (p.l4len >= 14 && (p.l4[13] & 0x12) == 0x02)
			return admit_opening(a, &a->st.refused_tcp);
		return true;
	case 17:
		return admit_udp(a, &p, now_ms);
	case 1: /* an echo request to the outside opens a ping socket */
		if (p.l4len >= 1 && p.l4[0] == 8 && !is_addr4(p.dst, a->gw) &&
		    !is_addr4(p.dst, a->dns))
			return admit_opening(a, &a->st.refused_icmp);
		return true;
	default:
		return true;
	}
}

void admit_output(struct admit *a, const uint8_t *frame, size_t len, int64_t now_ms)
{
	struct pkt p;
	if (!parse(frame, len, &p) || p.proto != 17 || p.l4len < 8)
		return;
	struct flow_key k = make_key(&p, p.dst, get16(p.l4 + 2));
	struct flow *f = g_hash_table_lookup(a->flows, &k);
	if (f != NULL)
		flow_queue(a, f, f->fport == 53, now_ms);
}

void admit_set_sockets(struct admit *a, unsigned n)
{
	a->sockets = n;
}

struct admit_stats admit_stats(const struct admit *a)
{
	struct admit_stats s = a->st;
	s.udp_flows = g_hash_table_size(a->flows);
	s.sockets = a->sockets;
	return s;
}
