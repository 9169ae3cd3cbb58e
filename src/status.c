/*
 * status.c - the daemon's state as JSON, for the API's get_info and list_connections.
 *
 * get_info combines the configuration (network, gateway, DNS, MTU, IPv6 prefix) with the
 * engine's counters. Connections come from libslirp, which only offers a text table
 * (slirp_connection_info(): a header line, then one line per socket such as
 * "  TCP[ESTABLISHED]   13   10.0.2.100 45678   10.0.2.2  8080  0  0"); we parse each line
 * into {proto, state, fd, src_addr, src_port, dst_addr, dst_port, recv_q, send_q} and skip
 * anything that does not have that shape.
 */
#include "config.h"
#include "status.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

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

json_t *status_info(const struct options *opt, struct engine *e)
{
	const struct engine_stats *st = engine_stats(e);
	char net[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &opt->net, net, sizeof(net));
	g_autofree char *cidr = g_strdup_printf("%s/%u", net, opt->prefix);
	json_t *conns = status_connections(e);
	size_t nconns = json_array_size(conns);
	json_decref(conns);
	return json_pack(
		"{s:s,s:s,s:o,s:o,s:o,s:i,s:b,s:b,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I}}", "version",
		PACKAGE_VERSION, "network", cidr, "gateway", addr4_json(addr4_offset(opt->net, 2)),
		"dns", addr4_json(addr4_offset(opt->net, 3)), "recommended_ip",
		addr4_json(addr4_offset(opt->net, 100)), "mtu", (int)opt->mtu, "dns_enabled",
		!opt->disable_dns, "host_loopback", !opt->disable_host_loopback, "ipv6",
		ipv6_json(opt), "counters", "frames_in", (json_int_t)st->frames_in, "bytes_in",
		(json_int_t)st->bytes_in, "frames_out", (json_int_t)st->frames_out, "bytes_out",
		(json_int_t)st->bytes_out, "frames_dropped", (json_int_t)st->frames_dropped,
		"connections", (json_int_t)nconns);
}

static json_t *parse_line(const char *line)
{
	char proto[64], src[64], dst[64];
	int fd, sport, dport, rq, sq;
	if (sscanf(line, " %63s %d %63s %d %63s %d %d %d", proto, &fd, src, &sport, dst, &dport, &rq,
		   &sq) != 8)
		return NULL;
	char *br = strchr(proto, '[');
	const char *state = "";
	if (br != NULL) {
		*br = '\0';
		state = br + 1;
		char *end = strrchr(br + 1, ']');
		if (end)
			*end = '\0';
	}
	return json_pack("{s:s,s:s,s:i,s:s,s:i,s:s,s:i,s:i,s:i}", "proto", proto, "state", state,
			 "fd", fd, "src_addr", src, "src_port", sport, "dst_addr", dst, "dst_port",
			 dport, "recv_q", rq, "send_q", sq);
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
