// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_ctl_parse.c - slirpnsctl's pure parts: the forward spec grammar (addresses, ports,
 * ranges and every error), the requests it builds, and the readable output of answers,
 * including slirp4netns's, which lack fields.
 */
#include "config.h"
#include "ctl_format.h"
#include "ctl_parse.h"

#include <criterion/criterion.h>
#include <string.h>

static struct ctl_forward parse_ok(const char *spec)
{
	struct ctl_forward fw = {0};
	GError *err = NULL;
	bool ok = ctl_parse_forward(spec, &fw, &err);
	cr_assert(ok, "%s: %s", spec, err ? err->message : "?");
	return fw;
}

/* The spec is refused, with a message naming it and containing want. */
static void parse_bad(const char *spec, const char *want)
{
	struct ctl_forward fw = {0};
	GError *err = NULL;
	cr_assert_not(ctl_parse_forward(spec, &fw, &err), "%s was accepted", spec);
	cr_assert_not_null(err);
	g_autofree char *quoted = g_strdup_printf("\"%s\"", spec);
	cr_assert(strstr(err->message, quoted) != NULL, "%s: message '%s'", spec, err->message);
	cr_assert(strstr(err->message, want) != NULL, "%s: message '%s' lacks '%s'", spec,
	          err->message, want);
	g_error_free(err);
}

Test(ctl_parse, ports_only)
{
	struct ctl_forward fw = parse_ok("8080:80");
	cr_assert_str_eq(fw.host_addr, "0.0.0.0");
	cr_assert_str_eq(fw.guest_addr, "");
	cr_assert_eq(fw.host_port, 8080);
	cr_assert_eq(fw.guest_port, 80);
	cr_assert_eq(fw.count, 1);
}

Test(ctl_parse, host_addr_and_guest_addr)
{
	struct ctl_forward fw = parse_ok("127.0.0.1:8080:80/10.0.2.50");
	cr_assert_str_eq(fw.host_addr, "127.0.0.1");
	cr_assert_str_eq(fw.guest_addr, "10.0.2.50");
	fw = parse_ok("[::1]:8080:80");
	cr_assert_str_eq(fw.host_addr, "::1");
	fw = parse_ok("[0:0::0]:0:80/fd00::100");
	cr_assert_str_eq(fw.host_addr, "::");
	cr_assert_str_eq(fw.guest_addr, "fd00::100");
	cr_assert_eq(fw.host_port, 0);
	fw = parse_ok("8080:80/[fd00::100]");
	cr_assert_str_eq(fw.guest_addr, "fd00::100");
}

Test(ctl_parse, proto_is_kept)
{
	struct ctl_forward fw = {.udp = true};
	cr_assert(ctl_parse_forward("53:53", &fw, NULL));
	cr_assert(fw.udp);
	bool udp = false;
	cr_assert(ctl_parse_proto("UDP", &udp) && udp);
	cr_assert(ctl_parse_proto("tcp", &udp) && !udp);
	cr_assert_not(ctl_parse_proto("sctp", &udp));
	cr_assert_not(ctl_parse_proto("", &udp));
}

Test(ctl_parse, proto_suffix)
{
	struct ctl_forward fw = parse_ok("8080:80/udp");
	cr_assert(fw.udp && fw.proto_in_spec);
	cr_assert_str_eq(fw.guest_addr, "");
	fw = parse_ok("[::]:53:53/10.0.2.5/UDP");
	cr_assert(fw.udp && fw.proto_in_spec);
	cr_assert_str_eq(fw.guest_addr, "10.0.2.5");
	fw = (struct ctl_forward){.udp = true};
	cr_assert(ctl_parse_forward("8080:80/[fd00::5]/tcp", &fw, NULL));
	cr_assert(!fw.udp && fw.proto_in_spec);
	cr_assert_str_eq(fw.guest_addr, "fd00::5");
	fw = parse_ok("8080:80/10.0.2.5");
	cr_assert_not(fw.proto_in_spec);
	parse_bad("8080:80/udp/10.0.2.5", "guest address \"udp/10.0.2.5\"");
	parse_bad("8080:80/sctp", "guest address \"sctp\"");
	parse_bad("8080:80/10.0.2.5/", "guest address \"10.0.2.5/\"");
}

Test(ctl_parse, ranges)
{
	struct ctl_forward fw = parse_ok("8000-8010:9000-9010");
	cr_assert_eq(fw.host_port, 8000);
	cr_assert_eq(fw.guest_port, 9000);
	cr_assert_eq(fw.count, 11);
	fw = parse_ok("127.0.0.1:65534-65535:1-2");
	cr_assert_eq(fw.count, 2);
	fw = parse_ok("5-5:6-6");
	cr_assert_eq(fw.count, 1);
	fw = parse_ok("1-65535:1-65535");
	cr_assert_eq(fw.count, 65535);
}

Test(ctl_parse, range_errors)
{
	parse_bad("8000-8010:8000", "differ in length (11 and 1)");
	parse_bad("8000:8000-8001", "differ in length (1 and 2)");
	parse_bad("8000-8010:9000-9005", "differ in length (11 and 6)");
	parse_bad("8010-8000:8010-8000", "runs backwards");
	parse_bad("0-5:1-6", "cannot start at 0");
	parse_bad("8000-:80", "host port range");
	parse_bad("-8000:80", "host port range");
	parse_bad("8000-8001-8002:80-81", "host port range");
	parse_bad("80:70000-70001", "guest port range");
}

Test(ctl_parse, port_errors)
{
	parse_bad("65536:80", "host port \"65536\"");
	parse_bad("8080:0", "guest port must be from 1");
	parse_bad("http:80", "host port \"http\"");
	parse_bad("8080:+80", "guest port \"+80\"");
	parse_bad(":80", "host port \"\"");
	parse_bad("8080:", "guest port \"\"");
	parse_bad("8080", "expected HOSTPORT:GUESTPORT");
	parse_bad("", "expected HOSTPORT:GUESTPORT");
	parse_bad("1 :80", "host port");
	parse_bad("000080000:80", "host port");
}

Test(ctl_parse, address_errors)
{
	parse_bad("::1:8080:80", "in brackets");
	parse_bad("[::1]8080:80", "[IPV6]:");
	parse_bad("[::1:8080:80", "[IPV6]:");
	parse_bad("[127.0.0.1]:8080:80", "not an IPv6 address");
	parse_bad("localhost:8080:80", "not an IPv4 address");
	parse_bad("::8080:80", "in brackets");
	parse_bad("1.2.3:8080:80", "not an IPv4 address");
	parse_bad("8080:80/", "guest address \"\"");
	parse_bad("8080:80/container", "guest address \"container\"");
	parse_bad("8080:80/10.0.2.100/24", "guest address \"10.0.2.100/24\"");
}

static char *dumps(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

Test(ctl_parse, requests)
{
	struct ctl_forward fw = parse_ok("127.0.0.1:8000-8002:9000-9002");
	char *s = dumps(ctl_add_request(&fw, 2));
	cr_assert_str_eq(s, "{\"arguments\":{\"guest_port\":9002,\"host_addr\":\"127.0.0.1\","
	                    "\"host_port\":8002,\"proto\":\"tcp\"},\"execute\":\"add_hostfwd\"}");
	free(s);
	fw = (struct ctl_forward){.udp = true};
	cr_assert(ctl_parse_forward("0:53/10.0.2.9", &fw, NULL));
	s = dumps(ctl_add_request(&fw, 0));
	cr_assert_str_eq(s, "{\"arguments\":{\"guest_addr\":\"10.0.2.9\",\"guest_port\":53,"
	                    "\"host_addr\":\"0.0.0.0\",\"host_port\":0,\"proto\":\"udp\"},"
	                    "\"execute\":\"add_hostfwd\"}");
	free(s);
	s = dumps(ctl_remove_request(7));
	cr_assert_str_eq(s, "{\"arguments\":{\"id\":7},\"execute\":\"remove_hostfwd\"}");
	free(s);
	s = dumps(ctl_simple_request("get_info"));
	cr_assert_str_eq(s, "{\"execute\":\"get_info\"}");
	free(s);
}

Test(ctl_parse, ids)
{
	json_int_t id;
	cr_assert(ctl_parse_id("12", &id) && id == 12);
	cr_assert_not(ctl_parse_id("0", &id));
	cr_assert_not(ctl_parse_id("-1", &id));
	cr_assert_not(ctl_parse_id("1x", &id));
	cr_assert_not(ctl_parse_id("", &id));
	cr_assert_not(ctl_parse_id("99999999999999999999", &id));
}

static json_t *load(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	cr_assert_not_null(j, "%s: %s", s, e.text);
	return j;
}

Test(ctl_format, errors_and_returns)
{
	json_t *a = load("{\"error\":{\"desc\":\"bad request: unknown execute\"}}");
	cr_assert_str_eq(ctl_answer_error(a), "bad request: unknown execute");
	cr_assert_null(ctl_answer_return(a));
	json_decref(a);
	a = load("{\"error\":{}}");
	cr_assert_not_null(ctl_answer_error(a));
	json_decref(a);
	a = load("{\"return\":{}}");
	cr_assert_null(ctl_answer_error(a));
	cr_assert_not_null(ctl_answer_return(a));
	json_decref(a);
}

Test(ctl_format, list_slirpns_and_slirp4netns)
{
	/* slirpns: under return (and at the top) */
	json_t *a = load("{\"return\":{\"entries\":[{\"id\":1,\"proto\":\"tcp\",\"host_addr\":"
	                 "\"0.0.0.0\",\"host_port\":8080,\"guest_addr\":\"10.0.2.100\","
	                 "\"guest_port\":80},{\"id\":12,\"proto\":\"udp\",\"host_addr\":\"::1\","
	                 "\"host_port\":53,\"guest_addr\":\"fd00::100\",\"guest_port\":53}]}}");
	char *t = ctl_format_list(a);
	cr_assert_str_eq(t, "ID  PROTO  HOST          GUEST\n"
	                    "1   tcp    0.0.0.0:8080  10.0.2.100:80\n"
	                    "12  udp    [::1]:53      [fd00::100]:53\n");
	g_free(t);
	json_decref(a);
	/* slirp4netns: top level only, and a field missing */
	a = load("{\"entries\":[{\"id\":3,\"proto\":\"tcp\",\"host_addr\":\"0.0.0.0\","
	         "\"host_port\":1,\"guest_port\":2}]}");
	t = ctl_format_list(a);
	cr_assert_str_eq(t, "ID  PROTO  HOST       GUEST\n"
	                    "3   tcp    0.0.0.0:1  -\n");
	g_free(t);
	json_decref(a);
	a = load("{\"return\":{}}");
	t = ctl_format_list(a);
	cr_assert_str_eq(t, "ID  PROTO  HOST  GUEST\n");
	g_free(t);
	json_decref(a);
}

Test(ctl_format, connections)
{
	json_t *r = load(
	    "{\"connections\":[{\"proto\":\"TCP\",\"state\":\"HOST_FORWARD\",\"fd\":17,"
	    "\"src_addr\":\"*\",\"src_port\":8080,\"dst_addr\":\"10.0.2.100\",\"dst_port\":80,"
	    "\"recv_q\":0,\"send_q\":0},{\"proto\":\"UDP\",\"state\":\"238 sec\",\"src_addr\":"
	    "\"10.0.2.100\",\"src_port\":39530,\"dst_addr\":\"10.0.2.2\",\"dst_port\":5353,"
	    "\"recv_q\":0,\"send_q\":12,\"expires_sec\":238},{\"proto\":\"ICMP\",\"state\":"
	    "\"5 sec\",\"src_addr\":\"10.0.2.100\",\"src_port\":null,\"dst_addr\":\"10.0.2.2\","
	    "\"dst_port\":null,\"recv_q\":0,\"send_q\":0},{\"proto\":\"TCP\",\"state\":"
	    "\"ESTABLISHED\",\"src_addr\":\"10.0.2.100\",\"src_port\":1,\"dst_addr\":\"1.2.3.4\","
	    "\"dst_port\":443,\"recv_q\":3,\"send_q\":4,\"path\":\"fast\"}]}");
	char *t = ctl_format_connections(r);
	cr_assert_str_eq(
	    t, "PROTO  STATE         SRC               DST            RECV-Q  SEND-Q  PATH\n"
	       "TCP    HOST_FORWARD  *:8080            10.0.2.100:80  0       0       slirp\n"
	       "UDP    238 sec       10.0.2.100:39530  10.0.2.2:5353  0       12      slirp\n"
	       "ICMP   5 sec         10.0.2.100        10.0.2.2       0       0       slirp\n"
	       "TCP    ESTABLISHED   10.0.2.100:1      1.2.3.4:443    3       4       fast\n");
	g_free(t);
	json_decref(r);
}

Test(ctl_format, info_nested_in_order)
{
	json_t *r = load("{\"version\":\"0.1.0\",\"mtu\":1500,\"ipv6\":{\"enabled\":false,"
	                 "\"prefix\":\"fd00::/64\"},\"target\":{\"pid\":42,\"netns_path\":null,"
	                 "\"more\":{\"x\":[1,\"a\",{\"b\":2}]}},\"forwards\":2}");
	char *t = ctl_format_info(r);
	cr_assert_str_eq(t, "version: 0.1.0\n"
	                    "mtu: 1500\n"
	                    "ipv6:\n"
	                    "  enabled: false\n"
	                    "  prefix: fd00::/64\n"
	                    "target:\n"
	                    "  pid: 42\n"
	                    "  netns_path: -\n"
	                    "  more:\n"
	                    "    x: 1, a, {\"b\":2}\n"
	                    "forwards: 2\n");
	g_free(t);
	json_decref(r);
}

Test(ctl_format, endpoint)
{
	json_t *a = json_string("fd00::2"), *p = json_integer(53);
	char *t = ctl_format_endpoint(a, p);
	cr_assert_str_eq(t, "[fd00::2]:53");
	g_free(t);
	t = ctl_format_endpoint(NULL, p);
	cr_assert_str_eq(t, "-");
	g_free(t);
	t = ctl_format_endpoint(a, NULL);
	cr_assert_str_eq(t, "fd00::2");
	g_free(t);
	json_decref(a);
	json_decref(p);
}
