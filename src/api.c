// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * api.c - the API socket: a non-blocking AF_UNIX stream server inside the main loop.
 *
 * One request per connection, as with slirp4netns: the client sends a JSON object, we answer
 * and close. Unlike slirp4netns, no client can stall the daemon: every client is a loop watch
 * with its own buffer, a request is complete at EOF (the client shut down its write side) or as
 * soon as the bytes received form a whole JSON object, a request over API_MAX_REQUEST is
 * answered with an error, and a client that takes longer than API_CLIENT_TIMEOUT_MS is dropped.
 * The answer is written without blocking (POLLOUT while it does not fit), then our side is shut
 * down (SHUT_WR). If the client had already shut down its side, we close at once; otherwise
 * it may still be writing (an over-size request, or bytes after a whole object), and closing
 * would make its write() fail with EPIPE before it gets to read the answer. So the client is
 * drained: what it sends is read and discarded (into a static buffer, c->in never grows) until
 * its EOF, API_DRAIN_MAX_BYTES or API_DRAIN_TIMEOUT_MS, whichever comes first, then closed. The
 * bounds let a client that writes 16 MiB and then reads get its answer (AF_UNIX moves that in a
 * few ms) while a client that never stops writing holds its slot for at most 2 s more. (On
 * AF_UNIX a close does not destroy what the client has not read yet: the answer stays readable
 * even if the bound is hit.) Each wakeup discards at most API_DRAIN_CHUNK_BUDGET bytes, so a
 * fast writer does not starve packets or other clients; draining clients still count against
 * API_MAX_CLIENTS. The meaning of requests lives in api_proto.c.
 *
 * The socket file is created with mode 0600 (a stale file at the path is replaced). Its
 * directory is kept open (O_PATH), so the file can be removed at exit with unlinkat() even
 * after the sandbox has hidden the host's file system.
 */
#include "config.h"
#include "api.h"
#include "unixsock.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define API_CLIENT_TIMEOUT_MS  5000
#define API_MAX_CLIENTS        1024
#define API_READ_CHUNK         4096
#define API_DRAIN_MAX_BYTES    (64u << 20)
#define API_DRAIN_TIMEOUT_MS   2000
#define API_DRAIN_BUF          (64 * 1024)
#define API_DRAIN_CHUNK_BUDGET (16 * API_DRAIN_BUF)

struct api_client {
	struct api_server *server;
	int fd;
	struct loop_watch *watch;
	GByteArray *in;
	char *out;
	size_t out_len, out_done;
	bool got_eof;   /* the client shut down its side: nothing to drain */
	bool draining;  /* answered; discarding input until EOF or a bound */
	size_t drained; /* bytes discarded so far */
};

struct api_server {
	struct loop *loop;
	struct api_proto *proto;
	struct unix_listener sock;
	struct loop_watch *watch;
	GHashTable *clients;
};

static void client_free(struct api_client *c)
{
	loop_unwatch(c->server->loop, c->watch);
	close(c->fd);
	if (c->in != NULL)
		g_byte_array_unref(c->in);
	g_free(c->out);
	g_free(c);
}

static void client_drop(struct api_client *c)
{
	g_hash_table_remove(c->server->clients, c); /* frees it */
}

/* The answer is out: close, or first drain a client that may still be writing. */
static void client_finish(struct api_client *c)
{
	shutdown(c->fd, SHUT_WR);
	if (c->got_eof)
		return client_drop(c);
	c->draining = true;
	g_clear_pointer(&c->in, g_byte_array_unref); /* up to API_MAX_REQUEST, no longer needed */
	loop_watch_set_events(c->watch, POLLIN);
	loop_watch_set_deadline(c->watch, loop_now_ms() + API_DRAIN_TIMEOUT_MS);
}

/* Discard what the client sends after its answer; close at EOF, an error or the byte bound. */
static void client_drain(struct api_client *c)
{
	static char sink[API_DRAIN_BUF];
	size_t budget = API_DRAIN_CHUNK_BUDGET;
	while (budget > 0) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			return client_drop(c); /* EOF, or the client went away */
		c->drained += (size_t)n;
		budget -= (size_t)n < budget ? (size_t)n : budget;
		if (c->drained >= API_DRAIN_MAX_BYTES) {
			log_debug("api: closing a client still writing after %zu bytes discarded",
			          c->drained);
			return client_drop(c);
		}
	}
}

/* Write what is left of the answer; finish once all of it is out. */
static void client_flush(struct api_client *c)
{
	while (c->out_done < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_done, c->out_len - c->out_done,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			loop_watch_set_events(c->watch, POLLOUT);
			return;
		}
		if (n < 0)
			return client_drop(c); /* the client went away: nothing more to do */
		c->out_done += (size_t)n;
	}
	client_finish(c);
}

/* --debug: the command a request names, if it is a plain word, and whether it succeeded. */
static void log_request(const struct api_client *c)
{
	static const char word[] = "abcdefghijklmnopqrstuvwxyz_";
	json_t *root = json_loadb((const char *)c->in->data, c->in->len, 0, NULL);
	const char *cmd = json_string_value(json_object_get(root, "execute"));
	bool plain = cmd != NULL && strlen(cmd) <= 32 && cmd[strspn(cmd, word)] == '\0';
	log_debug("api: request %s: %s", plain ? cmd : "(no command name)",
	          g_str_has_prefix(c->out, "{\"error\"") ? "error" : "ok");
	json_decref(root);
}

static void client_answer(struct api_client *c)
{
	c->out = api_proto_handle(c->server->proto, (const char *)c->in->data, c->in->len);
	c->out_len = strlen(c->out);
	if (slirpns_debug)
		log_request(c);
	client_flush(c);
}

/* Read what is there; answer once the request is complete. */
static void client_read(struct api_client *c)
{
	for (;;) {
		guint old = c->in->len;
		g_byte_array_set_size(c->in, old + API_READ_CHUNK);
		ssize_t n = recv(c->fd, c->in->data + old, API_READ_CHUNK, MSG_DONTWAIT);
		g_byte_array_set_size(c->in, old + (n > 0 ? (guint)n : 0));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) { /* EOF (or an error): what we have is the request */
			if (n < 0)
				return client_drop(c);
			c->got_eof = true;
			return client_answer(c);
		}
		if (c->in->len > API_MAX_REQUEST)
			return client_answer(c);
	}
	if (!api_proto_incomplete((const char *)c->in->data, c->in->len) && c->in->len > 0)
		client_answer(c);
}

static void on_client(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct api_client *c = data;
	if (revents == 0) /* deadline: a silent or slow client, or one that writes on */
		return client_drop(c);
	if (c->draining) {
		if (revents & (POLLIN | POLLHUP | POLLERR))
			client_drain(c);
		return;
	}
	if (c->out != NULL) {
		if (revents & (POLLOUT | POLLERR | POLLHUP))
			client_flush(c);
		return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR))
		client_read(c);
}

static void on_listen(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct api_server *s = data;
	for (;;) {
		int fd = accept4(s->sock.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("api: accept: %s", g_strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (g_hash_table_size(s->clients) >= API_MAX_CLIENTS) {
			close(fd); /* overloaded: refuse rather than grow without bound */
			continue;
		}
		struct api_client *c = g_new0(struct api_client, 1);
		c->server = s;
		c->fd = fd;
		c->in = g_byte_array_new();
		c->watch = loop_watch_fd(l, fd, POLLIN, on_client, c);
		loop_watch_set_deadline(c->watch, loop_now_ms() + API_CLIENT_TIMEOUT_MS);
		g_hash_table_add(s->clients, c);
		/* Most clients have sent their request by now: answer it in this round, not the
		 * next (a round costs more the more sockets libslirp has). */
		client_read(c);
	}
}

struct api_server *api_server_new(const char *path, struct loop *l, struct api_proto *proto,
                                  GError **err)
{
	struct api_server *s = g_new0(struct api_server, 1);
	s->loop = l;
	s->proto = proto;
	s->clients = g_hash_table_new_full(NULL, NULL, (GDestroyNotify)client_free, NULL);
	if (!unix_listener_open(&s->sock, "api socket", path, SOCK_STREAM, SOMAXCONN, err)) {
		api_server_free(s);
		return NULL;
	}
	s->watch = loop_watch_fd(l, s->sock.fd, POLLIN, on_listen, s);
	return s;
}

void api_server_free(struct api_server *s)
{
	if (s == NULL)
		return;
	g_hash_table_unref(s->clients);
	if (s->watch)
		loop_unwatch(s->loop, s->watch);
	unix_listener_close(&s->sock);
	g_free(s);
}
