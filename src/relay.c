// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * relay.c - a bidirectional byte relay between two stream sockets, driven by the loop.
 *
 * A direction starts by copying: recv() into a small buffer on the stack, send() it on. Most
 * connections through a forward are short exchanges, and for them a pipe would only add
 * pipe2() and two close()s per direction. The first chunk that fills the buffer (more is
 * coming) or that dst does not take whole (it is full) moves the direction to a pipe for
 * good, the unsent tail first (copy_small()). From then on it moves data with splice(2)
 * through that pipe, so bytes go from one socket buffer to the other without being copied
 * through user space. A copy that reads less than its buffer holds stops there, without the
 * recv() that would fail with EAGAIN (one per request and direction on keep-alive traffic):
 * poll() reports the next bytes, and POLLRDHUP says when a FIN waits behind them. A piped
 * direction is "src -> pipe -> dst": we read from src only while the pipe has room and write to dst
 * only while the pipe holds data, which gives backpressure for free (a slow reader stops us reading
 * from the fast writer). When src reaches EOF and the pipe is drained we shut down dst's write
 * side, so half-close works end to end (a client that shuts down writing still gets its reply). An
 * error on either socket (reset, refused connect) aborts the pair: the other side is closed with
 * SO_LINGER 0 so the peer sees a reset too, not a clean EOF.
 *
 * The second socket may still be connecting: it is first watched for POLLOUT and checked with
 * SO_ERROR before any data moves.
 *
 * Pipes start at the kernel's default size (64 KiB); a direction whose pipe fills up grows it
 * once to RELAY_PIPE_SIZE (grow_pipe()), so a short exchange costs no fcntl() and a bulk
 * transfer still gets few wake-ups per megabyte.
 *
 * A pipe can be full before it holds its cap in bytes: it has a fixed number of slots and each
 * splice()d socket buffer takes one, however small. splice() then fails with EAGAIN as it does
 * when the socket is empty, but the socket stays readable, so watching it for POLLIN would spin
 * poll() until the reader catches up (a client that stops reading would cost a core). After an
 * EAGAIN with bytes in the pipe we ask poll() whether the pipe has a free slot; if not, the
 * direction is "pipe_full" and its source is not watched until some of the pipe is written out.
 * Likewise a socket that reports POLLHUP (it has sent and received FIN: all that is left is to
 * read what it holds) is taken out of poll() while we wait for the other side, since POLLHUP
 * cannot be masked.
 */
#include "config.h"
#include "relay.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_PIPE_SIZE  (256 * 1024)
#define PIPE_DEFAULT_CAP (64 * 1024) /* what pipe(7) gives an unprivileged user by default */
#define COPY_CHUNK       4096        /* PIPE_BUF: a tail this size goes into a pipe whole */

struct direction {
	int pipe[2];    /* -1 while the direction copies (copy_small()) */
	size_t pending; /* bytes sitting in the pipe */
	size_t cap;     /* what we let the pipe hold */
	bool grown;     /* grow_pipe() was tried */
	bool src_eof;
	bool dst_shut;
	bool pipe_full; /* no free slot in the pipe: src is not read until some is written out */
};

struct relay {
	struct loop *loop;
	int fd[2];
	struct loop_watch *watch[2];
	struct direction dir[2]; /* dir[i] moves fd[i] -> fd[1 - i] */
	bool connecting;         /* fd[1]'s connect() has not completed */
	bool hup[2];             /* fd[i] reported POLLHUP (it stays so) */
	bool rdhup[2];           /* fd[i] reported POLLRDHUP or POLLHUP: its EOF is readable */
	bool fin_queued[2];      /* fd[i] reported POLLRDHUP without POLLERR: see copy_small() */
	bool parked[2];          /* watch[i] is on fd -1: nothing to wait for on a hung-up fd[i] */
	struct relay_set *set;
};

static void relay_free(struct relay *r, bool reset)
{
	for (int i = 0; i < 2; i++) {
		loop_unwatch(r->loop, r->watch[i]);
		if (reset) {
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(r->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(r->fd[i]);
		if (r->dir[i].pipe[0] >= 0) {
			close(r->dir[i].pipe[0]);
			close(r->dir[i].pipe[1]);
		}
	}
	r->set->active--;
	g_hash_table_remove(r->set->relays, r);
	g_free(r);
}

void relay_set_init(struct relay_set *set)
{
	set->active = set->total = 0;
	set->relays = g_hash_table_new(NULL, NULL);
}

void relay_set_clear(struct relay_set *set)
{
	GHashTableIter it;
	gpointer r;
	for (;;) {
		g_hash_table_iter_init(&it, set->relays);
		if (!g_hash_table_iter_next(&it, &r, NULL))
			break;
		relay_free(r, true);
	}
	g_hash_table_unref(set->relays);
	set->relays = NULL;
}

static void on_event(struct loop *l, struct loop_watch *w, short revents, void *data);

/* Set what fd[i] waits for. A hung-up socket with nothing to wait for leaves poll() (a watch
 * on fd -1) until it has: poll() reports POLLHUP whatever the events asked. */
static void set_events(struct relay *r, int i, short ev)
{
	bool park = ev == 0 && r->hup[i];
	if (park != r->parked[i]) {
		loop_unwatch(r->loop, r->watch[i]);
		r->watch[i] = loop_watch_fd(r->loop, park ? -1 : r->fd[i], ev, on_event, r);
		r->parked[i] = park;
	}
	loop_watch_set_events(r->watch[i], ev);
}

/* Recompute what each socket waits for. */
static void update_events(struct relay *r)
{
	if (r->connecting) {
		set_events(r, 0, 0);
		set_events(r, 1, POLLOUT);
		return;
	}
	for (int i = 0; i < 2; i++) {
		const struct direction *out = &r->dir[i], *in = &r->dir[1 - i];
		short ev = 0;
		if (!out->src_eof && out->pending < out->cap && !out->pipe_full)
			ev |= POLLIN | POLLRDHUP;
		if (in->pending > 0)
			ev |= POLLOUT;
		set_events(r, i, ev);
	}
}

/* After splice() into the pipe failed with EAGAIN: was it for want of a free slot? */
static bool pipe_is_full(const struct direction *d)
{
	struct pollfd p = {.fd = d->pipe[1], .events = POLLOUT};
	return d->pending > 0 && poll(&p, 1, 0) == 0;
}

/* The pipe of d filled up: make it larger, once. true if there is room again. */
static bool grow_pipe(struct direction *d)
{
	if (d->grown)
		return false;
	d->grown = true;
	int sz = fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	if (sz <= 0 || (size_t)sz <= d->cap)
		return false;
	d->cap = (size_t)sz;
	d->pipe_full = false;
	return true;
}

/* Fill d's pipe from src until it is full, src is empty or at EOF. */
static bool fill_pipe(struct direction *d, int src)
{
	do {
		while (!d->src_eof && d->pending < d->cap) {
			ssize_t n = splice(src, NULL, d->pipe[1], NULL, d->cap - d->pending,
			                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				d->pipe_full = pipe_is_full(d);
				break;
			}
			if (n < 0)
				return false;
			if (n == 0)
				d->src_eof = true;
			d->pending += (size_t)n;
		}
	} while (!d->src_eof && (d->pending >= d->cap || d->pipe_full) && grow_pipe(d));
	return true;
}

/* Give d its pipe, holding the tail of a copy that dst did not take. */
static bool open_pipe(struct direction *d, const char *tail, size_t len)
{
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		log_warn("relay: pipe: %s", g_strerror(errno));
		d->pipe[0] = d->pipe[1] = -1;
		return false;
	}
	if (len == 0)
		return true;
	/* At most PIPE_BUF bytes into an empty pipe: written whole or not at all. */
	if (write(d->pipe[1], tail, len) != (ssize_t)len)
		return false;
	d->pending = len;
	return true;
}

/* Direction i without a pipe: copy until src is empty or at EOF, or until a pipe is needed. */
static bool copy_small(struct relay *r, int i)
{
	struct direction *d = &r->dir[i];
	int src = r->fd[i], dst = r->fd[1 - i];
	char buf[COPY_CHUNK];
	while (!d->src_eof) {
		ssize_t n = recv(src, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0) {
			d->src_eof = true;
			break;
		}
		ssize_t w;
		do
			w = send(dst, buf, (size_t)n, MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN)
			return false;
		w = MAX(w, 0);
		if (w < n || n == (ssize_t)sizeof(buf))
			return open_pipe(d, buf + w, (size_t)(n - w));
		/* A short read took all there was: poll() is level-triggered and says when more
		 * comes, so skip the recv() that would only fail with EAGAIN. Unless src's peer
		 * has shut down: then its end of file is there to be read now. POLLRDHUP without
		 * POLLERR, seen before this recv(), means that TCP took the peer's FIN in order,
		 * after every byte before it: the short read reached it, no recv() of 0 needed. */
		if (r->fin_queued[i]) {
			d->src_eof = true;
			break;
		}
		if (!r->rdhup[i])
			break;
	}
	return true;
}

/* Move what can move in direction i; false on a fatal error. */
static bool pump(struct relay *r, int i)
{
	struct direction *d = &r->dir[i];
	int dst = r->fd[1 - i];
	if (d->pipe[0] < 0 && !copy_small(r, i))
		return false;
	if (d->pipe[0] >= 0 && !fill_pipe(d, r->fd[i]))
		return false;
	while (d->pending > 0) {
		ssize_t n = splice(d->pipe[0], NULL, dst, NULL, d->pending,
		                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return false;
		d->pending -= (size_t)n;
		d->pipe_full = false;
	}
	if (d->src_eof && d->pending == 0 && !d->dst_shut) {
		/* When the other direction is done too, the relay closes both sockets next, and
		 * close() sends the FIN: dst has nothing left unread (its side reached EOF). */
		if (!r->dir[1 - i].dst_shut)
			shutdown(dst, SHUT_WR);
		d->dst_shut = true;
	}
	return true;
}

static bool finish_connect(struct relay *r)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(r->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
		return false;
	r->connecting = false;
	return true;
}

/*
 * What fd[side] reported concerns the direction reading it (readable, EOF, error) and the one
 * writing to it (writable); the other socket's events come through its own watch. Both
 * directions move once the connect() completes.
 */
static void on_event(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct relay *r = data;
	int side = w == r->watch[0] ? 0 : 1;
	bool both = (revents & (POLLERR | POLLHUP)) != 0;
	if (revents & POLLHUP)
		r->hup[side] = true;
	if (revents & (POLLHUP | POLLRDHUP))
		r->rdhup[side] = true;
	if ((revents & (POLLRDHUP | POLLERR)) == POLLRDHUP)
		r->fin_queued[side] = true;
	if (r->connecting) {
		if (side == 0) { /* only errors are watched on a while b connects */
			if (revents & (POLLERR | POLLHUP))
				relay_free(r, true);
			return;
		}
		if (!finish_connect(r))
			return relay_free(r, true);
		both = true;
	}
	bool ok = true;
	if (both || (revents & POLLIN))
		ok = pump(r, side);
	if (ok && (both || (revents & POLLOUT)))
		ok = pump(r, 1 - side);
	if (ok && (revents & POLLERR)) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(r->fd[side], SOL_SOCKET, SO_ERROR, &err, &len);
		ok = err == 0;
	}
	if (!ok)
		return relay_free(r, true);
	if (r->dir[0].dst_shut && r->dir[1].dst_shut)
		return relay_free(r, false);
	update_events(r);
}

void relay_start(struct loop *l, int a, int b, struct relay_set *set)
{
	struct relay *r = g_new0(struct relay, 1);
	r->loop = l;
	r->fd[0] = a;
	r->fd[1] = b;
	r->set = set;
	set->active++;
	set->total++;
	g_hash_table_add(set->relays, r);
	for (int i = 0; i < 2; i++) {
		r->dir[i].cap = PIPE_DEFAULT_CAP;
		r->dir[i].pipe[0] = r->dir[i].pipe[1] = -1;
	}
	/* A connection inside one host usually completes within connect() itself: if so, skip
	 * the poll round that would only tell us so. POLLOUT alone means established (a failed
	 * connect() also reports POLLERR; one in progress reports nothing). */
	struct pollfd p = {.fd = b, .events = POLLOUT};
	r->connecting = !(poll(&p, 1, 0) == 1 && p.revents == POLLOUT);
	r->watch[0] = loop_watch_fd(l, a, 0, on_event, r);
	r->watch[1] = loop_watch_fd(l, b, POLLOUT, on_event, r);
	update_events(r);
}
