// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * udpout.c - slirpns's own UDP endpoint: the datagrams the namespace sends to the host or to
 * the outside world go to a host socket of their flow, without libslirp.
 *
 * Why: libslirp copies every datagram into an mbuf, keeps the last one per socket, and looks
 * its UDP sockets up in a list, so each datagram costs more the more flows there are
 * (4,000 flows: ~100 us each). Here a flow is a hash table entry holding one connected,
 * non-blocking host socket.
 *
 * How:
 *  - A flow is the namespace's (address, port) to (address, port). Its first datagram opens
 *    a UDP socket, bound like libslirp's (--outbound-addr, --outbound-addr6) and connected to
 *    the destination: the gateway 10.0.2.2 / fd00::2 means the host's loopback, unless
 *    --disable-host-loopback; an address outside the virtual network is itself. Everything
 *    else stays with libslirp: the DNS address and the rest of the virtual network, DHCP,
 *    broadcast, multicast, link-local, IPv6 fragments (libslirp drops those too), and what the
 *    namespace sends from the guest end of a UDP port forward (its answers to the forward's
 *    clients: libslirp's forward socket must carry them; main.c tells us of each forward).
 *    IPv4 fragments reach us reassembled (ipfrag.c, in datapath.c).
 *  - Namespace -> host: the payloads of one flow's datagrams in a tap batch are gathered and
 *    sent together at the end of the batch (batch_flush(): UDP_SEGMENT, or sendmmsg()).
 *    Host -> namespace: recvmmsg() reads up to RECV_SLOTS datagrams at once, each copied into
 *    the frame being built, after the space its headers take; a run of one flow's datagrams
 *    of one size becomes one UDP GSO frame (run_add(), run_emit()), a lone datagram a frame
 *    with its UDP checksum computed in full. A datagram larger than the
 *    namespace's MTU is cut into IP fragments (IPv6: with a fragment header), as a router
 *    would; the namespace reassembles them.
 *  - Errors: a host socket that reports ECONNREFUSED (the host answered with ICMP port
 *    unreachable) makes us send the namespace an ICMP (ICMPv6) port unreachable quoting its
 *    last datagram, so QUIC and DNS clients fail fast instead of waiting for a timeout.
 *  - Lifetime: a flow closes after --udp-timeout seconds (default 240, libslirp's) without a
 *    datagram either way, or 10 s after an answer from port 53 (libslirp's DNS rule). At most
 *    --max-udp flows are open (bounds.c); a new one beyond that closes the flow idle longest.
 *    Two queues (normal and DNS), each in expiry order, make refresh and expiry O(1); one
 *    loop watch (fd -1) carries the earliest deadline.
 *  - Host sockets are watched by one epoll fd (level-triggered), itself watched by the loop;
 *    a wake-up reads at most RECV_ROUNDS recvmmsg() calls of RECV_SLOTS datagrams per flow,
 *    so one busy flow cannot starve the rest. Flows are only closed outside the epoll batch, so its
 * pointers stay valid.
 */
#include "config.h"
#include "udpout.h"
#include "frame.h"
#include "hostdest.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ETH_HLEN_     14
#define DNS_EXPIRE_MS 10000
#define RECV_SLOTS    16 /* datagrams per recvmmsg() */
#define RECV_ROUNDS   4  /* recvmmsg() calls per flow and wake-up */
#define UDP_MAX       65535
#define QUOTE_MAX     (40 + 8) /* what an ICMP error quotes of the datagram: IP + UDP header */
#define HDRS_MAX      (ETH_HLEN_ + 40 + 8)
#define FRAG6_HLEN    8
/* One send of a flow's datagrams: UDP_MAX_SEGMENTS (64 before Linux 6.9), and what fits in
 * one 64 KiB IP datagram with its headers. */
#define SEND_SEGS  64
#define SEND_BYTES 65000
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

struct flow_key {
	uint8_t v6;
	uint8_t pad;
	uint16_t gport, fport;        /* the namespace's port, the port it sent to (host order) */
	uint8_t gaddr[16], faddr[16]; /* IPv4 in the first 4 bytes */
};

struct flow {
	struct flow_key key;
	struct udpout *owner;
	int fd;
	bool dns; /* in owner->dns (answered from port 53), not owner->idle */
	int64_t expires_ms;
	GList link; /* in owner->idle or owner->dns, by expires_ms */
	uint8_t guest_mac[6];
	uint8_t quote[QUOTE_MAX]; /* the last datagram's IP and UDP headers, for ICMP errors */
	size_t quote_len;
	bool no_gso; /* its socket refused UDP_SEGMENT: batches go out with sendmmsg() */
	/* A client of a UDP port forward (udpfwd.c): fd is the forward's socket (not ours),
	 * and the namespace's answers go to this address. */
	bool client;
	struct sockaddr_storage peer;
	socklen_t peer_len;
};

/*
 * Datagrams from the host of one flow and one size (the last may be shorter), whose
 * payloads lie one after the other at payload_at() in u->buf: one UDP GSO frame to the tap.
 */
struct recv_batch {
	struct flow *fl; /* NULL: empty */
	size_t n, seg, len;
};

/* The namespace's datagrams of one flow from one tap batch, sent together by batch_flush(). */
struct send_batch {
	struct flow *fl; /* NULL: empty */
	size_t n, len;
	uint16_t size[SEND_SEGS];
	uint8_t data[SEND_BYTES];
};

struct udpout {
	bool enabled;
	const struct options *opt;
	struct frame_sink sink;
	struct loop *loop;
	GHashTable *flows;    /* struct flow_key * -> struct flow * (owned) */
	GHashTable *reserved; /* struct guest_end * -> count: UDP forwards' guest ends */
	GQueue idle, dns;     /* the same flows, by expiry */
	int epfd;
	struct loop_watch *epoll_watch, *timer;
	uint8_t gw_mac[6];
	uint8_t guest_mac[6]; /* the tap's, or the last the namespace sent from */
	bool have_guest_mac;
	uint16_t ip_id;
	uint32_t frag_id;
	struct udpout_stats st;
	struct send_batch out;
	struct recv_batch in;
	uint8_t *slots; /* RECV_SLOTS * UDP_MAX for recvmmsg(), once a datagram comes */
	size_t rx_len[RECV_SLOTS];
	struct sockaddr_storage rx_from[RECV_SLOTS]; /* forward clients' addresses */
	socklen_t rx_from_len[RECV_SLOTS];
	bool no_uso; /* the tap refused a UDP GSO frame: one frame per datagram */
	/* Datagrams to the namespace, built in place: one, or a recv_batch's run of them. */
	uint8_t buf[HDRS_MAX + UDP_MAX];
	uint8_t frag[HDRS_MAX + FRAG6_HLEN + 65536];
};

/* An address and port in the namespace; zero-filled so it hashes as bytes. */
struct guest_end {
	uint8_t v6;
	uint8_t pad;
	uint16_t port;
	uint8_t addr[16];
};

/* A datagram from the namespace. */
struct dgram {
	struct flow_key key;
	const uint8_t *frame, *ip;
	size_t iphl;
	const uint8_t *data;
	size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* --- which datagrams are ours --- */

static bool parse_v4(const uint8_t *f, size_t len, struct dgram *d)
{
	const uint8_t *ip = f + ETH_HLEN_;
	size_t hl = (size_t)(ip[0] & 0x0f) * 4, tot = get16(ip + 2);
	if ((ip[0] >> 4) != 4 || hl < 20 || ip[9] != 17 || (ip[6] & 0x3f) || ip[7] ||
	    tot < hl + 8 || ETH_HLEN_ + tot > len)
		return false;
	memcpy(d->key.gaddr, ip + 12, 4);
	memcpy(d->key.faddr, ip + 16, 4);
	d->iphl = hl;
	d->len = tot - hl;
	return true;
}

static bool parse_v6(const uint8_t *f, size_t len, struct dgram *d)
{
	const uint8_t *ip = f + ETH_HLEN_;
	size_t plen = get16(ip + 4);
	if ((ip[0] >> 4) != 6 || ip[6] != 17 || plen < 8 || ETH_HLEN_ + 40 + plen > len)
		return false;
	d->key.v6 = 1;
	memcpy(d->key.gaddr, ip + 8, 16);
	memcpy(d->key.faddr, ip + 24, 16);
	d->iphl = 40;
	d->len = plen;
	return true;
}

static bool parse(const uint8_t *f, size_t len, struct dgram *d)
{
	memset(d, 0, sizeof(*d));
	if (len < ETH_HLEN_ + 28)
		return false;
	uint16_t type = get16(f + 12);
	if (type == 0x0800 ? !parse_v4(f, len, d) : type != 0x86dd || !parse_v6(f, len, d))
		return false;
	d->frame = f;
	d->ip = f + ETH_HLEN_;
	const uint8_t *uh = d->ip + d->iphl;
	size_t ulen = get16(uh + 4);
	if (ulen < 8 || ulen > d->len)
		return false;
	d->key.gport = get16(uh);
	d->key.fport = get16(uh + 2);
	d->data = uh + 8;
	d->len = ulen - 8;
	return d->key.gport != 0 && d->key.fport != 0;
}

/* --- frames to the namespace --- */

static uint32_t pseudo_sum(const struct flow_key *k, uint8_t proto, size_t n)
{
	uint32_t sum;
	if (k->v6) {
		uint8_t rest[8] = {(uint8_t)(n >> 24),
		                   (uint8_t)(n >> 16),
		                   (uint8_t)(n >> 8),
		                   (uint8_t)n,
		                   0,
		                   0,
		                   0,
		                   proto};
		sum = csum_add(k->faddr, 16, csum_add(k->gaddr, 16, csum_add(rest, 8, 0)));
	} else {
		uint8_t rest[4] = {0, proto, (uint8_t)(n >> 8), (uint8_t)n};
		sum = csum_add(k->faddr, 4, csum_add(k->gaddr, 4, csum_add(rest, 4, 0)));
	}
	return sum;
}

static uint16_t l4_csum(const struct flow_key *k, uint8_t proto, const uint8_t *l4, size_t n)
{
	uint16_t c = (uint16_t)~csum_fold(csum_add(l4, n, pseudo_sum(k, proto, n)));
	return c == 0 && proto == 17 ? 0xffff : c;
}

/* Ethernet and IP headers from the flow's far end to the namespace; returns their length. */
static size_t ip_headers(struct udpout *u, const struct flow *fl, uint8_t *f, uint8_t proto,
                         size_t payload)
{
	const struct flow_key *k = &fl->key;
	memcpy(f, fl->guest_mac, 6);
	memcpy(f + 6, u->gw_mac, 6);
	uint8_t *h = f + ETH_HLEN_;
	if (k->v6) {
		put16(f + 12, 0x86dd);
		memset(h, 0, 40);
		h[0] = 0x60;
		put16(h + 4, (uint16_t)payload);
		h[6] = proto;
		h[7] = 64;
		memcpy(h + 8, k->faddr, 16);
		memcpy(h + 24, k->gaddr, 16);
		return ETH_HLEN_ + 40;
	}
	put16(f + 12, 0x0800);
	memset(h, 0, 20);
	h[0] = 0x45;
	put16(h + 2, (uint16_t)(20 + payload));
	put16(h + 4, u->ip_id++);
	h[8] = 64;
	h[9] = proto;
	memcpy(h + 12, k->faddr, 4);
	memcpy(h + 16, k->gaddr, 4);
	put16(h + 10, (uint16_t)~csum_fold(csum_add(h, 20, 0)));
	return ETH_HLEN_ + 20;
}

static void emit(struct udpout *u, const void *frame, size_t len)
{
	u->sink.send(u->sink.opaque, frame, len);
}

/* IPv4 fragments of the UDP datagram at l4 (n bytes, header included) to the namespace. */
static void fragment4(struct udpout *u, const struct flow *fl, const uint8_t *l4, size_t n)
{
	size_t step = ((u->opt->mtu - 20) / 8) * 8;
	uint16_t id = u->ip_id;
	for (size_t off = 0; off < n; off += step) {
		size_t part = MIN(step, n - off);
		size_t h = ip_headers(u, fl, u->frag, 17, part);
		uint8_t *ip = u->frag + ETH_HLEN_;
		put16(ip + 4, id);
		put16(ip + 6, (uint16_t)((off / 8) | (off + part < n ? 0x2000 : 0)));
		put16(ip + 10, 0);
		put16(ip + 10, (uint16_t)~csum_fold(csum_add(ip, 20, 0)));
		memcpy(u->frag + h, l4 + off, part);
		emit(u, u->frag, h + part);
	}
	u->ip_id = (uint16_t)(id + 1);
}

/* The same for IPv6: a fragment header after the fixed one. */
static void fragment6(struct udpout *u, const struct flow *fl, const uint8_t *l4, size_t n)
{
	size_t step = ((u->opt->mtu - 40 - FRAG6_HLEN) / 8) * 8;
	uint32_t id = ++u->frag_id;
	for (size_t off = 0; off < n; off += step) {
		size_t part = MIN(step, n - off);
		size_t h = ip_headers(u, fl, u->frag, 44, FRAG6_HLEN + part);
		uint8_t *fh = u->frag + h;
		fh[0] = 17;
		fh[1] = 0;
		put16(fh + 2, (uint16_t)(off | (off + part < n ? 1 : 0)));
		put16(fh + 4, (uint16_t)(id >> 16));
		put16(fh + 6, (uint16_t)id);
		memcpy(fh + FRAG6_HLEN, l4 + off, part);
		emit(u, u->frag, h + FRAG6_HLEN + part);
	}
}

/* Where a datagram's payload goes in u->buf so that its headers fit before it. */
static size_t payload_at(const struct flow *fl)
{
	return ETH_HLEN_ + (fl->key.v6 ? 40 : 20) + 8;
}

/* The n payload bytes already at payload_at() in u->buf, as a datagram to the namespace. */
static void to_guest(struct udpout *u, struct flow *fl, size_t n)
{
	size_t at = payload_at(fl), ulen = 8 + n;
	uint8_t *uh = u->buf + at - 8;
	put16(uh, fl->key.fport);
	put16(uh + 2, fl->key.gport);
	put16(uh + 4, (uint16_t)(ulen > 65535 ? 0 : ulen));
	put16(uh + 6, 0);
	put16(uh + 6, l4_csum(&fl->key, 17, uh, ulen));
	size_t iplen = (fl->key.v6 ? 40 : 20) + ulen;
	u->st.dgrams_in++;
	if (iplen <= u->opt->mtu) {
		ip_headers(u, fl, u->buf, 17, ulen);
		emit(u, u->buf, at + n);
	} else if (fl->key.v6) {
		fragment6(u, fl, uh, ulen);
	} else {
		fragment4(u, fl, uh, ulen);
	}
}

/*
 * Host -> namespace in runs: datagrams of one flow and size are read one after the other
 * into u->buf and written to the tap as one frame with VIRTIO_NET_HDR_GSO_UDP_L4 (Linux 6.2
 * and later take it from a tap): one write instead of one per datagram, and the namespace's
 * kernel cuts it at its UDP socket. Without offloads, for datagrams that need IP fragments,
 * and where the tap refuses such a frame, each datagram is a frame of its own.
 */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

/* Can a run start with a datagram of n bytes (every segment must fit the MTU)? */
static bool run_possible(const struct udpout *u, const struct flow *fl, size_t n)
{
	return u->sink.vnet && !u->no_uso && n > 0 && (fl->key.v6 ? 40 : 20) + 8 + n <= u->opt->mtu;
}

static bool run_joins(const struct udpout *u, const struct recv_batch *b, const struct flow *fl,
                      size_t n)
{
	if (b->fl != fl || b->n == SEND_SEGS || n > b->seg || b->len != b->n * b->seg)
		return false; /* another flow, full, longer, or after a shorter last one */
	return (fl->key.v6 ? 0 : 20) + 8 + b->len + n <= 65535;
}

/* A run's datagrams again, one frame each (u->frag), when the tap would not take the run. */
static void run_unbatched(struct udpout *u, struct recv_batch *b)
{
	size_t at = payload_at(b->fl);
	for (size_t off = 0; off < b->len; off += b->seg) {
		size_t n = MIN(b->seg, b->len - off);
		memmove(u->buf + at, u->buf + at + off, n);
		to_guest(u, b->fl, n);
	}
}

static void run_emit(struct udpout *u, struct recv_batch *b)
{
	struct flow *fl = b->fl;
	size_t at = payload_at(fl), ulen = 8 + b->len;
	uint8_t *uh = u->buf + at - 8;
	put16(uh, fl->key.fport);
	put16(uh + 2, fl->key.gport);
	put16(uh + 4, (uint16_t)ulen);
	put16(uh + 6, 0);
	/* The pseudo-header sum over the whole length, as the kernel's own UDP GSO leaves it:
	 * segmentation swaps in each segment's length and completes the checksum. */
	put16(uh + 6, csum_fold(pseudo_sum(&fl->key, 17, ulen)));
	ip_headers(u, fl, u->buf, 17, ulen);
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	                           .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4,
	                           .hdr_len = (uint16_t)at,
	                           .gso_size = (uint16_t)b->seg,
	                           .csum_start = (uint16_t)(at - 8),
	                           .csum_offset = 6};
	errno = 0;
	if (u->sink.send_vnet(u->sink.opaque, &h, u->buf, at + b->len)) {
		u->st.gso_frames++;
		u->st.dgrams_in += b->n;
		return;
	}
	if (errno == EINVAL) {
		log_debug("udpout: the tap refuses UDP GSO frames; one frame per datagram");
		u->no_uso = true;
		run_unbatched(u, b);
	}
}

/* Send the run gathered so far. */
static void run_flush(struct udpout *u)
{
	struct recv_batch *b = &u->in;
	if (b->fl == NULL)
		return;
	if (b->n == 1)
		to_guest(u, b->fl, b->len);
	else
		run_emit(u, b);
	b->fl = NULL;
	b->n = b->len = 0;
}

/* n bytes from the host for fl, at src: they join the run, or start one. */
static void run_add(struct udpout *u, struct flow *fl, const uint8_t *src, size_t n)
{
	struct recv_batch *b = &u->in;
	if (b->fl != NULL && run_joins(u, b, fl, n)) {
		memcpy(u->buf + payload_at(fl) + b->len, src, n);
		b->n++;
		b->len += n;
		return;
	}
	run_flush(u);
	memcpy(u->buf + payload_at(fl), src, n);
	b->fl = fl;
	b->n = 1;
	b->seg = b->len = n;
	if (!run_possible(u, fl, n))
		run_flush(u);
}

/* ICMP (ICMPv6) port unreachable to the namespace, quoting its last datagram. */
static void send_unreachable(struct udpout *u, struct flow *fl)
{
	if (fl->quote_len == 0)
		return;
	uint8_t *f = u->frag;
	size_t n = 8 + fl->quote_len;
	size_t h = ip_headers(u, fl, f, fl->key.v6 ? 58 : 1, n);
	uint8_t *icmp = f + h;
	memset(icmp, 0, 8);
	icmp[0] = fl->key.v6 ? 1 : 3; /* destination unreachable */
	icmp[1] = fl->key.v6 ? 4 : 3; /* port unreachable */
	memcpy(icmp + 8, fl->quote, fl->quote_len);
	if (fl->key.v6)
		put16(icmp + 2, l4_csum(&fl->key, 58, icmp, n));
	else
		put16(icmp + 2, (uint16_t)~csum_fold(csum_add(icmp, n, 0)));
	u->st.unreachable++;
	emit(u, f, h + n);
}

/* --- the flow table --- */

static int64_t timeout_ms(const struct udpout *u, const struct flow *fl)
{
	return fl->dns ? DNS_EXPIRE_MS : (int64_t)u->opt->udp_timeout * 1000;
}

static void arm_timer(struct udpout *u)
{
	int64_t at = INT64_MAX;
	if (u->idle.head != NULL)
		at = ((struct flow *)u->idle.head->data)->expires_ms;
	if (u->dns.head != NULL)
		at = MIN(at, ((struct flow *)u->dns.head->data)->expires_ms);
	loop_watch_set_deadline(u->timer, at);
}

/* A datagram either way: the flow lives on (dns: the last one was an answer from port 53). */
static void touch(struct udpout *u, struct flow *fl, bool dns)
{
	g_queue_unlink(fl->dns ? &u->dns : &u->idle, &fl->link);
	fl->dns = dns;
	fl->expires_ms = loop_now_ms() + timeout_ms(u, fl);
	g_queue_push_tail_link(dns ? &u->dns : &u->idle, &fl->link);
}

static void batch_flush(struct udpout *u);
static void run_flush(struct udpout *u);

static void flow_close(struct udpout *u, struct flow *fl)
{
	if (u->out.fl == fl)
		batch_flush(u);
	if (u->in.fl == fl)
		run_flush(u);
	g_queue_unlink(fl->dns ? &u->dns : &u->idle, &fl->link);
	if (!fl->client) {
		epoll_ctl(u->epfd, EPOLL_CTL_DEL, fl->fd, NULL);
		close(fl->fd);
	}
	log_debug("udpout: flow to port %u closed", fl->key.fport);
	g_hash_table_remove(u->flows, &fl->key);
}

/* The flow whose deadline comes first. */
static struct flow *oldest(struct udpout *u)
{
	struct flow *a = u->idle.head ? u->idle.head->data : NULL;
	struct flow *b = u->dns.head ? u->dns.head->data : NULL;
	if (a == NULL || (b != NULL && b->expires_ms < a->expires_ms))
		return b;
	return a;
}

static int open_socket(struct udpout *u, const struct sockaddr_storage *dst, socklen_t dl)
{
	int fam = dst->ss_family;
	int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	const struct options *o = u->opt;
	bool ok = true;
	if (fam == AF_INET && o->has_outbound_addr)
		ok = bind(fd, (const struct sockaddr *)&o->outbound_addr,
		          sizeof(o->outbound_addr)) == 0;
	if (fam == AF_INET6 && o->has_outbound_addr6)
		ok = bind(fd, (const struct sockaddr *)&o->outbound_addr6,
		          sizeof(o->outbound_addr6)) == 0;
	if (ok)
		ok = connect(fd, (const struct sockaddr *)dst, dl) == 0;
	if (!ok) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static struct flow *flow_open(struct udpout *u, const struct dgram *d,
                              const struct sockaddr_storage *dst, socklen_t dl)
{
	if (g_hash_table_size(u->flows) >= u->opt->bounds.udp) {
		u->st.evicted++;
		flow_close(u, oldest(u));
	}
	int fd = open_socket(u, dst, dl);
	if (fd < 0) {
		log_debug("udpout: socket to port %u: %s", d->key.fport, g_strerror(errno));
		return NULL;
	}
	struct flow *fl = g_new0(struct flow, 1);
	fl->key = d->key;
	fl->owner = u;
	fl->fd = fd;
	fl->link.data = fl;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = fl};
	if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		g_free(fl);
		return NULL;
	}
	g_queue_push_tail_link(&u->idle, &fl->link);
	g_hash_table_insert(u->flows, &fl->key, fl);
	u->st.total++;
	log_debug("udpout: new flow to port %u", d->key.fport);
	return fl;
}

/* --- namespace -> host --- */

static bool end_parse(const char *addr, uint16_t port, struct guest_end *e)
{
	memset(e, 0, sizeof(*e));
	e->port = port;
	if (inet_pton(AF_INET, addr, e->addr) == 1)
		return true;
	e->v6 = 1;
	return inet_pton(AF_INET6, addr, e->addr) == 1;
}

void udpout_reserve(struct udpout *u, const char *guest_addr, uint16_t guest_port)
{
	struct guest_end e;
	if (!end_parse(guest_addr, guest_port, &e))
		return;
	gpointer n = g_hash_table_lookup(u->reserved, &e);
	if (n == NULL)
		g_hash_table_insert(u->reserved, g_memdup2(&e, sizeof(e)), GUINT_TO_POINTER(1));
	else
		g_hash_table_insert(u->reserved, g_memdup2(&e, sizeof(e)),
		                    GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
}

void udpout_release(struct udpout *u, const char *guest_addr, uint16_t guest_port)
{
	struct guest_end e;
	if (!end_parse(guest_addr, guest_port, &e))
		return;
	guint n = GPOINTER_TO_UINT(g_hash_table_lookup(u->reserved, &e));
	if (n <= 1)
		g_hash_table_remove(u->reserved, &e);
	else
		g_hash_table_insert(u->reserved, g_memdup2(&e, sizeof(e)), GUINT_TO_POINTER(n - 1));
}

/*
 * Sending: a tap batch often holds a run of datagrams of one flow (a bulk sender), so they
 * are gathered, copied from the tap's buffer, and go out together at the end of the batch or
 * when another flow's datagram comes: with UDP_SEGMENT, one sendmsg() whose one 64 KiB skb
 * crosses the host's stack once and is cut at the receiver (loopback) or by the device;
 * where the socket refuses that (sizes that differ, a route whose MTU is smaller than a
 * datagram, a kernel without it), one sendmmsg(). Datagrams keep their order and their
 * boundaries either way. Syscalls are what a datagram costs most here.
 */
/* Where a flow's datagrams go: NULL for a connected socket, a forward's client else. */
static void *peer_of(struct flow *fl)
{
	return fl->client ? &fl->peer : NULL;
}

static ssize_t send_one(struct flow *fl, const void *data, size_t len)
{
	return sendto(fl->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, peer_of(fl), fl->peer_len);
}

static bool batch_uniform(const struct send_batch *b)
{
	for (size_t i = 1; i < b->n; i++)
		if (b->size[i] > b->size[0] || (b->size[i] < b->size[0] && i + 1 < b->n))
			return false;
	return true;
}

static ssize_t send_segmented(const struct send_batch *b)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)b->data, .iov_len = b->len};
	struct msghdr m = {.msg_name = peer_of(b->fl),
	                   .msg_namelen = b->fl->peer_len,
	                   .msg_iov = &iov,
	                   .msg_iovlen = 1,
	                   .msg_control = ctl.buf,
	                   .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	uint16_t seg = b->size[0];
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	return sendmsg(b->fl->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void send_each(const struct send_batch *b)
{
	struct mmsghdr mm[SEND_SEGS];
	struct iovec iov[SEND_SEGS];
	size_t off = 0;
	for (size_t i = 0; i < b->n; i++) {
		iov[i] = (struct iovec){.iov_base = (void *)(b->data + off), .iov_len = b->size[i]};
		mm[i] = (struct mmsghdr){.msg_hdr = {.msg_name = peer_of(b->fl),
		                                     .msg_namelen = b->fl->peer_len,
		                                     .msg_iov = &iov[i],
		                                     .msg_iovlen = 1}};
		off += b->size[i];
	}
	/* What the socket will not take now is dropped, as a full host queue drops it. */
	sendmmsg(b->fl->fd, mm, (unsigned)b->n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void batch_flush(struct udpout *u)
{
	struct send_batch *b = &u->out;
	if (b->fl == NULL)
		return;
	struct flow *fl = b->fl;
	errno = 0;
	if (b->n == 1) {
		send_one(fl, b->data, b->len);
	} else if (!fl->no_gso && batch_uniform(b)) {
		if (send_segmented(b) < 0 && errno != EAGAIN && errno != ECONNREFUSED &&
		    errno != ENOBUFS) {
			log_debug("udpout: UDP_SEGMENT to port %u: %s; sendmmsg from now on",
			          fl->key.fport, g_strerror(errno));
			fl->no_gso = true;
			u->st.gso_refused++;
			errno = 0;
			send_each(b);
		} else {
			u->st.gso_sends++;
		}
	} else {
		send_each(b);
	}
	bool refused = errno == ECONNREFUSED;
	b->fl = NULL;
	b->n = b->len = 0;
	if (refused)
		send_unreachable(u, fl);
}

static void batch_add(struct udpout *u, struct flow *fl, const uint8_t *data, size_t len)
{
	struct send_batch *b = &u->out;
	if (b->fl != fl || b->n == SEND_SEGS || b->len + len > sizeof(b->data))
		batch_flush(u);
	if (len > sizeof(b->data)) { /* too big to gather: alone, at once */
		if (send_one(fl, data, len) < 0 && errno == ECONNREFUSED)
			send_unreachable(u, fl);
		return;
	}
	b->fl = fl;
	memcpy(b->data + b->len, data, len);
	b->size[b->n++] = (uint16_t)len;
	b->len += len;
}

/* Does the datagram come from the guest end of a UDP forward? */
static bool from_forward(const struct udpout *u, const struct dgram *d)
{
	if (g_hash_table_size(u->reserved) == 0)
		return false;
	struct guest_end e = {.v6 = d->key.v6, .port = d->key.gport};
	memcpy(e.addr, d->key.gaddr, sizeof(e.addr));
	return g_hash_table_contains(u->reserved, &e);
}

bool udpout_input(struct udpout *u, const uint8_t *frame, size_t len)
{
	struct dgram d;
	if (u->enabled && len >= ETH_HLEN_ && !(frame[6] & 1)) {
		memcpy(u->guest_mac, frame + 6, 6);
		u->have_guest_mac = true;
	}
	if (!u->enabled || !parse(frame, len, &d) || from_forward(u, &d))
		return false;
	struct flow *fl = g_hash_table_lookup(u->flows, &d.key);
	if (fl == NULL) {
		struct sockaddr_storage dst;
		socklen_t dl;
		if (!hostdest_for(u->opt, d.key.v6, d.key.faddr, d.key.fport, &dst, &dl))
			return false;
		fl = flow_open(u, &d, &dst, dl);
		if (fl == NULL)
			return true; /* dropped, as a full host would drop it */
	}
	if (!(frame[6] & 1))
		memcpy(fl->guest_mac, frame + 6, 6);
	fl->quote_len = MIN(d.iphl + 8, sizeof(fl->quote));
	memcpy(fl->quote, d.ip, fl->quote_len);
	touch(u, fl, false);
	u->st.dgrams_out++;
	batch_add(u, fl, d.data, d.len);
	arm_timer(u);
	return true;
}

void udpout_flush(struct udpout *u)
{
	batch_flush(u);
}

/* --- host -> namespace --- */

/*
 * One recvmmsg() from fd into the slots (with the senders' addresses when named); <0: errno
 * says why. Datagram i is then u->slots + i * UDP_MAX, u->rx_len[i] bytes long.
 */
static int recv_round(struct udpout *u, int fd, bool named)
{
	struct mmsghdr mm[RECV_SLOTS];
	struct iovec iov[RECV_SLOTS];
	if (u->slots == NULL)
		u->slots = g_malloc((size_t)RECV_SLOTS * UDP_MAX);
	for (int i = 0; i < RECV_SLOTS; i++) {
		iov[i] =
		    (struct iovec){.iov_base = u->slots + (size_t)i * UDP_MAX, .iov_len = UDP_MAX};
		mm[i] =
		    (struct mmsghdr){.msg_hdr = {.msg_name = named ? &u->rx_from[i] : NULL,
		                                 .msg_namelen = named ? sizeof(u->rx_from[i]) : 0,
		                                 .msg_iov = &iov[i],
		                                 .msg_iovlen = 1}};
	}
	int n = recvmmsg(fd, mm, RECV_SLOTS, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		u->rx_len[i] = MIN(mm[i].msg_len, (unsigned)UDP_MAX);
		u->rx_from_len[i] = mm[i].msg_hdr.msg_namelen;
	}
	return n;
}

static const uint8_t *slot(const struct udpout *u, int i)
{
	return u->slots + (size_t)i * UDP_MAX;
}

/* Up to RECV_ROUNDS rounds: one busy flow cannot starve the rest. */
static void flow_readable(struct udpout *u, struct flow *fl)
{
	for (int r = 0; r < RECV_ROUNDS; r++) {
		int n = recv_round(u, fl->fd, false);
		for (int i = 0; i < n; i++)
			run_add(u, fl, slot(u, i), u->rx_len[i]);
		if (n > 0)
			touch(u, fl, fl->key.fport == 53);
		if (n < 0 && errno == ECONNREFUSED) {
			run_flush(u);
			send_unreachable(u, fl);
		}
		if (n < RECV_SLOTS)
			return;
	}
}

void udpout_poll(struct udpout *u)
{
	if (!u->enabled)
		return;
	struct epoll_event evs[64];
	int n = epoll_wait(u->epfd, evs, G_N_ELEMENTS(evs), 0);
	for (int i = 0; i < n; i++)
		flow_readable(u, evs[i].data.ptr);
	run_flush(u);
	arm_timer(u);
}

/* --- clients of UDP port forwards (udpfwd.c reads them) --- */

static bool v4_loopback(const uint8_t *a)
{
	return a[0] == 127;
}

/*
 * Who a forward's client is to the namespace: its own address, or the gateway for a client
 * on the host's loopback or of the other family (libslirp's rule for forwards).
 */
static void client_view(const struct udpout *u, const struct sockaddr *from, bool v6_guest,
                        uint8_t addr[16], uint16_t *port)
{
	memset(addr, 0, 16);
	const struct sockaddr_in *in = (const struct sockaddr_in *)from;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)from;
	const uint8_t *a6 = in6->sin6_addr.s6_addr;
	*port = ntohs(from->sa_family == AF_INET ? in->sin_port : in6->sin6_port);
	bool mapped = from->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
	if (!v6_guest) {
		if (from->sa_family == AF_INET && !v4_loopback((const uint8_t *)&in->sin_addr)) {
			memcpy(addr, &in->sin_addr, 4);
			return;
		}
		if (mapped && !v4_loopback(a6 + 12)) {
			memcpy(addr, a6 + 12, 4);
			return;
		}
		struct in_addr gw = addr4_offset(u->opt->net, 2);
		memcpy(addr, &gw, 4);
		return;
	}
	if (from->sa_family == AF_INET6 && !mapped && !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
		memcpy(addr, a6, 16);
		return;
	}
	memcpy(addr, &u->opt->net6, 16);
	addr[15] = 2;
}

static struct flow *client_flow(struct udpout *u, const struct udpout_client *c,
                                const struct flow_key *k)
{
	if (g_hash_table_size(u->flows) >= u->opt->bounds.udp) {
		u->st.evicted++;
		flow_close(u, oldest(u));
	}
	struct flow *fl = g_new0(struct flow, 1);
	fl->key = *k;
	fl->owner = u;
	fl->fd = c->fd;
	fl->client = true;
	fl->link.data = fl;
	g_queue_push_tail_link(&u->idle, &fl->link);
	g_hash_table_insert(u->flows, &fl->key, fl);
	u->st.total++;
	u->st.clients++;
	return fl;
}

static void client_datagram(struct udpout *u, const struct udpout_client *c, int i)
{
	const struct sockaddr *from = (const struct sockaddr *)&u->rx_from[i];
	if (!u->have_guest_mac) {
		u->st.client_dropped++;
		return;
	}
	struct flow_key k = {.v6 = c->v6_guest, .gport = c->guest_port};
	memcpy(k.gaddr, c->guest_addr, c->v6_guest ? 16 : 4);
	client_view(u, from, c->v6_guest, k.faddr, &k.fport);
	struct flow *fl = g_hash_table_lookup(u->flows, &k);
	if (fl != NULL && !fl->client) { /* the namespace's own flow to that address: not ours */
		u->st.client_dropped++;
		return;
	}
	if (fl == NULL)
		fl = client_flow(u, c, &k);
	memcpy(&fl->peer, from, u->rx_from_len[i]); /* the latest client seen the same way */
	fl->peer_len = u->rx_from_len[i];
	memcpy(fl->guest_mac, u->guest_mac, 6);
	touch(u, fl, false);
	run_add(u, fl, slot(u, i), u->rx_len[i]);
}

void udpout_client_readable(struct udpout *u, const struct udpout_client *c)
{
	if (!u->enabled)
		return;
	for (int r = 0; r < RECV_ROUNDS; r++) {
		int n = recv_round(u, c->fd, true);
		for (int i = 0; i < n; i++)
			client_datagram(u, c, i);
		if (n < RECV_SLOTS)
			break;
	}
	run_flush(u);
	arm_timer(u);
}

void udpout_forget_socket(struct udpout *u, int fd)
{
	batch_flush(u);
	GHashTableIter it;
	gpointer k, v;
	GSList *gone = NULL;
	g_hash_table_iter_init(&it, u->flows);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (((struct flow *)v)->client && ((struct flow *)v)->fd == fd)
			gone = g_slist_prepend(gone, v);
	for (GSList *l = gone; l != NULL; l = l->next)
		flow_close(u, l->data);
	g_slist_free(gone);
	arm_timer(u);
}

void udpout_set_guest_mac(struct udpout *u, const uint8_t mac[6])
{
	memcpy(u->guest_mac, mac, 6);
	u->have_guest_mac = true;
}

static void on_epoll(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	udpout_poll(data);
}

static void on_timer(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct udpout *u = data;
	int64_t now = loop_now_ms();
	struct flow *fl;
	while ((fl = oldest(u)) != NULL && fl->expires_ms <= now) {
		u->st.expired++;
		flow_close(u, fl);
	}
	arm_timer(u);
}

/* --- setup --- */

static guint key_hash(gconstpointer p)
{
	return hash_bytes(p, sizeof(struct flow_key));
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(a, b, sizeof(struct flow_key)) == 0;
}

static guint end_hash(gconstpointer p)
{
	return hash_bytes(p, sizeof(struct guest_end));
}

static gboolean end_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(a, b, sizeof(struct guest_end)) == 0;
}

struct udpout *udpout_new(const struct options *opt, const struct frame_sink *sink, struct loop *l)
{
	struct udpout *u = g_new0(struct udpout, 1);
	u->opt = opt;
	u->sink = *sink;
	u->loop = l;
	u->flows = g_hash_table_new_full(key_hash, key_equal, NULL, g_free);
	u->reserved = g_hash_table_new_full(end_hash, end_equal, g_free, NULL);
	g_queue_init(&u->idle);
	g_queue_init(&u->dns);
	hostdest_gateway_mac(opt, u->gw_mac);
	u->epfd = -1;
	u->enabled = !opt->outbound_fast_path_off;
	if (u->enabled && (u->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_warn("UDP endpoint off: epoll_create1: %s", g_strerror(errno));
		u->enabled = false;
	}
	if (u->enabled) {
		u->epoll_watch = loop_watch_fd(l, u->epfd, POLLIN, on_epoll, u);
		u->timer = loop_watch_fd(l, -1, 0, on_timer, u);
	}
	return u;
}

void udpout_free(struct udpout *u)
{
	if (u == NULL)
		return;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, u->flows);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (!((struct flow *)v)->client)
			close(((struct flow *)v)->fd);
	g_hash_table_unref(u->flows);
	g_hash_table_unref(u->reserved);
	if (u->epfd >= 0)
		close(u->epfd);
	g_free(u->slots);
	g_free(u);
}

bool udpout_enabled(const struct udpout *u)
{
	return u != NULL && u->enabled;
}

struct udpout_stats udpout_stats(const struct udpout *u)
{
	struct udpout_stats s = u->st;
	s.enabled = u->enabled;
	s.flows = g_hash_table_size(u->flows);
	return s;
}

void udpout_connections(const struct udpout *u, json_t *list)
{
	GHashTableIter it;
	gpointer k, v;
	int64_t now = loop_now_ms();
	g_hash_table_iter_init(&it, u->flows);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct flow *fl = v;
		char g[INET6_ADDRSTRLEN], f[INET6_ADDRSTRLEN];
		int fam = fl->key.v6 ? AF_INET6 : AF_INET;
		inet_ntop(fam, fl->key.gaddr, g, sizeof(g));
		inet_ntop(fam, fl->key.faddr, f, sizeof(f));
		int secs = (int)MAX(0, (fl->expires_ms - now) / 1000);
		g_autofree char *state = g_strdup_printf("%d sec", secs);
		json_array_append_new(
		    list,
		    json_pack("{s:s,s:s,s:i,s:s,s:i,s:s,s:i,s:i,s:i,s:i,s:s}", "proto", "UDP",
		              "state", state, "fd", fl->fd, "src_addr", g, "src_port",
		              (int)fl->key.gport, "dst_addr", f, "dst_port", (int)fl->key.fport,
		              "recv_q", 0, "send_q", 0, "expires_sec", secs, "path", "fast"));
	}
}
