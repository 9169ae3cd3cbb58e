// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * slirpnsctl.c - the command-line client of the API socket (slirpns's or slirp4netns's).
 *
 * Each subcommand is one or more requests: connect to the socket, write one JSON object, shut
 * the writing side down and read the answer until EOF, all against one deadline (--timeout,
 * 10 s by default) kept with poll(), so a daemon that never answers cannot hang us. The answer
 * is printed raw with --json, or read into a table or "key: value" lines (ctl_format.c).
 * An "add" with port ranges sends one add_hostfwd per port, as podman does; if one fails the
 * forwards already added are removed again, so a range is added whole or not at all.
 * The spec grammar and the requests are in ctl_parse.c.
 *
 * Exit status: 0 done, 1 the daemon refused or could not be reached (with its text), 2 usage.
 */
#include "config.h"
#include "ctl_format.h"
#include "ctl_parse.h"

#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Answers bigger than this are not an API answer. */
#define MAX_ANSWER (16u << 20)

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct ctl {
	const char *socket;
	bool json;
	unsigned timeout_sec;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define autoclose __attribute__((cleanup(close_fd)))

static const char help_text[] =
    "Usage: slirpnsctl [OPTION]... COMMAND [ARG]...\n"
    "Talk to the API socket of slirpns (or slirp4netns).\n"
    "\n"
    "Commands:\n"
    "  add [tcp|udp] [HOSTADDR:]HOSTPORT:GUESTPORT[/GUESTADDR][/tcp|/udp]\n"
    "                       add a port forward (tcp by default) and print its id and host\n"
    "                       port; HOSTPORT 0 picks a free one, ranges (8000-8010:8000-8010)\n"
    "                       add one forward per port, IPv6 host addresses go in brackets\n"
    "                       ([::1]:8080:80)\n"
    "  list                 list the port forwards: id, proto, host and guest address\n"
    "  remove ID...         remove port forwards\n"
    "  info                 the daemon's configuration, counters and target namespace\n"
    "                       (with the nsenter command that enters it); slirpns only\n"
    "  connections          the daemon's connections: proto, state, source, destination,\n"
    "                       queues, path; slirpns only\n"
    "\n"
    "Options:\n"
    "-a, --api-socket=PATH  the daemon's API socket (required)\n"
    "-j, --json             print the daemon's raw JSON answers, one line per request\n"
    "-t, --timeout=SECONDS  give up on a daemon that has not answered within SECONDS,\n"
    "                       1 to 3600 (default 10)\n"
    "-h, --help             show this help and exit\n"
    "--version              show the version and exit\n"
    "\n"
    "Exit status: 0 on success, 1 when the daemon returns an error or cannot be reached,\n"
    "2 on a usage error.\n";

static int usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "slirpnsctl: %s\nTry 'slirpnsctl --help' for more information.\n", msg);
	return EXIT_USAGE;
}

static bool set_errno_error(GError **err, int e, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool set_errno_error(GError **err, int e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(err, CTL_ERROR, e, "%s: %s", what, g_strerror(e));
	return false;
}

/* Milliseconds left until deadline (monotonic µs), at least 0. */
static int ms_left(gint64 deadline)
{
	gint64 left = (deadline - g_get_monotonic_time()) / 1000;
	return left > 0 ? (int)left : 0;
}

/* Wait for events on fd until the deadline; false with *err on timeout or error. */
static bool wait_fd(const struct ctl *c, int fd, short events, gint64 deadline, GError **err)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, ms_left(deadline));
		if (n > 0)
			return true;
		if (n == 0) {
			g_set_error(err, CTL_ERROR, ETIMEDOUT, "%s: no answer within %u s",
			            c->socket, c->timeout_sec);
			return false;
		}
		if (errno != EINTR)
			return set_errno_error(err, errno, "poll %s", c->socket);
	}
}

static int connect_socket(const struct ctl *c, GError **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(c->socket) >= sizeof(sa.sun_path)) {
		g_set_error(err, CTL_ERROR, ENAMETOOLONG,
		            "%s: socket path too long (max %zu bytes)", c->socket,
		            sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, c->socket);
	autoclose int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		set_errno_error(err, errno, "socket");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		set_errno_error(err, errno, "connect %s", c->socket);
		return -1;
	}
	int ret = fd;
	fd = -1;
	return ret;
}

/* Send the whole request, then shut our side down. */
static bool send_request(const struct ctl *c, int fd, const char *req, gint64 deadline,
                         GError **err)
{
	size_t len = strlen(req), off = 0;
	while (off < len) {
		if (!wait_fd(c, fd, POLLOUT, deadline, err))
			return false;
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		/* The daemon may have answered and shut down early: read what it said. */
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return true;
		if (n < 0)
			return set_errno_error(err, errno, "write %s", c->socket);
		off += (size_t)n;
	}
	if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN)
		return set_errno_error(err, errno, "shutdown %s", c->socket);
	return true;
}

/* Read until EOF. */
static char *read_answer(const struct ctl *c, int fd, gint64 deadline, GError **err)
{
	g_autoptr(GString) buf = g_string_new(NULL);
	char chunk[65536];
	for (;;) {
		if (!wait_fd(c, fd, POLLIN, deadline, err))
			return NULL;
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		/* A peer that closes with our request unread resets instead of sending EOF: the
		 * answer (if any) ends there, and none at all is "closed without an answer". */
		if (n < 0 && errno == ECONNRESET)
			break;
		if (n < 0) {
			set_errno_error(err, errno, "read %s", c->socket);
			return NULL;
		}
		if (n == 0)
			break;
		if (buf->len + (size_t)n > MAX_ANSWER) {
			g_set_error(err, CTL_ERROR, EMSGSIZE, "%s: answer larger than %u bytes",
			            c->socket, MAX_ANSWER);
			return NULL;
		}
		g_string_append_len(buf, chunk, n);
	}
	return g_string_free(g_steal_pointer(&buf), FALSE);
}

/* One request/answer exchange; *raw gets the answer's bytes. Takes req. */
static json_t *call(const struct ctl *c, json_t *req, char **raw, GError **err)
{
	char *text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	g_autofree char *req_text = g_strdup(text);
	free(text);
	gint64 deadline = g_get_monotonic_time() + (gint64)c->timeout_sec * G_USEC_PER_SEC;
	autoclose int fd = connect_socket(c, err);
	if (fd < 0 || !send_request(c, fd, req_text, deadline, err))
		return NULL;
	g_autofree char *answer = read_answer(c, fd, deadline, err);
	if (answer == NULL)
		return NULL;
	if (answer[0] == '\0') {
		g_set_error(err, CTL_ERROR, EPROTO, "%s: closed without an answer", c->socket);
		return NULL;
	}
	json_error_t jerr;
	json_t *j = json_loads(answer, 0, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		g_set_error(err, CTL_ERROR, EPROTO,
		            "%s: not a JSON object in the answer: \"%.80s\"", c->socket, answer);
		return NULL;
	}
	*raw = g_steal_pointer(&answer);
	return j;
}

static void print_raw(const char *raw)
{
	size_t n = strlen(raw);
	fputs(raw, stdout);
	if (n == 0 || raw[n - 1] != '\n')
		fputc('\n', stdout);
}

/*
 * Run one request for command what: on success the answer (caller frees); on failure NULL
 * after printing "slirpnsctl: WHAT: why" (the daemon's desc, or the transport's error).
 * With --json the raw answer is printed either way.
 */
static json_t *request(const struct ctl *c, const char *what, json_t *req)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *raw = NULL;
	json_t *answer = call(c, req, &raw, &err);
	if (answer == NULL) {
		fprintf(stderr, "slirpnsctl: %s\n", err->message);
		return NULL;
	}
	if (c->json)
		print_raw(raw);
	const char *desc = ctl_answer_error(answer);
	if (desc != NULL) {
		fprintf(stderr, "slirpnsctl: %s: %s\n", what, desc);
		json_decref(answer);
		return NULL;
	}
	return answer;
}

/* Remove forwards again after a failed range; says so for each that cannot be removed. */
static void roll_back(const struct ctl *c, GArray *ids)
{
	struct ctl quiet = *c;
	quiet.json = false;
	unsigned removed = 0;
	for (guint i = 0; i < ids->len; i++) {
		json_int_t id = g_array_index(ids, json_int_t, i);
		json_t *a = request(&quiet, "add: removing the forwards added so far",
		                    ctl_remove_request(id));
		if (a != NULL)
			removed++;
		else
			fprintf(stderr, "slirpnsctl: add: forward %" JSON_INTEGER_FORMAT " stays\n",
			        id);
		json_decref(a);
	}
	if (removed > 0)
		fprintf(stderr,
		        "slirpnsctl: add: removed the %u forward%s of the range added so far\n",
		        removed, removed == 1 ? "" : "s");
}

/* The host port an add answer reports, else the one asked for (unknown if that was 0). */
static char *added_port(json_t *ret, const struct ctl_forward *fw, unsigned i)
{
	json_t *p = json_object_get(ret, "host_port");
	if (json_is_integer(p))
		return g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(p));
	if (fw->host_port == 0)
		return g_strdup("-");
	return g_strdup_printf("%u", fw->host_port + i);
}

static int cmd_add(const struct ctl *c, int argc, char **argv)
{
	struct ctl_forward fw = {0};
	if (argc == 2 && !ctl_parse_proto(argv[0], &fw.udp))
		return usage_error("add: unknown protocol \"%s\" (tcp or udp)", argv[0]);
	if (argc < 1 || argc > 2)
		return usage_error(
		    "add: expected [tcp|udp] [HOSTADDR:]HOSTPORT:GUESTPORT[/GUESTADDR][/tcp|/udp]");
	g_autoptr(GError) err = NULL;
	if (!ctl_parse_forward(argv[argc - 1], &fw, &err))
		return usage_error("add: %s", err->message);
	if (argc == 2 && fw.proto_in_spec)
		return usage_error("add: the protocol is given twice, as \"%s\" and in \"%s\"",
		                   argv[0], argv[1]);
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(json_int_t));
	g_autoptr(GString) out = g_string_new("ID    PORT\n");
	for (unsigned i = 0; i < fw.count; i++) {
		json_t *answer = request(c, "add", ctl_add_request(&fw, i));
		if (answer == NULL) {
			roll_back(c, ids);
			return EXIT_FAIL;
		}
		json_t *ret = ctl_answer_return(answer);
		json_t *id = json_object_get(ret, "id");
		json_int_t idv = json_is_integer(id) ? json_integer_value(id) : 0;
		if (idv > 0)
			g_array_append_val(ids, idv);
		g_autofree char *port = added_port(ret, &fw, i);
		g_autofree char *idtext =
		    idv > 0 ? g_strdup_printf("%" JSON_INTEGER_FORMAT, idv) : g_strdup("-");
		g_string_append_printf(out, "%-4s  %s\n", idtext, port);
		json_decref(answer);
	}
	if (!c->json)
		fputs(out->str, stdout);
	return 0;
}

/* A command without arguments whose answer format() renders. */
static int cmd_show(const struct ctl *c, const char *what, const char *execute,
                    char *(*format)(json_t *answer), bool whole_answer)
{
	json_t *answer = request(c, what, ctl_simple_request(execute));
	if (answer == NULL)
		return EXIT_FAIL;
	if (!c->json) {
		g_autofree char *text = format(whole_answer ? answer : ctl_answer_return(answer));
		fputs(text, stdout);
	}
	json_decref(answer);
	return 0;
}

static int cmd_remove(const struct ctl *c, int argc, char **argv)
{
	if (argc < 1)
		return usage_error("remove: expected ID...");
	g_autofree json_int_t *ids = g_new(json_int_t, argc);
	for (int i = 0; i < argc; i++)
		if (!ctl_parse_id(argv[i], &ids[i]))
			return usage_error("remove: \"%s\" is not a forward id (1 or more)",
			                   argv[i]);
	int rc = 0;
	for (int i = 0; i < argc; i++) {
		json_t *answer = request(c, "remove", ctl_remove_request(ids[i]));
		if (answer == NULL)
			rc = EXIT_FAIL;
		json_decref(answer);
	}
	return rc;
}

static int run_command(const struct ctl *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	if (strcmp(cmd, "add") == 0)
		return cmd_add(c, argc - 1, argv + 1);
	if (strcmp(cmd, "remove") == 0)
		return cmd_remove(c, argc - 1, argv + 1);
	bool noargs = argc == 1;
	if (strcmp(cmd, "list") == 0)
		return noargs ? cmd_show(c, "list", "list_hostfwd", ctl_format_list, true)
		              : usage_error("list takes no arguments");
	if (strcmp(cmd, "info") == 0)
		return noargs ? cmd_show(c, "info", "get_info", ctl_format_info, false)
		              : usage_error("info takes no arguments");
	if (strcmp(cmd, "connections") == 0)
		return noargs ? cmd_show(c, "connections", "list_connections",
		                         ctl_format_connections, false)
		              : usage_error("connections takes no arguments");
	return usage_error("unknown command \"%s\"", cmd);
}

int main(int argc, char **argv)
{
	enum { OPT_VERSION = 256 };
	static const struct option longopts[] = {
	    {"api-socket", required_argument, NULL, 'a'}, {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},  {NULL, 0, NULL, 0},
	};
	struct ctl c = {.timeout_sec = 10};
	guint64 n;
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "a:jt:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			c.socket = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 't':
			if (!g_ascii_string_to_unsigned(optarg, 10, 1, 3600, &n, NULL))
				return usage_error("--timeout: \"%s\" is not 1 to 3600 seconds",
				                   optarg);
			c.timeout_sec = (unsigned)n;
			break;
		case 'h':
			fputs(help_text, stdout);
			return 0;
		case OPT_VERSION:
			printf("slirpnsctl version %s\ncommit: %s\n", PACKAGE_VERSION,
			       SLIRPNS_COMMIT);
			return 0;
		default:
			return usage_error("unknown option or missing value: %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("no command given");
	if (c.socket == NULL)
		return usage_error("no API socket given (-a PATH)");
	return run_command(&c, argc - optind, argv + optind);
}
