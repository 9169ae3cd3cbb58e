// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * engine.c - owns the libslirp instance: its configuration, its callbacks and its timers.
 *
 * libslirp is a TCP/IP stack driven from outside. Frames from the namespace (those that
 * datapath.c gives no other endpoint) go in with engine_input() and slirp_input(); frames for
 * the namespace come out through the send_packet callback, which hands them to the frame
 * sink it was given (sink.h). libslirp's host sockets are polled by our loop: each round
 * slirp_pollfds_fill() asks us (add_poll) to watch its fds, and after poll()
 * slirp_pollfds_poll() asks (get_revents) what happened to each. Timers (the IPv6 router
 * advertisement) are kept in a small list here and fired by engine_poll_done().
 *
 * Before a frame reaches libslirp, admit.c decides whether it may make libslirp open a host
 * socket beyond the caps (bounds.c); the answers libslirp sends keep its UDP flows alive there.
 *
 * Idle wake-ups: libslirp asks for a wake-up within 2 ms while a delayed ACK is pending,
 * within 499 ms while any TCP timer runs, and otherwise caps the timeout at exactly 1000 ms,
 * for no timer of its own. In that last case we sleep up to IDLE_TIMEOUT_MS instead, so an
 * idle daemon wakes up twice a minute rather than every second. All libslirp then does late
 * is expire idle UDP/ICMP sessions (after 240 s or more) a little later.
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

 */
#include "config.h"
#include "engine.h"
#include "admit.h"
#include "frame.h"
#include "udpreply.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	struct frame_sink sink; /* where libslirp's frames go (the datapath) */
	struct engine_stats stats;
	GPtrArray *timers;         /* of struct engine_timer * */
	struct admit *admit;       /* the bounds on libslirp's sockets (admit.c) */
	struct udpreply *udpreply; /* UDP forwards' loopback clients (udpreply.c), or NULL */
	guint sockets_peak;        /* most libslirp sockets since the last malloc_trim() */
	int64_t last_trim_ms;
	GArray *pollfds; /* set during one poll round, for the add_poll/get_revents callbacks */
	guint poll_base;
	bool (*hide_in)(void *opaque, int fd); /* listeners libslirp must not accept on now */
	void *hide_opaque;
	/* Idle detection (see the top of this file). */
	bool activity; /* a frame or a socket event since the last poll round */
	int64_t last_activity_ms;
	bool idle_known; /* idle_listeners_only is valid for this idle period */
	bool idle_listeners_only;
	int64_t idle_checked_ms;
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

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct engine *e = opaque;
	if (e->udpreply != NULL)
		buf = udpreply_to_guest(e->udpreply, buf, len);
	admit_output(e->admit, buf, len, now_ns() / 1000000);
	e->activity |= frame_is_tcp(buf, len);
	e->sink.send(e->sink.opaque, buf, len);
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

struct engine *engine_new(const struct options *opt, const struct frame_sink *sink)
{
	mallopt(M_MMAP_THRESHOLD, 128 * 1024); /* a fixed threshold: see the top of this file */
	struct engine *e = g_new0(struct engine, 1);
	e->sink = *sink;
	e->timers = g_ptr_array_new_with_free_func(g_free);
	struct in6_addr gw6 = opt->net6;
	gw6.s6_addr[15] = 2;
	e->admit =
	    admit_new(&opt->bounds, addr4_offset(opt->net, 2), addr4_offset(opt->net, 3), gw6);

	SlirpConfig cfg;
	engine_slirp_config(opt, sink->slirp_mtu, &cfg);
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
	admit_free(e->admit);
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

struct admit_stats engine_admit_stats(const struct engine *e)
{
	return admit_stats(e->admit);
}

/* A whole frame for libslirp, unless it would open a socket beyond the caps (admit.c). */
void engine_input(struct engine *e, const uint8_t *frame, size_t len)
{
	e->activity |= frame_is_tcp(frame, len);
	/* An answer to a forward's loopback client: sent, and it opens nothing in libslirp. */
	if (e->udpreply != NULL && udpreply_from_guest(e->udpreply, frame, len))
		return;
	if (!admit_input(e->admit, frame, len, now_ns() / 1000000)) {
		e->stats.frames_refused++;
		return;
	}
	slirp_input(e->slirp, frame, (int)len);
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
	admit_set_sockets(e->admit, pollfds->len - e->poll_base);
	admit_expire(e->admit, now_ms);
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
