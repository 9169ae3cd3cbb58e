// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_api_proto.c - the API protocol (src/api_proto.c) as a pure function, and the parser of
 * libslirp's connection table (status_parse_connection_info() in src/status.c).
 *
 * api_proto_handle() gets request bytes and returns response bytes; a fake backend stands in
 * for libslirp: it records what was added and removed, picks a port when host_port is 0, and
 * can be told to fail with a given message. Responses are parsed with jansson and compared as
 * JSON; only error descriptions, whose wording slirp4netns clients match, are compared as text.
 * The connection-table text is produced with the same format strings as libslirp 4.7's
 * slirp_connection_info() (misc.c), so the parser sees what the daemon really gets.
 */
#include "config.h"
#include "api_proto.h"
#include "status.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

/* ---- the fake backend ----------------------------------------------------------------- */

struct fake {
	GArray *added;    /* struct forward, as the backend was asked to open them */
	GArray *removed;  /* struct forward, as the backend was asked to close them */
	const char *fail; /* when set, add fails with this message */
	uint16_t next_port;
	int info_calls, connections_calls;
};

static struct fake fake;
static struct api_proto *proto;

static bool fake_add(void *opaque, struct forward *fw, GError **err)
{
	struct fake *f = opaque;
	if (f->fail != NULL) {
		g_set_error(err, g_quark_from_static_string("fake"), 1, "%s", f->fail);
		return false;
	}
	if (fw->host_port == 0)
		fw->host_port = f->next_port++;
	g_array_append_val(f->added, *fw);
	return true;
}

static void fake_remove(void *opaque, const struct forward *fw)
{
	struct fake *f = opaque;
	g_array_append_val(f->removed, *fw);
}

static json_t *fake_info(void *opaque)
{
	struct fake *f = opaque;
	f->info_calls++;
	return json_pack("{s:s,s:s,s:i}", "version", "test", "network", "10.0.2.0/24", "mtu", 1500);
}

static json_t *fake_connections(void *opaque)
{
	struct fake *f = opaque;
	f->connections_calls++;
	return json_pack("[{s:s,s:s}]", "proto", "TCP", "state", "ESTABLISHED");
}

static struct api_proto *make_proto(bool ipv6, bool with_status)
{
	struct api_backend b = {
	    .add = fake_add,
	    .remove = fake_remove,
	    .info = with_status ? fake_info : NULL,
	    .connections = with_status ? fake_connections : NULL,
	    .opaque = &fake,
	};
	struct in_addr guest;
	inet_pton(AF_INET, "10.0.2.100", &guest);
	return api_proto_new(&b, guest, ipv6);
}

static void reset_fake(void)
{
	memset(&fake, 0, sizeof(fake));
	fake.added = g_array_new(FALSE, TRUE, sizeof(struct forward));
	fake.removed = g_array_new(FALSE, TRUE, sizeof(struct forward));
	fake.next_port = 40000;
}

static void setup_v4(void)
{
	reset_fake();
	proto = make_proto(false, true);
}

static void setup_v6(void)
{
	reset_fake();
	proto = make_proto(true, true);
}

static void setup_bare(void)
{
	reset_fake();
	proto = make_proto(false, false);
}

static void teardown(void)
{
	api_proto_free(proto);
	proto = NULL;
	g_array_unref(fake.added);
	g_array_unref(fake.removed);
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* Send raw bytes; the response must be one JSON object. */
static json_t *call_bytes(const char *req, size_t len)
{
	g_autofree char *resp = api_proto_handle(proto, req, len);
	cr_assert_not_null(resp);
	json_error_t jerr;
	json_t *j = json_loads(resp, 0, &jerr);
	cr_assert_not_null(j, "response is not JSON: %s (%s)", resp, jerr.text);
	cr_assert(json_is_object(j), "response is not an object: %s", resp);
	return j;
}

static json_t *call(const char *req)
{
	return call_bytes(req, strlen(req));
}

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	cr_assert_not_null(j, "bad expected JSON %s: %s", text, jerr.text);
	return j;
}

static void assert_json_eq(json_t *got, const char *want_text)
{
	json_t *want = parse(want_text);
	g_autofree char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert(json_equal(got, want), "got %s, want %s", g, want_text);
	json_decref(want);
}

/* The error description of a response, or fail if it is not an error. */
static char *error_desc(json_t *resp)
{
	const char *desc =
	    json_string_value(json_object_get(json_object_get(resp, "error"), "desc"));
	g_autofree char *text = json_dumps(resp, JSON_COMPACT);
	cr_assert_not_null(desc, "not an error response: %s", text);
	cr_assert_eq(json_object_size(resp), 1, "extra keys in error response: %s", text);
	return g_strdup(desc);
}

static void expect_error_bytes(const char *req, size_t len, const char *want)
{
	json_t *resp = call_bytes(req, len);
	g_autofree char *desc = error_desc(resp);
	cr_assert_str_eq(desc, want, "request %.*s", (int)MIN(len, 200), req);
	json_decref(resp);
}

static void expect_error(const char *req, const char *want)
{
	expect_error_bytes(req, strlen(req), want);
}

static void expect_error_prefix_bytes(const char *req, size_t len, const char *prefix)
{
	json_t *resp = call_bytes(req, len);
	g_autofree char *desc = error_desc(resp);
	cr_assert(g_str_has_prefix(desc, prefix), "request %.*s: desc '%s' lacks prefix '%s'",
	          (int)MIN(len, 200), req, desc, prefix);
	json_decref(resp);
}

static void expect_error_prefix(const char *req, const char *prefix)
{
	expect_error_prefix_bytes(req, strlen(req), prefix);
}

/* add_hostfwd with the given "arguments" object text. */
static json_t *add(const char *args)
{
	g_autofree char *req =
	    g_strdup_printf("{\"execute\":\"add_hostfwd\",\"arguments\":%s}", args);
	return call(req);
}

/* add_hostfwd that must succeed; returns the id. */
static json_int_t add_ok(const char *args)
{
	json_t *resp = add(args);
	g_autofree char *text = json_dumps(resp, JSON_COMPACT);
	json_t *id = json_object_get(json_object_get(resp, "return"), "id");
	cr_assert(json_is_integer(id), "add %s failed: %s", args, text);
	json_int_t n = json_integer_value(id);
	json_decref(resp);
	return n;
}

static void add_err(const char *args, const char *want)
{
	g_autofree char *req =
	    g_strdup_printf("{\"execute\":\"add_hostfwd\",\"arguments\":%s}", args);
	expect_error(req, want);
}

static json_t *remove_id(const char *id_json)
{
	g_autofree char *req =
	    g_strdup_printf("{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":%s}}", id_json);
	return call(req);
}

/* list_hostfwd's entries; checks that both places (return.entries, entries) agree. */
static json_t *list_entries(void)
{
	json_t *resp = call("{\"execute\":\"list_hostfwd\"}");
	json_t *inner = json_object_get(json_object_get(resp, "return"), "entries");
	json_t *outer = json_object_get(resp, "entries");
	cr_assert(json_is_array(inner), "no return.entries");
	cr_assert(json_is_array(outer), "no top-level entries");
	cr_assert(json_equal(inner, outer), "return.entries and entries differ");
	json_incref(inner);
	json_decref(resp);
	return inner;
}

static const struct forward *added(guint i)
{
	cr_assert_lt(i, fake.added->len, "backend saw only %u adds", fake.added->len);
	return &g_array_index(fake.added, struct forward, i);
}

#define TCP_8080 "{\"proto\":\"tcp\",\"host_port\":8080,\"guest_port\":80}"

/* ---- add_hostfwd -------------------------------------------------------------------------- */

TestSuite(add, .init = setup_v4, .fini = teardown);

Test(add, full_request_returns_id_1)
{
	json_t *resp = add("{\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":8080,"
	                   "\"guest_addr\":\"10.0.2.100\",\"guest_port\":80}");
	assert_json_eq(resp, "{\"return\":{\"id\":1,\"host_port\":8080}}");
	json_decref(resp);
	cr_assert_eq(fake.added->len, 1);
	cr_assert_str_eq(added(0)->host_addr, "127.0.0.1");
	cr_assert_eq(added(0)->host_port, 8080);
	cr_assert_str_eq(added(0)->guest_addr, "10.0.2.100");
	cr_assert_eq(added(0)->guest_port, 80);
	cr_assert_not(added(0)->udp);
}

Test(add, udp)
{
	add_ok("{\"proto\":\"udp\",\"host_port\":5353,\"guest_port\":53}");
	cr_assert(added(0)->udp);
}

Test(add, defaults_host_addr_and_guest_addr)
{
	add_ok(TCP_8080);
	cr_assert_str_eq(added(0)->host_addr, "0.0.0.0");
	cr_assert_str_eq(added(0)->guest_addr, "10.0.2.100");
}

Test(add, ids_grow_from_1)
{
	for (json_int_t want = 1; want <= 5; want++) {
		g_autofree char *args = g_strdup_printf(
		    "{\"proto\":\"tcp\",\"host_port\":%d,\"guest_port\":80}", (int)(8000 + want));
		cr_assert_eq(add_ok(args), want);
	}
	cr_assert_eq(api_proto_forward_count(proto), 5);
}

Test(add, ephemeral_port_is_reported)
{
	json_t *resp = add("{\"proto\":\"tcp\",\"host_port\":0,\"guest_port\":80}");
	assert_json_eq(resp, "{\"return\":{\"id\":1,\"host_port\":40000}}");
	json_decref(resp);
	json_t *entries = list_entries();
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(entries, 0), "host_port")),
	             40000, "list shows the chosen port, not 0");
	json_decref(entries);
}

Test(add, port_bounds_accepted)
{
	add_ok("{\"proto\":\"tcp\",\"host_port\":1,\"guest_port\":1}");
	add_ok("{\"proto\":\"tcp\",\"host_port\":65535,\"guest_port\":65535}");
	cr_assert_eq(added(1)->host_port, 65535);
	cr_assert_eq(added(1)->guest_port, 65535);
}

Test(add, ipv6_host_addr_is_normalised)
{
	add_ok("{\"proto\":\"tcp\",\"host_addr\":\"0:0:0:0:0:0:0:1\",\"host_port\":8080,"
	       "\"guest_port\":80}");
	cr_assert_str_eq(added(0)->host_addr, "::1");
	add_ok("{\"proto\":\"udp\",\"host_addr\":\"::\",\"host_port\":8080,\"guest_port\":80}");
	cr_assert_str_eq(added(1)->host_addr, "::");
	cr_assert_str_eq(added(1)->guest_addr, "10.0.2.100");
}

Test(add, guest_ipv6_refused_without_ipv6)
{
	add_err("{\"proto\":\"tcp\",\"host_port\":8080,\"guest_addr\":\"fd00::100\","
	        "\"guest_port\":80}",
	        "bad request: add_hostfwd: bad arguments.guest_addr");
	cr_assert_eq(fake.added->len, 0);
}

Test(add, backend_failure_is_reported_and_not_listed)
{
	fake.fail = "0.0.0.0:8080: Address already in use";
	add_err(TCP_8080, "bad request: add_hostfwd: slirp_add_hostfwd failed: 0.0.0.0:8080: "
	                  "Address already in use");
	cr_assert_eq(api_proto_forward_count(proto), 0);
	json_t *entries = list_entries();
	cr_assert_eq(json_array_size(entries), 0);
	json_decref(entries);
	fake.fail = NULL;
	json_int_t id = add_ok(TCP_8080);
	cr_assert_geq(id, 1);
}

Test(add, extra_arguments_are_ignored)
{
	add_ok("{\"proto\":\"tcp\",\"host_port\":8080,\"guest_port\":80,\"comment\":[1,2]}");
}

/* Each bad field value, as (arguments, field it must blame). An empty address is left out:
 * podman sends "guest_addr":"" and expects the default. */
static const struct {
	const char *args;
	const char *field;
} bad_fields[] = {
    {"{\"host_port\":8080,\"guest_port\":80}", "proto"},
    {"{\"proto\":null,\"host_port\":8080,\"guest_port\":80}", "proto"},
    {"{\"proto\":6,\"host_port\":8080,\"guest_port\":80}", "proto"},
    {"{\"proto\":\"sctp\",\"host_port\":8080,\"guest_port\":80}", "proto"},
    {"{\"proto\":\"TCP\",\"host_port\":8080,\"guest_port\":80}", "proto"},
    {"{\"proto\":\"\",\"host_port\":8080,\"guest_port\":80}", "proto"},
    {"{\"proto\":[\"tcp\"],\"host_port\":8080,\"guest_port\":80}", "proto"},
    {"{\"proto\":\"tcp\",\"host_addr\":1,\"host_port\":8080,\"guest_port\":80}", "host_addr"},
    {"{\"proto\":\"tcp\",\"host_addr\":null,\"host_port\":8080,\"guest_port\":80}", "host_addr"},
    {"{\"proto\":\"tcp\",\"host_addr\":\"localhost\",\"host_port\":8080,\"guest_port\":80}",
     "host_addr"},
    {"{\"proto\":\"tcp\",\"host_addr\":\"1.2.3.4.5\",\"host_port\":8080,\"guest_port\":80}",
     "host_addr"},
    {"{\"proto\":\"tcp\",\"host_addr\":\"256.0.0.1\",\"host_port\":8080,\"guest_port\":80}",
     "host_addr"},
    {"{\"proto\":\"tcp\",\"host_addr\":\"[::1]\",\"host_port\":8080,\"guest_port\":80}",
     "host_addr"},
    {"{\"proto\":\"tcp\",\"guest_port\":80}", "host_port"},
    {"{\"proto\":\"tcp\",\"host_port\":-1,\"guest_port\":80}", "host_port"},
    {"{\"proto\":\"tcp\",\"host_port\":65536,\"guest_port\":80}", "host_port"},
    {"{\"proto\":\"tcp\",\"host_port\":4294967376,\"guest_port\":80}", "host_port"},
    {"{\"proto\":\"tcp\",\"host_port\":\"8080\",\"guest_port\":80}", "host_port"},
    {"{\"proto\":\"tcp\",\"host_port\":8080.0,\"guest_port\":80}", "host_port"},
    {"{\"proto\":\"tcp\",\"host_port\":true,\"guest_port\":80}", "host_port"},
    {"{\"proto\":\"tcp\",\"host_port\":null,\"guest_port\":80}", "host_port"},
    {"{\"proto\":\"tcp\",\"host_port\":8080,\"guest_addr\":\"10.0.2\",\"guest_port\":80}",
     "guest_addr"},
    {"{\"proto\":\"tcp\",\"host_port\":8080,\"guest_addr\":42,\"guest_port\":80}", "guest_addr"},
    {"{\"proto\":\"tcp\",\"host_port\":8080,\"guest_addr\":\"::1\",\"guest_port\":80}",
     "guest_addr"},
    {"{\"proto\":\"tcp\",\"host_port\":8080}", "guest_port"},
    {"{\"proto\":\"tcp\",\"host_port\":8080,\"guest_port\":0}", "guest_port"},
    {"{\"proto\":\"tcp\",\"host_port\":8080,\"guest_port\":65536}", "guest_port"},
    {"{\"proto\":\"tcp\",\"host_port\":8080,\"guest_port\":-80}", "guest_port"},
    {"{\"proto\":\"tcp\",\"host_port\":8080,\"guest_port\":\"80\"}", "guest_port"},
    {"{\"proto\":\"tcp\",\"host_port\":8080,\"guest_port\":80.5}", "guest_port"},
    {"{\"proto\":\"tcp\",\"host_port\":8080,\"guest_port\":{}}", "guest_port"},
};

Test(add, every_bad_field_is_named)
{
	for (size_t i = 0; i < G_N_ELEMENTS(bad_fields); i++) {
		g_autofree char *want = g_strdup_printf(
		    "bad request: add_hostfwd: bad arguments.%s", bad_fields[i].field);
		add_err(bad_fields[i].args, want);
	}
	cr_assert_eq(fake.added->len, 0, "a bad request reached the backend");
	cr_assert_eq(add_ok(TCP_8080), 1, "failed requests must not use up ids");
}

Test(add, missing_or_wrong_arguments)
{
	expect_error("{\"execute\":\"add_hostfwd\"}",
	             "bad request: add_hostfwd: bad arguments.proto");
	expect_error("{\"execute\":\"add_hostfwd\",\"arguments\":{}}",
	             "bad request: add_hostfwd: bad arguments.proto");
	expect_error_prefix("{\"execute\":\"add_hostfwd\",\"arguments\":[1]}",
	                    "bad request: add_hostfwd: bad arguments");
	expect_error_prefix("{\"execute\":\"add_hostfwd\",\"arguments\":\"tcp\"}",
	                    "bad request: add_hostfwd: bad arguments");
	cr_assert_eq(fake.added->len, 0);
}

TestSuite(add6, .init = setup_v6, .fini = teardown);

Test(add6, guest_ipv6_accepted_with_ipv6)
{
	add_ok("{\"proto\":\"tcp\",\"host_addr\":\"::\",\"host_port\":8080,"
	       "\"guest_addr\":\"fd00:0::100\",\"guest_port\":80}");
	cr_assert_str_eq(added(0)->guest_addr, "fd00::100");
	add_ok("{\"proto\":\"tcp\",\"host_port\":8081,\"guest_port\":80}");
	cr_assert_str_eq(added(1)->guest_addr, "10.0.2.100", "the default stays IPv4");
}

Test(add6, bad_guest_addr_still_refused)
{
	add_err("{\"proto\":\"tcp\",\"host_port\":8080,\"guest_addr\":\"fd00::zz\","
	        "\"guest_port\":80}",
	        "bad request: add_hostfwd: bad arguments.guest_addr");
}

/* ---- list_hostfwd ------------------------------------------------------------------------- */

TestSuite(list, .init = setup_v4, .fini = teardown);

Test(list, empty)
{
	json_t *resp = call("{\"execute\":\"list_hostfwd\"}");
	assert_json_eq(resp, "{\"return\":{\"entries\":[]},\"entries\":[]}");
	json_decref(resp);
}

Test(list, shows_every_field)
{
	add_ok("{\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":8080,"
	       "\"guest_port\":80}");
	add_ok("{\"proto\":\"udp\",\"host_port\":0,\"guest_addr\":\"10.0.2.5\",\"guest_port\":53}");
	json_t *entries = list_entries();
	assert_json_eq(entries,
	               "[{\"id\":1,\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\","
	               "\"host_port\":8080,\"guest_addr\":\"10.0.2.100\",\"guest_port\":80},"
	               "{\"id\":2,\"proto\":\"udp\",\"host_addr\":\"0.0.0.0\","
	               "\"host_port\":40000,\"guest_addr\":\"10.0.2.5\",\"guest_port\":53}]");
	json_decref(entries);
}

Test(list, ignores_arguments)
{
	json_t *resp = call("{\"execute\":\"list_hostfwd\",\"arguments\":{\"x\":1}}");
	cr_assert_not_null(json_object_get(resp, "entries"));
	json_decref(resp);
}

Test(list, includes_forwards_added_outside_requests)
{
	struct forward fw = {.udp = true, .host_port = 5000, .guest_port = 50};
	g_strlcpy(fw.host_addr, "127.0.0.1", sizeof(fw.host_addr));
	g_strlcpy(fw.guest_addr, "10.0.2.100", sizeof(fw.guest_addr));
	g_autoptr(GError) err = NULL;
	cr_assert(api_proto_add(proto, &fw, &err));
	cr_assert_eq(fw.id, 1);
	cr_assert_eq(add_ok(TCP_8080), 2, "API ids continue after command-line forwards");
	json_t *entries = list_entries();
	cr_assert_eq(json_array_size(entries), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(entries, 0), "proto")),
	                 "udp");
	json_decref(entries);
}

/* ---- remove_hostfwd ----------------------------------------------------------------------- */

TestSuite(remove, .init = setup_v4, .fini = teardown);

Test(remove, removes_and_tells_backend)
{
	add_ok(TCP_8080);
	add_ok("{\"proto\":\"udp\",\"host_port\":9090,\"guest_port\":90}");
	json_t *resp = remove_id("1");
	assert_json_eq(resp, "{\"return\":{}}");
	json_decref(resp);
	cr_assert_eq(fake.removed->len, 1);
	const struct forward *gone = &g_array_index(fake.removed, struct forward, 0);
	cr_assert_eq(gone->id, 1);
	cr_assert_eq(gone->host_port, 8080);
	cr_assert_str_eq(gone->host_addr, "0.0.0.0");
	json_t *entries = list_entries();
	assert_json_eq(entries,
	               "[{\"id\":2,\"proto\":\"udp\",\"host_addr\":\"0.0.0.0\","
	               "\"host_port\":9090,\"guest_addr\":\"10.0.2.100\",\"guest_port\":90}]");
	json_decref(entries);
}

Test(remove, ids_are_never_reused)
{
	cr_assert_eq(add_ok(TCP_8080), 1);
	cr_assert_eq(add_ok("{\"proto\":\"tcp\",\"host_port\":8081,\"guest_port\":80}"), 2);
	json_decref(remove_id("2"));
	cr_assert_eq(add_ok("{\"proto\":\"tcp\",\"host_port\":8081,\"guest_port\":80}"), 3);
	json_decref(remove_id("1"));
	json_decref(remove_id("3"));
	cr_assert_eq(api_proto_forward_count(proto), 0);
	cr_assert_eq(add_ok(TCP_8080), 4, "an empty table does not restart the ids");
}

Test(remove, twice_is_an_error)
{
	add_ok(TCP_8080);
	json_decref(remove_id("1"));
	expect_error_prefix("{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":1}}",
	                    "bad request: remove_hostfwd: slirp_remove_hostfwd failed");
	cr_assert_eq(fake.removed->len, 1);
}

Test(remove, unknown_id)
{
	add_ok(TCP_8080);
	expect_error_prefix("{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":7}}",
	                    "bad request: remove_hostfwd: slirp_remove_hostfwd failed");
	cr_assert_eq(api_proto_forward_count(proto), 1);
}

Test(remove, bad_id)
{
	static const char *const ids[] = {"0", "-1", "\"1\"", "1.0", "true", "null", "[1]", "{}"};
	add_ok(TCP_8080);
	for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
		g_autofree char *req = g_strdup_printf(
		    "{\"execute\":\"remove_hostfwd\",\"arguments\":{\"id\":%s}}", ids[i]);
		expect_error(req, "bad request: remove_hostfwd: bad arguments.id");
	}
	expect_error("{\"execute\":\"remove_hostfwd\"}",
	             "bad request: remove_hostfwd: bad arguments.id");
	expect_error("{\"execute\":\"remove_hostfwd\",\"arguments\":{}}",
	             "bad request: remove_hostfwd: bad arguments.id");
	cr_assert_eq(fake.removed->len, 0);
	cr_assert_eq(api_proto_forward_count(proto), 1);
}

/* ---- get_info, list_connections ----------------------------------------------------------- */

TestSuite(status, .init = setup_v4, .fini = teardown);

Test(status, get_info_merges_backend_facts)
{
	add_ok(TCP_8080);
	json_t *resp = call("{\"execute\":\"get_info\"}");
	assert_json_eq(resp, "{\"return\":{\"version\":\"test\",\"network\":\"10.0.2.0/24\","
	                     "\"mtu\":1500,\"forwards\":1}}");
	json_decref(resp);
	cr_assert_eq(fake.info_calls, 1);
}

Test(status, list_connections)
{
	json_t *resp = call("{\"execute\":\"list_connections\"}");
	assert_json_eq(resp, "{\"return\":{\"connections\":[{\"proto\":\"TCP\","
	                     "\"state\":\"ESTABLISHED\"}]}}");
	json_decref(resp);
	cr_assert_eq(fake.connections_calls, 1);
}

TestSuite(status_bare, .init = setup_bare, .fini = teardown);

Test(status_bare, without_backend_status)
{
	json_t *resp = call("{\"execute\":\"get_info\"}");
	assert_json_eq(resp, "{\"return\":{\"forwards\":0}}");
	json_decref(resp);
	resp = call("{\"execute\":\"list_connections\"}");
	assert_json_eq(resp, "{\"return\":{\"connections\":[]}}");
	json_decref(resp);
}

/* ---- malformed requests ------------------------------------------------------------------- */

TestSuite(malformed, .init = setup_v4, .fini = teardown);

Test(malformed, not_json)
{
	static const char *const reqs[] = {
	    "",
	    " ",
	    "{",
	    "}",
	    "garbage",
	    "{\"execute\":\"list_hostfwd\"",
	    "{\"execute\":'list_hostfwd'}",
	    "{execute:\"list_hostfwd\"}",
	    "{\"execute\":\"list_hostfwd\",}",
	    "{\"execute\":\"list_hostfwd\"} {}",
	    "{\"execute\":\"list_hostfwd\",\"execute\":\"get_info\"}",
	    "{\"execute\":\"a\\u0000b\"}",
	    "{\"execute\":\"\\ud800\"}",
	    "{\"execute\":\"add_hostfwd\",\"arguments\":{\"host_port\":99999999999999999999}}",
	    "{\"execute\":\"add_hostfwd\",\"arguments\":{\"host_port\":1e400}}",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(reqs); i++)
		expect_error_prefix(reqs[i], "bad request: cannot parse JSON");
}

Test(malformed, not_an_object)
{
	static const char *const reqs[] = {"[]", "[{\"execute\":\"list_hostfwd\"}]"};
	for (size_t i = 0; i < G_N_ELEMENTS(reqs); i++)
		expect_error_prefix(reqs[i], "bad request: json_object() failed");
	/* jansson accepts only an object or array at the top, so scalars fail to parse. */
	static const char *const scalars[] = {"42", "\"list_hostfwd\"", "null", "true"};
	for (size_t i = 0; i < G_N_ELEMENTS(scalars); i++)
		expect_error_prefix(scalars[i], "bad request: ");
}

Test(malformed, no_execute)
{
	static const char *const reqs[] = {
	    "{}",
	    "{\"arguments\":{}}",
	    "{\"execute\":null}",
	    "{\"execute\":1}",
	    "{\"execute\":[\"list_hostfwd\"]}",
	    "{\"execute\":{\"name\":\"list_hostfwd\"}}",
	    "{\"Execute\":\"list_hostfwd\"}",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(reqs); i++)
		expect_error(reqs[i], "bad request: no execute found");
}

Test(malformed, unknown_execute)
{
	static const char *const reqs[] = {
	    "{\"execute\":\"\"}",
	    "{\"execute\":\"LIST_HOSTFWD\"}",
	    "{\"execute\":\"list_hostfwd \"}",
	    "{\"execute\":\"quit\"}",
	    "{\"execute\":\"nope\",\"arguments\":5}",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(reqs); i++)
		expect_error(reqs[i], "bad request: unknown execute");
}

Test(malformed, invalid_utf8)
{
	static const char *const reqs[] = {
	    "{\"execute\":\"\xff\"}",
	    "{\"execute\":\"list_hostfwd\",\"arguments\":{\"x\":\"\xc3\x28\"}}",
	    "{\"execute\":\"\xed\xa0\x80\"}", /* an encoded surrogate */
	    "{\"execute\":\"\xc0\xaf\"}",     /* an overlong '/' */
	    "\xef\xbb\xbf{\"execute\":\"list_hostfwd\"}",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(reqs); i++)
		expect_error_prefix(reqs[i], "bad request: ");
}

Test(malformed, embedded_nul_byte)
{
	static const char req[] = "{\"execute\":\"list_hostfwd\"}\0{}";
	expect_error_prefix_bytes(req, sizeof(req) - 1, "bad request: cannot parse JSON");
	static const char req2[] = "{\"execute\":\"list_\0hostfwd\"}";
	expect_error_prefix_bytes(req2, sizeof(req2) - 1, "bad request: cannot parse JSON");
}

Test(malformed, too_large)
{
	size_t len = API_MAX_REQUEST + 1;
	g_autofree char *req = g_malloc(len);
	memset(req, ' ', len);
	memcpy(req, "{\"execute\":\"list_hostfwd\"}", 26);
	expect_error_bytes(req, len, "bad request: too large message");
	memset(req, 'x', len);
	expect_error_bytes(req, len, "bad request: too large message");
}

Test(malformed, exactly_the_limit_is_fine)
{
	size_t len = API_MAX_REQUEST;
	g_autofree char *req = g_malloc(len);
	memset(req, ' ', len);
	memcpy(req, "{\"execute\":\"list_hostfwd\"}", 26);
	json_t *resp = call_bytes(req, len);
	cr_assert_not_null(json_object_get(resp, "entries"));
	json_decref(resp);
}

Test(malformed, deep_nesting)
{
	size_t depth = API_MAX_REQUEST / 2;
	g_autofree char *req = g_malloc(depth * 2);
	memset(req, '[', depth);
	memset(req + depth, ']', depth);
	expect_error_prefix_bytes(req, depth * 2, "bad request: ");
}

Test(malformed, long_unicode_text_in_parser_error)
{
	/* A parser message may quote the request; the answer must still be valid JSON. */
	GString *req = g_string_new("{\"execute\":\"");
	for (int i = 0; i < 200; i++)
		g_string_append(req, "\xc3\xa9");
	g_string_append(req, "\\q\"}");
	expect_error_prefix(req->str, "bad request: cannot parse JSON");
	g_string_free(req, TRUE);
}

Test(malformed, state_survives_errors)
{
	add_ok(TCP_8080);
	expect_error_prefix("{", "bad request: cannot parse JSON");
	expect_error("{\"execute\":\"x\"}", "bad request: unknown execute");
	cr_assert_eq(add_ok("{\"proto\":\"tcp\",\"host_port\":8081,\"guest_port\":80}"), 2);
	cr_assert_eq(api_proto_forward_count(proto), 2);
}

/* ---- api_proto_incomplete ----------------------------------------------------------------- */

static void expect_incomplete(const char *req, size_t len, bool want)
{
	cr_assert_eq(api_proto_incomplete(req, len), want, "incomplete(%.*s) should be %s",
	             (int)MIN(len, 80), req, want ? "true" : "false");
}

Test(incomplete, partial_objects_wait)
{
	static const char *const reqs[] = {
	    "{",
	    "{\"",
	    "{\"execute\"",
	    "{\"execute\":",
	    "{\"execute\":\"list_",
	    "{\"execute\":\"add_hostfwd\",\"arguments\":{\"host_port\":80",
	    "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\"}",
	    "{\"a\":tr",
	    "{\"a\":f",
	    "{\"a\":nul",
	    "{\"a\":-",
	    "{\"a\":1.",
	    "{\"a\":1e",
	    "{\"a\":1e+",
	    "{\"a\":\"x\\",
	    "{\"a\":\"\\u00",
	    "{\"a\":\"\\ud83d",
	    "{\"a\":\"\\ud83d\\ude",
	    "{\"a\":\"\xc3",
	    "{\"a\":\"\xe2\x82",
	    "{\"a\":\"\xf0\x9f\x98",
	    " \n{",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(reqs); i++)
		expect_incomplete(reqs[i], strlen(reqs[i]), true);
}

Test(incomplete, whitespace_or_nothing_waits)
{
	expect_incomplete("", 0, true);
	expect_incomplete("  \n\t", 4, true);
}

Test(incomplete, complete_objects_are_answered)
{
	expect_incomplete("{}", 2, false);
	const char *r = "{\"execute\":\"list_hostfwd\"}";
	expect_incomplete(r, strlen(r), false);
	r = "  {\"execute\":\"list_hostfwd\"}\n";
	expect_incomplete(r, strlen(r), false);
	r = "{\"execute\":\"list_hostfwd\"}{\"execute\":";
	expect_incomplete(r, strlen(r), false);
	r = "{\"a\":\"\xc3\xa9\"}";
	expect_incomplete(r, strlen(r), false);
}

Test(incomplete, garbage_is_answered)
{
	static const char *const reqs[] = {
	    "garbage",
	    "xyz",
	    "tr",
	    "42",
	    "\"abc",
	    "[",
	    "[{\"execute\":",
	    "}",
	    "{x",
	    "{\"a\":xyz,",
	    "{\"a\" 1,",
	    "{\"a\":\"\xff",
	    "{\"a\":\"\xc3\x28",
	    "{\"a\":\"\\q",
	    "{\"a\":\"\\u12x",
	    "{\"a\":\"tab\there",
	    "{\"a\":1}}",
	    "\xff",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(reqs); i++)
		expect_incomplete(reqs[i], strlen(reqs[i]), false);
}

Test(incomplete, nul_byte_is_answered)
{
	expect_incomplete("{\"a\0", 4, false);
	expect_incomplete("{\"a\":\"x\0", 8, false);
}

Test(incomplete, oversize_is_answered)
{
	size_t len = API_MAX_REQUEST + 1;
	g_autofree char *req = g_malloc(len);
	memset(req, ' ', len);
	req[0] = '{';
	expect_incomplete(req, len, false);
	expect_incomplete(req, API_MAX_REQUEST, true);
}

/* ---- status_parse_connection_info --------------------------------------------------------- */

/*
 * Lines built with libslirp 4.7's format strings (misc.c, slirp_connection_info()): the
 * "PROTO[STATE]" cell is made with "  TCP[%s]", "  UDP[%d sec]" or "  ICMP[%d sec]" into a
 * 20-byte buffer, then printed with "%-19s %3d %15s %5d " and "%15s %5d %5d %5d\n" (ICMP has
 * " -    " for its ports).
 */
static void slirp_header(GString *s)
{
	g_string_append_printf(s, "  Protocol[State]    FD  Source Address  Port   "
	                          "Dest. Address  Port RecvQ SendQ\n");
}

static void slirp_line(GString *s, const char *head, int fd, const char *src, int sport,
                       const char *dst, int dport, int rq, int sq)
{
	char buf[20];
	g_snprintf(buf, sizeof(buf), "%s", head);
	g_string_append_printf(s, "%-19s %3d %15s %5d ", buf, fd, src, sport);
	g_string_append_printf(s, "%15s %5d %5d %5d\n", dst, dport, rq, sq);
}

static void slirp_icmp_line(GString *s, int secs, int fd, const char *src, const char *dst, int rq,
                            int sq)
{
	char buf[20];
	g_snprintf(buf, sizeof(buf), "  ICMP[%d sec]", secs);
	g_string_append_printf(s, "%-19s %3d %15s  -    ", buf, fd, src);
	g_string_append_printf(s, "%15s  -    %5d %5d\n", dst, rq, sq);
}

static json_t *parse_table(GString *s)
{
	json_t *list = status_parse_connection_info(s->str);
	size_t counted = status_count_connections(s->str);
	g_string_free(s, TRUE);
	cr_assert(json_is_array(list));
	/* get_info counts the rows without building them: the same number. */
	cr_assert_eq(counted, json_array_size(list));
	return list;
}

Test(connection_info, header_only_is_empty)
{
	GString *s = g_string_new(NULL);
	slirp_header(s);
	json_t *list = parse_table(s);
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
}

Test(connection_info, null_and_empty)
{
	json_t *list = status_parse_connection_info(NULL);
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
	list = status_parse_connection_info("");
	cr_assert_eq(json_array_size(list), 0);
	json_decref(list);
}

Test(connection_info, tcp_lines)
{
	GString *s = g_string_new(NULL);
	slirp_header(s);
	slirp_line(s, "  TCP[HOST_FORWARD]", 12, "*", 8080, "10.0.2.100", 80, 0, 0);
	slirp_line(s, "  TCP[ESTABLISHED]", 13, "127.0.0.1", 8080, "10.0.2.100", 80, 0, 1460);
	slirp_line(s, "  TCP[SYN_SENT]", 14, "10.0.2.100", 45678, "10.0.2.2", 7001, 0, 0);
	slirp_line(s, "  TCP[FIN_WAIT_2]", -1, "10.0.2.100", 45679, "192.0.2.1", 443, 5, 6);
	json_t *list = parse_table(s);
	assert_json_eq(
	    list,
	    "[{\"proto\":\"TCP\",\"state\":\"HOST_FORWARD\",\"fd\":12,\"src_addr\":\"*\","
	    "\"src_port\":8080,\"dst_addr\":\"10.0.2.100\",\"dst_port\":80,\"recv_q\":0,"
	    "\"send_q\":0},"
	    "{\"proto\":\"TCP\",\"state\":\"ESTABLISHED\",\"fd\":13,\"src_addr\":\"127.0.0.1\","
	    "\"src_port\":8080,\"dst_addr\":\"10.0.2.100\",\"dst_port\":80,\"recv_q\":0,"
	    "\"send_q\":1460},"
	    "{\"proto\":\"TCP\",\"state\":\"SYN_SENT\",\"fd\":14,\"src_addr\":\"10.0.2.100\","
	    "\"src_port\":45678,\"dst_addr\":\"10.0.2.2\",\"dst_port\":7001,\"recv_q\":0,"
	    "\"send_q\":0},"
	    "{\"proto\":\"TCP\",\"state\":\"FIN_WAIT_2\",\"fd\":-1,\"src_addr\":\"10.0.2.100\","
	    "\"src_port\":45679,\"dst_addr\":\"192.0.2.1\",\"dst_port\":443,\"recv_q\":5,"
	    "\"send_q\":6}]");
	json_decref(list);
}

Test(connection_info, udp_lines_with_a_space_in_the_state)
{
	GString *s = g_string_new(NULL);
	slirp_header(s);
	slirp_line(s, "  UDP[HOST_FORWARD]", 15, "*", 5353, "10.0.2.100", 53, 0, 0);
	char head[20];
	g_snprintf(head, sizeof(head), "  UDP[%d sec]", 236);
	slirp_line(s, head, 16, "10.0.2.100", 51234, "10.0.2.3", 53, 0, 0);
	g_snprintf(head, sizeof(head), "  UDP[%d sec]", -1);
	slirp_line(s, head, 17, "10.0.2.100", 51235, "10.0.2.2", 7002, 0, 0);
	json_t *list = parse_table(s);
	assert_json_eq(
	    list, "[{\"proto\":\"UDP\",\"state\":\"HOST_FORWARD\",\"fd\":15,\"src_addr\":\"*\","
	          "\"src_port\":5353,\"dst_addr\":\"10.0.2.100\",\"dst_port\":53,\"recv_q\":0,"
	          "\"send_q\":0},"
	          "{\"proto\":\"UDP\",\"state\":\"236 sec\",\"expires_sec\":236,\"fd\":16,"
	          "\"src_addr\":\"10.0.2.100\",\"src_port\":51234,\"dst_addr\":\"10.0.2.3\","
	          "\"dst_port\":53,\"recv_q\":0,\"send_q\":0},"
	          "{\"proto\":\"UDP\",\"state\":\"-1 sec\",\"expires_sec\":-1,\"fd\":17,"
	          "\"src_addr\":\"10.0.2.100\",\"src_port\":51235,\"dst_addr\":\"10.0.2.2\","
	          "\"dst_port\":7002,\"recv_q\":0,\"send_q\":0}]");
	json_decref(list);
}

Test(connection_info, icmp_lines_have_no_ports)
{
	GString *s = g_string_new(NULL);
	slirp_header(s);
	slirp_icmp_line(s, 5, 18, "10.0.2.100", "10.0.2.2", 0, 0);
	json_t *list = parse_table(s);
	assert_json_eq(list, "[{\"proto\":\"ICMP\",\"state\":\"5 sec\",\"expires_sec\":5,"
	                     "\"fd\":18,\"src_addr\":\"10.0.2.100\",\"src_port\":null,"
	                     "\"dst_addr\":\"10.0.2.2\",\"dst_port\":null,\"recv_q\":0,"
	                     "\"send_q\":0}]");
	json_decref(list);
}

Test(connection_info, mixed_table_keeps_order_and_skips_junk)
{
	GString *s = g_string_new(NULL);
	slirp_header(s);
	slirp_line(s, "  TCP[ESTABLISHED]", 13, "10.0.2.100", 45678, "10.0.2.2", 8080, 0, 0);
	g_string_append(s, "\n   \nnot a table line\n  TCP[BROKEN] x y z\n");
	g_string_append(s, "  TCP[LISTEN]  1 a 2 b 3 4 5 6\n"); /* one cell too many */
	slirp_line(s, "  UDP[30 sec]", 16, "10.0.2.100", 51234, "10.0.2.3", 53, 0, 0);
	slirp_icmp_line(s, 2, 18, "10.0.2.100", "10.0.2.2", 0, 0);
	json_t *list = parse_table(s);
	cr_assert_eq(json_array_size(list), 3);
	static const char *const protos[] = {"TCP", "UDP", "ICMP"};
	for (size_t i = 0; i < 3; i++)
		cr_assert_str_eq(
		    json_string_value(json_object_get(json_array_get(list, i), "proto")),
		    protos[i]);
	json_decref(list);
}

Test(connection_info, no_trailing_newline)
{
	json_t *list = status_parse_connection_info(
	    "  TCP[ESTABLISHED]   13      10.0.2.100 45678        10.0.2.2  8080     0     0");
	cr_assert_eq(json_array_size(list), 1);
	json_decref(list);
}

/* The forward as the --debug lines name it (forward.c and udpfwd.c alike). */
Test(forward_text, brackets_ipv6_only)
{
	struct forward v4 = {.udp = true, .host_port = 8080, .guest_port = 80};
	g_strlcpy(v4.host_addr, "127.0.0.1", sizeof(v4.host_addr));
	g_strlcpy(v4.guest_addr, "10.0.2.100", sizeof(v4.guest_addr));
	g_autofree char *a = forward_text(&v4);
	cr_assert_str_eq(a, "udp 127.0.0.1:8080 -> 10.0.2.100:80");
	struct forward v6 = {.udp = false, .host_port = 1, .guest_port = 2};
	g_strlcpy(v6.host_addr, "::", sizeof(v6.host_addr));
	g_strlcpy(v6.guest_addr, "fd00::100", sizeof(v6.guest_addr));
	g_autofree char *b = forward_text(&v6);
	cr_assert_str_eq(b, "tcp [::]:1 -> [fd00::100]:2");
}
