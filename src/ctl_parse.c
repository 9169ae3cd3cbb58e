// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ctl_parse.c - slirpnsctl's pure half: the forward spec grammar and the JSON requests.
 *
 * A spec reads `[HOSTADDR:]HOSTPORT:GUESTPORT[/GUESTADDR]`, as podman's -p does:
 *   - HOSTADDR is an IPv4 literal, or an IPv6 literal in brackets ("[::1]"); without it the
 *     daemon listens on 0.0.0.0. More than two colons outside brackets is an IPv6 address
 *     someone forgot to bracket, and is refused with that hint.
 *   - each port is N or a range A-B (A <= B); with ranges, both sides have the same length
 *     and port i of one maps to port i of the other. A single host port 0 asks the daemon for
 *     an ephemeral port; 0 is not allowed in a range, nor as a guest port.
 *   - GUESTADDR, after the first "/", is an IPv4 or IPv6 literal (brackets allowed).
 *   - a last "/tcp" or "/udp" sets the protocol, as in slirpns -p and podman -p
 *     ("8080:80/udp", "8080:80/10.0.2.5/udp").
 * Nothing here does I/O: slirpnsctl.c sends what ctl_add_request() builds, one request per
 * port, and the unit tests (tests/unit/test_ctl_parse.c) check the grammar and its errors.
 */
#include "config.h"
#include "ctl_parse.h"

#include <arpa/inet.h>
#include <string.h>

G_DEFINE_QUARK(slirpnsctl - error - quark, ctl_error)

static bool fail(GError **err, const char *spec, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static bool fail(GError **err, const char *spec, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(err, CTL_ERROR, 1, "bad forward \"%s\": %s", spec, why);
	return false;
}

bool ctl_parse_proto(const char *s, bool *udp)
{
	if (g_ascii_strcasecmp(s, "tcp") == 0 || g_ascii_strcasecmp(s, "udp") == 0) {
		*udp = g_ascii_tolower(s[0]) == 'u';
		return true;
	}
	return false;
}

/* A decimal number 0..65535, digits only. */
static bool parse_port(const char *s, uint16_t *out)
{
	guint64 n;
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5 ||
	    !g_ascii_string_to_unsigned(s, 10, 0, 65535, &n, NULL))
		return false;
	*out = (uint16_t)n;
	return true;
}

/* "N" or "A-B" into [*first, *last]; what names the side for messages. */
static bool parse_range(const char *s, const char *what, const char *spec, uint16_t *first,
                        uint16_t *last, GError **err)
{
	const char *dash = strchr(s, '-');
	if (dash == NULL) {
		if (!parse_port(s, first))
			return fail(err, spec, "%s port \"%s\" is not a number from 0 to 65535",
			            what, s);
		*last = *first;
		return true;
	}
	g_autofree char *a = g_strndup(s, (gsize)(dash - s));
	if (!parse_port(a, first) || !parse_port(dash + 1, last))
		return fail(err, spec, "%s port range \"%s\" is not A-B with A, B from 1 to 65535",
		            what, s);
	if (*first == 0)
		return fail(err, spec, "%s port range \"%s\" cannot start at 0", what, s);
	if (*first > *last)
		return fail(err, spec, "%s port range \"%s\" runs backwards", what, s);
	return true;
}

/* Copy an address literal of family (AF_UNSPEC: either) into out, normalised. */
static bool parse_addr(const char *s, int family, char out[INET6_ADDRSTRLEN])
{
	struct in6_addr a;
	if ((family == AF_INET || family == AF_UNSPEC) && inet_pton(AF_INET, s, &a) == 1)
		return inet_ntop(AF_INET, &a, out, INET6_ADDRSTRLEN) != NULL;
	if ((family == AF_INET6 || family == AF_UNSPEC) && inet_pton(AF_INET6, s, &a) == 1)
		return inet_ntop(AF_INET6, &a, out, INET6_ADDRSTRLEN) != NULL;
	return false;
}

/* "[v6]" -> "v6"; anything else unchanged. Returns a new string. */
static char *strip_brackets(const char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
		return g_strndup(s + 1, n - 2);
	return g_strdup(s);
}

static bool parse_guest_addr(const char *s, const char *spec, struct ctl_forward *fw, GError **err)
{
	g_autofree char *bare = strip_brackets(s);
	if (!parse_addr(bare, AF_UNSPEC, fw->guest_addr))
		return fail(err, spec, "guest address \"%s\" is not an IP address", s);
	return true;
}

/* Split "[HOSTADDR:]PORTS:PORTS" into the host address (NULL if absent) and the two port parts.
 */
static bool split_host(const char *s, const char *spec, char **addr, char **ports, GError **err)
{
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return fail(err, spec, "expected \"[IPV6]:\" at the start");
		*addr = g_strndup(s + 1, (gsize)(close - s - 1));
		*ports = g_strdup(close + 2);
		return true;
	}
	const char *first = strchr(s, ':');
	const char *last = strrchr(s, ':');
	if (first == NULL)
		return fail(err, spec, "expected HOSTPORT:GUESTPORT");
	if (first == last) {
		*addr = NULL;
		*ports = g_strdup(s);
		return true;
	}
	if (strchr(first + 1, ':') != last)
		return fail(err, spec,
		            "an IPv6 host address goes in brackets, as in [::1]:8080:80");
	*addr = g_strndup(s, (gsize)(first - s));
	*ports = g_strdup(first + 1);
	return true;
}

static bool parse_host_addr(const char *addr, bool bracketed, const char *spec,
                            struct ctl_forward *fw, GError **err)
{
	if (addr == NULL) {
		g_strlcpy(fw->host_addr, "0.0.0.0", sizeof(fw->host_addr));
		return true;
	}
	if (!parse_addr(addr, bracketed ? AF_INET6 : AF_INET, fw->host_addr))
		return fail(err, spec, "host address \"%s\" is not an %s address", addr,
		            bracketed ? "IPv6" : "IPv4");
	return true;
}

/* HOSTPORTS:GUESTPORTS into fw's ports and count. */
static bool parse_ports(const char *ports, const char *spec, struct ctl_forward *fw, GError **err)
{
	const char *colon = strchr(ports, ':');
	if (colon == NULL)
		return fail(err, spec, "expected HOSTPORT:GUESTPORT");
	g_autofree char *host = g_strndup(ports, (gsize)(colon - ports));
	uint16_t h1, h2, g1, g2;
	if (!parse_range(host, "host", spec, &h1, &h2, err) ||
	    !parse_range(colon + 1, "guest", spec, &g1, &g2, err))
		return false;
	if (g1 == 0)
		return fail(err, spec, "the guest port must be from 1 to 65535");
	if (h2 - h1 != g2 - g1)
		return fail(err, spec,
		            "the host and guest port ranges differ in length (%u and %u)",
		            h2 - h1 + 1u, g2 - g1 + 1u);
	fw->host_port = h1;
	fw->guest_port = g1;
	fw->count = h2 - h1 + 1u;
	return true;
}

/* What follows the first "/": GUESTADDR, tcp|udp, or GUESTADDR/tcp|udp. */
static bool parse_suffix(char *suffix, const char *spec, struct ctl_forward *fw, GError **err)
{
	char *last = strrchr(suffix, '/');
	char *proto = last != NULL ? last + 1 : suffix;
	if (ctl_parse_proto(proto, &fw->udp)) {
		fw->proto_in_spec = true;
		if (last == NULL)
			return true;
		*last = '\0';
	}
	return parse_guest_addr(suffix, spec, fw, err);
}

bool ctl_parse_forward(const char *spec, struct ctl_forward *fw, GError **err)
{
	bool udp = fw->udp;
	memset(fw, 0, sizeof(*fw));
	fw->udp = udp;
	g_autofree char *head = g_strdup(spec);
	char *slash = strchr(head, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (!parse_suffix(slash + 1, spec, fw, err))
			return false;
	}
	g_autofree char *addr = NULL;
	g_autofree char *ports = NULL;
	if (!split_host(head, spec, &addr, &ports, err))
		return false;
	return parse_host_addr(addr, head[0] == '[', spec, fw, err) &&
	       parse_ports(ports, spec, fw, err);
}

json_t *ctl_add_request(const struct ctl_forward *fw, unsigned i)
{
	json_t *args = json_pack("{s:s,s:s,s:i,s:i}", "proto", fw->udp ? "udp" : "tcp", "host_addr",
	                         fw->host_addr, "host_port", (int)(fw->host_port + i), "guest_port",
	                         (int)(fw->guest_port + i));
	if (fw->guest_addr[0] != '\0')
		json_object_set_new(args, "guest_addr", json_string(fw->guest_addr));
	return json_pack("{s:s,s:o}", "execute", "add_hostfwd", "arguments", args);
}

json_t *ctl_simple_request(const char *cmd)
{
	return json_pack("{s:s}", "execute", cmd);
}

json_t *ctl_remove_request(json_int_t id)
{
	return json_pack("{s:s,s:{s:I}}", "execute", "remove_hostfwd", "arguments", "id", id);
}

bool ctl_parse_id(const char *s, json_int_t *id)
{
	guint64 n;
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) ||
	    !g_ascii_string_to_unsigned(s, 10, 1, G_MAXINT64, &n, NULL))
		return false;
	*id = (json_int_t)n;
	return true;
}
