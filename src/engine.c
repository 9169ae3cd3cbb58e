// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * engine.c - owns the libslirp instance: its configuration, its callbacks and its timers.
 *
 * libslirp is a TCP/IP stack driven from outside. Frames from the namespace go in with
 * slirp_input(); frames for the namespace come out through the send_packet callback, which
 * writes them to the tap. libslirp's host sockets are polled by our loop: each round
 * slirp_pollfds_fill() asks us (add_poll) to watch its fds, and after poll()
 * slirp_pollfds_poll() asks (get_revents) what happened to each. Timers (the IPv6 router
 * advertisement) are kept in a small list here and fired by engine_poll_done().
 *
 * The tap is read in bounded batches (until EAGAIN, at most TAP_BATCH frames) so one wake-up
 * moves many frames and a flood cannot starve the host sockets. Each frame is offered first,
 * before any checksum work, to the outbound fast path (tcpout.c), which takes the TCP
 * segments of its own connections and the SYNs that open them; everything else is fixed up
 * for libslirp (tap.c) and given to it. At the end of a batch tcpout_flush() sends the ACKs
 * the batch made due. Both write to the tap through engine_send_frame*().
 *
 * Idle wake-ups: libslirp asks for a wake-up within 2 ms while a delayed ACK is pending,
 * within 499 ms while any TCP timer runs, and otherwise caps the timeout at exactly 1000 ms,
 * for no timer of its own. In that last case we sleep up to IDLE_TIMEOUT_MS instead, so an
 * idle daemon wakes up twice a minute rather than every second. All libslirp then does late
 * is expire idle UDP/ICMP sessions (after 240 s or more) a little later.
 *
 * IPv4 fragments from the namespace are reassembled (ipfrag.c) before libslirp sees them:
 * the libslirp we link crashes on some fragment orders.
 *
 * Memory: libslirp allocates per connection (two socket buffers of 128 KiB that it then
 * reallocs to a multiple of the MSS, up to ~192 KiB, and mbufs as large as its MTU: 64 KiB
 * with offloads). glibc's mmap
 * threshold rises to 128 KiB+ after the first such buffer is freed, and from then on the
 * buffers come from the heap, where each realloc copies, i.e. touches, all 128 KiB: 2,000
 * idle connections held 520 MiB. engine_new() pins the threshold at 128 KiB (mallopt), so the
 * buffers stay mmap()ed, grow by mremap() without being touched, and go back to the system
 * when freed: 125 MiB for the same 2,000. What the heap still keeps after a burst comes back
 * too: when the number of libslirp's sockets has fallen by TRIM_DROP or more, to half its
 * peak or less, we call malloc_trim(0) (at most once a second), which hands free pages back;
 * without it 2,000 closed connections left ~250 MiB resident.
 *
 * Observers: with --pcap or --debug every frame that crosses the tap, both ways, is also
 * handed to pcap.c and framelog.c (one branch per frame when neither is on). With
 * --target-type=bess the "tap" is the BESS peer's socket, set and cleared by bess.c through
 * engine_set_link(); while no peer is attached, frames from libslirp are dropped.
 */
#include "config.h"
#include "engine.h"
#include "frame.h"
#include "ipfrag.h"
#include "framelog.h"
#include "pcap.h"
#include "tap.h"
#include "tcpout.h"
#include "udpreply.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TAP_BATCH 128
/* A 64 KiB TSO segment, Ethernet and VLAN headers, and the virtio-net header before it. */
#define FRAME_MAX         (65536 + 256)
#define TIMER_OFF         INT64_MAX
#define SLIRP_IDLE_CAP_MS 1000u /* libslirp's timeout when no TCP timer is pending */
#define IDLE_TIMEOUT_MS   30000u
#define IDLE_GRACE_MS     1000
#define IDLE_RECHECK_MS   5000
#define TRIM_DROP         16 /* libslirp sockets closed since the peak before we trim */

struct engine_timer {
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;
};

struct engine {
	Slirp *slirp;
	struct tap tap;
	struct engine_stats stats;
	GPtrArray *timers; /* of struct engine_timer * */
	struct ipfrag *frags;
	guint sockets_peak; /* most libslirp sockets since the last malloc_trim() */
	int64_t last_trim_ms;
	GArray *pollfds; /* set during one poll round, for the add_poll/get_revents callbacks */
	guint poll_base;
	struct pcap *pcap;     /* --pcap, or NULL */
	struct tcpout *tcpout; /* the outbound fast path, offered every frame first; or NULL */
	struct udpreply *udpreply; /* UDP forwards' loopback clients (udpreply.c), or NULL */
	bool (*hide_in)(void *opaque, int fd); /* listeners libslirp must not accept on now */
	void *hide_opaque;
	bool observe; /* pcap or --debug: show frames to them */
	/* Idle detection (see the top of this file). */
	bool activity; /* a frame or a socket event since the last poll round */
	int64_t last_activity_ms;
	bool idle_known; /* idle_listeners_only is valid for this idle period */
	bool idle_listeners_only;
	int64_t idle_checked_ms;
	uint8_t frame[FRAME_MAX];
	/* Storage that libslirp's config points into. */
	struct sockaddr_in outbound;
	struct sockaddr_in6 outbound6;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void observe_frame(struct engine *e, const uint8_t *f, size_t len, bool to_guest)
{
	if (e->pcap != NULL)
		pcap_frame(e->pcap, f, len);
	if (slirpns_debug)
		framelog_frame(f, len, to_guest);
}

bool engine_send_frame(struct engine *e, const void *buf, size_t len)
{
	if (!tap_write(&e->tap, buf, len)) {
		/* The namespace is not keeping up: drop, as a real link would; TCP recovers. */
		e->stats.frames_dropped++;
		return false;
	}
	e->stats.frames_out++;
	e->activity |= frame_is_tcp(buf, len);
	e->stats.bytes_out += len;
	if (G_UNLIKELY(e->observe))
		observe_frame(e, buf, len, true);
	return true;
}

bool engine_send_frame_vnet(struct engine *e, const struct virtio_net_hdr *h, const void *buf,
                            size_t len)
{
	if (!tap_write_vnet(&e->tap, h, buf, len)) {
		e->stats.frames_dropped++;
		return false;
	}
	e->stats.frames_out++;
	e->activity = true;
	e->stats.bytes_out += len;
	if (G_UNLIKELY(e->observe))
		observe_frame(e, buf, len, true);
	return true;
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct engine *e = opaque;
	if (e->udpreply != NULL)
		buf = udpreply_to_guest(e->udpreply, buf, len);
	engine_send_frame(e, buf, len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	struct engine *e = opaque;
	/* A misbehaving guest must not be able to flood our stderr: count it (log with --debug). */
	e->stats.guest_errors++;
	log_debug("libslirp: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct engine *e = opaque;
	struct engine_timer *t = g_new0(struct engine_timer, 1);
	t->id = id;
	t->cb_opaque = cb_opaque;
	t->expire_ms = TIMER_OFF;
	g_ptr_array_add(e->timers, t);
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct engine *e = opaque;
	g_ptr_array_remove_fast(e->timers, timer);
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	((struct engine_timer *)timer)->expire_ms = expire_ms;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
}

static const SlirpCb callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

void engine_slirp_config(const struct options *opt, unsigned slirp_mtu, SlirpConfig *cfg)
{
	*cfg = (SlirpConfig){
	    .version = 4,
	    .restricted = 0,
	    .in_enabled = true,
	    .vnetwork = opt->net,
	    .vnetmask = opt->mask,
	    .vhost = addr4_offset(opt->net, 2),
	    .in6_enabled = opt->ipv6,
	    .vprefix_addr6 = opt->net6,
	    .vprefix_len = 64,
	    .vhost6 = opt->net6,
	    .vdhcp_start = addr4_offset(opt->net, 15),
	    .vnameserver = addr4_offset(opt->net, 3),
	    .vnameserver6 = opt->net6,
	    .if_mtu = slirp_mtu,
	    .if_mru = slirp_mtu,
	    .disable_host_loopback = opt->disable_host_loopback,
	    .enable_emu = false,
	    .disable_dns = opt->disable_dns,
	};
	cfg->vhost6.s6_addr[15] = 2;
	cfg->vnameserver6.s6_addr[15] = 3;
}

struct engine *engine_new(const struct options *opt, int tapfd)
{
	mallopt(M_MMAP_THRESHOLD, 128 * 1024); /* a fixed threshold: see the top of this file */
	struct engine *e = g_new0(struct engine, 1);
	tap_init(&e->tap, tapfd, opt->mtu);
	e->timers = g_ptr_array_new_with_free_func(g_free);
	e->frags = ipfrag_new();
	e->observe = slirpns_debug;

	SlirpConfig cfg;
	engine_slirp_config(opt, e->tap.slirp_mtu, &cfg);
	if (opt->has_outbound_addr) {
		e->outbound = opt->outbound_addr;
		cfg.outbound_addr = &e->outbound;
	}
	if (opt->has_outbound_addr6) {
		e->outbound6 = opt->outbound_addr6;
		cfg.outbound_addr6 = &e->outbound6;
	}
	e->slirp = slirp_new(&cfg, &callbacks, e);
	if (e->slirp == NULL)
		die("libslirp: slirp_new failed");
	return e;
}

void engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	slirp_cleanup(e->slirp);
	g_ptr_array_unref(e->timers);
	ipfrag_free(e->frags);
	g_free(e);
}

Slirp *engine_slirp(struct engine *e)
{
	return e->slirp;
}

const struct engine_stats *engine_stats(const struct engine *e)
{
	return &e->stats;
}

static void to_slirp(struct engine *e, const uint8_t *frame, size_t len)
{
	if (e->udpreply != NULL && udpreply_from_guest(e->udpreply, frame, len))
		return;
	slirp_input(e->slirp, frame, (int)len);
}

void engine_input(struct engine *e, const uint8_t *frame, size_t len)
{
	const uint8_t *whole;
	size_t whole_len;
	switch (ipfrag_input(e->frags, frame, len, now_ns() / 1000000, &whole, &whole_len)) {
	case IPFRAG_PASS:
		to_slirp(e, frame, len);
		break;
	case IPFRAG_DONE:
		to_slirp(e, whole, whole_len);
		break;
	case IPFRAG_HELD:
		break;
	}
}

/* The outbound fast path first (before any checksum work: it needs none), then libslirp. */
static void frame_in(struct engine *e, uint8_t *buf, size_t n)
{
	size_t vl = e->tap.vnet ? e->tap.vnet_len : 0;
	if (e->tcpout != NULL && n > vl && tcpout_input(e->tcpout, buf + vl, n - vl)) {
		e->activity = true;
		if (G_UNLIKELY(e->observe))
			observe_frame(e, buf + vl, n - vl, false);
		return;
	}
	uint8_t *frame;
	ssize_t len = tap_fixup(&e->tap, buf, n, &frame);
	if (len == TAP_DROPPED) {
		e->stats.frames_malformed++;
		return;
	}
	e->activity |= frame_is_tcp(frame, (size_t)len);
	if (G_UNLIKELY(e->observe))
		observe_frame(e, frame, (size_t)len, false);
	engine_input(e, frame, (size_t)len);
}

bool engine_tap_readable(struct engine *e, GError **err)
{
	bool ok = true;
	for (int i = 0; i < TAP_BATCH; i++) {
		ssize_t n = tap_read_raw(&e->tap, e->frame, sizeof(e->frame), err);
		if (n <= 0) {
			ok = n == 0;
			break;
		}
		e->stats.frames_in++;
		e->stats.bytes_in +=
		    (uint64_t)n - MIN((size_t)n, e->tap.vnet ? e->tap.vnet_len : 0);
		frame_in(e, e->frame, (size_t)n);
	}
	if (e->tcpout != NULL)
		tcpout_flush(e->tcpout);
	return ok;
}

void engine_set_tcpout(struct engine *e, struct tcpout *t)
{
	e->tcpout = t;
}

void engine_set_udpreply(struct engine *e, struct udpreply *u)
{
	e->udpreply = u;
}

void engine_hide_readable(struct engine *e, bool (*hide)(void *opaque, int fd), void *opaque)
{
	e->hide_in = hide;
	e->hide_opaque = opaque;
}

bool engine_offload(const struct engine *e)
{
	return e->tap.vnet;
}

void engine_set_pcap(struct engine *e, struct pcap *p)
{
	e->pcap = p;
	e->observe = p != NULL || slirpns_debug;
}

void engine_set_link(struct engine *e, int fd)
{
	e->tap.fd = fd; /* a BESS peer: plain frames, as tap_init() found for fd -1 */
}

static short to_poll_events(int ev)
{
	short p = 0;
	if (ev & SLIRP_POLL_IN)
		p |= POLLIN;
	if (ev & SLIRP_POLL_OUT)
		p |= POLLOUT;
	if (ev & SLIRP_POLL_PRI)
		p |= POLLPRI;
	if (ev & SLIRP_POLL_ERR)
		p |= POLLERR;
	if (ev & SLIRP_POLL_HUP)
		p |= POLLHUP;
	return p;
}

static int from_poll_events(short p)
{
	int ev = 0;
	if (p & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (p & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (p & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (p & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (p & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct engine *e = opaque;
	struct pollfd p = {.fd = fd, .events = to_poll_events(events)};
	g_array_append_val(e->pollfds, p);
	return (int)(e->pollfds->len - 1 - e->poll_base);
}

static int cb_get_revents(int idx, void *opaque)
{
	struct engine *e = opaque;
	guint i = e->poll_base + (guint)idx;
	if (idx < 0 || i >= e->pollfds->len)
		return 0;
	const struct pollfd *p = &g_array_index(e->pollfds, struct pollfd, i);
	short rev = p->revents;
	if ((rev & POLLIN) && e->hide_in != NULL && e->hide_in(e->hide_opaque, p->fd))
		rev &= (short)~POLLIN; /* the fast path accepts there itself (fastpath.c) */
	if (rev != 0)
		e->activity = true;
	return from_poll_events(rev);
}

/* Does libslirp's TCP list hold only forward listeners (no connection with timers)? */
static bool only_tcp_listeners(Slirp *slirp)
{
	g_autofree char *info = slirp_connection_info(slirp);
	for (const char *p = info ? strstr(info, "TCP[") : NULL; p != NULL;
	     p = strstr(p + 4, "TCP["))
		if (!g_str_has_prefix(p, "TCP[HOST_FORWARD]"))
			return false;
	return true;
}

/* libslirp asks for its slow timer (<= 499 ms): can the daemon sleep long instead? */
static bool tcp_timers_idle(struct engine *e, int64_t now_ms)
{
	if (e->activity) {
		e->activity = false;
		e->last_activity_ms = now_ms;
		e->idle_known = false;
	}
	if (now_ms - e->last_activity_ms < IDLE_GRACE_MS)
		return false;
	/* Until only listeners remain (TIME_WAIT and the like run out), look again now and then. */
	if (!e->idle_known ||
	    (!e->idle_listeners_only && now_ms - e->idle_checked_ms >= IDLE_RECHECK_MS)) {
		e->idle_listeners_only = only_tcp_listeners(e->slirp);
		e->idle_known = true;
		e->idle_checked_ms = now_ms;
	}
	return e->idle_listeners_only;
}

/* Give freed memory back once many of libslirp's sockets have closed (see above). */
static void trim_after_burst(struct engine *e, guint sockets, int64_t now_ms)
{
	e->sockets_peak = MAX(e->sockets_peak, sockets);
	if (e->sockets_peak - sockets < TRIM_DROP || sockets > e->sockets_peak / 2 ||
	    now_ms - e->last_trim_ms < 1000)
		return;
	malloc_trim(0);
	e->last_trim_ms = now_ms;
	e->sockets_peak = sockets;
}

void engine_poll_prepare(struct engine *e, GArray *pollfds, int *timeout_ms)
{
	e->pollfds = pollfds;
	e->poll_base = pollfds->len;
	uint32_t asked = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
	uint32_t t = asked;
	slirp_pollfds_fill(e->slirp, &t, cb_add_poll, e);
	int64_t now_ms = now_ns() / 1000000;
	bool slow_timer_only = t > 2 && t < SLIRP_IDLE_CAP_MS;
	if (asked > SLIRP_IDLE_CAP_MS &&
	    (t == SLIRP_IDLE_CAP_MS || (slow_timer_only && tcp_timers_idle(e, now_ms))))
		t = MIN(asked, IDLE_TIMEOUT_MS);
	trim_after_burst(e, pollfds->len - e->poll_base, now_ms);
	for (guint i = 0; i < e->timers->len; i++) {
		const struct engine_timer *tm = g_ptr_array_index(e->timers, i);
		if (tm->expire_ms == TIMER_OFF)
			continue;
		int64_t left = tm->expire_ms - now_ms;
		t = MIN(t, (uint32_t)CLAMP(left, 0, INT32_MAX));
	}
	*timeout_ms = t > INT32_MAX ? -1 : (int)t;
}

void engine_poll_done(struct engine *e, GArray *pollfds, bool poll_failed)
{
	e->pollfds = pollfds;
	slirp_pollfds_poll(e->slirp, poll_failed ? 1 : 0, cb_get_revents, e);
	e->pollfds = NULL;
	int64_t now_ms = now_ns() / 1000000;
	for (guint i = 0; i < e->timers->len; i++) {
		struct engine_timer *tm = g_ptr_array_index(e->timers, i);
		if (tm->expire_ms != TIMER_OFF && tm->expire_ms <= now_ms) {
			tm->expire_ms = TIMER_OFF;
			slirp_handle_timer(e->slirp, tm->id, tm->cb_opaque);
		}
	}
}
