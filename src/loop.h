// SPDX-License-Identifier: GPL-2.0-or-later
/* loop.h - the single-threaded poll loop (see loop.c). */
#pragma once

#include "engine.h"

#include <glib.h>
#include <stdint.h>

struct loop;
struct loop_watch;

/* Called with the poll revents of the watched fd, or 0 when its deadline passed. */
typedef void (*loop_cb)(struct loop *l, struct loop_watch *w, short revents, void *data);

struct loop *loop_new(struct engine *e);
void loop_free(struct loop *l);

struct loop_watch *loop_watch_fd(struct loop *l, int fd, short events, loop_cb cb, void *data);
void loop_watch_set_events(struct loop_watch *w, short events);
/* Call cb with revents 0 once the monotonic clock passes deadline_ms (INT64_MAX: never). */
void loop_watch_set_deadline(struct loop_watch *w, int64_t deadline_ms);
/* Stop watching; safe from within any callback. Does not close the fd. */
void loop_unwatch(struct loop *l, struct loop_watch *w);

/* Call cb(data) at the end of every round, after every callback and libslirp (one at most). */
void loop_at_round_end(struct loop *l, void (*cb)(void *data), void *data);
/* Run until loop_quit(); returns the exit code given there. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l, int code);
/* One poll round, waiting at most max_timeout_ms (unit tests drive the loop with it). false
 * once poll() failed or loop_quit() was called. */
bool loop_run_once(struct loop *l, int max_timeout_ms);

int64_t loop_now_ms(void);
