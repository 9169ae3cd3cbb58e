// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_tcpout.c - the outbound fast path's TCP endpoint (src/tcpout.c), driven frame by frame.
 *
 * The test plays the namespace ("guest"): it builds Ethernet/IPv4/TCP frames by hand and
 * hands them to tcpout_input() (then tcpout_flush(), the end of a tap batch), and reads what
 * tcpout writes to the "tap", one end of a SOCK_SEQPACKET socketpair given to datapath_new()
 * (not a tap: plain frames, so every frame tcpout sends must carry complete IPv4 and TCP
 * checksums, which collect() verifies for each one). The host side is real sockets on
 * 127.0.0.1; the guest's SYNs go to 10.0.2.2, which tcpout maps to the host's loopback. The
 * loop runs one round at a time (loop_run_once()), with tcpout's real timers (RTO 200 ms,
 * delayed ACK 1 ms).
 *
 * What a real tap never shows, and these tests do: out-of-order, duplicate and overlapping
 * segments; lost frames (retransmission on timeout, with backoff, and after three duplicate
 * ACKs); a zero window both ways (tcpout's window probe and resumption; the stash filling
 * while the host does not read, and the window update when it drains); delayed ACKs; a SYN
 * repeated, a SYN-ACK lost, a port reused with a new ISN; RST in both directions and a refused
 * connect(); half-close and orderly close; tcpout_take()'s active open (SYN, retransmitted
 * SYN, the guest's SYN-ACK, data both ways, RST from a closed guest port); and SYNs and
 * segments that are not tcpout's to take.
 */
#include "config.h"
#include "datapath.h"
#include "engine.h"
#include "frame.h"
#include "loop.h"
#include "options.h"
#include "tcpout.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define MSS       1460u /* --mtu=1500 */
#define RTO_MS    200   /* tcpout's RTO_MIN_MS */
#define STASH_CAP (512u * 1024)
#define WSCALE    7 /* the window scale tcpout offers */

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)

static const uint8_t gw_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
static const uint8_t guest_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x64};
static const uint8_t guest_ip[4] = {10, 0, 2, 100};
static const uint8_t gw_ip[4] = {10, 0, 2, 2};

/* ---- the daemon's side ------------------------------------------------------------------ */

static struct options opt;
static struct datapath *dp;
static struct engine *eng;
static struct loop *lp;
static struct tcpout *to;
static int tapfd[2] = {-1, -1}; /* [0]: the daemon's "tap", [1]: ours */

/* A TCP segment tcpout sent to the guest. */
struct seg {
	uint8_t saddr[4], daddr[4];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint16_t mss; /* SYN option, 0 if absent */
	int wscale;   /* SYN option, -1 if absent */
	size_t len;
	uint8_t data[];
};

static GQueue rx = G_QUEUE_INIT; /* segments received, not yet looked at */
static GPtrArray *seen; /* segments handed to a test, test buffers: freed at teardown (a failed
                         * assertion leaves the test without running its own cleanup) */

/* The daemon's parts, with --mtu=1500 and extra (one more option, or NULL). */
static void start(const char *extra)
{
	char *argv[5] = {"slirpns", "--mtu=1500"};
	int argc = 2;
	if (extra != NULL)
		argv[argc++] = (char *)extra;
	argv[argc++] = "1234";
	GError *err = NULL;
	unsetenv("POSIXLY_CORRECT");
	cr_assert_eq(options_parse(argc, argv, &opt, &err), ACTION_RUN, "%s",
	             err ? err->message : "");
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tapfd),
	             0);
	/* Room for a whole window of frames between two collect()s: none may be dropped. */
	int big = 8 << 20;
	if (setsockopt(tapfd[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(tapfd[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (setsockopt(tapfd[1], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(tapfd[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	dp = datapath_new(&opt, tapfd[0]);
	cr_assert(!datapath_offload(dp), "a socketpair must give plain frames");
	struct frame_sink sink = datapath_sink(dp);
	eng = engine_new(&opt, &sink);
	lp = loop_new(eng);
	datapath_attach(dp, lp);
	to = tcpout_new(&opt, &sink, lp);
	datapath_set_endpoints(dp, eng, to, NULL);
	seen = g_ptr_array_new_with_free_func(g_free);
}

static void stop(void)
{
	tcpout_free(to);
	loop_free(lp);
	engine_free(eng);
	datapath_free(dp);
	to = NULL, lp = NULL, eng = NULL, dp = NULL;
	for (int i = 0; i < 2; i++)
		if (tapfd[i] >= 0)
			close(tapfd[i]);
	tapfd[0] = tapfd[1] = -1;
	options_clear(&opt);
	g_queue_clear_full(&rx, g_free);
	if (seen != NULL)
		g_ptr_array_unref(seen);
	seen = NULL;
}

static void setup(void)
{
	start(NULL);
}

static void teardown(void)
{
	if (dp != NULL)
		cr_expect_eq(datapath_stats(dp)->frames_dropped, 0,
		             "frames lost on the socketpair");
	stop();
}

TestSuite(tcpout, .init = setup, .fini = teardown, .timeout = 20);

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* Parse a frame tcpout wrote and check its addresses, lengths and both checksums. */
static struct seg *parse_frame(const uint8_t *f, size_t len)
{
	if (len < 14 || get16(f + 12) != 0x0800)
		return NULL; /* not IPv4 (nothing in these tests sends IPv6 or ARP) */
	const uint8_t *ip = f + 14;
	cr_assert_geq(len, 14 + 20 + 20, "short frame (%zu bytes)", len);
	if (ip[9] != 6)
		return NULL;
	cr_assert_arr_eq(f, guest_mac, 6, "frame not addressed to the guest's MAC");
	cr_assert_arr_eq(f + 6, gw_mac, 6, "frame not from the gateway's MAC");
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = get16(ip + 2);
	cr_assert_eq(ip[0] >> 4, 4);
	cr_assert_eq(ihl, 20);
	cr_assert_eq(14 + tot, len, "IP length %zu in a %zu-byte frame", tot, len);
	cr_assert_eq(csum_fold(csum_add(ip, ihl, 0)), 0xffff, "bad IPv4 header checksum");
	const uint8_t *th = ip + ihl;
	size_t tcplen = tot - ihl, doff = (size_t)(th[12] >> 4) * 4;
	cr_assert(doff >= 20 && doff <= tcplen, "bad TCP data offset %zu", doff);
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, (uint16_t)tcplen);
	cr_assert_eq(csum_fold(csum_add(th, tcplen, csum_add(pseudo, 12, 0))), 0xffff,
	             "bad TCP checksum (flags 0x%02x, seq %u)", th[13], get32(th + 4));

	struct seg *s = g_malloc0(sizeof(*s) + tcplen - doff);
	memcpy(s->saddr, ip + 12, 4);
	memcpy(s->daddr, ip + 16, 4);
	s->sport = get16(th);
	s->dport = get16(th + 2);
	s->seq = get32(th + 4);
	s->ack = get32(th + 8);
	s->flags = th[13] & 0x3f;
	s->win = get16(th + 14);
	s->wscale = -1;
	for (size_t i = 20; i < doff;) {
		const uint8_t *o = th + i;
		if (o[0] == 0)
			break;
		if (o[0] == 1) {
			i++;
			continue;
		}
		cr_assert(i + 1 < doff && o[1] >= 2 && i + o[1] <= doff, "bad TCP option");
		if (o[0] == 2 && o[1] == 4)
			s->mss = get16(o + 2);
		if (o[0] == 3 && o[1] == 3)
			s->wscale = o[2];
		i += o[1];
	}
	s->len = tcplen - doff;
	memcpy(s->data, th + doff, s->len);
	return s;
}

/* Take every frame the daemon has written so far (without running the loop, but writing what
 * it queued for the round's end). */
static void collect(void)
{
	static uint8_t buf[70000];
	datapath_flush(dp);
	for (;;) {
		ssize_t n = recv(tapfd[1], buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s",
			          strerror(errno));
			return;
		}
		struct seg *s = parse_frame(buf, (size_t)n);
		if (s != NULL)
			g_queue_push_tail(&rx, s);
	}
}

/* One loop round (waiting at most 1 ms), then collect. */
static void round1(void)
{
	cr_assert(loop_run_once(lp, 1));
	collect();
}

/* Run the loop for ms milliseconds. */
static void pump(int ms)
{
	int64_t end = loop_now_ms() + ms;
	do
		round1();
	while (loop_now_ms() < end);
}

static struct seg *keep(struct seg *s)
{
	if (s != NULL)
		g_ptr_array_add(seen, s);
	return s;
}

/* The next segment tcpout sent, running the loop up to timeout_ms for it; NULL if none. */
static struct seg *next_seg(int timeout_ms)
{
	int64_t end = loop_now_ms() + timeout_ms;
	collect();
	while (g_queue_is_empty(&rx) && loop_now_ms() < end)
		round1();
	return keep(g_queue_pop_head(&rx));
}

static struct seg *expect_seg(int timeout_ms)
{
	struct seg *s = next_seg(timeout_ms);
	cr_assert_not_null(s, "no segment from tcpout within %d ms", timeout_ms);
	return s;
}

/* A segment tcpout has already written (during the last tcpout_input/flush), or NULL. */
static struct seg *sent_now(void)
{
	collect();
	return keep(g_queue_pop_head(&rx));
}

static void describe_unexpected(const struct seg *s, const char *when)
{
	cr_assert_null(s, "%s: unexpected segment flags 0x%02x seq %u ack %u win %u len %zu", when,
	               s ? s->flags : 0, s ? s->seq : 0, s ? s->ack : 0, s ? s->win : 0,
	               s ? s->len : 0);
}

/* Nothing may arrive while the loop runs for ms milliseconds. */
static void expect_quiet(int ms, const char *when)
{
	pump(ms);
	describe_unexpected(keep(g_queue_pop_head(&rx)), when);
}

/* Nothing was written by the last call into tcpout. */
static void expect_none_now(const char *when)
{
	describe_unexpected(sent_now(), when);
}

/* ---- the guest's side ------------------------------------------------------------------- */

/* A 4-tuple as the guest sees it: its own address and port, the one it talks to. */
struct flow {
	uint8_t gaddr[4];
	uint16_t gport;
	uint8_t faddr[4];
	uint16_t fport;
};

/*
 * Build an Ethernet/IPv4/TCP frame from the guest (checksums zero: tcpout does not check
 * them). Returns its length.
 */
static size_t build_seg(uint8_t *f, const struct flow *fl, uint8_t flags, uint32_t seq,
                        uint32_t ack, uint16_t win, const void *data, size_t len,
                        const uint8_t *opts, size_t optlen)
{
	cr_assert(optlen % 4 == 0 && optlen <= 40);
	size_t tcplen = 20 + optlen + len;
	memcpy(f, gw_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tcplen));
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, fl->gaddr, 4);
	memcpy(ip + 16, fl->faddr, 4);
	uint8_t *th = ip + 20;
	memset(th, 0, 20);
	put16(th, fl->gport);
	put16(th + 2, fl->fport);
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = (uint8_t)(((20 + optlen) / 4) << 4);
	th[13] = flags;
	put16(th + 14, win);
	if (optlen > 0)
		memcpy(th + 20, opts, optlen);
	if (len > 0)
		memcpy(th + 20 + optlen, data, len);
	return 14 + 20 + tcplen;
}

static uint8_t frame_buf[14 + 60 + 65536];

/* One frame into tcpout, as part of a batch (no tcpout_flush()). */
static bool feed_opts(const struct flow *fl, uint8_t flags, uint32_t seq, uint32_t ack,
                      uint16_t win, const void *data, size_t len, const uint8_t *opts,
                      size_t optlen)
{
	size_t n = build_seg(frame_buf, fl, flags, seq, ack, win, data, len, opts, optlen);
	return tcpout_input(to, frame_buf, n);
}

static bool feed(const struct flow *fl, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
                 const void *data, size_t len)
{
	return feed_opts(fl, flags, seq, ack, win, data, len, NULL, 0);
}

/* One frame as a batch of its own: tcpout_input(), then tcpout_flush(). */
static bool gsend(const struct flow *fl, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
                  const void *data, size_t len)
{
	bool taken = feed(fl, flags, seq, ack, win, data, len);
	tcpout_flush(to);
	return taken;
}

/* Any non-TCP frame: the guest's MAC becomes known to tcpout (tcpout_take() needs it). */
static void guest_says_hello(void)
{
	uint8_t arp[42] = {0};
	memset(arp, 0xff, 6);
	memcpy(arp + 6, guest_mac, 6);
	put16(arp + 12, 0x0806);
	cr_assert(!tcpout_input(to, arp, sizeof(arp)));
}

/* The bytes tests send: a function of the stream offset, period 256 * 251 bytes. */
static uint8_t pat(size_t off)
{
	return (uint8_t)(off * 7 + off / 251 + 3);
}

/* A buffer that lives until the end of the test. */
static uint8_t *test_alloc(size_t len)
{
	uint8_t *p = g_malloc(len ? len : 1);
	g_ptr_array_add(seen, p);
	return p;
}

static uint8_t *pattern(size_t off, size_t len)
{
	uint8_t *p = test_alloc(len);
	for (size_t i = 0; i < len; i++)
		p[i] = pat(off + i);
	return p;
}

/* ---- the host's side -------------------------------------------------------------------- */

/* A listener on 127.0.0.1 (an ephemeral port); rcvbuf > 0 sets its accepted sockets' size. */
static int host_listener(uint16_t *port, int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	if (rcvbuf > 0)
		cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	socklen_t al = sizeof(a);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A port on 127.0.0.1 that nothing listens on. */
static uint16_t closed_port(void)
{
	uint16_t port;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t al = sizeof(a);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Accept from a listener, running the loop meanwhile (tcpout's connect() completes in it). */
static int host_accept(int lfd, int timeout_ms)
{
	int64_t end = loop_now_ms() + timeout_ms;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		if (fd >= 0) {
			/* No Nagle: each host_write() reaches tcpout at once, in one piece. */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "accept: %s", strerror(errno));
		cr_assert(loop_now_ms() < end, "no connection on the host listener");
		round1();
	}
}

/* Read exactly len bytes from a host socket, running the loop meanwhile. */
static void host_read(int fd, uint8_t *buf, size_t len, int timeout_ms)
{
	int64_t end = loop_now_ms() + timeout_ms;
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		cr_assert(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
		          "host socket: %s after %zu of %zu bytes",
		          n == 0 ? "EOF" : strerror(errno), got, len);
		cr_assert(loop_now_ms() < end, "host got %zu of %zu bytes", got, len);
		round1();
	}
}

/* The host socket has nothing to read (but is still open). */
static void host_expect_nothing(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	cr_assert(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
	          "host socket should have nothing to read (got %zd, %s)", n,
	          n < 0 ? strerror(errno) : "");
}

/* The next read on a host socket ends in error err (ECONNRESET) or, with err 0, EOF. */
static void host_expect_end(int fd, int err, int timeout_ms)
{
	int64_t end = loop_now_ms() + timeout_ms;
	for (;;) {
		char c;
		ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
		if (n == 0) {
			cr_assert_eq(err, 0, "host socket got EOF, not %s", strerror(err));
			return;
		}
		cr_assert(n < 0, "host socket got data, expected %s", err ? strerror(err) : "EOF");
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			cr_assert_eq(errno, err, "host socket: %s, expected %s", strerror(errno),
			             err ? strerror(err) : "EOF");
			return;
		}
		cr_assert(loop_now_ms() < end, "host socket: nothing, expected %s",
		          err ? strerror(err) : "EOF");
		round1();
	}
}

static void host_write(int fd, const void *p, size_t len)
{
	cr_assert_eq(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

/*
 * Wait, without running the loop, until tcpout's socket has everything the host wrote (the
 * host's send queue is empty: all acknowledged). Loopback usually delivers within send(),
 * but not always; this makes "the bytes are there in the next loop round" certain.
 */
static void host_wait_delivered(int fd)
{
	int64_t end = loop_now_ms() + 1000;
	for (;;) {
		int queued = -1;
		cr_assert_eq(ioctl(fd, TIOCOUTQ, &queued), 0);
		if (queued == 0)
			return;
		cr_assert(loop_now_ms() < end, "the host's bytes are not delivered (%d queued)",
		          queued);
		g_usleep(1000);
	}
}

/* Abort a host socket: close with SO_LINGER 0 sends a RST. */
static void host_abort(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd);
}

/* ---- connections ------------------------------------------------------------------------ */

/* One connection as the guest sees it. */
struct tconn {
	struct flow fl;
	int host;     /* the host's end: accepted socket, or a forwarded client's own socket */
	uint32_t iss; /* tcpout's initial sequence number */
	uint32_t snd; /* the guest's next sequence number */
	uint32_t rcv; /* the next sequence number the guest expects from tcpout */
	uint16_t win; /* the window the guest advertises */
};

static void outbound_flow(struct flow *fl, uint16_t gport, uint16_t port)
{
	memcpy(fl->gaddr, guest_ip, 4);
	fl->gport = gport;
	memcpy(fl->faddr, gw_ip, 4);
	fl->fport = port;
}

/* The guest's SYN (MSS 1460, window scale 0 if wscale), to 10.0.2.2:port. */
static bool send_syn(const struct flow *fl, uint32_t isn, bool wscale)
{
	static const uint8_t opts[8] = {2, 4, MSS >> 8, MSS & 0xff, 1, 3, 3, 0};
	bool taken = feed_opts(fl, TH_SYN, isn, 0, 65535, NULL, 0, opts, wscale ? 8 : 4);
	tcpout_flush(to);
	return taken;
}

/* tcpout's SYN-ACK to a SYN with isn; checks its fields. */
static struct seg *expect_synack(const struct flow *fl, uint32_t isn, bool wscale)
{
	struct seg *s = expect_seg(1000);
	cr_assert_eq(s->flags, TH_SYN | TH_ACK, "expected SYN-ACK, got flags 0x%02x", s->flags);
	cr_assert_eq(s->ack, isn + 1);
	cr_assert_arr_eq(s->saddr, fl->faddr, 4);
	cr_assert_arr_eq(s->daddr, fl->gaddr, 4);
	cr_assert_eq(s->sport, fl->fport);
	cr_assert_eq(s->dport, fl->gport);
	cr_assert_eq(s->mss, MSS);
	cr_assert_eq(s->wscale, wscale ? WSCALE : -1);
	cr_assert_eq(s->win, 65535);
	cr_assert_eq(s->len, 0);
	return s;
}

/*
 * The guest connects from gport (ISN isn) to 10.0.2.2:port, where host listener lfd waits:
 * SYN, SYN-ACK, accept on the host, the handshake's ACK with window win.
 */
static void guest_connect(struct tconn *c, int lfd, uint16_t port, uint16_t gport, uint32_t isn,
                          bool wscale, uint16_t win)
{
	memset(c, 0, sizeof(*c));
	outbound_flow(&c->fl, gport, port);
	cr_assert(send_syn(&c->fl, isn, wscale), "tcpout did not take the SYN");
	struct seg *s = expect_synack(&c->fl, isn, wscale);
	c->iss = s->seq;
	c->rcv = s->seq + 1;
	c->snd = isn + 1;
	c->win = win;
	c->host = host_accept(lfd, 1000);
	cr_assert(gsend(&c->fl, TH_ACK, c->snd, c->rcv, win, NULL, 0));
}

/* The guest sends in-order data (one segment, its own batch). */
static void guest_data(struct tconn *c, const void *p, size_t len)
{
	cr_assert(gsend(&c->fl, TH_ACK | TH_PSH, c->snd, c->rcv, c->win, p, len));
	c->snd += (uint32_t)len;
}

/* The guest acknowledges everything up to ack (its own batch). */
static void guest_ack(struct tconn *c, uint32_t ack)
{
	c->rcv = ack;
	cr_assert(gsend(&c->fl, TH_ACK, c->snd, ack, c->win, NULL, 0));
}

/* A data segment from tcpout at seq with exactly the bytes expect[0..len). */
static void check_data(const struct seg *s, uint32_t seq, const uint8_t *expect, size_t len,
                       uint32_t ack)
{
	cr_assert_eq(s->flags & (TH_SYN | TH_RST | TH_FIN | TH_ACK), TH_ACK,
	             "data segment with flags 0x%02x", s->flags);
	cr_assert_eq(s->seq, seq, "segment seq %u, expected %u", s->seq, seq);
	cr_assert_eq(s->len, len, "segment of %zu bytes, expected %zu", s->len, len);
	cr_assert_arr_eq(s->data, expect, len, "segment at seq %u: wrong bytes", seq);
	cr_assert_eq(s->ack, ack, "segment ack %u, expected %u", s->ack, ack);
}

/* The next segments carry expect[0..len) from seq on, in MSS-sized pieces, acknowledging ack. */
static void expect_stream(uint32_t seq, const uint8_t *expect, size_t len, uint32_t ack,
                          int timeout_ms)
{
	for (size_t off = 0; off < len;) {
		size_t n = MIN(MSS, len - off);
		check_data(expect_seg(timeout_ms), seq + (uint32_t)off, expect + off, n, ack);
		off += n;
	}
}

/*
 * The host's last bytes data[0..len) at seq, then our FIN: on the same segment when tcpout
 * knew of the host's FIN as it read them (it usually does), or on the next. Returns the FIN's
 * sequence number.
 */
static uint32_t expect_data_then_fin(uint32_t seq, const uint8_t *data, size_t len, uint32_t ack)
{
	struct seg *s = expect_seg(500);
	cr_assert_eq(s->flags & (TH_SYN | TH_RST | TH_ACK), TH_ACK, "flags 0x%02x", s->flags);
	cr_assert_eq(s->seq, seq);
	cr_assert_eq(s->len, len, "segment of %zu bytes, expected %zu", s->len, len);
	cr_assert_arr_eq(s->data, data, len);
	cr_assert_eq(s->ack, ack);
	if (!(s->flags & TH_FIN)) {
		s = expect_seg(500);
		cr_assert_eq(s->flags, TH_FIN | TH_ACK,
		             "no FIN after the host's bytes (flags 0x%02x)", s->flags);
		cr_assert_eq(s->seq, seq + (uint32_t)len);
		cr_assert_eq(s->len, 0);
	}
	return seq + (uint32_t)len;
}

/* ---- the tests -------------------------------------------------------------------------- */

Test(tcpout, handshake_and_data_both_ways)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40001, 1000, true, 65535);
	struct tcpout_stats st = tcpout_stats(to);
	cr_assert(st.enabled);
	cr_assert_eq(st.total, 1);
	cr_assert_eq(st.active, 1);

	/* Guest -> host: straight into the host socket. */
	guest_data(&c, "hello", 5);
	uint8_t buf[16];
	host_read(c.host, buf, 5, 500);
	cr_assert_arr_eq(buf, "hello", 5);

	/* Host -> guest: MSS-sized frames, exact sequence numbers, acknowledging "hello", our
	 * window scaled by 7 (the stash is empty: 512 KiB). */
	uint8_t *data = pattern(0, 3000);
	host_write(c.host, data, 3000);
	for (size_t off = 0; off < 3000; off += MSS) {
		struct seg *s = expect_seg(500);
		check_data(s, c.rcv + (uint32_t)off, data + off, MIN(MSS, 3000 - off), c.snd);
		cr_assert_eq(s->win, STASH_CAP >> WSCALE);
	}
	guest_ack(&c, c.rcv + 3000);
	expect_quiet(20, "after everything was acknowledged");
	close(c.host);
	close(lfd);
}

Test(tcpout, out_of_order_duplicate_and_overlapping_segments)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	/* An ISN just below 2^32: the stream's sequence numbers wrap. */
	guest_connect(&c, lfd, port, 40002, 0xffffff80u, true, 65535);
	uint32_t s0 = c.snd;
	uint8_t *data = pattern(0, 300);
	uint8_t buf[300];

	/* Bytes 100..200 before 0..100: kept, answered at once by a duplicate ACK. */
	cr_assert(gsend(&c.fl, TH_ACK, s0 + 100, c.rcv, c.win, data + 100, 100));
	struct seg *s = sent_now();
	cr_assert_not_null(s, "no duplicate ACK for an out-of-order segment");
	cr_assert_eq(s->flags, TH_ACK);
	cr_assert_eq(s->ack, s0, "dup ACK acknowledges %u, expected %u", s->ack, s0);
	cr_assert_eq(s->len, 0);
	host_expect_nothing(c.host);

	/* 0..100 fills the hole: the host gets 0..200 and the ACK covers both. */
	cr_assert(gsend(&c.fl, TH_ACK, s0, c.rcv, c.win, data, 100));
	host_read(c.host, buf, 200, 500);
	cr_assert_arr_eq(buf, data, 200);
	host_expect_nothing(c.host);
	s = expect_seg(100);
	cr_assert_eq(s->ack, s0 + 200);

	/* The sender's retransmission of 100..200: old, acknowledged, nothing new for the host. */
	cr_assert(gsend(&c.fl, TH_ACK, s0 + 100, c.rcv, c.win, data + 100, 100));
	s = sent_now();
	cr_assert_not_null(s, "no ACK for a retransmission of kept bytes");
	cr_assert_eq(s->ack, s0 + 200);
	host_expect_nothing(c.host);

	/* 150..250 overlaps what the host has: only 200..250 is new. */
	cr_assert(gsend(&c.fl, TH_ACK, s0 + 150, c.rcv, c.win, data + 150, 100));
	host_read(c.host, buf, 50, 500);
	cr_assert_arr_eq(buf, data + 200, 50);
	host_expect_nothing(c.host);
	s = expect_seg(100);
	cr_assert_eq(s->ack, s0 + 250);

	/* An old segment entirely: nothing to the host, an immediate ACK of everything. */
	cr_assert(gsend(&c.fl, TH_ACK, s0, c.rcv, c.win, data, 100));
	s = sent_now();
	cr_assert_not_null(s, "no ACK for a duplicate segment");
	cr_assert_eq(s->ack, s0 + 250);
	host_expect_nothing(c.host);

	/* A segment that starts in the future by more than a window's worth: dropped too. */
	cr_assert(gsend(&c.fl, TH_ACK, s0 + 250 + 70000, c.rcv, c.win, data, 50));
	s = sent_now();
	cr_assert_not_null(s);
	cr_assert_eq(s->ack, s0 + 250);
	host_expect_nothing(c.host);
	close(c.host);
	close(lfd);
}

Test(tcpout, delayed_ack)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40003, 5000, true, 65535);
	uint8_t buf[3000];
	uint8_t *data = pattern(0, 2 * MSS);

	/* A small segment: no ACK at the end of the batch, a pure ACK within a few ms. */
	guest_data(&c, "ping", 4);
	expect_none_now("a small segment must not be acknowledged at once");
	int64_t t0 = loop_now_ms();
	struct seg *s = expect_seg(100);
	cr_assert_eq(s->flags, TH_ACK);
	cr_assert_eq(s->len, 0);
	cr_assert_eq(s->ack, c.snd);
	cr_assert_leq(loop_now_ms() - t0, 50, "delayed ACK took %lld ms",
	              (long long)(loop_now_ms() - t0));
	host_read(c.host, buf, 4, 100);

	/* Two full segments in one batch: one ACK at the end of the batch. */
	cr_assert(feed(&c.fl, TH_ACK, c.snd, c.rcv, c.win, data, MSS));
	cr_assert(feed(&c.fl, TH_ACK, c.snd + MSS, c.rcv, c.win, data + MSS, MSS));
	c.snd += 2 * MSS;
	tcpout_flush(to);
	s = sent_now();
	cr_assert_not_null(s, "two segments' worth must be acknowledged at once");
	cr_assert_eq(s->ack, c.snd);
	expect_none_now("one ACK per batch");
	host_read(c.host, buf, 2 * MSS, 500);
	cr_assert_arr_eq(buf, data, 2 * MSS);

	/* A small segment the host answers at once: the answer carries the ACK, and no pure ACK
	 * follows. (Even when the delayed ACK is due in the same loop round as the host's answer,
	 * the answer goes first.) */
	guest_data(&c, "ping", 4);
	host_read(c.host, buf, 4, 100);
	host_write(c.host, "pong", 4);
	host_wait_delivered(c.host);
	s = expect_seg(100);
	check_data(s, c.rcv, (const uint8_t *)"pong", 4, c.snd);
	expect_quiet(20, "the answer carried the ACK");
	close(c.host);
	close(lfd);
}

Test(tcpout, retransmission_timeout_with_backoff)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40004, 7000, true, 65535);
	uint8_t *data = pattern(0, 3500);
	host_write(c.host, data, 3000);
	int64_t t0 = loop_now_ms();
	expect_stream(c.rcv, data, 3000, c.snd, 500);

	/* All three frames are "lost": after the RTO, everything again from the first byte. */
	struct seg *s = expect_seg(1000);
	int64_t t1 = loop_now_ms();
	cr_assert_geq(t1 - t0, RTO_MS - 10, "retransmitted after %lld ms", (long long)(t1 - t0));
	cr_assert_leq(t1 - t0, 2 * RTO_MS, "retransmitted after %lld ms", (long long)(t1 - t0));
	check_data(s, c.rcv, data, MSS, c.snd);
	expect_stream(c.rcv + MSS, data + MSS, 3000 - MSS, c.snd, 100);

	/* Lost again: the second timeout is twice as long. */
	s = expect_seg(2000);
	int64_t t2 = loop_now_ms();
	cr_assert_geq(t2 - t1, 2 * RTO_MS - 10, "backed off only %lld ms", (long long)(t2 - t1));
	check_data(s, c.rcv, data, MSS, c.snd);
	expect_stream(c.rcv + MSS, data + MSS, 3000 - MSS, c.snd, 100);

	/* The first segment arrives: the rest is resent after a fresh (not doubled) RTO. */
	guest_ack(&c, c.rcv + MSS);
	expect_none_now("a partial ACK alone sends nothing");
	int64_t t3 = loop_now_ms();
	s = expect_seg(2000);
	int64_t t4 = loop_now_ms();
	cr_assert_geq(t4 - t3, RTO_MS - 10, "retransmitted after %lld ms", (long long)(t4 - t3));
	cr_assert_leq(t4 - t3, 2 * RTO_MS - 50, "RTO not reset by the ACK (%lld ms)",
	              (long long)(t4 - t3));
	check_data(s, c.rcv, data + MSS, MSS, c.snd);
	expect_stream(c.rcv + MSS, data + 2 * MSS, 3000 - 2 * MSS, c.snd, 100);

	/* Everything acknowledged: no more retransmissions; new bytes follow on. */
	guest_ack(&c, c.rcv + 3000 - MSS);
	expect_quiet(RTO_MS + 100, "after everything was acknowledged");
	host_write(c.host, data + 3000, 500);
	check_data(expect_seg(500), c.rcv, data + 3000, 500, c.snd);
	close(c.host);
	close(lfd);
}

Test(tcpout, fast_retransmit_on_three_duplicate_acks)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40005, 9000, true, 65535);
	uint8_t *data = pattern(0, 5 * MSS);
	host_write(c.host, data, 5 * MSS);
	expect_stream(c.rcv, data, 5 * MSS, c.snd, 500);

	/* The second frame is lost: the guest ACKs the first, then once per later frame. */
	uint32_t una = c.rcv + MSS;
	guest_ack(&c, una);
	expect_none_now("new ACK");
	guest_ack(&c, una);
	expect_none_now("first duplicate ACK");
	guest_ack(&c, una);
	expect_none_now("second duplicate ACK");
	guest_ack(&c, una);
	/* The third: at once (long before the RTO), everything from the hole on. */
	expect_stream(una, data + MSS, 4 * MSS, c.snd, 0);
	expect_none_now("one retransmission");
	guest_ack(&c, una);
	expect_none_now("a fourth duplicate ACK must not resend again");

	guest_ack(&c, una + 4 * MSS);
	expect_quiet(RTO_MS + 100, "after everything was acknowledged");
	close(c.host);
	close(lfd);
}

/*
 * Regression test for a bug found and fixed in tcpout.c (establish()/guest_ack()): the handshake's
 * ACK is counted as a duplicate ACK when the host has spoken first. establish() sets snd_una = iss
 * + 1 before guest_ack() sees that same segment, and send_data() has just put the host's bytes in
 * flight, so the ACK that acknowledged our SYN looks like a pure ACK that acknowledges nothing:
 * dupacks = 1. The fast retransmit then fires on the second real duplicate ACK instead of the
 * third.
 */
Test(tcpout, handshake_ack_is_not_a_duplicate_ack)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	memset(&c, 0, sizeof(c));
	outbound_flow(&c.fl, 40006, port);
	cr_assert(send_syn(&c.fl, 100, true));
	struct seg *s = expect_synack(&c.fl, 100, true);
	c.iss = s->seq;
	c.rcv = s->seq + 1;
	c.snd = 101;
	c.win = 65535;
	c.host = host_accept(lfd, 1000);
	/* The host speaks first (a banner), before the handshake's last ACK. */
	uint8_t *data = pattern(0, 3 * MSS);
	host_write(c.host, data, 3 * MSS);
	host_wait_delivered(c.host);
	/* The loop sees the bytes' edge while the handshake is not done: it must not be lost. */
	round1();
	cr_assert(gsend(&c.fl, TH_ACK, c.snd, c.rcv, c.win, NULL, 0));
	/* The host's bytes go out with the handshake's ACK: no later edge would bring them. */
	collect();
	cr_assert(!g_queue_is_empty(&rx), "the banner was not sent on the handshake's ACK");
	expect_stream(c.rcv, data, 3 * MSS, c.snd, 500);
	/* The first frame is lost: two duplicate ACKs (one per later frame) are not three. */
	guest_ack(&c, c.rcv);
	expect_none_now("first duplicate ACK");
	guest_ack(&c, c.rcv);
	expect_none_now("second duplicate ACK (the handshake's ACK was counted as one)");
	guest_ack(&c, c.rcv);
	expect_stream(c.rcv, data, 3 * MSS, c.snd, 0);
	close(c.host);
	close(lfd);
}

Test(tcpout, zero_window_probe_and_resumption)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	/* The guest offers only 1000 bytes. */
	guest_connect(&c, lfd, port, 40007, 11000, true, 1000);
	uint8_t *data = pattern(0, 3000);
	host_write(c.host, data, 3000);
	check_data(expect_seg(500), c.rcv, data, 1000, c.snd);
	expect_quiet(20, "the window is full");

	/* The guest takes the 1000 bytes and closes its window. */
	c.win = 0;
	guest_ack(&c, c.rcv + 1000);
	expect_none_now("zero window");
	int64_t t0 = loop_now_ms();
	struct seg *s = expect_seg(1000);
	int64_t t1 = loop_now_ms();
	/* The probe: an ACK with an old sequence number, no data. */
	cr_assert_eq(s->flags, TH_ACK);
	cr_assert_eq(s->len, 0);
	cr_assert_eq(s->seq, c.rcv - 1, "probe seq %u, expected %u", s->seq, c.rcv - 1);
	cr_assert_eq(s->ack, c.snd);
	cr_assert_geq(t1 - t0, RTO_MS - 10, "probe after %lld ms", (long long)(t1 - t0));
	cr_assert_leq(t1 - t0, 2 * RTO_MS, "probe after %lld ms", (long long)(t1 - t0));
	guest_ack(&c, c.rcv); /* the guest's answer: still zero */
	expect_none_now("the answer to a probe");

	/* The window opens: the rest goes at once, in order. */
	c.win = 65535;
	guest_ack(&c, c.rcv);
	expect_stream(c.rcv, data + 1000, 2000, c.snd, 0);
	guest_ack(&c, c.rcv + 2000);
	expect_quiet(2 * RTO_MS + 100, "no probes once the window is open");
	close(c.host);
	close(lfd);
}

/*
 * Regression test for a bug found and fixed in tcpout.c (guest_ack()/timer_update()): when the
 * window opens after zero-window probes, the bytes sent then get no retransmission timer of their
 * own: timer_update() keeps the pending probe deadline (already backed off: 800 ms after two
 * probes, up to 10 s after more), and rto_ms keeps the probes' backoff. Linux clears the probe
 * timer and its backoff when the window opens (tcp_ack_probe()). A frame lost right after the
 * window opens is resent only when the old probe deadline comes, and later losses back off from
 * there.
 */
Test(tcpout, loss_after_zero_window_is_resent_after_a_fresh_rto)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40020, 37000, true, 1000);
	uint8_t *data = pattern(0, 3000);
	host_write(c.host, data, 3000);
	check_data(expect_seg(500), c.rcv, data, 1000, c.snd);
	c.win = 0;
	guest_ack(&c, c.rcv + 1000);
	/* Two probes (200 ms, then 400 ms later), each answered with a zero window. */
	for (int i = 0; i < 2; i++) {
		struct seg *s = expect_seg(1000);
		cr_assert_eq(s->seq, c.rcv - 1, "expected a window probe");
		guest_ack(&c, c.rcv);
	}
	/* The window opens; the 2000 bytes sent then are lost. */
	c.win = 65535;
	guest_ack(&c, c.rcv);
	int64_t t0 = loop_now_ms();
	expect_stream(c.rcv, data + 1000, 2000, c.snd, 0);
	struct seg *s = expect_seg(2000);
	int64_t t1 = loop_now_ms();
	check_data(s, c.rcv, data + 1000, MSS, c.snd);
	cr_assert_leq(t1 - t0, 2 * RTO_MS,
	              "bytes lost after the window opened were resent only after %lld ms",
	              (long long)(t1 - t0));
	close(c.host);
	close(lfd);
}

/*
 * The guest sends while the host does not read: the host socket's buffers fill, then the
 * stash, and the window closes. Batches of 1 to 5 full segments, each acknowledged at its
 * end. Returns the bytes sent; *shrink is the most the window's right edge ever moved back.
 * stream holds at least limit bytes from offset 0 = c->snd.
 */
static size_t fill_window(struct tconn *c, const uint8_t *stream, size_t limit, bool wscale,
                          uint32_t *shrink)
{
	uint32_t base = c->snd;
	uint32_t edge = c->snd + 65535; /* the SYN-ACK's window (never scaled) */
	*shrink = 0;
	for (unsigned round = 0;; round++) {
		cr_assert_lt((size_t)(c->snd - base), limit, "the window never closed");
		for (unsigned i = 0; i < 1 + round % 5 && SEQ_LT(c->snd, edge); i++) {
			size_t n = MIN(MSS, edge - c->snd);
			cr_assert(feed(&c->fl, TH_ACK, c->snd, c->rcv, c->win,
			               stream + (c->snd - base), n));
			c->snd += (uint32_t)n;
		}
		tcpout_flush(to);
		struct seg *s = sent_now();
		if (s == NULL)
			s = expect_seg(100); /* a delayed ACK (no stash yet) */
		for (; s != NULL; s = sent_now()) {
			cr_assert_eq(s->flags, TH_ACK);
			cr_assert_eq(s->len, 0);
			cr_assert_eq(s->ack, c->snd, "tcpout took %u of %u bytes", s->ack - base,
			             c->snd - base);
			uint32_t e = s->ack + ((uint32_t)s->win << (wscale ? WSCALE : 0));
			if (SEQ_LT(e, edge) && edge - e > *shrink)
				*shrink = edge - e;
			edge = e;
		}
		if (edge == c->snd)
			return c->snd - base;
	}
}

/* The most the guest sends before the window must have closed (the tests give the host a
 * small receive buffer, which keeps the socket buffers in front of the stash small). */
#define FILL_LIMIT (16u << 20)

Test(tcpout, stash_fills_window_closes_and_reopens)
{
	uint16_t port;
	int lfd = host_listener(&port, 4096);
	struct tconn c;
	guest_connect(&c, lfd, port, 40008, 13000, true, 65535);
	uint8_t *stream = pattern(0, FILL_LIMIT + 200000);
	uint32_t base = c.snd, shrink;
	size_t sent = fill_window(&c, stream, FILL_LIMIT, true, &shrink);
	cr_assert_geq(sent, STASH_CAP - (1u << WSCALE), "window closed after %zu bytes", sent);
	size_t total = sent + 200000; /* the whole stream: 200 KB more after the window opens */
	cr_assert_lt(shrink, 1u << WSCALE, "right edge moved back by %u bytes", shrink);

	/* A probe past the zero window: answered with the same zero window. The stash may
	 * still have room for the byte (less than one window unit is never advertised). */
	cr_assert(gsend(&c.fl, TH_ACK, c.snd, c.rcv, c.win, stream + (c.snd - base), 1));
	struct seg *s = sent_now();
	cr_assert_not_null(s, "no answer to a zero-window probe");
	cr_assert_eq(s->win, 0);
	cr_assert(s->ack == c.snd || s->ack == c.snd + 1, "probe acknowledged as %u of %u",
	          s->ack - base, c.snd - base);
	c.snd = s->ack;
	expect_quiet(50, "the host does not read");

	/* The host reads (now with a larger buffer): the stash drains and a window update comes
	 * without the guest sending anything. */
	int rcvbuf = 1 << 20;
	setsockopt(c.host, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	uint8_t *got = test_alloc(total);
	size_t have = 0;
	int64_t end = loop_now_ms() + 2000;
	for (s = NULL; s == NULL;) {
		ssize_t n = recv(c.host, got + have, total - have, MSG_DONTWAIT);
		if (n > 0)
			have += (size_t)n;
		cr_assert(loop_now_ms() < end, "no window update (host read %zu bytes)", have);
		round1();
		s = keep(g_queue_pop_head(&rx));
	}
	cr_assert_eq(s->flags, TH_ACK);
	cr_assert_eq(s->ack, c.snd);
	cr_assert_gt(s->win, 0, "window update with a zero window");
	uint32_t edge = s->ack + ((uint32_t)s->win << WSCALE);

	/* The rest of the stream, window by window, while the host reads. */
	end = loop_now_ms() + 5000;
	while (have < total) {
		for (int i = 0; i < 32 && SEQ_LT(c.snd, edge) && c.snd - base < total; i++) {
			size_t n = MIN(MIN(MSS, edge - c.snd), total - (c.snd - base));
			cr_assert(
			    feed(&c.fl, TH_ACK, c.snd, c.rcv, c.win, stream + (c.snd - base), n));
			c.snd += (uint32_t)n;
		}
		tcpout_flush(to);
		round1();
		for (s = keep(g_queue_pop_head(&rx)); s != NULL; s = keep(g_queue_pop_head(&rx)))
			edge = s->ack + ((uint32_t)s->win << WSCALE);
		ssize_t n = recv(c.host, got + have, total - have, MSG_DONTWAIT);
		if (n > 0)
			have += (size_t)n;
		cr_assert(loop_now_ms() < end, "host read %zu of %zu bytes", have, total);
	}
	cr_assert_eq(c.snd - base, total);
	cr_assert_arr_eq(got, stream, total, "the host's bytes differ from the guest's");
	host_expect_nothing(c.host);
	close(c.host);
	close(lfd);
}

/*
 * Regression test for a bug found and fixed in tcpout.c (rcv_window()): with window scaling, the
 * advertised window is rounded down to a multiple of 128 bytes each time, so as the stash fills the
 * window's right edge moves back by up to 127 bytes (RFC 9293 3.8.6.2.2: a receiver SHOULD NOT
 * shrink the window; the header comment promises "the right edge of the window never moves back";
 * Linux rounds up instead, see tcp_select_window()). Harmless for the bytes (take_data() accepts up
 * to the real room), but the guest sees its window shrink.
 */
Test(tcpout, window_right_edge_never_moves_back)
{
	uint16_t port;
	int lfd = host_listener(&port, 4096);
	struct tconn c;
	guest_connect(&c, lfd, port, 40009, 15000, true, 65535);
	uint8_t *stream = pattern(0, FILL_LIMIT);
	uint32_t shrink;
	fill_window(&c, stream, FILL_LIMIT, true, &shrink);
	cr_assert_eq(shrink, 0, "the window's right edge moved back by %u bytes", shrink);
	close(c.host);
	close(lfd);
}

/*
 * Regression test for a bug found and fixed in tcpout.c (stash_flush()): without window scaling the
 * window update is never sent unless the window was exactly 0: the "worth it" threshold is
 * (STASH_CAP / 4) >> 0 = 128 KiB, more than the largest window a 16-bit field can advertise
 * (65535). A guest left with a small non-zero window (less than an MSS) does not send into it
 * (sender-side silly window avoidance) and waits for its persist timer (>= 200 ms) after the host
 * has drained the stash.
 */
Test(tcpout, window_update_after_drain_without_scaling)
{
	uint16_t port;
	int lfd = host_listener(&port, 4096);
	struct tconn c;
	guest_connect(&c, lfd, port, 40010, 17000, false, 65535);
	uint8_t *stream = pattern(0, FILL_LIMIT);
	uint32_t base = c.snd;
	/* Fill until the window is below 65535, then leave exactly 100 bytes of it. */
	uint32_t edge = c.snd + 65535;
	uint16_t win = 65535;
	while (win > 100) {
		cr_assert_lt((size_t)(c.snd - base), FILL_LIMIT - 65536);
		uint32_t stop = win == 65535 ? edge : edge - 100;
		for (int i = 0; i < 32 && SEQ_LT(c.snd, stop); i++) {
			size_t n = MIN(MSS, stop - c.snd);
			cr_assert(
			    feed(&c.fl, TH_ACK, c.snd, c.rcv, c.win, stream + (c.snd - base), n));
			c.snd += (uint32_t)n;
		}
		tcpout_flush(to);
		struct seg *s = sent_now();
		if (s == NULL)
			s = expect_seg(100);
		for (; s != NULL; s = sent_now()) {
			cr_assert_eq(s->ack, c.snd);
			edge = s->ack + s->win;
			win = s->win;
		}
	}
	cr_assert_eq(win, 100);

	/* The host reads everything: the window must open again by itself. */
	size_t total = c.snd - base;
	uint8_t *got = test_alloc(total);
	host_read(c.host, got, total, 3000);
	cr_assert_arr_eq(got, stream, total);
	struct seg *s = next_seg(RTO_MS);
	cr_assert_not_null(s, "no window update after the host drained the stash (window 100)");
	cr_assert_eq(s->ack, c.snd);
	cr_assert_gt(s->win, 100);
	close(c.host);
	close(lfd);
}

Test(tcpout, syn_repeated_and_synack_retransmitted)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct flow fl;
	outbound_flow(&fl, 40011, port);
	cr_assert(send_syn(&fl, 21000, true));
	struct seg *s = expect_synack(&fl, 21000, true);
	int64_t t0 = loop_now_ms(); /* the SYN-ACK's retransmission timer runs from here */
	uint32_t iss = s->seq;
	int host = host_accept(lfd, 1000);

	/* The guest repeats its SYN (our SYN-ACK was lost): the same SYN-ACK again, at once. */
	cr_assert(send_syn(&fl, 21000, true));
	s = sent_now();
	cr_assert_not_null(s, "no SYN-ACK for a repeated SYN");
	cr_assert_eq(s->flags, TH_SYN | TH_ACK);
	cr_assert_eq(s->seq, iss);
	cr_assert_eq(s->ack, 21001);

	/* Still no ACK: the SYN-ACK is retransmitted after the RTO. */
	s = expect_seg(1000);
	int64_t t1 = loop_now_ms();
	cr_assert_eq(s->flags, TH_SYN | TH_ACK);
	cr_assert_eq(s->seq, iss);
	cr_assert_geq(t1 - t0, RTO_MS - 10, "SYN-ACK resent after %lld ms", (long long)(t1 - t0));

	/* The handshake completes with data on its last ACK. */
	cr_assert(gsend(&fl, TH_ACK | TH_PSH, 21001, iss + 1, 65535, "abc", 3));
	uint8_t buf[3];
	host_read(host, buf, 3, 500);
	cr_assert_arr_eq(buf, "abc", 3);
	cr_assert_eq(tcpout_stats(to).total, 1, "the repeated SYN opened a second connection");
	s = expect_seg(100); /* the delayed ACK of "abc" */
	cr_assert_eq(s->flags, TH_ACK);
	cr_assert_eq(s->ack, 21004);
	expect_quiet(RTO_MS + 50, "the handshake is complete");
	close(host);
	close(lfd);
}

Test(tcpout, reused_port_with_new_isn_replaces_the_connection)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40012, 23000, true, 65535);
	guest_data(&c, "old", 3);
	uint8_t buf[3];
	host_read(c.host, buf, 3, 500);

	/* The same 4-tuple, a new ISN: the old connection is aborted on the host side (no RST to
	 * the guest: it has moved on), and the new one opens at once. */
	uint32_t isn2 = 0x80000000u;
	cr_assert(send_syn(&c.fl, isn2, true));
	struct seg *s = next_seg(1000);
	cr_assert_not_null(s);
	cr_assert_eq(s->flags, TH_SYN | TH_ACK, "expected the new SYN-ACK, got flags 0x%02x",
	             s->flags);
	cr_assert_eq(s->ack, isn2 + 1);
	host_expect_end(c.host, ECONNRESET, 500);
	close(c.host);

	struct tconn c2 = c;
	c2.iss = s->seq;
	c2.rcv = s->seq + 1;
	c2.snd = isn2 + 1;
	c2.host = host_accept(lfd, 1000);
	cr_assert(gsend(&c2.fl, TH_ACK, c2.snd, c2.rcv, c2.win, NULL, 0));
	guest_data(&c2, "new", 3);
	host_read(c2.host, buf, 3, 500);
	cr_assert_arr_eq(buf, "new", 3);
	struct tcpout_stats st = tcpout_stats(to);
	cr_assert_eq(st.total, 2);
	cr_assert_eq(st.active, 1);
	close(c2.host);
	close(lfd);
}

Test(tcpout, rst_from_guest_resets_host)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40013, 25000, true, 65535);
	guest_data(&c, "x", 1);
	cr_assert(gsend(&c.fl, TH_RST, c.snd, 0, 0, NULL, 0));
	expect_none_now("nothing answers a RST");
	char b;
	host_read(c.host, (uint8_t *)&b, 1, 500);
	host_expect_end(c.host, ECONNRESET, 500);
	cr_assert_eq(tcpout_stats(to).active, 0);
	/* The connection is forgotten: its next segment is not ours. */
	cr_assert(!gsend(&c.fl, TH_ACK, c.snd, c.rcv, c.win, NULL, 0));
	expect_quiet(20, "after the RST");
	close(c.host);
	close(lfd);
}

Test(tcpout, rst_from_host_resets_guest)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40014, 27000, true, 65535);
	guest_data(&c, "abc", 3);
	uint8_t buf[3];
	host_read(c.host, buf, 3, 500);
	struct seg *s = expect_seg(100); /* the delayed ACK */
	cr_assert_eq(s->ack, c.snd);
	host_write(c.host, "xyz", 3);
	check_data(expect_seg(500), c.rcv, (const uint8_t *)"xyz", 3, c.snd);
	c.rcv += 3; /* not acknowledged by the guest: snd_nxt is past it */

	host_abort(c.host);
	s = expect_seg(500);
	cr_assert_eq(s->flags, TH_RST | TH_ACK, "expected RST, got flags 0x%02x", s->flags);
	cr_assert_eq(s->seq, c.rcv, "RST seq %u, expected %u", s->seq, c.rcv);
	cr_assert_eq(s->ack, c.snd);
	cr_assert_eq(tcpout_stats(to).active, 0);
	expect_quiet(RTO_MS + 50, "after the RST");
	close(lfd);
}

/*
 * The host sends bytes and then aborts (a reset), both before tcpout reads: the socket then
 * reports EPOLLRDHUP with EPOLLERR, and a short read there is no end of file (fin_follows()).
 * The guest must never get a FIN, or a cut-off answer would look complete: a RST, after the
 * bytes if they were read (today sock_event() resets at once on EPOLLERR and drops them).
 */
Test(tcpout, host_data_then_reset_is_not_a_clean_end)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40033, 55000, true, 65535);
	host_write(c.host, "cut", 3);
	host_wait_delivered(c.host);
	host_abort(c.host);
	usleep(20000); /* the RST too, before tcpout looks */
	struct seg *s = expect_seg(500);
	if (s->len > 0) {
		check_data(s, c.rcv, (const uint8_t *)"cut", 3, c.snd);
		c.rcv += 3;
		s = expect_seg(500);
	}
	cr_assert_eq(s->flags & (TH_RST | TH_FIN), TH_RST, "expected RST, got flags 0x%02x",
	             s->flags);
	cr_assert_eq(s->seq, c.rcv);
	cr_assert_eq(tcpout_stats(to).active, 0);
	close(lfd);
}

Test(tcpout, refused_connect_answers_rst)
{
	struct flow fl;
	outbound_flow(&fl, 40015, closed_port());
	cr_assert(send_syn(&fl, 0xfffffffeu, true), "a SYN to 10.0.2.2 is tcpout's");
	struct seg *s = expect_seg(1000);
	cr_assert_eq(s->flags, TH_RST | TH_ACK);
	cr_assert_eq(s->ack, 0xffffffffu);
	cr_assert_eq(s->sport, fl.fport);
	cr_assert_eq(s->dport, fl.gport);
	struct tcpout_stats st = tcpout_stats(to);
	cr_assert_eq(st.active, 0);
	expect_quiet(RTO_MS + 50, "after the refusal");
}

/*
 * The host closes first: its bytes and then our FIN, which the guest acknowledges; the guest
 * still sends (half-close) and the host reads it.
 */
static void host_closes_first(struct tconn *c)
{
	host_write(c->host, "bye", 3);
	cr_assert_eq(shutdown(c->host, SHUT_WR), 0);
	uint32_t fin_seq = expect_data_then_fin(c->rcv, (const uint8_t *)"bye", 3, c->snd);
	guest_ack(c, fin_seq + 1);
	expect_none_now("the ACK of our FIN");

	guest_data(c, "more", 4);
	uint8_t buf[4];
	host_read(c->host, buf, 4, 500);
	cr_assert_arr_eq(buf, "more", 4);
	struct seg *s = expect_seg(100); /* the delayed ACK of "more" */
	cr_assert_eq(s->flags, TH_ACK);
	cr_assert_eq(s->ack, c->snd);
	cr_assert_eq(tcpout_stats(to).active, 1);
}

Test(tcpout, host_closes_first_then_guest)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40016, 29000, true, 65535);
	host_closes_first(&c);
	/* The guest's FIN: EOF on the host, and the connection is done. */
	cr_assert(gsend(&c.fl, TH_FIN | TH_ACK, c.snd, c.rcv, c.win, NULL, 0));
	host_expect_end(c.host, 0, 500);
	cr_assert_eq(tcpout_stats(to).active, 0);
	close(c.host);
	close(lfd);
}

/*
 * Small answers are read out of the host socket and kept in memory until acknowledged
 * (read_host()), larger ones stay in the socket: a retransmission must send the same bytes
 * either way, a copy followed by the socket's queue must join without a gap or a repeat, and
 * the kept bytes count as buffered until the guest acknowledges them.
 */
Test(tcpout, small_answers_kept_in_memory_until_acknowledged)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40032, 54000, true, 65535);
	uint8_t *data = pattern(7, 100 + 3 * MSS);
	host_write(c.host, data, 100);
	check_data(expect_seg(500), c.rcv, data, 100, c.snd);
	cr_assert_eq(tcpout_stats(to).buffered, 100);
	/* Lost: the timeout sends the same 100 bytes again, from memory. */
	check_data(expect_seg(RTO_MS + 300), c.rcv, data, 100, c.snd);
	/* More while those are unacknowledged: from the socket, right after them. */
	host_write(c.host, data + 100, 3 * MSS);
	expect_stream(c.rcv + 100, data + 100, 3 * MSS, c.snd, 500);
	/* All lost again: resent from memory and then the socket, as whole segments. */
	guest_ack(&c, c.rcv);
	guest_ack(&c, c.rcv);
	guest_ack(&c, c.rcv);
	expect_stream(c.rcv, data, 100 + 3 * MSS, c.snd, 0);
	guest_ack(&c, c.rcv + 100 + 3 * MSS);
	cr_assert_eq(tcpout_stats(to).buffered, 0);
	/* The next answer after everything was acknowledged. */
	host_write(c.host, "next", 4);
	check_data(expect_seg(500), c.rcv, (const uint8_t *)"next", 4, c.snd);
	guest_ack(&c, c.rcv + 4);
	expect_quiet(RTO_MS + 100, "after everything was acknowledged");
	cr_assert_eq(tcpout_stats(to).buffered, 0);
	close(c.host);
	close(lfd);
}

/*
 * A host that answers and closes (HTTP with "Connection: close"): when its bytes and its FIN
 * are both there as tcpout reads, the FIN rides on the data segment, one frame instead of
 * two. Lost, the segment is sent again the same way; the guest's ACK of both, then its own
 * FIN, end the connection.
 */
Test(tcpout, fin_rides_on_the_last_data)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40031, 53000, true, 65535);
	host_write(c.host, "bye", 3);
	cr_assert_eq(shutdown(c.host, SHUT_WR), 0);
	host_wait_delivered(c.host);
	usleep(20000);                            /* the FIN too */
	for (int round = 0; round < 2; round++) { /* sent, then (not acknowledged) resent */
		struct seg *s = expect_seg(round == 0 ? 500 : RTO_MS + 300);
		cr_assert_eq(s->flags & (TH_SYN | TH_RST | TH_FIN | TH_ACK), TH_FIN | TH_ACK,
		             "round %d: flags 0x%02x, not data with FIN", round, s->flags);
		cr_assert_eq(s->seq, c.rcv);
		cr_assert_eq(s->len, 3);
		cr_assert_arr_eq(s->data, "bye", 3);
		expect_none_now("a FIN of its own");
	}
	guest_ack(&c, c.rcv + 4);
	expect_none_now("the ACK of the data and FIN");
	cr_assert(gsend(&c.fl, TH_FIN | TH_ACK, c.snd, c.rcv, c.win, NULL, 0));
	struct seg *s = sent_now();
	cr_assert_not_null(s, "the guest's FIN was not acknowledged");
	cr_assert_eq(s->flags, TH_ACK);
	cr_assert_eq(s->ack, c.snd + 1);
	host_expect_end(c.host, 0, 500);
	cr_assert_eq(tcpout_stats(to).active, 0);
	close(c.host);
	close(lfd);
}

/*
 * Regression test for a bug found and fixed in tcpout.c (guest_data() then conn_settle()): when the
 * guest's FIN is the last thing the connection waits for (the host closed first and the guest has
 * acknowledged our FIN), the FIN's ACK is queued by ack_data(), but conn_settle() finds the
 * connection done and conn_free_now() takes it off the ACK list: the FIN is never acknowledged. The
 * guest stays in LAST_ACK, retransmits its FIN after its RTO, and that FIN, matching no connection
 * of tcpout's, goes to libslirp, which answers with a RST.
 */
Test(tcpout, last_fin_from_guest_is_acknowledged)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40019, 35000, true, 65535);
	host_closes_first(&c);
	cr_assert(gsend(&c.fl, TH_FIN | TH_ACK, c.snd, c.rcv, c.win, NULL, 0));
	struct seg *s = sent_now();
	cr_assert_not_null(s, "the guest's FIN (the last segment) was never acknowledged");
	cr_assert_eq(s->flags, TH_ACK);
	cr_assert_eq(s->seq, c.rcv);
	cr_assert_eq(s->ack, c.snd + 1);
	close(c.host);
	close(lfd);
}

Test(tcpout, guest_closes_first_and_fin_is_retransmitted)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40017, 31000, true, 65535);
	cr_assert(gsend(&c.fl, TH_FIN | TH_ACK, c.snd, c.rcv, c.win, NULL, 0));
	c.snd++;
	struct seg *s = sent_now();
	cr_assert_not_null(s);
	cr_assert_eq(s->ack, c.snd);
	host_expect_end(c.host, 0, 500);
	/* Our ACK was lost: the guest repeats its FIN, we acknowledge it again. */
	cr_assert(gsend(&c.fl, TH_FIN | TH_ACK, c.snd - 1, c.rcv, c.win, NULL, 0));
	s = sent_now();
	cr_assert_not_null(s, "a repeated FIN is acknowledged again");
	cr_assert_eq(s->ack, c.snd);

	/* The host closes too: our FIN, lost once and retransmitted. */
	close(c.host);
	s = expect_seg(500);
	cr_assert_eq(s->flags, TH_FIN | TH_ACK);
	cr_assert_eq(s->seq, c.rcv);
	s = expect_seg(1000);
	cr_assert_eq(s->flags, TH_FIN | TH_ACK, "FIN not retransmitted (flags 0x%02x)", s->flags);
	cr_assert_eq(s->seq, c.rcv);
	guest_ack(&c, c.rcv + 1);
	cr_assert_eq(tcpout_stats(to).active, 0);
	expect_quiet(RTO_MS + 50, "after the close");
	close(lfd);
}

/* A forwarded client for tcpout_take(): a connected pair on 127.0.0.1. */
static void client_pair(int *client, int *accepted)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*accepted = host_accept(lfd, 1000);
	*client = fd;
	close(lfd);
}

/* The remote client 192.0.2.7:5555 and the guest's service 10.0.2.100:8080. */
static void take_addresses(struct sockaddr_in *peer, struct sockaddr_in *guest, struct flow *fl)
{
	*peer = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(5555)};
	inet_pton(AF_INET, "192.0.2.7", &peer->sin_addr);
	*guest = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(8080)};
	memcpy(&guest->sin_addr, guest_ip, 4);
	memcpy(fl->gaddr, guest_ip, 4);
	fl->gport = 8080;
	memcpy(fl->faddr, &peer->sin_addr, 4);
	fl->fport = 5555;
}

/* Hand a client to tcpout; returns tcpout's SYN (checked). */
static struct seg *take_client(int accepted, const struct sockaddr_in *peer,
                               const struct sockaddr_in *guest, const struct flow *fl)
{
	cr_assert(tcpout_take(to, accepted, (const struct sockaddr *)peer,
	                      (const struct sockaddr *)guest));
	struct seg *s = sent_now();
	cr_assert_not_null(s, "no SYN to the guest");
	cr_assert_eq(s->flags, TH_SYN);
	cr_assert_arr_eq(s->saddr, fl->faddr, 4);
	cr_assert_arr_eq(s->daddr, fl->gaddr, 4);
	cr_assert_eq(s->sport, 5555);
	cr_assert_eq(s->dport, 8080);
	cr_assert_eq(s->mss, MSS);
	cr_assert_eq(s->wscale, WSCALE);
	cr_assert_eq(s->ack, 0);
	cr_assert_eq(s->len, 0);
	return s;
}

Test(tcpout, take_active_open_and_data)
{
	struct sockaddr_in peer, guest;
	struct flow fl;
	take_addresses(&peer, &guest, &fl);
	int client, accepted;
	client_pair(&client, &accepted);

	/* Until the guest has sent a frame, its MAC is unknown: not taken. */
	cr_assert(!tcpout_take(to, accepted, (struct sockaddr *)&peer, (struct sockaddr *)&guest));
	expect_none_now("not taken");
	guest_says_hello();
	/* Mismatched families: not taken. */
	struct sockaddr_in6 peer6 = {.sin6_family = AF_INET6, .sin6_port = htons(5555)};
	cr_assert(!tcpout_take(to, accepted, (struct sockaddr *)&peer6, (struct sockaddr *)&guest));

	struct seg *s = take_client(accepted, &peer, &guest, &fl);
	uint32_t iss = s->seq;
	cr_assert_eq(s->win, 65535);
	/* The same 4-tuple again: not taken (the caller keeps the client). */
	int c2, a2;
	client_pair(&c2, &a2);
	cr_assert(!tcpout_take(to, a2, (struct sockaddr *)&peer, (struct sockaddr *)&guest));
	close(c2);
	close(a2);

	/* The guest does not answer: the SYN is sent again after the RTO. */
	int64_t t0 = loop_now_ms();
	s = expect_seg(1000);
	cr_assert_eq(s->flags, TH_SYN);
	cr_assert_eq(s->seq, iss);
	cr_assert_geq(loop_now_ms() - t0, RTO_MS - 10);

	/* The guest's SYN-ACK (window scale 2, MSS 1000): tcpout ACKs, window scaled by 7. */
	static const uint8_t opts[8] = {2, 4, 1000 >> 8, 1000 & 0xff, 1, 3, 3, 2};
	uint32_t gisn = 0xabcdef00u;
	cr_assert(feed_opts(&fl, TH_SYN | TH_ACK, gisn, iss + 1, 65535, NULL, 0, opts, 8));
	tcpout_flush(to);
	s = sent_now();
	cr_assert_not_null(s, "no ACK for the guest's SYN-ACK");
	cr_assert_eq(s->flags, TH_ACK);
	cr_assert_eq(s->seq, iss + 1);
	cr_assert_eq(s->ack, gisn + 1);
	cr_assert_eq(s->win, STASH_CAP >> WSCALE);
	struct tcpout_stats st = tcpout_stats(to);
	cr_assert_eq(st.total_in, 1);
	cr_assert_eq(st.active_in, 1);
	cr_assert_eq(st.active, 0);

	/* The SYN-ACK again (our ACK was lost): ACKed again. */
	cr_assert(feed_opts(&fl, TH_SYN | TH_ACK, gisn, iss + 1, 65535, NULL, 0, opts, 8));
	tcpout_flush(to);
	s = sent_now();
	cr_assert_not_null(s, "no ACK for a repeated SYN-ACK");
	cr_assert_eq(s->ack, gisn + 1);

	/* Client -> guest, in segments of the guest's MSS (1000). */
	struct tconn c = {.fl = fl, .host = client, .iss = iss, .snd = gisn + 1, .rcv = iss + 1};
	c.win = 65535; /* scaled by 2 on the guest's side: 256 KiB */
	uint8_t *data = pattern(0, 2500);
	host_write(client, data, 2500);
	for (size_t off = 0; off < 2500; off += 1000)
		check_data(expect_seg(500), c.rcv + (uint32_t)off, data + off,
		           MIN(1000, 2500 - off), c.snd);
	guest_ack(&c, c.rcv + 2500);

	/* Guest -> client. */
	guest_data(&c, "world", 5);
	uint8_t buf[5];
	host_read(client, buf, 5, 500);
	cr_assert_arr_eq(buf, "world", 5);

	/* The guest resets: the client sees ECONNRESET. */
	cr_assert(gsend(&fl, TH_RST | TH_ACK, c.snd, c.rcv, 0, NULL, 0));
	host_expect_end(client, ECONNRESET, 500);
	cr_assert_eq(tcpout_stats(to).active_in, 0);
	close(client);
}

Test(tcpout, take_refused_by_closed_guest_port)
{
	struct sockaddr_in peer, guest;
	struct flow fl;
	take_addresses(&peer, &guest, &fl);
	guest_says_hello();
	int client, accepted;
	client_pair(&client, &accepted);
	host_write(client, "early", 5); /* the client may speak before the guest answers */
	struct seg *s = take_client(accepted, &peer, &guest, &fl);
	/* The guest's kernel: nothing listens on 8080. */
	cr_assert(gsend(&fl, TH_RST | TH_ACK, 0, s->seq + 1, 0, NULL, 0));
	host_expect_end(client, ECONNRESET, 500);
	struct tcpout_stats st = tcpout_stats(to);
	cr_assert_eq(st.total_in, 1);
	cr_assert_eq(st.active_in, 0);
	expect_quiet(RTO_MS + 50, "no SYN retransmission after the RST");
	close(client);
}

Test(tcpout, take_client_spoke_first)
{
	struct sockaddr_in peer, guest;
	struct flow fl;
	take_addresses(&peer, &guest, &fl);
	guest_says_hello();
	int client, accepted;
	client_pair(&client, &accepted);
	host_write(client, "early", 5);
	struct seg *s = take_client(accepted, &peer, &guest, &fl);
	uint32_t iss = s->seq;
	pump(10); /* the client's bytes wait: the guest has not answered */
	describe_unexpected(keep(g_queue_pop_head(&rx)), "before the guest's SYN-ACK");
	/* The guest's SYN-ACK without window scaling: tcpout's window is unscaled then. */
	static const uint8_t opts[4] = {2, 4, MSS >> 8, MSS & 0xff};
	cr_assert(feed_opts(&fl, TH_SYN | TH_ACK, 777, iss + 1, 65535, NULL, 0, opts, 4));
	tcpout_flush(to);
	s = sent_now();
	cr_assert_not_null(s);
	cr_assert_eq(s->flags, TH_ACK);
	cr_assert_eq(s->win, 65535);
	check_data(expect_seg(500), iss + 1, (const uint8_t *)"early", 5, 778);
	close(client);
}

/* Every SYN here must go to libslirp (tcpout_input() false), with nothing sent or opened. */
static void expect_not_taken(const uint8_t dst[4], uint16_t dport, uint8_t flags, const char *what)
{
	struct flow fl;
	memcpy(fl.gaddr, guest_ip, 4);
	fl.gport = 41000;
	memcpy(fl.faddr, dst, 4);
	fl.fport = dport;
	static const uint8_t opts[4] = {2, 4, MSS >> 8, MSS & 0xff};
	cr_assert(!feed_opts(&fl, flags, 1, (flags & TH_ACK) ? 2 : 0, 65535, NULL, 0, opts, 4),
	          "tcpout took %s", what);
	tcpout_flush(to);
	expect_none_now(what);
}

Test(tcpout, segments_not_taken)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	static const uint8_t dns[4] = {10, 0, 2, 3}, other[4] = {10, 0, 2, 5},
	                     bcast[4] = {10, 0, 2, 255}, lo[4] = {127, 0, 0, 1},
	                     mcast[4] = {224, 0, 0, 1}, zero[4] = {0, 0, 0, 0};
	expect_not_taken(dns, 53, TH_SYN, "a SYN to the DNS address");
	expect_not_taken(other, port, TH_SYN, "a SYN to another address of the network");
	expect_not_taken(bcast, port, TH_SYN, "a SYN to the network's broadcast address");
	expect_not_taken(lo, port, TH_SYN, "a SYN to 127.0.0.1");
	expect_not_taken(mcast, port, TH_SYN, "a SYN to a multicast address");
	expect_not_taken(zero, port, TH_SYN, "a SYN to 0.0.0.0");
	/* Not a SYN alone, for a connection tcpout does not have. */
	expect_not_taken(gw_ip, port, TH_ACK, "an ACK for an unknown connection");
	expect_not_taken(gw_ip, port, TH_ACK | TH_PSH, "data for an unknown connection");
	expect_not_taken(gw_ip, port, TH_FIN | TH_ACK, "a FIN for an unknown connection");
	expect_not_taken(gw_ip, port, TH_RST, "a RST for an unknown connection");
	expect_not_taken(gw_ip, port, TH_SYN | TH_ACK, "a SYN-ACK for an unknown connection");
	expect_not_taken(gw_ip, port, TH_SYN | TH_FIN, "a SYN with FIN");
	expect_not_taken(gw_ip, port, TH_SYN | TH_RST, "a SYN with RST");

	/* Not a whole TCP segment: UDP, truncated, a fragment. */
	struct flow fl;
	outbound_flow(&fl, 41001, port);
	size_t n = build_seg(frame_buf, &fl, TH_SYN, 1, 0, 65535, NULL, 0, NULL, 0);
	frame_buf[14 + 9] = 17;
	cr_assert(!tcpout_input(to, frame_buf, n), "tcpout took UDP");
	n = build_seg(frame_buf, &fl, TH_SYN, 1, 0, 65535, NULL, 0, NULL, 0);
	cr_assert(!tcpout_input(to, frame_buf, n - 1), "tcpout took a truncated frame");
	frame_buf[14 + 6] |= 0x20; /* more fragments */
	cr_assert(!tcpout_input(to, frame_buf, n), "tcpout took a fragment");
	cr_assert(!tcpout_input(to, frame_buf, 10), "tcpout took a runt");
	tcpout_flush(to);

	expect_quiet(20, "nothing was taken");
	struct tcpout_stats st = tcpout_stats(to);
	cr_assert_eq(st.total, 0);
	cr_assert_eq(st.active, 0);
	cr_assert_lt(accept(lfd, NULL, NULL), 0, "tcpout connected to the host");
	close(lfd);
}

Test(tcpout, no_syn_to_gateway_with_disable_host_loopback)
{
	stop();
	start("--disable-host-loopback");
	uint16_t port;
	int lfd = host_listener(&port, 0);
	expect_not_taken(gw_ip, port, TH_SYN, "a SYN to 10.0.2.2 with --disable-host-loopback");
	expect_quiet(20, "nothing was taken");
	cr_assert_eq(tcpout_stats(to).total, 0);
	cr_assert_lt(accept(lfd, NULL, NULL), 0, "tcpout connected to the host");
	close(lfd);
}

Test(tcpout, no_syn_taken_with_outbound_fast_path_off)
{
	stop();
	start("--outbound-fast-path=off");
	uint16_t port;
	int lfd = host_listener(&port, 0);
	expect_not_taken(gw_ip, port, TH_SYN, "a SYN with --outbound-fast-path=off");
	cr_assert(!tcpout_stats(to).enabled);
	close(lfd);
}

/*
 * Regression test for a bug found and fixed in tcpout.c (tcpout_flush()): an ACK queued earlier in
 * a batch is sent at the end of the batch even when a data frame has carried it since (emit()
 * clears ack_pending, but tcpout_flush() sends for every entry of t->acks without looking at it),
 * and conn_free_now() leaves such an entry in t->acks, so a connection reset later in the same
 * batch still gets a pure ACK after it is gone.
 */
Test(tcpout, no_stale_ack_after_data_or_reset_in_one_batch)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40018, 33000, true, 1000);
	uint8_t *data = pattern(0, 3000);
	uint8_t *gdata = pattern(100, 2 * MSS);
	host_write(c.host, data, 3000);
	check_data(expect_seg(500), c.rcv, data, 1000, c.snd);

	/* One batch: two full segments (an ACK is queued), then an ACK that opens the window
	 * (the rest of the host's bytes go out, carrying the ACK). */
	cr_assert(feed(&c.fl, TH_ACK, c.snd, c.rcv, c.win, gdata, MSS));
	cr_assert(feed(&c.fl, TH_ACK, c.snd + MSS, c.rcv, c.win, gdata + MSS, MSS));
	c.snd += 2 * MSS;
	c.rcv += 1000;
	cr_assert(feed(&c.fl, TH_ACK, c.snd, c.rcv, 65535, NULL, 0));
	c.win = 65535;
	/* ... and the guest resets the connection. */
	cr_assert(feed(&c.fl, TH_RST, c.snd, 0, 0, NULL, 0));
	tcpout_flush(to);
	expect_stream(c.rcv, data + 1000, 2000, c.snd, 0);
	expect_none_now("a pure ACK after the data carried it and the connection was reset");
	uint8_t got[2 * MSS];
	host_read(c.host, got, 2 * MSS, 500);
	cr_assert_arr_eq(got, gdata, 2 * MSS);
	host_expect_end(c.host, ECONNRESET, 500);
	close(c.host);
	close(lfd);
}

/*
 * Regression test (found by outbound_fast_path.sh in CI, once in a few runs): the host answers
 * and shuts down writing before tcpout has even seen its connect() complete, so the first
 * epoll event says EPOLLOUT|EPOLLIN|EPOLLRDHUP at once, in CONNECTING. The FIN must still be
 * remembered: after the bytes, a short read ends the read only while no FIN is known, and no
 * later edge comes for a FIN that is already there. The guest must get "bye\n" and a FIN.
 */
Test(tcpout, host_answers_and_closes_before_connect_is_seen)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	memset(&c, 0, sizeof(c));
	outbound_flow(&c.fl, 40030, port);
	cr_assert(send_syn(&c.fl, 52000, true), "tcpout did not take the SYN");
	/* Accept without running the loop: tcpout has not handled its connect() yet. */
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 1000), 1, "no connection on the host listener");
	int h = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(h, 0);
	cr_assert_eq(send(h, "bye\n", 4, 0), 4);
	shutdown(h, SHUT_WR);
	usleep(20000); /* the bytes and the FIN reach tcpout's socket */
	struct seg *s = expect_synack(&c.fl, 52000, true);
	c.rcv = s->seq + 1;
	c.snd = 52001;
	cr_assert(gsend(&c.fl, TH_ACK, c.snd, c.rcv, 65535, NULL, 0));
	expect_data_then_fin(c.rcv, (const uint8_t *)"bye\n", 4, c.snd);
	close(h);
	close(lfd);
}

/*
 * Regression test (integrity_routed.sh stalled one run in four): a namespace that routes
 * for others loses segments at its tap queue, and the segments behind a hole come in one
 * batch. Each must get its own duplicate ACK at once; merged into the batch's one ACK, the
 * sender never saw three, fell back to timeouts and backed off for seconds.
 */
Test(tcpout, each_out_of_order_segment_gets_its_own_duplicate_ack)
{
	uint16_t port;
	int lfd = host_listener(&port, 0);
	struct tconn c;
	guest_connect(&c, lfd, port, 40031, 61000, true, 65535);
	uint8_t data[100];
	memset(data, 'x', sizeof(data));
	/* Three segments after a 100-byte hole, in one batch (no flush between them). */
	for (uint32_t i = 1; i <= 3; i++)
		cr_assert(feed(&c.fl, TH_ACK, c.snd + 100 * i, c.rcv, c.win, data, sizeof(data)));
	int acks = 0;
	for (struct seg *s = sent_now(); s != NULL; s = sent_now()) {
		cr_assert_eq(s->flags, TH_ACK);
		cr_assert_eq(s->ack, c.snd, "a duplicate ACK must ask for the hole");
		acks++;
	}
	cr_assert_eq(acks, 3, "%d duplicate ACKs for 3 out-of-order segments", acks);
	tcpout_flush(to);
	host_expect_nothing(c.host);
	/* The hole filled: the three kept segments follow it to the host at once. */
	uint8_t hole[100], got[400];
	memset(hole, 'h', sizeof(hole));
	cr_assert(gsend(&c.fl, TH_ACK, c.snd, c.rcv, c.win, hole, sizeof(hole)));
	host_read(c.host, got, sizeof(got), 500);
	cr_assert_arr_eq(got, hole, 100);
	cr_assert_arr_eq(got + 100, data, 100);
	cr_assert_arr_eq(got + 300, data, 100);
	struct seg *s = expect_seg(100);
	cr_assert_eq(s->ack, c.snd + 400, "ACK %u after the hole, expected %u", s->ack,
	             c.snd + 400);
	close(c.host);
	close(lfd);
}
