// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * loop.c - the daemon's only thread: one poll() over everything.
 *
 * Each round builds one pollfd array: first our own watches (tap, exit fd, signalfd, API
 * listener and clients), then whatever libslirp wants watched (engine_poll_prepare). The poll
 * timeout is the nearest of libslirp's needs, its timers and our watches' deadlines, so an idle
 * daemon sleeps. After poll() our watches' callbacks run first (the tap's callback feeds frames
 * to libslirp), then libslirp handles its sockets once for the whole round, and last the
 * round-end callback (the datapath writes the frames it queued) before the next poll().
 *
 * Watches removed during a round are only marked, and freed when the round is over, so a
 * callback may remove any watch, itself included.
 */
#include "config.h"
#include "loop.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <time.h>

struct loop_watch {
	int fd;
	short events;
	int64_t deadline_ms;
	loop_cb cb;
	void *data;
	bool removed;
};

struct loop {
	struct engine *engine;
	void (*round_end)(void *data); /* before the next poll(): see loop_at_round_end() */
	void *round_end_data;
	GPtrArray *watches; /* of struct loop_watch * */
	GArray *pollfds;    /* of struct pollfd */
	bool quit;
	int exit_code;
};

int64_t loop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *loop_new(struct engine *e)
{
	struct loop *l = g_new0(struct loop, 1);
	l->engine = e;
	l->watches = g_ptr_array_new_with_free_func(g_free);
	l->pollfds = g_array_sized_new(FALSE, TRUE, sizeof(struct pollfd), 64);
	return l;
}

void loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	g_ptr_array_unref(l->watches);
	g_array_unref(l->pollfds);
	g_free(l);
}

struct loop_watch *loop_watch_fd(struct loop *l, int fd, short events, loop_cb cb, void *data)
{
	struct loop_watch *w = g_new0(struct loop_watch, 1);
	w->fd = fd;
	w->events = events;
	w->deadline_ms = INT64_MAX;
	w->cb = cb;
	w->data = data;
	g_ptr_array_add(l->watches, w);
	return w;
}

void loop_watch_set_events(struct loop_watch *w, short events)
{
	w->events = events;
}

void loop_watch_set_deadline(struct loop_watch *w, int64_t deadline_ms)
{
	w->deadline_ms = deadline_ms;
}

void loop_unwatch(struct loop *l, struct loop_watch *w)
{
	w->removed = true;
	w->cb = NULL;
}

void loop_at_round_end(struct loop *l, void (*cb)(void *data), void *data)
{
	l->round_end = cb;
	l->round_end_data = data;
}

void loop_quit(struct loop *l, int code)
{
	l->quit = true;
	l->exit_code = code;
}

static void sweep_removed(struct loop *l)
{
	for (guint i = 0; i < l->watches->len;) {
		struct loop_watch *w = g_ptr_array_index(l->watches, i);
		if (w->removed)
			g_ptr_array_remove_index_fast(l->watches, i);
		else
			i++;
	}
}

/* Fill our part of the pollfd array; return the timeout our deadlines allow. */
static int prepare_watches(struct loop *l, guint *n)
{
	int64_t now = loop_now_ms(), nearest = INT64_MAX;
	g_array_set_size(l->pollfds, 0);
	*n = l->watches->len;
	for (guint i = 0; i < *n; i++) {
		struct loop_watch *w = g_ptr_array_index(l->watches, i);
		struct pollfd p = {.fd = w->fd, .events = w->events};
		g_array_append_val(l->pollfds, p);
		nearest = MIN(nearest, w->deadline_ms);
	}
	if (nearest == INT64_MAX)
		return -1;
	return (int)CLAMP(nearest - now, 0, INT32_MAX);
}

static void dispatch_watches(struct loop *l, guint n)
{
	int64_t now = loop_now_ms();
	/* Callbacks may add watches (appended past n) or remove them (only marked). */
	for (guint i = 0; i < n && !l->quit; i++) {
		struct loop_watch *w = g_ptr_array_index(l->watches, i);
		short rev = g_array_index(l->pollfds, struct pollfd, i).revents;
		if (w->removed || w->cb == NULL)
			continue;
		if (rev != 0)
			w->cb(l, w, rev, w->data);
		else if (w->deadline_ms <= now)
			w->cb(l, w, 0, w->data);
	}
}

/* One round: poll (at most max_timeout_ms, -1: as long as needed), then dispatch. */
static int loop_round(struct loop *l, int max_timeout_ms)
{
	guint n;
	int timeout = prepare_watches(l, &n);
	engine_poll_prepare(l->engine, l->pollfds, &timeout);
	if (max_timeout_ms >= 0 && (timeout < 0 || timeout > max_timeout_ms))
		timeout = max_timeout_ms;
	int ret = poll((struct pollfd *)(void *)l->pollfds->data, l->pollfds->len, timeout);
	if (ret < 0 && errno != EINTR) {
		log_error("poll: %s", g_strerror(errno));
		return -1;
	}
	if (ret < 0)
		g_array_set_size(l->pollfds, n); /* nothing happened: no revents to read */
	dispatch_watches(l, n);
	if (!l->quit)
		engine_poll_done(l->engine, l->pollfds, false);
	if (l->round_end != NULL)
		l->round_end(l->round_end_data);
	sweep_removed(l);
	return 0;
}

int loop_run(struct loop *l)
{
	while (!l->quit)
		if (loop_round(l, -1) < 0)
			return 1;
	return l->exit_code;
}

bool loop_run_once(struct loop *l, int max_timeout_ms)
{
	return loop_round(l, max_timeout_ms) == 0 && !l->quit;
}
