// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_relay.c - the byte relay between two stream sockets (src/relay.c), over real TCP.
 *
 * Each relay gets two connected TCP sockets on 127.0.0.1 whose other ends the test holds:
 * peer_a <-> a [relay] b <-> peer_b. a is accepted from a listener (as a forwarded client
 * is); b is a non-blocking connect() handed to relay_start() before its listener accepted it,
 * so it may still be connecting. The engine and loop are built as in test_tcpout.c (a
 * SOCK_SEQPACKET socketpair for the "tap") and driven one round at a time with
 * loop_run_once(); the peers act between rounds, non-blocking, and every wait is a condition
 * polled against a generous deadline (WAIT_FOR()), never a sleep taken as proof.
 *
 * What is checked: bytes arrive whole and in order both ways, in copy mode (short exchanges,
 * which must not open a pipe: /proc/self/fd is compared with what was open at setup) and
 * across the switch to splice() (a chunk that fills the 4 KiB copy buffer exactly; a
 * destination that takes only part of a small chunk, whose tail must go first; a slow reader
 * that makes the pipe fill and grow to 256 KiB). The loop must sleep, not spin, while a pipe is
 * full (of bytes, or of slots: one-byte segments) and while a hung-up socket (POLLHUP, which
 * poll() cannot mask) waits for the other side: idle_rounds() counts loop rounds, thousands in
 * 300 ms if it spins. Half-close either way (EOF passed on while the other direction still
 * carries a reply); a reset on either side (in copy mode, with a full pipe, after a
 * half-close) and a failed pipe2() reset both sides; many relays at once, and
 * relay_set_clear(); a b still connecting (its SYN dropped by a listener whose accept queue is
 * full) and a b refused. Whenever a relay ends, set.active must drop and every fd it owned
 * (a, b, its pipes) must be closed: the fd count returns to the baseline.
 */
#include "config.h"
#include "datapath.h"
#include "engine.h"
#include "loop.h"
#include "options.h"
#include "relay.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define COPY_CHUNK    4096         /* relay.c's copy buffer */
#define PIPE_GROWN    (256 * 1024) /* relay.c's RELAY_PIPE_SIZE */
#define SMALL_BUF     4096         /* SO_SNDBUF / SO_RCVBUF that make a slow path */
#define DEADLINE_MS   5000
#define BULK_MS       30000 /* 8 MiB through 4 KiB socket buffers, maybe under sanitizers */
#define BULK_LEN      (8u << 20)
#define MAX_FD        4096
#define MAX_NEW_PIPES 64
/* Loop rounds in 300 ms (each waiting at most 100 ms) that still mean "idle": a relay that
 * watched a socket it cannot serve would make poll() return at once, thousands of times. */
#define IDLE_ROUNDS 30

/* ---- the daemon's side ------------------------------------------------------------------ */

static struct options opt;
static struct datapath *dp;
static struct engine *eng;
static struct loop *lp;
static int tapfd[2] = {-1, -1};
static struct relay_set set;
static bool set_live;
static int base_fds;           /* fds open once the fixture was up (criterion's included) */
static bool base_pipe[MAX_FD]; /* which of them were pipes */
static bool progressed;        /* a peer moved bytes since the last loop round */
static GPtrArray *bufs;        /* test buffers, freed at teardown */

/* Count the fds open now; record which are pipes in is_pipe[] (if not NULL), and in
 * new_pipe_fds[] one fd of each pipe that was not open at setup (their number in *n_new). */
static int scan_fds(int *new_pipe_fds, int *n_new, bool *is_pipe)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d, "opendir /proc/self/fd: %s", strerror(errno));
	int n = 0, np = 0;
	char seen[MAX_NEW_PIPES][32]; /* "pipe:[inode]" of the new pipes found so far */
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd == dirfd(d) || fd >= MAX_FD)
			continue; /* valgrind keeps its own fds (pipes too) far above the rest */
		n++;
		char path[64], link[32];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		if (strncmp(link, "pipe:", 5) != 0)
			continue;
		if (is_pipe != NULL && fd < MAX_FD)
			is_pipe[fd] = true;
		if (fd < MAX_FD && base_pipe[fd])
			continue;
		bool known = false; /* the other end of a pipe already counted */
		for (int i = 0; i < MIN(np, MAX_NEW_PIPES) && !known; i++)
			known = strcmp(seen[i], link) == 0;
		if (known)
			continue;
		if (np < MAX_NEW_PIPES) {
			strcpy(seen[np], link);
			if (new_pipe_fds != NULL)
				new_pipe_fds[np] = fd;
		}
		np++;
	}
	closedir(d);
	if (n_new != NULL)
		*n_new = np;
	return n;
}

static int fd_count(void)
{
	return scan_fds(NULL, NULL, NULL);
}

/* Pipes open now that were not open at setup (a relay's), one fd of each in fds. */
static int new_pipes(int fds[MAX_NEW_PIPES])
{
	int np;
	scan_fds(fds, &np, NULL);
	return np;
}

static int pipes_now(void)
{
	int fds[MAX_NEW_PIPES];
	return new_pipes(fds);
}

/* A relay's pipe has grown to RELAY_PIPE_SIZE. */
static bool grown_pipe(void)
{
	int fds[MAX_NEW_PIPES];
	int n = MIN(new_pipes(fds), MAX_NEW_PIPES);
	for (int i = 0; i < n; i++)
		if (fcntl(fds[i], F_GETPIPE_SZ) >= PIPE_GROWN)
			return true;
	return false;
}

/* fd is not open (the relay closed it, and nothing has reused the number since). */
static bool fd_closed(int fd)
{
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

static void setup(void)
{
	char *argv[] = {"slirpns", "--mtu=1500", "1234"};
	GError *err = NULL;
	unsetenv("POSIXLY_CORRECT");
	cr_assert_eq(options_parse(3, argv, &opt, &err), ACTION_RUN, "%s", err ? err->message : "");
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tapfd),
	             0);
	dp = datapath_new(&opt, tapfd[0]);
	struct frame_sink sink = datapath_sink(dp);
	eng = engine_new(&opt, &sink);
	lp = loop_new(eng);
	datapath_attach(dp, lp);
	relay_set_init(&set);
	set_live = true;
	bufs = g_ptr_array_new_with_free_func(g_free);
	memset(base_pipe, 0, sizeof(base_pipe));
	base_fds = scan_fds(NULL, NULL, base_pipe);
}

static void teardown(void)
{
	if (set_live)
		relay_set_clear(&set);
	set_live = false;
	loop_free(lp);
	engine_free(eng);
	datapath_free(dp);
	lp = NULL, eng = NULL, dp = NULL;
	for (int i = 0; i < 2; i++)
		if (tapfd[i] >= 0)
			close(tapfd[i]);
	tapfd[0] = tapfd[1] = -1;
	options_clear(&opt);
	if (bufs != NULL)
		g_ptr_array_unref(bufs);
	bufs = NULL;
}

TestSuite(relay, .init = setup, .fini = teardown, .timeout = 120);

/*
 * Run loop rounds until cond (an expression, evaluated before every round: it may let the
 * peers act) holds or ms milliseconds have passed; its value is whether cond held. A round
 * after the peers moved bytes does not wait; otherwise it waits at most 2 ms for the relay.
 */
#define WAIT_FOR(cond, ms)                                                                         \
	({                                                                                         \
		int64_t wf_deadline = loop_now_ms() + (ms);                                        \
		bool wf_ok;                                                                        \
		for (;;) {                                                                         \
			progressed = false;                                                        \
			if ((wf_ok = (cond)))                                                      \
				break;                                                             \
			if (loop_now_ms() > wf_deadline)                                           \
				break;                                                             \
			cr_assert(loop_run_once(lp, progressed ? 0 : 2));                          \
		}                                                                                  \
		wf_ok;                                                                             \
	})

/* Rounds the loop runs in ms milliseconds when each may wait 100 ms (nothing else acts). */
static int idle_rounds(int ms)
{
	int n = 0;
	int64_t end = loop_now_ms() + ms;
	while (loop_now_ms() < end) {
		cr_assert(loop_run_once(lp, 100));
		n++;
	}
	return n;
}

/* ---- sockets ---------------------------------------------------------------------------- */

static void set_buf(int fd, int name, int size)
{
	if (size > 0)
		cr_assert_eq(setsockopt(fd, SOL_SOCKET, name, &size, sizeof(size)), 0, "%s",
		             strerror(errno));
}

static int tcp_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	return fd;
}

/* A socket bound to 127.0.0.1 on a free port (its address in sa), listening if backlog >= 0;
 * rcvbuf (if > 0) is inherited by what it accepts. */
static int bound(int rcvbuf, int backlog, struct sockaddr_in *sa)
{
	int fd = tcp_socket();
	set_buf(fd, SO_RCVBUF, rcvbuf);
	*sa =
	    (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0, "bind: %s", strerror(errno));
	socklen_t len = sizeof(*sa);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	/* The raw syscall: libslirpns.a interposes listen() (fastpath.c) and raises every
	 * backlog to SOMAXCONN, which would defeat b_connecting_then_data_flows. */
	if (backlog >= 0)
		cr_assert_eq(syscall(SYS_listen, fd, backlog), 0, "listen: %s", strerror(errno));
	return fd;
}

/* connect() without waiting: 0 if it completed, else its errno (EINPROGRESS...). */
static int start_connect(int fd, const struct sockaddr_in *sa)
{
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 0;
	return errno;
}

static void wait_connected(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	cr_assert_eq(poll(&p, 1, DEADLINE_MS), 1, "connect() did not complete");
	int err = 0;
	socklen_t len = sizeof(err);
	cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	cr_assert_eq(err, 0, "connect: %s", strerror(err));
}

/* Accept from lst (waiting up to ms, without running the loop): a non-blocking socket. */
static int accept_wait(int lst, int ms)
{
	struct pollfd p = {.fd = lst, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, ms), 1, "nothing to accept after %d ms", ms);
	int fd = accept4(lst, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	cr_assert_geq(fd, 0, "accept: %s", strerror(errno));
	return fd;
}

struct conn {
	int peer_a, a, b, peer_b;
};

/* Socket buffer sizes to set (0: the default). */
struct bufsizes {
	int peer_a_rcv, a_snd, b_snd, peer_b_rcv;
};

/* peer_a -> a, accepted; b -> peer_b, handed to relay_start() as soon as connect() returned
 * (so possibly still connecting), then accepted. */
static void open_conn(struct conn *c, const struct bufsizes *bs)
{
	static const struct bufsizes none;
	if (bs == NULL)
		bs = &none;
	struct sockaddr_in sa;
	int la = bound(0, 16, &sa);
	c->peer_a = tcp_socket();
	set_buf(c->peer_a, SO_RCVBUF, bs->peer_a_rcv);
	int r = start_connect(c->peer_a, &sa);
	cr_assert(r == 0 || r == EINPROGRESS, "connect: %s", strerror(r));
	c->a = accept_wait(la, DEADLINE_MS);
	set_buf(c->a, SO_SNDBUF, bs->a_snd);
	wait_connected(c->peer_a);
	close(la);

	int lb = bound(bs->peer_b_rcv, 16, &sa);
	c->b = tcp_socket();
	set_buf(c->b, SO_SNDBUF, bs->b_snd);
	r = start_connect(c->b, &sa);
	cr_assert(r == 0 || r == EINPROGRESS, "connect: %s", strerror(r));
	relay_start(lp, c->a, c->b, &set);
	c->peer_b = accept_wait(lb, DEADLINE_MS);
	close(lb);
}

/* Close both peers (everything they were sent has been read: a clean close, no reset). */
static void close_peers(struct conn *c)
{
	close(c->peer_a);
	close(c->peer_b);
	c->peer_a = c->peer_b = -1;
}

/* Every relay ended and released its fds: only what was open at setup is left. */
static void expect_all_released(void)
{
	cr_assert(WAIT_FOR(set.active == 0, DEADLINE_MS), "%llu relay(s) still active", set.active);
	cr_assert_eq(pipes_now(), 0, "a relay's pipe was left open");
	cr_assert_eq(fd_count(), base_fds, "fds left open: %d, %d at setup", fd_count(), base_fds);
}

/* ---- byte streams between the peers ----------------------------------------------------- */

/* len bytes from peer `from` to peer `to`, sent as fast as `from` takes them (up to limit),
 * read while reading is set. */
struct stream {
	int from, to;
	const uint8_t *data;
	size_t len, limit, sent;
	uint8_t *got;
	size_t received;
	bool reading;
	bool blocked; /* the last send() took nothing */
	bool eof;     /* `to` read EOF */
	int err;      /* `to` got this error from recv() */
};

static void *test_buf(size_t len)
{
	void *p = g_malloc0(len ? len : 1);
	g_ptr_array_add(bufs, p);
	return p;
}

static const uint8_t *random_bytes(size_t len, uint64_t seed)
{
	uint8_t *p = test_buf(len);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
	return p;
}

static void stream_init(struct stream *s, int from, int to, const void *data, size_t len)
{
	*s = (struct stream){.from = from, .to = to, .data = data, .len = len, .limit = len};
	s->got = test_buf(len);
	s->reading = true;
}

/* What `to` has to read, without waiting. */
static void stream_read(struct stream *s)
{
	static uint8_t buf[65536];
	while (!s->eof && s->err == 0) {
		ssize_t n = recv(s->to, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0) {
			s->err = errno;
			break;
		}
		if (n == 0) {
			s->eof = true;
			break;
		}
		cr_assert_leq(s->received + (size_t)n, s->sent, "%zu bytes received, only %zu sent",
		              s->received + (size_t)n, s->sent);
		memcpy(s->got + s->received, buf, (size_t)n);
		s->received += (size_t)n;
		progressed = true;
	}
}

/* Send what `from` takes (up to limit), then read if reading. */
static void stream_step(struct stream *s)
{
	size_t end = MIN(s->limit, s->len);
	while (s->sent < end) {
		ssize_t w = send(s->from, s->data + s->sent, end - s->sent, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			cr_assert(errno == EAGAIN, "send: %s", strerror(errno));
			s->blocked = true;
			break;
		}
		s->blocked = false;
		s->sent += (size_t)w;
		progressed = true;
	}
	if (s->reading)
		stream_read(s);
}

static bool stream_done(struct stream *s)
{
	stream_step(s);
	return s->received == s->len || s->eof || s->err != 0;
}

/* Everything sent arrived, in order. */
static void stream_check(const struct stream *s)
{
	cr_assert_eq(s->err, 0, "recv: %s after %zu of %zu bytes", strerror(s->err), s->received,
	             s->len);
	cr_assert_eq(s->received, s->len, "%zu of %zu bytes arrived%s", s->received, s->len,
	             s->eof ? " before EOF" : "");
	for (size_t i = 0; i < s->len; i++)
		if (s->got[i] != s->data[i])
			cr_assert_fail("bytes differ from offset %zu of %zu", i, s->len);
}

/* Move len bytes from `from` to `to` and check them. */
static void transfer(int from, int to, const void *data, size_t len, int ms)
{
	struct stream s;
	stream_init(&s, from, to, data, len);
	cr_assert(WAIT_FOR(stream_done(&s), ms), "%zu of %zu bytes arrived in %d ms", s.received,
	          len, ms);
	stream_check(&s);
}

static void say(int from, int to, const char *msg)
{
	transfer(from, to, msg, strlen(msg), DEADLINE_MS);
}

/* Read on fd until EOF or an error: the errno (0 for EOF); the bytes read (discarded) in *n. */
static bool read_to_end(int fd, int *err, size_t *n)
{
	static uint8_t buf[65536];
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return false;
		if (r < 0) {
			*err = errno;
			return true;
		}
		if (r == 0) {
			*err = 0;
			return true;
		}
		*n += (size_t)r;
		progressed = true;
	}
}

/* fd must see a reset (ECONNRESET), not a clean EOF, after reading at most what it has. */
static void expect_reset(int fd, const char *who)
{
	int err = -1;
	size_t n = 0;
	cr_assert(WAIT_FOR(read_to_end(fd, &err, &n), DEADLINE_MS), "%s: no EOF or reset", who);
	cr_assert_eq(err, ECONNRESET, "%s: %s instead of a reset", who,
	             err ? strerror(err) : "a clean EOF");
}

static void reset_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd);
}

static int unread(int fd)
{
	int n = 0;
	cr_assert_eq(ioctl(fd, FIONREAD, &n), 0, "FIONREAD: %s", strerror(errno));
	return n;
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	return ti.tcpi_state;
}

static int unsent(int fd)
{
	int n = 0;
	cr_assert_eq(ioctl(fd, SIOCOUTQ, &n), 0, "SIOCOUTQ: %s", strerror(errno));
	return n;
}

/* The write end of the one pipe a relay has. */
static int pipe_write_end(void)
{
	int found = -1;
	for (int fd = 0; fd < MAX_FD; fd++) {
		if (base_pipe[fd])
			continue;
		int fl = fcntl(fd, F_GETFL);
		char path[64], link[32];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t len = readlink(path, link, sizeof(link) - 1);
		if (fl < 0 || len < 5 || strncmp(link, "pipe:", 5) != 0 ||
		    (fl & O_ACCMODE) != O_WRONLY)
			continue;
		cr_assert_eq(found, -1, "more than one new pipe");
		found = fd;
	}
	cr_assert_geq(found, 0, "no new pipe");
	return found;
}

/* ---- copy mode -------------------------------------------------------------------------- */

Test(relay, short_exchange_both_ways_opens_no_pipe)
{
	struct conn c;
	open_conn(&c, NULL);
	cr_assert_eq(set.active, 1);
	cr_assert_eq(set.total, 1);
	say(c.peer_a, c.peer_b, "hello");
	cr_assert_eq(pipes_now(), 0, "copy mode opened a pipe for 5 bytes");
	say(c.peer_b, c.peer_a, "hello to you too");
	cr_assert_eq(pipes_now(), 0, "copy mode opened a pipe for a short reply");

	/* Request/response rounds of up to 4095 bytes: each chunk fits the copy buffer and the
	 * reader takes it at once, so neither direction ever needs a pipe. */
	for (unsigned i = 0; i < 60; i++) {
		size_t len = i == 0 ? COPY_CHUNK - 1 : 1 + (i * 997u) % (COPY_CHUNK - 1);
		transfer(c.peer_a, c.peer_b, random_bytes(len, 2 * i), len, DEADLINE_MS);
		transfer(c.peer_b, c.peer_a, random_bytes(len, 2 * i + 1), len, DEADLINE_MS);
	}
	cr_assert_eq(pipes_now(), 0, "copy mode opened a pipe for chunks under 4 KiB");
	cr_assert_eq(fd_count(), base_fds + 4, "the relay holds fds besides a and b");
	cr_assert_eq(set.active, 1);

	close_peers(&c);
	expect_all_released();
	cr_assert(fd_closed(c.a) && fd_closed(c.b));
	cr_assert_eq(set.total, 1);
}

/* ---- the switch to a pipe --------------------------------------------------------------- */

Test(relay, chunk_of_exactly_4096_bytes_then_more_keeps_order)
{
	struct conn c;
	open_conn(&c, NULL);
	size_t len = COPY_CHUNK + 100000;
	struct stream s;
	stream_init(&s, c.peer_a, c.peer_b, random_bytes(len, 7), len);
	s.limit = COPY_CHUNK; /* one send() of exactly the copy buffer's size */
	cr_assert(WAIT_FOR(stream_done(&s) || s.received == COPY_CHUNK, DEADLINE_MS));
	cr_assert_eq(s.received, COPY_CHUNK);
	cr_assert_eq(pipes_now(), 1, "a chunk that filled the copy buffer did not open a pipe");
	s.limit = len;
	cr_assert(WAIT_FOR(stream_done(&s), DEADLINE_MS), "%zu of %zu bytes", s.received, len);
	stream_check(&s);

	/* The other way: 4096, 4096, then an odd size, each read before the next is sent. */
	size_t back = 3 * COPY_CHUNK + 1234;
	struct stream t;
	stream_init(&t, c.peer_b, c.peer_a, random_bytes(back, 8), back);
	size_t steps[] = {COPY_CHUNK, 2 * COPY_CHUNK, back};
	for (size_t i = 0; i < 3; i++) {
		t.limit = steps[i];
		cr_assert(WAIT_FOR(stream_done(&t) || t.received == steps[i], DEADLINE_MS),
		          "%zu of %zu bytes", t.received, steps[i]);
	}
	stream_check(&t);
	cr_assert_eq(pipes_now(), 2);

	/* EOF goes through a piped direction once it is drained. */
	cr_assert_eq(shutdown(c.peer_a, SHUT_WR), 0);
	int err = -1;
	size_t extra = 0;
	cr_assert(WAIT_FOR(read_to_end(c.peer_b, &err, &extra), DEADLINE_MS), "no EOF");
	cr_assert_eq(err, 0, "%s instead of EOF", strerror(err));
	cr_assert_eq(extra, 0);
	close_peers(&c);
	expect_all_released();
}

/*
 * Small chunks (1000 bytes, each taken by the relay before the next is sent) while peer_b
 * does not read and b's send buffer is small: no chunk fills the copy buffer, so the switch
 * comes from a send() that took only part of a chunk (or none), whose tail must go into the
 * pipe ahead of everything read after it.
 */
Test(relay, partial_send_tail_goes_first_into_the_pipe)
{
	struct conn c;
	struct bufsizes bs = {.b_snd = SMALL_BUF, .peer_b_rcv = SMALL_BUF};
	open_conn(&c, &bs);
	size_t len = 512 * 1024;
	struct stream s;
	stream_init(&s, c.peer_a, c.peer_b, random_bytes(len, 11), len);
	s.reading = false;
	while (pipes_now() == 0) {
		cr_assert_lt(s.sent, 256 * 1024, "no pipe although peer_b stopped reading");
		s.limit = s.sent + 1000;
		stream_step(&s);
		cr_assert_eq(s.sent, s.limit, "peer_a's send buffer is full already");
		cr_assert(WAIT_FOR(unread(c.a) == 0, DEADLINE_MS), "the relay did not read a");
	}
	cr_assert_gt(s.sent, 1000, "the first chunk already needed a pipe");
	s.limit = len;
	s.reading = true;
	cr_assert(WAIT_FOR(stream_done(&s), BULK_MS), "%zu of %zu bytes", s.received, len);
	stream_check(&s);
	close_peers(&c);
	expect_all_released();
}

/*
 * 8 MiB one way to a reader that does not read at first, through 4 KiB socket buffers: the
 * relay's sends are partial, its pipe fills and grows, and while it is full the loop must
 * sleep (not spin on a readable source it cannot drain). Then the reader reads it all.
 */
static void bulk_slow_reader(bool a_to_b)
{
	struct conn c;
	struct bufsizes bs = {0};
	if (a_to_b)
		bs.b_snd = bs.peer_b_rcv = SMALL_BUF;
	else
		bs.a_snd = bs.peer_a_rcv = SMALL_BUF;
	open_conn(&c, &bs);
	int from = a_to_b ? c.peer_a : c.peer_b, to = a_to_b ? c.peer_b : c.peer_a;

	int idle = idle_rounds(300);
	struct stream s;
	stream_init(&s, from, to, random_bytes(BULK_LEN, a_to_b ? 21 : 22), BULK_LEN);
	s.reading = false;
	cr_assert(
	    WAIT_FOR((stream_step(&s), grown_pipe() && (s.blocked || s.sent == s.len)), BULK_MS),
	    "the pipe did not grow to %d bytes (%zu bytes sent)", PIPE_GROWN, s.sent);
	cr_assert_eq(pipes_now(), 1, "only the busy direction needs a pipe");
	int stalled = idle_rounds(300);
	cr_assert_lt(stalled, IDLE_ROUNDS,
	             "%d loop rounds in 300 ms while the reader stalled (%d when idle): busy loop",
	             stalled, idle);

	s.reading = true;
	cr_assert(WAIT_FOR(stream_done(&s), BULK_MS), "%zu of %zu bytes arrived", s.received,
	          s.len);
	stream_check(&s);
	/* And a short answer the other way, still in copy mode. */
	say(to, from, "got it all");
	cr_assert_eq(pipes_now(), 1);
	close_peers(&c);
	expect_all_released();
}

Test(relay, bulk_a_to_b_with_a_slow_reader)
{
	bulk_slow_reader(true);
}

Test(relay, bulk_b_to_a_with_a_slow_reader)
{
	bulk_slow_reader(false);
}

Test(relay, bulk_both_ways_at_once)
{
	struct conn c;
	open_conn(&c, NULL);
	size_t len = 4u << 20;
	struct stream s, t;
	stream_init(&s, c.peer_a, c.peer_b, random_bytes(len, 31), len);
	stream_init(&t, c.peer_b, c.peer_a, random_bytes(len, 32), len);
	cr_assert(WAIT_FOR(stream_done(&s) & stream_done(&t), BULK_MS), "%zu and %zu of %zu bytes",
	          s.received, t.received, len);
	stream_check(&s);
	stream_check(&t);
	close_peers(&c);
	expect_all_released();
}

/*
 * A pipe is full once its slots are, whatever it holds in bytes: each splice() from a socket
 * takes one, however small the segment. One-byte segments (TCP_NODELAY, each spliced before
 * the next is sent) fill every slot of the grown pipe with a few hundred bytes, peer_b not
 * reading; a is then readable but nothing can go into the pipe: the relay must stop watching
 * a until the pipe drains, not spin on it.
 */
Test(relay, pipe_full_of_tiny_segments_does_not_spin)
{
	struct conn c;
	struct bufsizes bs = {.b_snd = SMALL_BUF, .peer_b_rcv = SMALL_BUF};
	open_conn(&c, &bs);
	int one = 1;
	cr_assert_eq(setsockopt(c.peer_a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	size_t len = 256 * 1024;
	struct stream s;
	stream_init(&s, c.peer_a, c.peer_b, random_bytes(len, 61), len);
	s.reading = false;
	/* 1000-byte chunks until b is full and the direction has its pipe... */
	while (pipes_now() == 0) {
		cr_assert_lt(s.sent, 128 * 1024, "no pipe although peer_b stopped reading");
		s.limit = s.sent + 1000;
		stream_step(&s);
		cr_assert(WAIT_FOR(unread(c.a) == 0, DEADLINE_MS), "the relay did not read a");
	}
	/* ... then single bytes, each spliced before the next, until the relay takes no more (b's
	 * send queue absorbs a few thousand first: they are appended to its last skb). */
	size_t before = s.sent;
	for (;;) {
		cr_assert_lt(s.sent - before, 20000, "the relay took 20000 one-byte segments");
		s.limit = s.sent + 1;
		stream_step(&s);
		cr_assert_eq(s.sent, s.limit);
		if (!WAIT_FOR(unread(c.a) == 0, 500))
			break;
	}
	int pw = pipe_write_end(), held = 0;
	struct pollfd p = {.fd = pw, .events = POLLOUT};
	cr_assert_eq(poll(&p, 1, 0), 0, "the pipe has a free slot, yet the relay does not read a");
	cr_assert_eq(ioctl(pw, FIONREAD, &held), 0);
	cr_assert_lt(held, 64 * 1024, "the pipe is full of bytes (%d), not of slots", held);
	int rounds = idle_rounds(300);
	cr_assert_lt(rounds, IDLE_ROUNDS, "%d loop rounds in 300 ms with a full pipe: busy loop",
	             rounds);
	cr_assert_geq(fcntl(pw, F_GETPIPE_SZ), PIPE_GROWN, "a pipe full of slots did not grow");

	s.limit = len;
	s.reading = true;
	cr_assert(WAIT_FOR(stream_done(&s), BULK_MS), "%zu of %zu bytes", s.received, len);
	stream_check(&s);
	close_peers(&c);
	expect_all_released();
}

/* ---- half-close ------------------------------------------------------------------------- */

/* The peer on side `first` sends a request and shuts down writing; the other sees the request
 * then EOF, answers (300000 bytes, through a pipe) and closes; the first gets the whole answer,
 * then EOF; the relay ends and closes a and b. */
static void half_close(bool a_first)
{
	struct conn c;
	open_conn(&c, NULL);
	int x = a_first ? c.peer_a : c.peer_b, y = a_first ? c.peer_b : c.peer_a;
	cr_assert_eq(fd_count(), base_fds + 4);

	const char *req = "GET / HTTP/1.0\r\n\r\n";
	struct stream s;
	stream_init(&s, x, y, req, strlen(req));
	stream_step(&s);
	cr_assert_eq(s.sent, s.len);
	cr_assert_eq(shutdown(x, SHUT_WR), 0);
	cr_assert(WAIT_FOR(stream_done(&s) && s.eof, DEADLINE_MS), "%zu of %zu bytes, %s",
	          s.received, s.len, s.eof ? "EOF" : "no EOF");
	stream_check(&s);
	cr_assert_eq(set.active, 1, "the relay ended on a half-close");

	size_t len = 300000;
	struct stream r;
	stream_init(&r, y, x, random_bytes(len, 41), len);
	cr_assert(WAIT_FOR(stream_done(&r), DEADLINE_MS), "%zu of %zu bytes of the reply",
	          r.received, len);
	stream_check(&r);
	cr_assert(!r.eof, "EOF before the replying side closed");
	cr_assert_eq(set.active, 1);

	close(y);
	cr_assert(WAIT_FOR((stream_read(&r), r.eof || r.err != 0), DEADLINE_MS),
	          "no EOF after the replying side closed");
	cr_assert_eq(r.err, 0, "%s instead of EOF", strerror(r.err));
	cr_assert_eq(r.received, len);
	cr_assert(WAIT_FOR(set.active == 0, DEADLINE_MS), "the relay did not end");
	cr_assert(fd_closed(c.a), "the relay did not close a");
	cr_assert(fd_closed(c.b), "the relay did not close b");
	cr_assert_eq(pipes_now(), 0);
	cr_assert_eq(fd_count(), base_fds + 1);
	close(x);
	cr_assert_eq(fd_count(), base_fds);
}

Test(relay, half_close_from_a)
{
	half_close(true);
}

Test(relay, half_close_from_b)
{
	half_close(false);
}

/*
 * Both sides have half-closed while b's reply (more than the grown pipe holds) waits for
 * peer_a, who does not read yet: b has sent and received a FIN, so it reports POLLHUP (which
 * poll() cannot mask) with nothing to do until the pipe drains. The loop must sleep meanwhile;
 * then peer_a gets the whole reply and EOF, and the relay ends.
 */
Test(relay, both_half_closed_while_the_reply_waits)
{
	struct conn c;
	struct bufsizes bs = {.a_snd = SMALL_BUF, .peer_a_rcv = SMALL_BUF};
	open_conn(&c, &bs);
	struct stream q;
	stream_init(&q, c.peer_a, c.peer_b, "request", 7);
	stream_step(&q);
	cr_assert_eq(shutdown(c.peer_a, SHUT_WR), 0);
	cr_assert(WAIT_FOR(stream_done(&q) && q.eof, DEADLINE_MS), "no request and EOF");
	stream_check(&q);

	size_t len = PIPE_GROWN + 16 * 1024;
	struct stream r;
	stream_init(&r, c.peer_b, c.peer_a, random_bytes(len, 71), len);
	r.reading = false;
	cr_assert(
	    WAIT_FOR((stream_step(&r), r.sent == len && unsent(c.peer_b) == 0 && grown_pipe()),
	             DEADLINE_MS),
	    "the reply did not leave peer_b (%zu of %zu bytes sent)", r.sent, len);
	cr_assert_eq(shutdown(c.peer_b, SHUT_WR), 0);
	struct pollfd p = {.fd = c.b};
	cr_assert(WAIT_FOR(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP), DEADLINE_MS),
	          "b does not report POLLHUP");
	cr_assert(loop_run_once(lp, 10)); /* the relay sees it */
	int rounds = idle_rounds(300);
	cr_assert_lt(rounds, IDLE_ROUNDS, "%d loop rounds in 300 ms on a hung-up b: busy loop",
	             rounds);
	cr_assert_eq(set.active, 1);

	r.reading = true;
	cr_assert(WAIT_FOR((stream_step(&r), r.eof || r.err != 0), BULK_MS),
	          "%zu of %zu bytes, no EOF", r.received, len);
	stream_check(&r);
	cr_assert(WAIT_FOR(set.active == 0, DEADLINE_MS));
	close_peers(&c);
	expect_all_released();
}

/* ---- resets ----------------------------------------------------------------------------- */

Test(relay, reset_by_b_resets_a)
{
	struct conn c;
	open_conn(&c, NULL);
	say(c.peer_a, c.peer_b, "ping");
	say(c.peer_b, c.peer_a, "pong");
	reset_close(c.peer_b);
	expect_reset(c.peer_a, "peer_a");
	cr_assert(WAIT_FOR(set.active == 0, DEADLINE_MS));
	cr_assert(fd_closed(c.a) && fd_closed(c.b));
	close(c.peer_a);
	expect_all_released();
}

Test(relay, reset_by_a_resets_b)
{
	struct conn c;
	open_conn(&c, NULL);
	say(c.peer_a, c.peer_b, "ping");
	reset_close(c.peer_a);
	expect_reset(c.peer_b, "peer_b");
	cr_assert(WAIT_FOR(set.active == 0, DEADLINE_MS));
	close(c.peer_b);
	expect_all_released();
}

/* peer_b's last bytes and its reset both arrive before the relay looks: b then reports
 * POLLRDHUP with POLLERR, and the short read of those bytes is no end of file. peer_a must see
 * a reset, never a clean EOF that would make a cut-off answer look complete. */
Test(relay, data_then_reset_in_one_event_is_no_clean_end)
{
	struct conn c;
	open_conn(&c, NULL);
	say(c.peer_a, c.peer_b, "ping");
	cr_assert_eq(send(c.peer_b, "cut", 3, MSG_NOSIGNAL), 3);
	usleep(20000); /* delivered to b */
	reset_close(c.peer_b);
	usleep(20000); /* the reset too, before the relay runs */
	expect_reset(c.peer_a, "peer_a");
	cr_assert(WAIT_FOR(set.active == 0, DEADLINE_MS));
	close(c.peer_a);
	expect_all_released();
}

/* peer_a resets while its direction is piped and full (peer_b not reading): peer_b gets what
 * reached it, then a reset; the relay's pipe is closed. */
Test(relay, reset_with_a_full_pipe)
{
	struct conn c;
	struct bufsizes bs = {.b_snd = SMALL_BUF, .peer_b_rcv = SMALL_BUF};
	open_conn(&c, &bs);
	size_t len = 2u << 20;
	struct stream s;
	stream_init(&s, c.peer_a, c.peer_b, random_bytes(len, 51), len);
	s.reading = false;
	cr_assert(
	    WAIT_FOR((stream_step(&s), grown_pipe() && (s.blocked || s.sent == s.len)), BULK_MS),
	    "the pipe did not fill");
	reset_close(c.peer_a);
	expect_reset(c.peer_b, "peer_b");
	cr_assert(WAIT_FOR(set.active == 0, DEADLINE_MS));
	close(c.peer_b);
	expect_all_released();
}

/* peer_b half-closes (peer_a sees EOF), then resets: peer_a, half-open in CLOSE_WAIT, must be
 * reset too (its connection CLOSEd), not left waiting for a FIN it already had. */
Test(relay, reset_after_a_half_close)
{
	struct conn c;
	open_conn(&c, NULL);
	say(c.peer_a, c.peer_b, "ping");
	cr_assert_eq(shutdown(c.peer_b, SHUT_WR), 0);
	int err = -1;
	size_t n = 0;
	cr_assert(WAIT_FOR(read_to_end(c.peer_a, &err, &n), DEADLINE_MS), "peer_a: no EOF");
	cr_assert_eq(err, 0, "peer_a: %s instead of EOF", strerror(err));
	cr_assert_eq(set.active, 1);
	reset_close(c.peer_b);
	cr_assert(WAIT_FOR(tcp_state(c.peer_a) == TCP_CLOSE, DEADLINE_MS),
	          "peer_a not reset (TCP state %d)", tcp_state(c.peer_a));
	cr_assert(WAIT_FOR(set.active == 0, DEADLINE_MS));
	close(c.peer_a);
	expect_all_released();
}

/* Out of fds when a chunk fills the copy buffer: no pipe can be opened, and the pair is reset
 * (nothing leaks, nothing is silently dropped). */
Test(relay, no_fd_for_a_pipe_resets_the_pair)
{
	struct conn c;
	open_conn(&c, NULL);
	say(c.peer_a, c.peer_b, "hello");
	int top = 0;
	for (int fd = 0; fd < MAX_FD; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			top = fd;
	struct rlimit old, lim;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = (struct rlimit){.rlim_cur = (rlim_t)top + 1, .rlim_max = old.rlim_max};
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
	int fill[MAX_FD], nfill = 0; /* take every free fd below the limit */
	while (nfill < MAX_FD && (fill[nfill] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		nfill++;
	int open_err = errno;
	struct stream s;
	stream_init(&s, c.peer_a, c.peer_b, random_bytes(COPY_CHUNK, 81), COPY_CHUNK);
	s.reading = false;
	stream_step(&s);
	bool sent = s.sent == COPY_CHUNK;
	bool ended = WAIT_FOR(set.active == 0, DEADLINE_MS);
	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	cr_assert_eq(open_err, EMFILE, "%s", strerror(open_err));
	cr_assert(sent);
	cr_assert(ended, "the relay outlived a failed pipe2()");
	expect_reset(c.peer_a, "peer_a");
	expect_reset(c.peer_b, "peer_b");
	close_peers(&c);
	expect_all_released();
}

/* ---- many relays ------------------------------------------------------------------------ */

#define MANY 50

static bool all_done(struct stream *st, int n)
{
	bool all = true;
	for (int i = 0; i < n; i++)
		all &= stream_done(&st[i]);
	return all;
}

Test(relay, many_relays_at_once)
{
	struct conn *c = test_buf(MANY * sizeof(*c));
	struct stream *req = test_buf(MANY * sizeof(*req)), *resp = test_buf(MANY * sizeof(*resp));
	for (int i = 0; i < MANY; i++) {
		open_conn(&c[i], NULL);
		char *q = test_buf(32), *p = test_buf(32);
		snprintf(q, 32, "request %d", i);
		snprintf(p, 32, "response to %d", i);
		stream_init(&req[i], c[i].peer_a, c[i].peer_b, q, strlen(q));
		stream_init(&resp[i], c[i].peer_b, c[i].peer_a, p, strlen(p));
	}
	cr_assert_eq(set.active, MANY);
	cr_assert_eq(set.total, MANY);
	cr_assert_eq(fd_count(), base_fds + 4 * MANY);
	/* All requests at once, then all responses at once. */
	cr_assert(WAIT_FOR(all_done(req, MANY), DEADLINE_MS), "not every request arrived");
	cr_assert(WAIT_FOR(all_done(resp, MANY), DEADLINE_MS), "not every response arrived");
	for (int i = 0; i < MANY; i++) {
		stream_check(&req[i]);
		stream_check(&resp[i]);
	}
	cr_assert_eq(pipes_now(), 0);
	/* Half of them closed by peer_a first, half by peer_b first. */
	for (int i = 0; i < MANY; i++)
		close(i % 2 ? c[i].peer_a : c[i].peer_b);
	for (int i = 0; i < MANY; i++) {
		int fd = i % 2 ? c[i].peer_b : c[i].peer_a, err = -1;
		size_t n = 0;
		cr_assert(WAIT_FOR(read_to_end(fd, &err, &n), DEADLINE_MS), "relay %d: no EOF", i);
		cr_assert_eq(err, 0, "relay %d: %s instead of EOF", i, strerror(err));
		cr_assert_eq(n, 0);
		close(fd);
	}
	expect_all_released();
	cr_assert_eq(set.total, MANY);
}

Test(relay, set_clear_resets_every_relay)
{
	struct conn c[10];
	for (int i = 0; i < 10; i++) {
		open_conn(&c[i], NULL);
		say(c[i].peer_a, c[i].peer_b, "hi");
	}
	cr_assert_eq(set.active, 10);
	relay_set_clear(&set);
	set_live = false;
	cr_assert_eq(set.active, 0);
	for (int i = 0; i < 10; i++) {
		cr_assert(fd_closed(c[i].a) && fd_closed(c[i].b));
		expect_reset(c[i].peer_a, "peer_a");
		expect_reset(c[i].peer_b, "peer_b");
		close(c[i].peer_a);
		close(c[i].peer_b);
	}
	cr_assert_eq(pipes_now(), 0);
	cr_assert_eq(fd_count(), base_fds);
}

/* ---- b still connecting ----------------------------------------------------------------- */

/*
 * b's SYN goes to a listener whose accept queue is full (backlog 0, one connection waiting):
 * the kernel drops it and b stays in SYN_SENT until a retransmission (1 s later) finds room.
 * Meanwhile peer_a has sent data; the relay must hold it, and pass it once b is connected.
 */
Test(relay, b_connecting_then_data_flows)
{
	struct sockaddr_in sa;
	int lb = bound(0, 0, &sa);
	int filler = tcp_socket();
	int r = start_connect(filler, &sa);
	cr_assert(r == 0 || r == EINPROGRESS);
	wait_connected(filler);
	struct pollfd p = {.fd = lb, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, DEADLINE_MS), 1, "the filler is not in the accept queue");

	struct conn c;
	struct sockaddr_in sa_a;
	int la = bound(0, 16, &sa_a);
	c.peer_a = tcp_socket();
	r = start_connect(c.peer_a, &sa_a);
	cr_assert(r == 0 || r == EINPROGRESS);
	c.a = accept_wait(la, DEADLINE_MS);
	close(la);
	c.b = tcp_socket();
	r = start_connect(c.b, &sa);
	cr_assert_eq(r, EINPROGRESS, "connect: %s", strerror(r));
	relay_start(lp, c.a, c.b, &set);

	struct stream s;
	stream_init(&s, c.peer_a, -1, "sent before b was connected", 27);
	s.reading = false;
	stream_step(&s);
	cr_assert_eq(s.sent, s.len);
	/* Let the relay run a while (not a proof of anything by itself): it must neither fail
	 * nor lose peer_a's bytes while b connects. */
	(void)WAIT_FOR(false, 200);
	cr_assert_eq(set.active, 1, "the relay gave up on a connecting b");
	int state = tcp_state(c.b);
	cr_assert_eq(state, TCP_SYN_SENT, "b is not connecting any more (TCP state %d)", state);

	close(accept_wait(lb, DEADLINE_MS)); /* room in the queue for b's retransmitted SYN */
	close(filler);
	c.peer_b = accept_wait(lb, 10000);
	close(lb);
	s.to = c.peer_b;
	s.reading = true;
	cr_assert(WAIT_FOR(stream_done(&s), DEADLINE_MS), "%zu of %zu bytes", s.received, s.len);
	stream_check(&s);
	say(c.peer_b, c.peer_a, "and the answer");
	cr_assert_eq(pipes_now(), 0);
	close_peers(&c);
	expect_all_released();
}

Test(relay, b_refused_resets_a)
{
	struct sockaddr_in sa;
	int hole = bound(0, -1, &sa); /* bound, not listening: connect() is refused */
	struct conn c;
	struct sockaddr_in sa_a;
	int la = bound(0, 16, &sa_a);
	c.peer_a = tcp_socket();
	int r = start_connect(c.peer_a, &sa_a);
	cr_assert(r == 0 || r == EINPROGRESS);
	c.a = accept_wait(la, DEADLINE_MS);
	close(la);
	c.b = tcp_socket();
	r = start_connect(c.b, &sa);
	cr_assert(r == EINPROGRESS || r == ECONNREFUSED, "connect: %s", strerror(r));
	relay_start(lp, c.a, c.b, &set);
	expect_reset(c.peer_a, "peer_a");
	cr_assert(WAIT_FOR(set.active == 0, DEADLINE_MS), "the relay outlived a refused connect");
	cr_assert(fd_closed(c.a) && fd_closed(c.b));
	close(c.peer_a);
	close(hole);
	expect_all_released();
}
