// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tcpout.c - the outbound fast path: TCP connections that the namespace opens to the host or
 * to the outside world, terminated by slirpns itself instead of libslirp.
 *
 * Why: through libslirp every byte is copied into an mbuf, checksummed, copied into a socket
 * buffer and copied again into the host socket, and libslirp never lets the namespace have
 * more than 128 KiB in flight. Here the namespace's TCP segment goes from the tap read
 * buffer straight into send() on a host socket, and the host's bytes go from recv() straight
 * into the frame written to the tap: one copy each way, no checksum pass (the tap's offloads
 * leave TCP checksums to the receiver's "partial" convention, see frame.c).
 *
 * How (the design passt/pasta uses, reduced to what a tap to a local kernel needs):
 *  - A SYN from the namespace (not an ACK, not to the DNS address or another address of the
 *    virtual network) opens a non-blocking host socket, bound to --outbound-addr(6) like
 *    libslirp's, and connects it to the destination (the gateway 10.0.2.2 / fd00::2 means the
 *    host's loopback, as in libslirp, unless --disable-host-loopback). Only when connect()
 *    succeeds does the namespace get its SYN-ACK; a refusal is a RST. Every other frame that
 *    matches no connection of ours goes to libslirp, which keeps DNS, forwards, UDP and ICMP.
 *  - Namespace -> host: an in-order segment is send()'s straight to the host socket. What the
 *    socket does not take goes into a per-connection stash (at most STASH_CAP bytes, only
 *    while the host is slower than the namespace); the window we advertise is what is left of
 *    STASH_CAP, so the namespace never sends more than we can hold, and the right edge of the
 *    window never moves back. An out-of-order segment (a namespace that routes for others
 *    loses some at its tap queue) is kept, up to STASH_CAP bytes, until the hole is filled,
 *    and answered at once with its own duplicate ACK so that the sender resends the hole.
 *    Other ACKs go out once per batch of tap frames (tcpout_flush()), small ones delayed.
 *  - Host -> namespace: bulk data is not copied into our memory for retransmission. We read
 *    with MSG_PEEK at SO_PEEK_OFF, which leaves the bytes in the host socket's receive queue
 *    and moves the peek offset; when the namespace ACKs bytes we discard them from the queue
 *    (MSG_TRUNC). A retransmission (timeout, or three duplicate ACKs) rewinds the peek offset
 *    to the first unacknowledged byte. Small answers (up to RTX_SMALL, counted against
 *    --max-buffered) are read out instead and kept until acknowledged, which saves the
 *    discarding recv() per request (read_host()). We send as much as the namespace's window
 *    allows, in frames of up to 64 KiB that the tap's GSO header describes (frame.c), or
 *    MSS-sized frames with full checksums when the tap has no offloads. The host socket is
 *    polled for input only while the window has room, so a full window cannot spin the loop.
 *  - Close: the namespace's FIN becomes shutdown(SHUT_WR) once the stash is empty (or the
 *    close() itself, when nothing else is left); the host's end of file becomes our FIN once
 *    every byte before it has been sent, and rides on the last of them when EPOLLRDHUP said
 *    it was there. The connection is freed when both FINs are acknowledged. A RST from
 *    the namespace closes the host socket with SO_LINGER 0 (a RST to the host peer); a
 *    host socket error becomes a RST to the namespace.
 *  - Timers: one loop watch (fd -1) with the earliest retransmission or window-probe
 *    deadline of all connections. Idle connections have none, so an idle daemon sleeps.
 * Not done: SACK, timestamps and ECN are not offered in our SYN-ACK (the namespace then does
 * not use them); urgent data is plain data; a connect() that fails with anything but a
 * refusal is also answered with a RST (libslirp sends an ICMP error for unreachable hosts).
 */
#include "config.h"
#include "tcpout.h"
#include "frame.h"
#include "hostdest.h"
#include "tcpseg.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STASH_CAP   (512u * 1024)
#define OUR_WSCALE  7
#define SEG_MAX_GSO (63u * 1024) /* payload of one frame to the namespace with offloads */
#define RTX_SMALL   4096u        /* host bytes read out and kept for retransmission (rtx) */

#define DELACK_MS   1 /* libslirp delays ACKs up to 2 ms */
#define RTO_MIN_MS  200
#define RTO_MAX_MS  10000
#define RETRIES_MAX 12
#define SYN_RETRIES 5 /* SYN-ACKs or SYNs the namespace leaves unanswered, as a kernel's */
#define FRAME_BUF   (TCPSEG_ETH_HLEN + 60 + 40 + 65536)

/*
 * CONNECTING: our connect() to the host is under way (the namespace's SYN waits unanswered);
 * SYN_RCVD: our SYN-ACK is out; SYN_SENT: a forwarded client waits for the namespace's
 * SYN-ACK to our SYN; ESTABLISHED from then on, whatever the FINs.
 */
enum conn_state { CONNECTING, SYN_RCVD, SYN_SENT, ESTABLISHED };

struct conn {
	struct conn_key key;
	struct tcpout *owner;
	enum conn_state state;
	int fd;
	bool dead;    /* closed, waiting for reap() (epoll events may still name it) */
	bool inbound; /* a forwarded client's (tcpout_take()) */
	uint8_t guest_mac[6], gw_mac[6];
	/* namespace -> host */
	uint32_t irs, rcv_nxt;
	uint32_t rcv_acked; /* the last rcv_nxt an ACK carried */
	uint32_t rcv_adv;   /* the right edge of the last window advertised: it never moves back */
	int64_t delack_ms;  /* a delayed ACK is due then (INT64_MAX: none) */
	uint8_t rcv_wscale;
	bool guest_fin, host_shut;
	GByteArray *stash;
	GList *ooo;       /* of struct ooo_seg *: out-of-order segments, by seq, not overlapping */
	size_t ooo_bytes; /* at most STASH_CAP */
	bool ack_pending;
	/* host -> namespace */
	uint32_t iss, snd_una, snd_nxt, snd_max, fin_seq;
	uint32_t snd_wnd;
	uint8_t snd_wscale;
	uint16_t mss;
	bool wnd_blocked; /* the namespace's window stopped us with bytes waiting */
	bool rdhup;       /* the host peer's FIN has been signalled: read on to end of file */
	bool fin_queued;  /* ... by EPOLLRDHUP without an error: a short read reached it */
	bool peek_on;     /* SO_PEEK_OFF is set (at the first peek: peek()) */
	bool host_spoke;  /* an input edge came before ESTABLISHED: bytes may wait unread */
	/* Sent bytes from snd_una on that were read out of the host socket (see read_host()):
	 * the socket's queue starts at snd_una + rtx_len. NULL until first used. */
	uint8_t *rtx;
	uint32_t rtx_len;
	bool host_eof; /* the host socket reached end of file: fin_seq is where */
	bool fin_sent; /* our FIN is out (cleared when a retransmission rewinds before it) */
	unsigned dupacks, retries, rto_ms;
	int64_t deadline_ms; /* INT64_MAX: no timer */
	GList half_open;     /* in owner->half_open until ESTABLISHED (data: this conn) */
	GList starved;       /* in owner->starved: its window was cut by --max-buffered */
};

struct tcpout {
	bool enabled;
	const struct options *opt;
	struct frame_sink sink; /* where frames for the namespace go (the datapath) */
	struct loop *loop;
	bool vnet;
	GHashTable *conns; /* struct conn_key * -> struct conn * (owned) */
	GPtrArray *acks;   /* connections with ack_pending */
	GPtrArray *dead;   /* closed connections to free at the end of the current entry point */
	int epfd;          /* every host socket, edge-triggered */
	struct loop_watch *epoll_watch;
	struct loop_watch *timer;
	int64_t timer_at;
	uint16_t ip_id;
	uint64_t iss_secret; /* new_iss() */
	uint64_t total;      /* outbound connections opened */
	uint64_t total_in;   /* forwarded clients taken */
	uint64_t active_in;
	/* The bounds (bounds.c): half-open connections, oldest first, and bytes held. */
	const struct bounds *lim;
	GQueue half_open;
	GQueue starved;       /* connections to tell when buffer room comes back */
	uint64_t buffered;    /* in every stash, out-of-order queue and rtx copy */
	uint64_t refused;     /* SYNs answered with a RST: --max-tcp connections open */
	uint64_t evicted;     /* half-open connections reset to make room for a new one */
	uint64_t buffer_full; /* segments (or their tails) dropped: --max-buffered held */
	bool outbound;        /* take the namespace's SYNs (--outbound-fast-path=auto) */
	bool have_mac;        /* guest_mac is known: the namespace has sent a frame */
	uint8_t guest_mac[6], gw_mac[6];
	uint8_t buf[FRAME_BUF];
};

static void conn_free_now(struct conn *c);
static size_t buffer_left(const struct tcpout *t);
static void buffer_release(struct tcpout *t, size_t n);
static void starve(struct conn *c);
static void queue_ack(struct conn *c);
static void ooo_clear(struct conn *c);
static void send_data(struct conn *c);

/* --- frames to the namespace --- */

/* What is left of the window already advertised, in bytes. */
static uint32_t adv_left(const struct conn *c)
{
	return SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}

/* The window we can offer now, in bytes: the stash's room, never less than promised. */
static uint32_t rcv_room(const struct conn *c)
{
	size_t used = c->stash ? c->stash->len : 0;
	uint32_t room = used >= STASH_CAP ? 0 : (uint32_t)(STASH_CAP - used);
	room = (uint32_t)MIN(room, buffer_left(c->owner));
	return MAX(MIN(room, 65535u << c->rcv_wscale), adv_left(c));
}

/* The window field of a segment we send now; records the right edge it advertises. */
static uint16_t rcv_window(struct conn *c)
{
	uint32_t unit = 1u << c->rcv_wscale, room = rcv_room(c);
	size_t used = c->stash ? c->stash->len : 0;
	if (buffer_left(c->owner) < MIN(STASH_CAP - MIN(used, STASH_CAP), 65535u << c->rcv_wscale))
		starve(c); /* the shared budget, not this connection, limits the window */
	uint32_t units = room >> c->rcv_wscale;
	if (units * unit < adv_left(c))
		units = (adv_left(c) + unit - 1) >> c->rcv_wscale; /* round up, not back */
	units = MIN(units, 65535u);
	c->rcv_adv = c->rcv_nxt + units * unit;
	return (uint16_t)units;
}

/* Ethernet, IP and TCP headers for a segment of the given payload; returns their length. */
static size_t build_headers(struct conn *c, uint8_t *f, uint32_t seq, uint8_t flags,
                            const uint8_t *opts, size_t optlen, size_t payload)
{
	uint16_t win;
	if (flags & TH_SYN) { /* a SYN's window is never scaled */
		win = (uint16_t)MIN(STASH_CAP, 65535u);
		c->rcv_adv = c->rcv_nxt + win;
	} else {
		win = rcv_window(c);
	}
	const struct tcpseg_out o = {.key = &c->key,
	                             .guest_mac = c->guest_mac,
	                             .gw_mac = c->gw_mac,
	                             .seq = seq,
	                             .ack = (flags & TH_ACK) ? c->rcv_nxt : 0,
	                             .flags = flags,
	                             .win = win,
	                             .opts = opts,
	                             .optlen = optlen,
	                             .payload = payload,
	                             .ip_id = c->owner->ip_id++};
	return tcpseg_headers(f, &o);
}

/* The largest payload per TCP segment the namespace takes: its MSS, within its MTU. */
static size_t eff_mss(const struct conn *c)
{
	size_t mtu_mss = c->owner->opt->mtu - (c->key.v6 ? 60 : 40);
	return MAX(MIN((size_t)c->mss, mtu_mss), 64);
}

/*
 * Send a segment whose payload (if any) already sits in t->buf after the headers. With
 * offloads the TCP checksum is left partial (the pseudo-header sum, NEEDS_CSUM) and a payload
 * larger than the namespace's MSS goes as one GSO frame cut at that MSS.
 */
static void emit(struct conn *c, uint32_t seq, uint8_t flags, const uint8_t *opts, size_t optlen,
                 size_t payload)
{
	struct tcpout *t = c->owner;
	size_t hdrs = build_headers(c, t->buf, seq, flags, opts, optlen, payload);
	size_t len = hdrs + payload;
	if (flags & TH_ACK) {
		c->ack_pending = false;
		c->rcv_acked = c->rcv_nxt;
		c->delack_ms = INT64_MAX;
	}
	if (!t->vnet) {
		tcpseg_full_csum(t->buf, c->key.v6, hdrs, optlen, len);
		t->sink.send(t->sink.opaque, t->buf, len);
		return;
	}
	struct virtio_net_hdr h = {0};
	uint8_t cs[2];
	size_t pos = frame_csum_partial_out(t->buf, len, &h, cs);
	if (pos != 0)
		memcpy(t->buf + pos, cs, 2);
	size_t mss = eff_mss(c);
	if (payload > mss) {
		h.gso_type = c->key.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		h.hdr_len = (uint16_t)hdrs;
		h.gso_size = (uint16_t)mss;
	}
	t->sink.send_vnet(t->sink.opaque, &h, t->buf, len);
}

static size_t hdr_space(const struct conn *c)
{
	return TCPSEG_ETH_HLEN + (c->key.v6 ? 40 : 20) + 20;
}

static void send_ctl(struct conn *c, uint32_t seq, uint8_t flags)
{
	emit(c, seq, flags, NULL, 0, 0);
}

static void send_rst_for(struct tcpout *t, const struct seg *s)
{
	/* A RST answering a segment we hold no connection for (only used for SYNs we refuse). */
	struct conn tmp = {.key = s->key, .owner = t};
	memcpy(tmp.guest_mac, s->frame + 6, 6);
	memcpy(tmp.gw_mac, s->frame, 6);
	tmp.rcv_nxt = s->seq + (uint32_t)s->len + ((s->flags & TH_SYN) ? 1 : 0);
	send_ctl(&tmp, 0, TH_RST | TH_ACK);
}

static void send_synack(struct conn *c)
{
	uint8_t opts[8];
	size_t n = 0;
	unsigned mtu = c->owner->opt->mtu;
	uint16_t mss = (uint16_t)MIN(mtu - (c->key.v6 ? 60 : 40), 65535u);
	opts[n++] = 2;
	opts[n++] = 4;
	tcpseg_put16(opts + n, mss);
	n += 2;
	if (c->rcv_wscale) {
		opts[n++] = 1;
		opts[n++] = 3;
		opts[n++] = 3;
		opts[n++] = c->rcv_wscale;
	}
	emit(c, c->iss, TH_SYN | TH_ACK, opts, n, 0);
}

/* Our SYN to the namespace, for a forwarded client (tcpout_take()). */
static void send_syn(struct conn *c)
{
	uint8_t opts[8] = {2, 4, 0, 0, 1, 3, 3, OUR_WSCALE};
	unsigned mtu = c->owner->opt->mtu;
	tcpseg_put16(opts + 2, (uint16_t)MIN(mtu - (c->key.v6 ? 60 : 40), 65535u));
	emit(c, c->iss, TH_SYN, opts, sizeof(opts), 0);
}

/* --- timers --- */

/* Make sure the shared timer fires by then. */
static void timer_at(struct tcpout *t, int64_t at)
{
	if (at < t->timer_at) {
		t->timer_at = at;
		loop_watch_set_deadline(t->timer, at);
	}
}

static void timer_arm(struct conn *c, int64_t at)
{
	c->deadline_ms = at;
	timer_at(c->owner, at);
}

/* A retransmission timer while anything is unacknowledged, a probe timer for a zero window. */
static void timer_update(struct conn *c)
{
	bool outstanding = c->state == SYN_RCVD || c->state == SYN_SENT || c->snd_una != c->snd_max;
	bool probe = c->state == ESTABLISHED && c->wnd_blocked;
	if (!outstanding && !probe)
		c->deadline_ms = INT64_MAX;
	else if (c->deadline_ms == INT64_MAX)
		timer_arm(c, loop_now_ms() + c->rto_ms);
}

/* --- connection lifetime --- */

static void queue_ack(struct conn *c)
{
	if (!c->ack_pending) {
		c->ack_pending = true;
		g_ptr_array_add(c->owner->acks, c);
	}
}

static void conn_destroy(gpointer p)
{
	g_free(p);
}

/* --- the bounds (bounds.c) --- */

static void half_open_enter(struct conn *c)
{
	c->half_open.data = c;
	g_queue_push_tail_link(&c->owner->half_open, &c->half_open);
}

static void half_open_leave(struct conn *c)
{
	if (c->half_open.data == NULL)
		return;
	g_queue_unlink(&c->owner->half_open, &c->half_open);
	c->half_open.data = NULL;
}

static void starved_leave(struct conn *c)
{
	if (c->starved.data == NULL)
		return;
	g_queue_unlink(&c->owner->starved, &c->starved);
	c->starved.data = NULL;
}

/* c advertised less than its own room because the budget ran low: tell it when it is back. */
static void starve(struct conn *c)
{
	if (c->starved.data != NULL || c->dead)
		return;
	c->starved.data = c;
	g_queue_push_tail_link(&c->owner->starved, &c->starved);
}

/*
 * n bytes leave the budget. Once a quarter of it (at most STASH_CAP) is free again, every
 * connection whose window it cut gets an ACK with its new window: a namespace that saw a
 * zero window would otherwise wait for its persist timer, which backs off to minutes.
 */
static void buffer_release(struct tcpout *t, size_t n)
{
	t->buffered -= n;
	if (t->starved.length == 0 || buffer_left(t) < MIN(t->lim->buffered / 4, STASH_CAP))
		return;
	while (t->starved.head != NULL) {
		struct conn *c = t->starved.head->data;
		starved_leave(c);
		if (!c->dead)
			queue_ack(c);
	}
}

/* Bytes the stashes and out-of-order queues may still take, all connections together. */
static size_t buffer_left(const struct tcpout *t)
{
	return t->buffered >= t->lim->buffered ? 0 : (size_t)(t->lim->buffered - t->buffered);
}

/*
 * Close now, free later: the connection leaves the table (its key may be reused at once) and
 * the socket is closed, but the memory stays until reap(), as an epoll batch being handled
 * may still name it.
 */
static void conn_free_now(struct conn *c)
{
	struct tcpout *t = c->owner;
	log_debug("tcpout: fd %d closed", c->fd);
	c->ack_pending = false; /* an entry left in t->acks is skipped: c->dead */
	g_hash_table_steal(t->conns, &c->key);
	if (c->inbound)
		t->active_in--;
	half_open_leave(c);
	close(c->fd);
	starved_leave(c);
	if (c->stash != NULL) {
		buffer_release(t, c->stash->len);
		g_byte_array_unref(c->stash);
	}
	c->stash = NULL;
	ooo_clear(c);
	buffer_release(t, c->rtx_len);
	c->rtx_len = 0;
	g_clear_pointer(&c->rtx, g_free);
	c->dead = true;
	g_ptr_array_add(t->dead, c);
}

static void reap(struct tcpout *t)
{
	g_ptr_array_set_size(t->dead, 0);
}

/* Abort: RST to the namespace (if it knows the connection) and to the host peer. */
static void conn_reset(struct conn *c, bool tell_guest)
{
	if (tell_guest && c->state != CONNECTING)
		send_ctl(c, c->snd_nxt, TH_RST | TH_ACK);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	conn_free_now(c);
}

static bool conn_done(const struct conn *c)
{
	return c->guest_fin && c->host_shut && c->host_eof && c->snd_una == c->fin_seq + 1;
}

/* After any event: free a connection that has nothing left to do. */
static void conn_settle(struct conn *c)
{
	if (c->dead)
		return;
	if (conn_done(c)) {
		if (c->ack_pending) /* the namespace's FIN, answered before we forget it */
			send_ctl(c, c->snd_nxt, TH_ACK);
		conn_free_now(c);
	} else {
		timer_update(c);
	}
}

/* --- namespace -> host --- */

static void stash_put(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->stash == NULL)
		c->stash = g_byte_array_sized_new((guint)MIN(MAX(n, 4096) * 2, STASH_CAP));
	g_byte_array_append(c->stash, p, (guint)n);
	c->owner->buffered += n;
}

/*
 * The namespace's FIN goes on to the host once its bytes have. When that is all the
 * connection was waiting for (conn_done()), conn_settle(), which every caller runs next,
 * closes the socket, and close() sends the FIN: no shutdown() first. No byte is left unread
 * then (every byte up to the host's end of file was sent and acknowledged), so close() sends
 * a FIN, not a reset.
 */
static void maybe_shut(struct conn *c)
{
	if (c->guest_fin && !c->host_shut && c->stash == NULL) {
		c->host_shut = true;
		if (!conn_done(c))
			shutdown(c->fd, SHUT_WR);
	}
}

/* Write stashed bytes to the host; false on a fatal socket error (c is closed). */
static bool stash_flush(struct conn *c)
{
	if (c->stash == NULL)
		return true;
	uint32_t before = rcv_room(c);
	ssize_t n = send(c->fd, c->stash->data, c->stash->len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		conn_reset(c, true);
		return false;
	}
	if (n > 0) {
		g_byte_array_remove_range(c->stash, 0, (guint)n);
		buffer_release(c->owner, (size_t)n);
		if (c->stash->len == 0) {
			g_byte_array_unref(c->stash);
			c->stash = NULL;
		}
	}
	/* Tell the namespace about the room once it is worth it. */
	uint32_t after = rcv_room(c), most = MIN(STASH_CAP, 65535u << c->rcv_wscale);
	if (after > before && (before < most / 4 || after - before >= most / 4))
		queue_ack(c);
	maybe_shut(c);
	return true;
}

/* Take in-order payload: to the socket, the rest to the stash. Bytes accepted, -1: c closed. */
static ssize_t take_data(struct conn *c, const uint8_t *p, size_t n)
{
	size_t done = 0;
	if (c->stash == NULL) {
		ssize_t w = send(c->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			conn_reset(c, true);
			return -1;
		}
		done = w > 0 ? (size_t)w : 0;
	}
	/* What the stash has room for, and at least what the last window promised. */
	size_t used = c->stash ? c->stash->len : 0, promised = adv_left(c);
	size_t room =
	    MAX(used < STASH_CAP ? STASH_CAP - used : 0, promised > done ? promised - done : 0);
	size_t keep = MIN(n - done, room);
	if (keep > buffer_left(c->owner)) {
		keep = buffer_left(c->owner); /* the namespace sends the rest again */
		c->owner->buffer_full++;
	}
	if (keep > 0)
		stash_put(c, p + done, keep);
	return (ssize_t)(done + keep);
}

/*
 * Acknowledge in-order data: at once (at the end of the frame batch) for a FIN, for two
 * segments' worth, or while bytes wait in the stash (the window is shrinking); otherwise
 * within DELACK_MS, so that the host's answer, usually quicker, carries the ACK.
 */
static void ack_data(struct conn *c, bool fin)
{
	if (fin || c->rcv_nxt - c->rcv_acked >= 2 * eff_mss(c) || c->stash != NULL) {
		queue_ack(c);
		return;
	}
	if (c->delack_ms == INT64_MAX) {
		c->delack_ms = loop_now_ms() + DELACK_MS;
		timer_at(c->owner, c->delack_ms);
	}
}

/* A segment that arrived before the ones in front of it (see guest_data()). */
struct ooo_seg {
	uint32_t seq;
	size_t len;
	uint8_t data[];
};

static void ooo_clear(struct conn *c)
{
	buffer_release(c->owner, c->ooo_bytes);
	g_list_free_full(c->ooo, g_free);
	c->ooo = NULL;
	c->ooo_bytes = 0;
}

/*
 * Keep an out-of-order segment that lies within the window we advertised, unless it
 * overlaps one already kept (the sender will send it again). Without this queue a loss in a
 * namespace that routes for others (its tap queue overflows) cost every segment behind the
 * hole, one round trip each.
 */
static void ooo_keep(struct conn *c, uint32_t seq, const uint8_t *p, size_t n)
{
	if (n == 0 || c->ooo_bytes + n > STASH_CAP || seq - c->rcv_nxt + n > adv_left(c))
		return;
	if (n > buffer_left(c->owner)) {
		c->owner->buffer_full++;
		return;
	}
	GList *at = c->ooo;
	for (; at != NULL; at = at->next) {
		const struct ooo_seg *o = at->data;
		if (SEQ_LT(seq + (uint32_t)n, o->seq) || seq + (uint32_t)n == o->seq)
			break; /* ends before o: insert here */
		if (SEQ_LT(seq, o->seq + (uint32_t)o->len))
			return; /* overlaps o */
	}
	struct ooo_seg *o = g_malloc(sizeof(*o) + n);
	o->seq = seq;
	o->len = n;
	memcpy(o->data, p, n);
	c->ooo = g_list_insert_before(c->ooo, at, o);
	c->ooo_bytes += n;
	c->owner->buffered += n;
}

/* Deliver what the queue holds from rcv_nxt on; false if c was closed. */
static bool ooo_drain(struct conn *c)
{
	while (c->ooo != NULL) {
		struct ooo_seg *o = c->ooo->data;
		if (SEQ_GT(o->seq, c->rcv_nxt))
			break; /* still a hole */
		uint32_t skip = c->rcv_nxt - o->seq;
		if (skip < o->len) {
			ssize_t took = take_data(c, o->data + skip, o->len - skip);
			if (took < 0)
				return false;
			c->rcv_nxt += (uint32_t)took;
		}
		c->ooo_bytes -= o->len;
		buffer_release(c->owner, o->len);
		c->ooo = g_list_delete_link(c->ooo, c->ooo);
		g_free(o);
	}
	return true;
}

/* Payload and FIN of a segment; false if c was closed. */
static bool guest_data(struct conn *c, const struct seg *s)
{
	const uint8_t *p = s->data;
	size_t n = s->len;
	bool fin = s->flags & TH_FIN;
	if (n == 0 && !fin)
		return true;
	if (c->guest_fin) {
		queue_ack(c); /* a retransmitted FIN: our ACK was lost */
		return true;
	}
	uint32_t seq = s->seq;
	if (SEQ_LT(seq, c->rcv_nxt)) {
		uint32_t skip = c->rcv_nxt - seq;
		if (skip >= n + (fin ? 1 : 0)) {
			queue_ack(c); /* all of it we already have */
			return true;
		}
		skip = MIN(skip, (uint32_t)n);
		p += skip;
		n -= skip;
		seq += skip;
	}
	if (seq != c->rcv_nxt) {
		/* Out of order: kept for later, and one duplicate ACK per segment, at once and not
		 * merged with the batch's, so that the sender counts three and resends the hole. */
		ooo_keep(c, seq, p, n);
		send_ctl(c, c->snd_nxt, TH_ACK);
		return true;
	}
	if (n > 0) {
		ssize_t took = take_data(c, p, n);
		if (took < 0)
			return false;
		c->rcv_nxt += (uint32_t)took;
		if ((size_t)took < n)
			fin = false; /* the FIN comes after bytes we could not take */
		else if (c->ooo != NULL && !ooo_drain(c))
			return false;
		if (c->rcv_nxt != seq + (uint32_t)n)
			fin = false; /* not all taken, or kept bytes went past a FIN: not the end */
	}
	if (fin) {
		c->rcv_nxt++;
		c->guest_fin = true;
		maybe_shut(c);
	}
	ack_data(c, fin);
	return true;
}

/* --- host -> namespace --- */

/*
 * Drop acknowledged bytes from the host socket. With MSG_TRUNC TCP copies nothing, but the
 * buffer is still named (valgrind checks it), so lend the frame buffer, chunk by chunk.
 */
static void discard_acked(struct conn *c, uint32_t n)
{
	uint32_t mem = MIN(n, c->rtx_len); /* the oldest bytes are those read out */
	if (mem > 0) {
		c->rtx_len -= mem;
		memmove(c->rtx, c->rtx + mem, c->rtx_len);
		buffer_release(c->owner, mem);
		n -= mem;
	}
	while (n > 0) {
		size_t chunk = MIN((size_t)n, sizeof(c->owner->buf));
		ssize_t r = recv(c->fd, c->owner->buf, chunk, MSG_TRUNC | MSG_DONTWAIT);
		if (r <= 0)
			break;
		n -= (uint32_t)r;
	}
}

/* Send again from the first unacknowledged byte: the peek offset goes back with it. */
static void rewind_to_una(struct conn *c)
{
	int zero = 0;
	c->snd_nxt = c->snd_una;
	if (c->peek_on) /* else nothing was peeked: the next peek starts at the head */
		setsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero));
	if (c->fin_sent && SEQ_LE(c->snd_una, c->fin_seq))
		c->fin_sent = false;
}

/* The ACK field and window of a segment; false if c was closed. */
static bool guest_ack(struct conn *c, const struct seg *s)
{
	uint32_t ack = s->ack;
	uint32_t wnd = (uint32_t)s->win << c->snd_wscale;
	if (SEQ_LT(ack, c->snd_una) || SEQ_GT(ack, c->snd_max))
		return true; /* old, or for something we never sent */
	uint32_t acked = ack - c->snd_una;
	bool opened = wnd > c->snd_wnd;
	if (acked > 0) {
		/* Bytes of data acknowledged: all of them, less our FIN's sequence number. */
		uint32_t data_end = c->host_eof ? c->fin_seq : c->snd_max;
		uint32_t upto = SEQ_LT(ack, data_end) ? ack : data_end;
		if (SEQ_GT(upto, c->snd_una))
			discard_acked(c, upto - c->snd_una);
		c->snd_una = ack;
		if (SEQ_LT(c->snd_nxt, ack))
			c->snd_nxt = ack;
		if (c->host_eof && ack == c->fin_seq + 1)
			c->fin_sent = true;
		c->dupacks = 0;
		c->retries = 0;
		c->rto_ms = RTO_MIN_MS;
		c->deadline_ms = INT64_MAX; /* restarted by timer_update() */
	} else if (s->len == 0 && !(s->flags & (TH_FIN | TH_SYN)) && wnd == c->snd_wnd &&
	           c->snd_una != c->snd_max && ++c->dupacks == 3) {
		rewind_to_una(c);
		c->wnd_blocked = true; /* resend from snd_una now */
		opened = true;
	}
	if (opened && c->wnd_blocked && c->snd_una == c->snd_max) {
		/* The window reopened after probes: new bytes get a fresh timer, not the probes'.
		 */
		c->rto_ms = RTO_MIN_MS;
		c->deadline_ms = INT64_MAX;
	}
	c->snd_wnd = wnd;
	/* Only a sender stopped by the window needs a push: otherwise it stopped at an empty
	 * socket (or a short read), and the next bytes bring an epoll edge. */
	if ((acked > 0 || opened) && (c->wnd_blocked || c->host_eof))
		send_data(c);
	return !c->dead;
}

/*
 * recv(MSG_PEEK) at the socket's peek offset. The offset is switched on at the first peek,
 * not when the socket is made: most small answers are read out (read_host()) and never
 * peeked, and that saves a setsockopt() per connection. Until then nothing has been peeked,
 * so offset 0 (the queue's head) is where the first peek starts.
 */
static ssize_t peek(struct conn *c, void *buf, size_t n)
{
	int zero = 0;
	if (!c->peek_on && setsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0)
		return -1;
	c->peek_on = true;
	return recv(c->fd, buf, n, MSG_PEEK | MSG_DONTWAIT);
}

/*
 * The host's bytes at snd_nxt, at most *want of them, into t->buf + hs: the recv() result.
 * Bytes in flight stay in the host socket's queue (MSG_PEEK at SO_PEEK_OFF) for a later
 * retransmission, and an ACK drops them with a second recv() (discard_acked()). For small
 * answers that second call is most of the cost, so while nothing is peeked beyond what was
 * read out (snd_nxt is the queue's head) and RTX_SMALL and the --max-buffered budget have
 * room, the bytes are read out instead and a copy is kept in c->rtx until acknowledged.
 * *from_mem is set when the bytes come from that copy (a retransmission): then a short
 * count does not mean the socket is empty.
 */
static ssize_t read_host(struct conn *c, size_t hs, size_t *want, bool *from_mem)
{
	struct tcpout *t = c->owner;
	uint32_t sock_seq = c->snd_una + c->rtx_len;
	uint8_t *p = t->buf + hs;
	*from_mem = SEQ_LT(c->snd_nxt, sock_seq);
	if (*from_mem) {
		uint32_t off = c->snd_nxt - c->snd_una;
		size_t n = MIN(*want, (size_t)(c->rtx_len - off));
		memcpy(p, c->rtx + off, n);
		/* A whole segment: the rest from the queue's head, which follows the copy. */
		ssize_t m = n < *want ? peek(c, p + n, *want - n) : 0;
		if (m > 0)
			*from_mem = false; /* the queue was read: a short count says it is empty */
		return (ssize_t)n + MAX(m, 0);
	}
	/* Read out only whole segments, or the first one (a small answer is all of it). */
	size_t room = MIN(RTX_SMALL - c->rtx_len, buffer_left(t));
	if (c->snd_nxt != sock_seq || room == 0 || (room < *want && c->rtx_len > 0))
		return peek(c, p, *want);
	*want = MIN(*want, room);
	ssize_t n = recv(c->fd, p, *want, MSG_DONTWAIT);
	if (n > 0) {
		if (c->rtx == NULL)
			c->rtx = g_malloc(RTX_SMALL);
		memcpy(c->rtx + c->rtx_len, p, (size_t)n);
		c->rtx_len += (uint32_t)n;
		t->buffered += (size_t)n;
	}
	return n;
}

/* The host's end of file is at snd_nxt + n (n more bytes to send before it). */
static bool eof_at(struct conn *c, size_t n)
{
	c->host_eof = true;
	c->fin_seq = c->snd_nxt + (uint32_t)n;
	return true;
}

/*
 * After a read of *n bytes (of want) from the socket into t->buf + hs: does our FIN follow
 * them at once? Then it rides on their segment, which saves a frame each way (the namespace
 * ACKs both at once). It does when the end of file is already known to come right there (a
 * retransmission), or when the peer's FIN has been signalled and the read was short.
 * EPOLLRDHUP without EPOLLERR came before the read and means that TCP took the FIN in order,
 * so every byte before it was queued: a short read emptied the queue and the end of file
 * is next, no recv() needed to see it. Otherwise (a hang-up that may be a reset) peek on,
 * and whatever more there is joins *n, until end of file or want.
 */
static bool fin_follows(struct conn *c, size_t hs, size_t *n, size_t want)
{
	if (c->host_eof)
		return c->snd_nxt + (uint32_t)*n == c->fin_seq;
	if (c->fin_queued && *n < want)
		return eof_at(c, *n);
	while (c->rdhup && *n < want) {
		ssize_t m = peek(c, c->owner->buf + hs + *n, want - *n);
		if (m < 0)
			return false; /* EAGAIN, or an error that the next peek reports */
		if (m == 0)
			return eof_at(c, *n);
		*n += (size_t)m;
	}
	return false;
}

/* Peek what the window allows from the host socket and send it; our FIN at end of file. */
static void send_data(struct conn *c)
{
	struct tcpout *t = c->owner;
	if (c->state != ESTABLISHED || c->dead)
		return;
	size_t hs = hdr_space(c);
	size_t seg_max = t->vnet ? SEG_MAX_GSO : eff_mss(c);
	/* Until EAGAIN or a full window: an edge-triggered socket gives no second chance. */
	while (!c->fin_sent) {
		if (c->host_eof && c->snd_nxt == c->fin_seq) {
			send_ctl(c, c->snd_nxt, TH_FIN | TH_ACK);
			c->fin_sent = true;
			c->snd_nxt++;
		} else {
			uint32_t inflight = c->snd_nxt - c->snd_una;
			c->wnd_blocked = inflight >= c->snd_wnd;
			if (c->wnd_blocked)
				break;
			size_t want = MIN(c->snd_wnd - inflight, seg_max);
			if (c->host_eof)
				want = MIN(want, (size_t)(c->fin_seq - c->snd_nxt));
			bool from_mem;
			ssize_t n = read_host(c, hs, &want, &from_mem);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break; /* all sent: the next arrival is an epoll edge */
			if (n < 0) {
				log_debug("tcpout: fd %d: %s", c->fd, g_strerror(errno));
				conn_reset(c, true);
				return;
			}
			if (n == 0) {
				c->host_eof = true;
				c->fin_seq = c->snd_nxt;
				continue;
			}
			size_t len = (size_t)n;
			bool fin = from_mem
			               ? c->host_eof && c->snd_nxt + (uint32_t)len == c->fin_seq
			               : fin_follows(c, hs, &len, want);
			emit(c, c->snd_nxt, TH_ACK | TH_PSH | (fin ? TH_FIN : 0), NULL, 0, len);
			c->snd_nxt += (uint32_t)len;
			if (fin) {
				c->fin_sent = true;
				c->snd_nxt++;
			}
			/* A short read emptied the queue; what comes later brings an edge of its
			 * own (unless the FIN is known to be there already: read on to see it). */
			if (len < want && !c->rdhup && !from_mem) {
				if (SEQ_GT(c->snd_nxt, c->snd_max))
					c->snd_max = c->snd_nxt;
				break;
			}
		}
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
	}
	conn_settle(c);
}

/* --- the host socket --- */

/* The connect() finished; ev without EPOLLERR or EPOLLHUP: it succeeded, no need to ask. */
static void connected(struct conn *c, uint32_t ev)
{
	int err = 0;
	socklen_t el = sizeof(err);
	if ((ev & (EPOLLERR | EPOLLHUP)) && getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if ((ev & (EPOLLERR | EPOLLHUP)) && err == 0)
		err = ECONNREFUSED; /* a hang-up before the connection was up */
	if (err == EINPROGRESS || err == EALREADY)
		return;
	if (err != 0) {
		log_debug("tcpout: connect to port %u: %s", c->key.fport, g_strerror(err));
		send_ctl(c, 0, TH_RST | TH_ACK); /* rcv_nxt acknowledges the SYN */
		conn_free_now(c);
		return;
	}
	c->state = SYN_RCVD;
	send_synack(c);
	timer_update(c);
}

static void sock_event(struct conn *c, uint32_t ev)
{
	if (c->dead)
		return;
	/* Noted in every state: an edge is not repeated for a FIN that is already there. */
	if (ev & (EPOLLRDHUP | EPOLLHUP))
		c->rdhup = true;
	if ((ev & (EPOLLRDHUP | EPOLLERR)) == EPOLLRDHUP)
		c->fin_queued = true;
	if (c->state != ESTABLISHED && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
		c->host_spoke = true; /* this edge is gone: establish() must look */
	if (c->state == CONNECTING) {
		if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			connected(c, ev);
		return;
	}
	if (ev & EPOLLERR) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0) {
			log_debug("tcpout: fd %d: %s", c->fd, g_strerror(err));
			conn_reset(c, true);
			return;
		}
	}
	if ((ev & EPOLLOUT) && !stash_flush(c))
		return;
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
		send_data(c);
	else
		conn_settle(c);
}

/* Handle what the host sockets have; the number of events. */
static int drain_epoll(struct tcpout *t)
{
	struct epoll_event evs[64];
	int total = 0;
	for (int round = 0; round < 4; round++) {
		int n = epoll_wait(t->epfd, evs, G_N_ELEMENTS(evs), 0);
		for (int i = 0; i < n; i++)
			sock_event(evs[i].data.ptr, evs[i].events);
		total += MAX(n, 0);
		if (n < (int)G_N_ELEMENTS(evs))
			break;
	}
	return total;
}

static void on_epoll(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	drain_epoll(data);
	tcpout_flush(data);
}

/* --- frames from the namespace --- */

/*
 * An initial sequence number as RFC 6528 makes them: a clock that ticks every 64 ns (as
 * Linux's does) plus a keyed hash of the connection's addresses and ports, under a secret
 * drawn once (tcpout_new()). For one address and port pair the numbers grow with time, and
 * that matters when a forwarded client reuses its port while the namespace still holds the
 * old connection in TIME_WAIT (its server closed first): without timestamps Linux takes a
 * SYN in TIME_WAIT only if its sequence number is past the old connection's end
 * (tcp_timewait_state_process()), and otherwise answers with an ACK of the old connection.
 * Numbers drawn at random were refused half of the time, and such a client then waited out
 * its connect timeout. The mix is the finaliser of the "splitmix64" generator.
 */
static uint32_t new_iss(const struct tcpout *t, const struct conn_key *k)
{
	uint64_t z = t->iss_secret ^ ((uint64_t)hash_bytes(k, sizeof(*k)) * 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ticks = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) >> 6;
	return (uint32_t)(z ^ (z >> 31)) + (uint32_t)ticks;
}

static uint64_t iss_secret(void)
{
	uint64_t v;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint64_t)loop_now_ms() * 2654435761u ^ (uint64_t)getpid() << 32;
	return v;
}

static int open_socket(struct tcpout *t, const struct sockaddr_storage *dst, socklen_t dl)
{
	int fam = dst->ss_family;
	int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fam == AF_INET && t->opt->has_outbound_addr &&
	    bind(fd, (const struct sockaddr *)&t->opt->outbound_addr,
	         sizeof(t->opt->outbound_addr)) < 0)
		goto fail;
	if (fam == AF_INET6 && t->opt->has_outbound_addr6 &&
	    bind(fd, (const struct sockaddr *)&t->opt->outbound_addr6,
	         sizeof(t->opt->outbound_addr6)) < 0)
		goto fail;
	if (connect(fd, (const struct sockaddr *)dst, dl) < 0 && errno != EINPROGRESS)
		goto fail;
	return fd;
fail : {
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}
}

/*
 * Room for one more connection: false when --max-tcp are open; otherwise the oldest
 * half-open ones are reset until there is room among those too.
 */
static bool make_room(struct tcpout *t)
{
	if (g_hash_table_size(t->conns) >= t->lim->tcp) {
		t->refused++;
		return false;
	}
	while (t->half_open.length >= t->lim->half_open) {
		struct conn *old = t->half_open.head->data;
		log_debug("tcpout: fd %d: half-open too long, reset for a new one", old->fd);
		t->evicted++;
		if (old->state == CONNECTING) /* its SYN is unanswered: refuse it now */
			send_ctl(old, 0, TH_RST | TH_ACK);
		conn_reset(old, true);
	}
	return true;
}

static bool open_conn(struct tcpout *t, const struct seg *s)
{
	struct sockaddr_storage dst;
	socklen_t dl;
	if (!hostdest_for(t->opt, s->key.v6, s->key.faddr, s->key.fport, &dst, &dl))
		return false;
	if (!make_room(t)) {
		send_rst_for(t, s);
		return true;
	}
	int fd = open_socket(t, &dst, dl);
	if (fd < 0) {
		log_debug("tcpout: connect to port %u: %s", s->key.fport, g_strerror(errno));
		send_rst_for(t, s);
		return true;
	}
	struct conn *c = g_new0(struct conn, 1);
	c->key = s->key;
	c->owner = t;
	c->fd = fd;
	c->state = CONNECTING;
	memcpy(c->guest_mac, s->frame + 6, 6);
	memcpy(c->gw_mac, s->frame, 6);
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->mss = s->mss ? s->mss : 536;
	if (s->wscale >= 0) {
		c->snd_wscale = (uint8_t)s->wscale;
		c->rcv_wscale = OUR_WSCALE;
	}
	c->iss = new_iss(t, &c->key);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->rto_ms = RTO_MIN_MS;
	c->deadline_ms = c->delack_ms = INT64_MAX;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	                         .data.ptr = c};
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_debug("tcpout: epoll_ctl: %s", g_strerror(errno));
		close(fd);
		g_free(c);
		send_rst_for(t, s);
		return true;
	}
	g_hash_table_insert(t->conns, &c->key, c);
	half_open_enter(c);
	t->total++;
	log_debug("tcpout: fd %d: new connection to port %u", fd, s->key.fport);
	return true;
}

/* The handshake's last ACK: the connection is open both ways. */
static bool establish(struct conn *c, const struct seg *s)
{
	if (s->ack != c->iss + 1)
		return false;
	half_open_leave(c);
	c->state = ESTABLISHED;
	c->snd_una = c->snd_nxt = c->snd_max = c->iss + 1;
	c->snd_wnd = (uint32_t)s->win << c->snd_wscale;
	c->deadline_ms = INT64_MAX;
	c->retries = 0;
	c->rto_ms = RTO_MIN_MS;
	if (c->host_spoke)
		send_data(c); /* the host spoke first; otherwise its first bytes bring an edge */
	return !c->dead;
}

/* The namespace's SYN-ACK to a forwarded client's connection. */
static void establish_active(struct conn *c, const struct seg *s)
{
	if (s->ack != c->iss + 1)
		return;
	half_open_leave(c);
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->rcv_adv = c->rcv_nxt; /* our SYN's window said nothing about this sequence space */
	c->mss = s->mss ? s->mss : 536;
	if (s->wscale >= 0) {
		c->snd_wscale = (uint8_t)s->wscale;
	} else {
		c->rcv_wscale = 0; /* it did not take our offer: no scaling either way */
	}
	c->state = ESTABLISHED;
	c->snd_una = c->snd_nxt = c->snd_max = c->iss + 1;
	c->snd_wnd = s->win; /* a SYN's window is never scaled */
	c->deadline_ms = INT64_MAX;
	c->retries = 0;
	c->rto_ms = RTO_MIN_MS;
	send_ctl(c, c->snd_nxt, TH_ACK);
	if (c->host_spoke)
		send_data(c); /* the client spoke first; otherwise its bytes bring an edge */
}

/* A segment for one of our connections; false: c is gone and s opens a new one. */
static bool conn_input(struct conn *c, const struct seg *s)
{
	if (s->flags & TH_RST) {
		conn_reset(c, false);
		return true;
	}
	if (c->state == SYN_SENT) {
		if ((s->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
			establish_active(c, s);
		return true;
	}
	if (s->flags & TH_SYN) {
		if (c->state == ESTABLISHED && (s->flags & TH_ACK)) {
			queue_ack(c); /* the namespace repeats its SYN-ACK: our ACK was lost */
			return true;
		}
		if (!(s->flags & TH_ACK) && s->seq != c->irs) {
			conn_reset(c, false); /* the port was reused: forget the old connection */
			return false;
		}
		if (c->state == SYN_RCVD)
			send_synack(c); /* our SYN-ACK was lost */
		return true;
	}
	if (c->state == CONNECTING || !(s->flags & TH_ACK))
		return true;
	if (c->state == SYN_RCVD) {
		/* The handshake's ACK: establish() took its ACK field; it is no duplicate ACK. */
		if (establish(c, s) && guest_data(c, s))
			conn_settle(c);
		return true;
	}
	if (guest_ack(c, s) && guest_data(c, s))
		conn_settle(c);
	return true;
}

bool tcpout_input(struct tcpout *t, const uint8_t *frame, size_t len)
{
	struct seg s;
	if (!t->enabled || len < TCPSEG_ETH_HLEN)
		return false;
	/* The namespace has one link, the tap: every frame comes from its one MAC address. */
	if (!(frame[6] & 1)) {
		memcpy(t->guest_mac, frame + 6, 6);
		t->have_mac = true;
	}
	if (!tcpseg_parse(frame, len, &s))
		return false;
	struct conn *c = g_hash_table_lookup(t->conns, &s.key);
	if (c != NULL && conn_input(c, &s))
		return true;
	if (!t->outbound || (s.flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) != TH_SYN)
		return false;
	return open_conn(t, &s);
}

static bool take_addresses(const struct sockaddr *peer, const struct sockaddr *guest,
                           struct conn_key *k)
{
	memset(k, 0, sizeof(*k));
	if (peer->sa_family != guest->sa_family)
		return false;
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *p = (const void *)peer, *g = (const void *)guest;
		memcpy(k->faddr, &p->sin_addr, 4);
		memcpy(k->gaddr, &g->sin_addr, 4);
		k->fport = ntohs(p->sin_port);
		k->gport = ntohs(g->sin_port);
		return true;
	}
	if (peer->sa_family != AF_INET6)
		return false;
	const struct sockaddr_in6 *p = (const void *)peer, *g = (const void *)guest;
	if (IN6_IS_ADDR_V4MAPPED(&p->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&g->sin6_addr))
		return false;
	k->v6 = 1;
	memcpy(k->faddr, &p->sin6_addr, 16);
	memcpy(k->gaddr, &g->sin6_addr, 16);
	k->fport = ntohs(p->sin6_port);
	k->gport = ntohs(g->sin6_port);
	return true;
}

bool tcpout_ready(const struct tcpout *t)
{
	return t != NULL && t->enabled && t->have_mac;
}

/*
 * Both FINs are out and only the namespace's ACK of ours is missing, and the client reuses the
 * same port at once (it closed last, so it may): the ACK is most likely in the tap queue
 * behind, and the connection is done for everyone but us.
 */
static bool last_ack_only(const struct conn *c)
{
	return c->inbound && c->guest_fin && c->host_shut && c->host_eof && c->fin_sent;
}

bool tcpout_take(struct tcpout *t, int client, const struct sockaddr *peer,
                 const struct sockaddr *guest)
{
	struct conn_key k;
	if (t == NULL || !t->enabled || !t->have_mac || !take_addresses(peer, guest, &k))
		return false;
	struct conn *old = g_hash_table_lookup(t->conns, &k);
	if (old != NULL && !last_ack_only(old))
		return false;
	if (old != NULL)
		conn_free_now(
		    old); /* the guest has both FINs: it is in TIME_WAIT (see new_iss()) */
	if (!make_room(t))
		return false;
	int one = 1;
	struct conn *c = g_new0(struct conn, 1);
	c->key = k;
	c->owner = t;
	c->fd = client;
	c->inbound = true;
	c->state = SYN_SENT;
	memcpy(c->guest_mac, t->guest_mac, 6);
	memcpy(c->gw_mac, t->gw_mac, 6);
	c->rcv_wscale = OUR_WSCALE;
	c->iss = new_iss(t, &c->key);
	c->snd_una = c->snd_max = c->iss;
	c->snd_nxt = c->iss + 1;
	c->rto_ms = RTO_MIN_MS;
	c->deadline_ms = c->delack_ms = INT64_MAX;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	                         .data.ptr = c};
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, client, &ev) < 0) {
		g_free(c);
		return false;
	}
	setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	g_hash_table_insert(t->conns, &c->key, c);
	half_open_enter(c);
	t->total_in++;
	t->active_in++;
	log_debug("tcpout: fd %d: forwarded client to guest port %u", client, k.gport);
	send_syn(c);
	timer_update(c);
	return true;
}

void tcpout_flush(struct tcpout *t)
{
	while (t->acks->len > 0) {
		struct conn *c = g_ptr_array_steal_index_fast(t->acks, t->acks->len - 1);
		/* Skip a connection closed since, or whose ACK a frame has carried already (the
		 * flag is cleared then, the entry stays). Dead ones are freed only by reap(). */
		if (!c->ack_pending || c->dead)
			continue;
		c->ack_pending = false;
		if (c->state != CONNECTING)
			send_ctl(c, c->snd_nxt, TH_ACK);
	}
	reap(t);
}

/* --- timers --- */

static void on_timeout(struct conn *c)
{
	c->deadline_ms = INT64_MAX;
	c->rto_ms = MIN(c->rto_ms * 2, RTO_MAX_MS);
	if (c->state == SYN_RCVD || c->state == SYN_SENT || c->snd_una != c->snd_max) {
		unsigned most = c->state == ESTABLISHED ? RETRIES_MAX : SYN_RETRIES;
		if (++c->retries > most) {
			log_debug("tcpout: fd %d: the namespace stopped answering", c->fd);
			conn_reset(c, true);
			return;
		}
		if (c->state == SYN_RCVD) {
			send_synack(c);
		} else if (c->state == SYN_SENT) {
			send_syn(c);
		} else {
			rewind_to_una(c);
			send_data(c);
			return;
		}
	} else {
		/* Zero window probe: an old sequence number makes the namespace repeat its window.
		 */
		send_ctl(c, c->snd_una - 1, TH_ACK);
	}
	timer_update(c);
}

static void on_timer(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct tcpout *t = data;
	int64_t now = loop_now_ms();
	g_autoptr(GPtrArray) due = g_ptr_array_new();
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, t->conns);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct conn *c = v;
		if (c->delack_ms <= now)
			queue_ack(c);
		if (c->deadline_ms <= now)
			g_ptr_array_add(due, c);
	}
	for (guint i = 0; i < due->len; i++)
		on_timeout(g_ptr_array_index(due, i));
	/* The earliest deadline left. */
	t->timer_at = INT64_MAX;
	g_hash_table_iter_init(&it, t->conns);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct conn *c = v;
		t->timer_at = MIN(t->timer_at, MIN(c->deadline_ms, c->delack_ms));
	}
	loop_watch_set_deadline(t->timer, t->timer_at);
	tcpout_flush(t);
}

/* --- the table --- */

static guint key_hash(gconstpointer p)
{
	return hash_bytes(p, sizeof(struct conn_key));
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
	return memcmp(a, b, sizeof(struct conn_key)) == 0;
}

/* Can this kernel peek at an offset on TCP sockets (Linux >= 4.4)? */
static bool peek_off_works(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), zero = 0;
	if (fd < 0)
		return false;
	bool ok = setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) == 0;
	close(fd);
	return ok;
}

struct tcpout *tcpout_new(const struct options *opt, const struct frame_sink *sink, struct loop *l)
{
	struct tcpout *t = g_new0(struct tcpout, 1);
	t->opt = opt;
	t->sink = *sink;
	t->loop = l;
	t->vnet = sink->vnet;
	t->conns = g_hash_table_new_full(key_hash, key_equal, NULL, conn_destroy);
	t->acks = g_ptr_array_new();
	t->dead = g_ptr_array_new_with_free_func(g_free);
	t->timer_at = INT64_MAX;
	t->iss_secret = iss_secret();
	t->epfd = -1;
	t->enabled = true;
	t->outbound = !opt->outbound_fast_path_off;
	t->lim = &opt->bounds;
	g_queue_init(&t->half_open);
	g_queue_init(&t->starved);
	hostdest_gateway_mac(opt, t->gw_mac);
	if (t->enabled && !peek_off_works()) {
		log_warn(
		    "outbound fast path off: this kernel cannot peek at an offset (SO_PEEK_OFF)");
		t->enabled = false;
	}
	if (t->enabled && (t->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_warn("outbound fast path off: epoll_create1: %s", g_strerror(errno));
		t->enabled = false;
	}
	if (t->enabled) {
		t->epoll_watch = loop_watch_fd(l, t->epfd, POLLIN, on_epoll, t);
		t->timer = loop_watch_fd(l, -1, 0, on_timer, t);
	}
	return t;
}

void tcpout_free(struct tcpout *t)
{
	if (t == NULL)
		return;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, t->conns);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct conn *c = v;
		close(c->fd);
		if (c->stash != NULL)
			g_byte_array_unref(c->stash);
		ooo_clear(c);
		g_free(c->rtx);
	}
	g_hash_table_unref(t->conns);
	g_ptr_array_unref(t->acks);
	g_ptr_array_unref(t->dead);
	if (t->epfd >= 0)
		close(t->epfd);
	g_free(t);
}

struct tcpout_stats tcpout_stats(const struct tcpout *t)
{
	return (struct tcpout_stats){.enabled = t->enabled && t->outbound,
	                             .total = t->total,
	                             .total_in = t->total_in,
	                             .active_in = t->active_in,
	                             .active = g_hash_table_size(t->conns) - t->active_in,
	                             .half_open = t->half_open.length,
	                             .buffered = t->buffered,
	                             .refused = t->refused,
	                             .evicted = t->evicted,
	                             .buffer_full = t->buffer_full};
}

static const char *state_name(const struct conn *c)
{
	if (c->state == CONNECTING)
		return "SYN_SENT";
	if (c->state == SYN_RCVD)
		return "SYN_RCVD";
	if (c->state == SYN_SENT)
		return "SYN_SENT";
	if (c->guest_fin && c->fin_sent)
		return "LAST_ACK";
	if (c->guest_fin)
		return "CLOSE_WAIT";
	if (c->fin_sent)
		return "FIN_WAIT_1";
	return "ESTABLISHED";
}

void tcpout_connections(const struct tcpout *t, json_t *list)
{
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, t->conns);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct conn *c = v;
		char g[INET6_ADDRSTRLEN], f[INET6_ADDRSTRLEN];
		int fam = c->key.v6 ? AF_INET6 : AF_INET;
		inet_ntop(fam, c->key.gaddr, g, sizeof(g));
		inet_ntop(fam, c->key.faddr, f, sizeof(f));
		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:i,s:s,s:i,s:s,s:i,s:I,s:I,s:s}", "proto", "TCP",
		                    "state", state_name(c), "fd", c->fd, "src_addr", g, "src_port",
		                    (int)c->key.gport, "dst_addr", f, "dst_port", (int)c->key.fport,
		                    "recv_q", (json_int_t)(c->stash ? c->stash->len : 0), "send_q",
		                    (json_int_t)(c->snd_max - c->snd_una), "path", "fast"));
	}
}
