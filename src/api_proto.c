// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * api_proto.c - the API protocol as a pure function: request bytes in, response bytes out.
 *
 * The wire format is slirp4netns's QMP-like JSON: one object per connection with "execute"
 * and optional "arguments"; the answer is {"return": ...} or {"error": {"desc": "..."}} with
 * slirp4netns's wording. This file owns the forward table (ids start at 1 and are never
 * reused) and the validation of every field; opening and closing the host sockets is the
 * backend's job (forward.c with libslirp, or a fake in the unit tests), so everything here can
 * be tested without a network. JSON is parsed and printed with jansson only.
 *
 * Commands: add_hostfwd, list_hostfwd, remove_hostfwd (slirp4netns's), get_info and
 * list_connections (ours). list_hostfwd answers with both {"return":{"entries":...}} (what
 * slirp4netns documents) and a top-level "entries" (what it actually sends).
 */
#include "config.h"
#include "api_proto.h"

#include <arpa/inet.h>
#include <string.h>

struct api_proto {
	struct api_backend backend;
	struct in_addr default_guest4;
	bool ipv6;
	unsigned next_id;
	GArray *forwards; /* of struct forward, in id order */
};

struct api_proto *api_proto_new(const struct api_backend *backend, struct in_addr default_guest4,
                                bool ipv6)
{
	struct api_proto *p = g_new0(struct api_proto, 1);
	p->backend = *backend;
	p->default_guest4 = default_guest4;
	p->ipv6 = ipv6;
	p->next_id = 1;
	p->forwards = g_array_new(FALSE, TRUE, sizeof(struct forward));
	return p;
}

void api_proto_free(struct api_proto *p)
{
	if (p == NULL)
		return;
	g_array_unref(p->forwards);
	g_free(p);
}

unsigned api_proto_forward_count(const struct api_proto *p)
{
	return p->forwards->len;
}

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	g_assert(s != NULL);
	/* Hand back glib-allocated memory so every caller frees with g_free. */
	char *g = g_strdup(s);
	free(s);
	return g;
}

static char *error_response(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static char *error_response(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *raw = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	/* The text may quote the request (a parser message): never let bad UTF-8 through. */
	g_autofree char *desc = g_utf8_make_valid(raw, -1);
	return dump(json_pack("{s:{s:s}}", "error", "desc", desc));
}

static char *return_response(json_t *value)
{
	return dump(json_pack("{s:o}", "return", value));
}

/* Normalise an address literal; family is AF_INET, AF_INET6, or AF_UNSPEC for either. */
static bool normalise_addr(const char *in, int family, char out[INET6_ADDRSTRLEN])
{
	struct in6_addr a;
	if ((family == AF_INET || family == AF_UNSPEC) && inet_pton(AF_INET, in, &a) == 1)
		return inet_ntop(AF_INET, &a, out, INET6_ADDRSTRLEN) != NULL;
	if ((family == AF_INET6 || family == AF_UNSPEC) && inet_pton(AF_INET6, in, &a) == 1)
		return inet_ntop(AF_INET6, &a, out, INET6_ADDRSTRLEN) != NULL;
	return false;
}

/* Read an integer field in [min, max]; a missing field takes def (or fails when def < 0). */
static bool get_port(json_t *args, const char *key, long min, long def, uint16_t *out)
{
	json_t *v = json_object_get(args, key);
	if (v == NULL && def >= 0) {
		*out = (uint16_t)def;
		return true;
	}
	if (!json_is_integer(v))
		return false;
	json_int_t n = json_integer_value(v);
	if (n < min || n > 65535)
		return false;
	*out = (uint16_t)n;
	return true;
}

/* Read an address field; missing or "" (podman sends "guest_addr":"") takes def. */
static bool get_addr(json_t *args, const char *key, const char *def, int family,
                     char out[INET6_ADDRSTRLEN])
{
	json_t *v = json_object_get(args, key);
	if (v == NULL || (json_is_string(v) && json_string_length(v) == 0))
		return normalise_addr(def, family, out);
	return json_is_string(v) && normalise_addr(json_string_value(v), family, out);
}

static json_t *forward_json(const struct forward *fw)
{
	return json_pack("{s:I,s:s,s:s,s:i,s:s,s:i}", "id", (json_int_t)fw->id, "proto",
	                 fw->udp ? "udp" : "tcp", "host_addr", fw->host_addr, "host_port",
	                 (int)fw->host_port, "guest_addr", fw->guest_addr, "guest_port",
	                 (int)fw->guest_port);
}

bool api_proto_add(struct api_proto *p, struct forward *fw, GError **err)
{
	if (!p->backend.add(p->backend.opaque, fw, err))
		return false;
	fw->id = p->next_id++;
	g_array_append_val(p->forwards, *fw);
	return true;
}

static char *do_add(struct api_proto *p, json_t *args)
{
	struct forward fw = {0};
	char def_guest[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &p->default_guest4, def_guest, sizeof(def_guest));

	json_t *proto = json_is_object(args) ? json_object_get(args, "proto") : NULL;
	const char *ps = json_is_string(proto) ? json_string_value(proto) : "";
	if (strcmp(ps, "tcp") != 0 && strcmp(ps, "udp") != 0)
		return error_response("bad request: add_hostfwd: bad arguments.proto");
	fw.udp = ps[0] == 'u';
	if (!get_addr(args, "host_addr", "0.0.0.0", AF_UNSPEC, fw.host_addr))
		return error_response("bad request: add_hostfwd: bad arguments.host_addr");
	if (!get_port(args, "host_port", 0, -1, &fw.host_port))
		return error_response("bad request: add_hostfwd: bad arguments.host_port");
	if (!get_addr(args, "guest_addr", def_guest, p->ipv6 ? AF_UNSPEC : AF_INET, fw.guest_addr))
		return error_response("bad request: add_hostfwd: bad arguments.guest_addr");
	if (!get_port(args, "guest_port", 1, -1, &fw.guest_port))
		return error_response("bad request: add_hostfwd: bad arguments.guest_port");

	g_autoptr(GError) err = NULL;
	if (!api_proto_add(p, &fw, &err))
		return error_response("bad request: add_hostfwd: slirp_add_hostfwd failed: %s",
		                      err->message);
	json_t *ret = json_pack("{s:I}", "id", (json_int_t)fw.id);
	json_object_set_new(ret, "host_port", json_integer(fw.host_port));
	return return_response(ret);
}

static char *do_list(struct api_proto *p)
{
	json_t *entries = json_array();
	for (guint i = 0; i < p->forwards->len; i++)
		json_array_append_new(entries,
		                      forward_json(&g_array_index(p->forwards, struct forward, i)));
	return dump(json_pack("{s:{s:O},s:o}", "return", "entries", entries, "entries", entries));
}

static char *do_remove(struct api_proto *p, json_t *args)
{
	json_t *id = json_is_object(args) ? json_object_get(args, "id") : NULL;
	if (!json_is_integer(id) || json_integer_value(id) < 1)
		return error_response("bad request: remove_hostfwd: bad arguments.id");
	json_int_t want = json_integer_value(id);
	for (guint i = 0; i < p->forwards->len; i++) {
		const struct forward *fw = &g_array_index(p->forwards, struct forward, i);
		if ((json_int_t)fw->id != want)
			continue;
		p->backend.remove(p->backend.opaque, fw);
		g_array_remove_index(p->forwards, i);
		return return_response(json_object());
	}
	return error_response("bad request: remove_hostfwd: slirp_remove_hostfwd failed: "
	                      "no forward with id %" JSON_INTEGER_FORMAT,
	                      want);
}

static char *do_info(struct api_proto *p)
{
	json_t *info = p->backend.info ? p->backend.info(p->backend.opaque) : json_object();
	json_object_set_new(info, "forwards", json_integer(p->forwards->len));
	return return_response(info);
}

static char *do_connections(struct api_proto *p)
{
	json_t *list =
	    p->backend.connections ? p->backend.connections(p->backend.opaque) : json_array();
	return return_response(json_pack("{s:o}", "connections", list));
}

typedef char *(*command_fn)(struct api_proto *p, json_t *args);

static char *cmd_list(struct api_proto *p, json_t *args)
{
	return do_list(p);
}

static char *cmd_info(struct api_proto *p, json_t *args)
{
	return do_info(p);
}

static char *cmd_connections(struct api_proto *p, json_t *args)
{
	return do_connections(p);
}

static const struct {
	const char *name;
	command_fn fn;
} commands[] = {
    {"add_hostfwd", do_add},
    {"list_hostfwd", cmd_list},
    {"remove_hostfwd", do_remove},
    {"get_info", cmd_info},
    {"list_connections", cmd_connections},
};

static command_fn find_command(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].fn;
	return NULL;
}

/* Answer a parsed request: check its shape, then run the command it names. */
static char *dispatch(struct api_proto *p, json_t *root)
{
	if (!json_is_object(root))
		return error_response("bad request: json_object() failed: not an object");
	const char *cmd = json_string_value(json_object_get(root, "execute"));
	if (cmd == NULL)
		return error_response("bad request: no execute found");
	command_fn fn = find_command(cmd);
	if (fn == NULL)
		return error_response("bad request: unknown execute");
	json_t *args = json_object_get(root, "arguments");
	if (args != NULL && !json_is_object(args))
		return error_response("bad request: %s: bad arguments", cmd);
	return fn(p, args);
}

char *api_proto_handle(struct api_proto *p, const char *req, size_t len)
{
	if (len > API_MAX_REQUEST)
		return error_response("bad request: too large message");
	json_error_t jerr;
	json_t *root = json_loadb(req, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return error_response("bad request: cannot parse JSON: %s", jerr.text);
	char *resp = dispatch(p, root);
	json_decref(root);
	return resp;
}

/*
 * Deciding whether a partial request is worth waiting for. jansson tells "premature end of
 * input" when the bytes stop between tokens, but a token cut off at the end (`tru`, `12e`,
 * `"\u00`, half a UTF-8 character, an integer too big for jansson that more digits would make
 * a real) is reported as invalid. For those we complete the last
 * token by hand (a cut-off string is checked, then replaced by "") and ask again: if the
 * result is a premature end, what we have is a prefix of some valid request.
 */
enum scan { SCAN_COMPLETE, SCAN_PARTIAL, SCAN_INVALID };

static enum scan scan_json(const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (root != NULL) {
		json_decref(root);
		return SCAN_COMPLETE;
	}
	if (json_error_code(&jerr) == json_error_premature_end_of_input)
		return SCAN_PARTIAL;
	return SCAN_INVALID;
}

static enum scan scan_with(const char *buf, size_t len, const char *tail)
{
	g_autofree char *probe = g_malloc(len + strlen(tail));
	memcpy(probe, buf, len);
	memcpy(probe + len, tail, strlen(tail));
	return scan_json(probe, len + strlen(tail));
}

/* How many bytes at the end of buf are the start of a UTF-8 character cut short (0..3). */
static size_t cut_utf8_tail(const char *buf, size_t len)
{
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = (unsigned char)buf[len - back];
		if ((c & 0xC0) == 0x80)
			continue; /* a continuation byte: look further back for the lead */
		if (c < 0xC0)
			return 0; /* ASCII (NUL included) is never the start of a longer character
			           */
		gunichar u = g_utf8_get_char_validated(buf + len - back, (gssize)back);
		return u == (gunichar)-2 ? back : 0;
	}
	return 0;
}

/* Could s[0..len) begin the inside of a JSON string (valid UTF-8 and escapes, maybe cut)? */
static bool string_prefix_ok(const char *s, size_t len)
{
	len -= cut_utf8_tail(s, len);
	if (!g_utf8_validate(s, (gssize)len, NULL))
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20)
			return false;
		if (s[i] != '\\' || ++i == len)
			continue;
		if (strchr("\"\\/bfnrtu", s[i]) == NULL || s[i] == '\0')
			return false;
		for (size_t k = 1; s[i] == 'u' && k <= 4 && i + k < len; k++)
			if (!g_ascii_isxdigit(s[i + k]))
				return false;
	}
	return true;
}

/* Where the string that buf ends inside starts (its opening quote), or -1. */
static gssize open_string_at(const char *buf, size_t len)
{
	gssize start = -1;
	for (size_t i = 0; i < len; i++) {
		if (start < 0 && buf[i] == '"')
			start = (gssize)i;
		else if (start >= 0 && buf[i] == '\\')
			i++;
		else if (start >= 0 && buf[i] == '"')
			start = -1;
	}
	return start;
}

/* Outside strings: the rest of a cut-off literal (true/false/null) or number, or NULL. */
static const char *bare_completion(const char *buf, size_t len)
{
	static const char *const words[] = {"true", "false", "null"};
	size_t start = len;
	while (start > 0 && g_ascii_isalpha(buf[start - 1]))
		start--;
	size_t n = len - start;
	for (size_t i = 0; n > 0 && i < G_N_ELEMENTS(words); i++)
		if (n < strlen(words[i]) && strncmp(buf + start, words[i], n) == 0)
			return words[i] + n;
	if (len > 0 && strchr("-+.eE", buf[len - 1]) != NULL)
		return "0";
	/* An integer too big for jansson may still become a valid real (`1111...1` + `.5`). */
	if (len > 0 && g_ascii_isdigit(buf[len - 1]))
		return "e0";
	return NULL;
}

bool api_proto_incomplete(const char *req, size_t len)
{
	if (len > API_MAX_REQUEST)
		return false;
	/* A request is an object: anything else at the start can never become one. */
	size_t lead = 0;
	while (lead < len && g_ascii_isspace(req[lead]))
		lead++;
	if (lead < len && req[lead] != '{')
		return false;
	enum scan s = scan_json(req, len);
	if (s != SCAN_INVALID)
		return s == SCAN_PARTIAL;
	gssize q = open_string_at(req, len);
	if (q >= 0)
		return string_prefix_ok(req + q + 1, len - (size_t)q - 1) &&
		       scan_with(req, (size_t)q, "\"\"") == SCAN_PARTIAL;
	const char *rest = bare_completion(req, len);
	return rest != NULL && scan_with(req, len, rest) == SCAN_PARTIAL;
}

char *forward_text(const struct forward *fw)
{
	const char *hb = strchr(fw->host_addr, ':') ? "[" : "", *he = *hb ? "]" : "";
	const char *gb = strchr(fw->guest_addr, ':') ? "[" : "", *ge = *gb ? "]" : "";
	return g_strdup_printf("%s %s%s%s:%u -> %s%s%s:%u", fw->udp ? "udp" : "tcp", hb,
	                       fw->host_addr, he, fw->host_port, gb, fw->guest_addr, ge,
	                       fw->guest_port);
}
