// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * status.c - the daemon's state as JSON, for the API's get_info and list_connections.
 *
 * get_info combines the configuration (network, gateway, DNS, MTU, IPv6 prefix) with the
 * engine's counters. Connections come from libslirp, which only offers a text table
 * (slirp_connection_info(): a header line, then one line per socket such as
 * "  TCP[ESTABLISHED]   13   10.0.2.100 45678   10.0.2.2  8080  0  0"); we parse each line
 * into {proto, state, fd, src_addr, src_port, dst_addr, dst_port, recv_q, send_q} (ports are
 * null for ICMP; UDP and ICMP states such as "236 sec" also give expires_sec) and skip
 * anything that does not have that shape.
 *
 * get_info's "target" says which namespace the daemon serves and how to enter it: the daemon
 * itself stays in the host's namespaces, so `nsenter -t <daemon pid>` gets nowhere. The nsenter
 * command joins the target's user namespace first (as the daemon does) unless that is the
 * daemon's own, where setns() would fail with EINVAL; status_probe_target() finds that out
 * at startup, before --enable-sandbox hides /proc (and may move the daemon into it).
 */
#include "config.h"
#include "status.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static json_t *addr4_json(struct in_addr a)
{
	char buf[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *ipv6_json(const struct options *opt)
{
	char net[INET6_ADDRSTRLEN], gw[INET6_ADDRSTRLEN], dns[INET6_ADDRSTRLEN];
	struct in6_addr a = opt->net6;
	inet_ntop(AF_INET6, &a, net, sizeof(net));
	a.s6_addr[15] = 2;
	inet_ntop(AF_INET6, &a, gw, sizeof(gw));
	a.s6_addr[15] = 3;
	inet_ntop(AF_INET6, &a, dns, sizeof(dns));
	g_autofree char *prefix = g_strdup_printf("%s/64", net);
	return json_pack("{s:b,s:s,s:s,s:s}", "enabled", opt->ipv6, "prefix", prefix, "gateway", gw,
	                 "dns", dns);
}

/* 1: the target's user namespace is the daemon's own; 0: it is not (or none); -1: not probed. */
static int userns_is_own = -1;

void status_probe_target(const struct options *opt)
{
	g_autofree char *userns = options_target_userns(opt);
	struct stat a, b;
	userns_is_own = userns != NULL && stat(userns, &a) == 0 &&
	                stat("/proc/self/ns/user", &b) == 0 && a.st_dev == b.st_dev &&
	                a.st_ino == b.st_ino;
}

/* s as one shell word: bare when it has nothing the shell would interpret. */
static char *shell_word(const char *s)
{
	if (*s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "0123456789/._-+:@%,=") == strlen(s))
		return g_strdup(s);
	return g_shell_quote(s);
}

/* The nsenter command line that enters the target's network namespace, or NULL. */
static char *nsenter_command(const struct options *opt, const char *netns, const char *userns)
{
	bool join_user = userns != NULL && userns_is_own != 1;
	if (opt->netns_type == NETNS_PID && opt->userns_path == NULL)
		return g_strdup_printf("nsenter %s-t %d",
		                       join_user ? "--preserve-credentials -U -n " : "-n ",
		                       (int)opt->target_pid);
	g_autofree char *net = shell_word(netns);
	if (!join_user)
		return g_strdup_printf("nsenter --net=%s", net);
	g_autofree char *user = shell_word(userns);
	return g_strdup_printf("nsenter --preserve-credentials --user=%s --net=%s", user, net);
}

static json_t *string_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *status_target(const struct options *opt)
{
	if (userns_is_own < 0)
		status_probe_target(opt);
	static const char *const types[] = {[NETNS_PID] = "pid",
	                                    [NETNS_PATH] = "path",
	                                    [NETNS_TAPFD] = "tapfd",
	                                    [NETNS_NONE] = "none"};
	bool bess = opt->target_type == TARGET_BESS;
	const char *type = bess ? "bess" : types[opt->netns_type];
	g_autofree char *netns = NULL;
	if (!bess && opt->netns_type == NETNS_PID)
		netns = g_strdup_printf("/proc/%d/ns/net", (int)opt->target_pid);
	else if (!bess && opt->netns_type == NETNS_PATH)
		netns = g_strdup(opt->target_path);
	g_autofree char *userns = netns != NULL ? options_target_userns(opt) : NULL;
	g_autofree char *cmd = netns != NULL ? nsenter_command(opt, netns, userns) : NULL;
	json_t *pid =
	    !bess && opt->netns_type == NETNS_PID ? json_integer(opt->target_pid) : json_null();
	return json_pack("{s:s,s:o,s:o,s:o,s:o}", "type", type, "pid", pid, "netns_path",
	                 string_or_null(netns), "userns_path", string_or_null(userns), "nsenter",
	                 string_or_null(cmd));
}

json_t *status_info(const struct options *opt, struct engine *e, const struct datapath_stats *st)
{
	char net[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &opt->net, net, sizeof(net));
	g_autofree char *cidr = g_strdup_printf("%s/%u", net, opt->prefix);
	g_autofree char *text = slirp_connection_info(engine_slirp(e));
	size_t nconns = status_count_connections(text);
	return json_pack(
	    "{s:s,s:s,s:o,s:o,s:o,s:i,s:b,s:b,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I}}", "version",
	    PACKAGE_VERSION, "network", cidr, "gateway", addr4_json(addr4_offset(opt->net, 2)),
	    "dns", addr4_json(addr4_offset(opt->net, 3)), "recommended_ip",
	    addr4_json(addr4_offset(opt->net, 100)), "mtu", (int)opt->mtu, "dns_enabled",
	    !opt->disable_dns, "host_loopback", !opt->disable_host_loopback, "ipv6", ipv6_json(opt),
	    "counters", "frames_in", (json_int_t)st->frames_in, "bytes_in",
	    (json_int_t)st->bytes_in, "frames_out", (json_int_t)st->frames_out, "bytes_out",
	    (json_int_t)st->bytes_out, "frames_dropped", (json_int_t)st->frames_dropped,
	    "connections", (json_int_t)nconns);
}

/* A table cell holding a number; "-" (no port, for ICMP) gives -1 when dash_ok. */
static bool cell_number(const char *cell, bool dash_ok, gint64 *out)
{
	if (dash_ok && strcmp(cell, "-") == 0) {
		*out = -1;
		return true;
	}
	return g_ascii_string_to_signed(cell, 10, G_MININT, G_MAXINT, out, NULL);
}

static json_t *port_json(gint64 port)
{
	return port < 0 ? json_null() : json_integer(port);
}

/* Split what follows "PROTO[STATE]" into its 7 cells; false for any other shape. */
static bool split_cells(const char *rest, char *cells[7], gint64 num[7])
{
	g_auto(GStrv) words = g_strsplit_set(rest, " \t\r", -1);
	size_t n = 0;
	for (char **w = words; *w != NULL; w++) {
		if (**w == '\0')
			continue;
		if (n == 7)
			return false;
		cells[n++] = *w;
	}
	if (n != 7)
		return false;
	/* fd, src, sport, dst, dport, recv_q, send_q: all but the addresses are numbers. */
	for (size_t i = 0; i < 7; i++)
		if (i != 1 && i != 3 && !cell_number(cells[i], i == 2 || i == 4, &num[i]))
			return false;
	for (size_t i = 0; i < 7; i++)
		cells[i] = g_strdup(cells[i]);
	return true;
}

/*
 * One line of the table, as libslirp 4.7 prints it (misc.c):
 *   "  TCP[ESTABLISHED]   13      10.0.2.100 45678        10.0.2.2  8080     0     0"
 *   "  UDP[236 sec]       14      10.0.2.100 51234        10.0.2.3    53     0     0"
 *   "  ICMP[5 sec]        15      10.0.2.100  -           10.0.2.2  -        0     0"
 * The state may contain spaces ("236 sec": seconds until a UDP/ICMP socket expires); a
 * listening host forward shows "*" as its address when it listens on all of them.
 */
static json_t *parse_line(const char *line)
{
	const char *open = strchr(line, '[');
	const char *close = open ? strchr(open, ']') : NULL;
	if (close == NULL)
		return NULL;
	g_autofree char *proto = g_strstrip(g_strndup(line, (gsize)(open - line)));
	g_autofree char *state = g_strndup(open + 1, (gsize)(close - open - 1));
	char *cells[7];
	gint64 num[7];
	if (*proto == '\0' || !split_cells(close + 1, cells, num))
		return NULL;
	json_t *c =
	    json_pack("{s:s,s:s,s:I,s:s,s:o,s:s,s:o,s:I,s:I}", "proto", proto, "state", state, "fd",
	              (json_int_t)num[0], "src_addr", cells[1], "src_port", port_json(num[2]),
	              "dst_addr", cells[3], "dst_port", port_json(num[4]), "recv_q",
	              (json_int_t)num[5], "send_q", (json_int_t)num[6]);
	int secs, end = 0;
	if (c != NULL && sscanf(state, "%d sec%n", &secs, &end) == 1 && state[end] == '\0')
		json_object_set_new(c, "expires_sec", json_integer(secs));
	for (size_t i = 0; i < 7; i++)
		g_free(cells[i]);
	return c;
}

/* Does one line have the shape parse_line() takes? Cheaply: no allocation. */
static bool row_shape(const char *line, const char *end)
{
	const char *open = memchr(line, '[', (size_t)(end - line));
	const char *close = open ? memchr(open, ']', (size_t)(end - open)) : NULL;
	if (close == NULL || open == line)
		return false;
	size_t cells = 0;
	for (const char *p = close + 1; p < end;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p == end)
			break;
		if (cells == 0 && !g_ascii_isdigit(*p) && !(*p == '-' && p + 1 < end))
			return false; /* the header's "FD" */
		cells++;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
	}
	return cells == 7;
}

size_t status_count_connections(const char *text)
{
	size_t n = 0;
	for (const char *p = text ? text : ""; *p != '\0';) {
		const char *end = strchrnul(p, '\n');
		n += row_shape(p, end);
		p = *end ? end + 1 : end;
	}
	return n;
}

json_t *status_parse_connection_info(const char *text)
{
	json_t *list = json_array();
	g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		json_t *c = parse_line(*l);
		if (c != NULL)
			json_array_append_new(list, c);
	}
	return list;
}

json_t *status_connections(struct engine *e)
{
	char *text = slirp_connection_info(engine_slirp(e));
	json_t *list = status_parse_connection_info(text);
	g_free(text);
	return list;
}

json_t *status_bounds(const struct bounds *l, const struct tcpout_stats *ts,
                      const struct admit_stats *as, const struct udpout_stats *us)
{
	json_t *caps =
	    json_pack("{s:i,s:i,s:i,s:I,s:i}", "tcp_connections", (int)l->tcp, "half_open",
	              (int)l->half_open, "udp_flows", (int)l->udp, "buffered_bytes",
	              (json_int_t)l->buffered, "libslirp_sockets", (int)bounds_sockets(l));
	json_t *held = json_pack(
	    "{s:I,s:I,s:I,s:I,s:i,s:i}", "tcp_connections",
	    (json_int_t)(ts->active + ts->active_in), "half_open", (json_int_t)ts->half_open,
	    "buffered_bytes", (json_int_t)ts->buffered, "udp_flows", (json_int_t)us->flows,
	    "libslirp_udp_flows", (int)as->udp_flows, "libslirp_sockets", (int)as->sockets);
	json_t *refused = json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "tcp_syn", (json_int_t)ts->refused, "libslirp_syn",
	    (json_int_t)as->refused_tcp, "half_open_reset", (json_int_t)ts->evicted, "buffer_full",
	    (json_int_t)ts->buffer_full, "udp_evicted", (json_int_t)us->evicted, "udp_new_flow",
	    (json_int_t)as->refused_udp, "icmp_echo", (json_int_t)as->refused_icmp);
	return json_pack("{s:o,s:o,s:o}", "max", caps, "held", held, "refused", refused);
}

json_t *status_udp(const struct udpout_stats *us)
{
	return json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "enabled",
	                 us->enabled, "forward_clients", (json_int_t)us->clients, "forward_dropped",
	                 (json_int_t)us->client_dropped, "segmented_frames",
	                 (json_int_t)us->gso_frames, "flows", (json_int_t)us->flows, "total",
	                 (json_int_t)us->total, "evicted", (json_int_t)us->evicted, "expired",
	                 (json_int_t)us->expired, "port_unreachable", (json_int_t)us->unreachable,
	                 "datagrams_out", (json_int_t)us->dgrams_out, "datagrams_in",
	                 (json_int_t)us->dgrams_in, "segmented_sends", (json_int_t)us->gso_sends,
	                 "segment_refused", (json_int_t)us->gso_refused);
}
