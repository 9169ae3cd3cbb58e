// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_api.c - libFuzzer target for the API protocol (src/api_proto.c).
 *
 * Each input is the bytes of one API request, exactly as a client would write them to the
 * socket. It goes through api_proto_handle() of two protocol instances (IPv4 only, and -6),
 * each with a fake backend that already holds two forwards (so remove_hostfwd can find one),
 * picks a port for host_port 0 and fails for host_port 1 (the backend's error path). Checked
 * besides memory safety (ASan/UBSan):
 *  - every answer is one JSON object (valid UTF-8) with "return" or "error";
 *  - api_proto_incomplete() never waits for more after a request that is already a whole
 *    JSON document, and always waits after a proper prefix of one (a client writing a valid
 *    request in pieces is never answered early with an error).
 */
#include "config.h"
#include "api_proto.h"
#include "fuzz.h"

#include <arpa/inet.h>
#include <string.h>

static bool fake_add(void *opaque, struct forward *fw, GError **err)
{
	if (fw->host_port == 1) {
		g_set_error_literal(err, g_quark_from_static_string("fuzz"), 1,
		                    "Address already in use");
		return false;
	}
	if (fw->host_port == 0)
		fw->host_port = 40000;
	return true;
}

static void fake_remove(void *opaque, const struct forward *fw)
{
}

static json_t *fake_info(void *opaque)
{
	return json_pack("{s:s,s:i}", "network", "10.0.2.0/24", "mtu", 1500);
}

static json_t *fake_connections(void *opaque)
{
	return json_pack("[{s:s,s:s}]", "proto", "TCP", "state", "ESTABLISHED");
}

static struct api_proto *make_proto(bool ipv6)
{
	const struct api_backend b = {
	    .add = fake_add,
	    .remove = fake_remove,
	    .info = fake_info,
	    .connections = fake_connections,
	};
	struct in_addr guest;
	inet_pton(AF_INET, "10.0.2.100", &guest);
	struct api_proto *p = api_proto_new(&b, guest, ipv6);
	struct forward fw = {.host_addr = "0.0.0.0",
	                     .host_port = 8080,
	                     .guest_addr = "10.0.2.100",
	                     .guest_port = 80};
	FUZZ_CHECK(api_proto_add(p, &fw, NULL), "seed forward");
	fw.udp = true;
	FUZZ_CHECK(api_proto_add(p, &fw, NULL), "seed forward");
	return p;
}

static void check_response(const char *resp, const uint8_t *req, size_t size)
{
	FUZZ_CHECK(resp != NULL, "no response");
	json_error_t jerr;
	json_t *j = json_loads(resp, 0, &jerr);
	FUZZ_CHECK(j != NULL, "response is not JSON (%s): %s", jerr.text, resp);
	FUZZ_CHECK(json_is_object(j), "response is not an object: %s", resp);
	bool ret = json_object_get(j, "return") != NULL;
	json_t *err = json_object_get(j, "error");
	FUZZ_CHECK(ret != (err != NULL), "neither or both of return and error: %s", resp);
	FUZZ_CHECK(err == NULL || json_is_string(json_object_get(err, "desc")),
	           "error without desc: %s", resp);
	json_decref(j);
}

static void check_incomplete(const uint8_t *data, size_t size)
{
	const char *req = (const char *)data;
	bool incomplete = api_proto_incomplete(req, size);
	json_error_t jerr;
	json_t *whole = json_loadb(req, size, 0, &jerr);
	if (whole == NULL)
		return;
	bool object = json_is_object(whole);
	json_decref(whole);
	FUZZ_CHECK(!incomplete, "a whole JSON document is called incomplete");
	if (!object || size > API_MAX_REQUEST)
		return;
	/* Proper prefixes that end in the document (not in its trailing white space). */
	size_t end = size;
	while (end > 0 && g_ascii_isspace(req[end - 1]))
		end--;
	size_t start = 0;
	while (start < end && g_ascii_isspace(req[start]))
		start++;
	size_t step = MAX((end - start) / 16, 1);
	for (size_t n = start + 1; n < end; n += (n + 8 >= end ? 1 : step))
		FUZZ_CHECK(api_proto_incomplete(req, n),
		           "a prefix of %zu of the %zu bytes of a valid request is not "
		           "incomplete: %.*s",
		           n, size, (int)n, req);
}

int fuzz_api_one(const uint8_t *data, size_t size)
{
	for (int v6 = 0; v6 <= 1; v6++) {
		struct api_proto *p = make_proto(v6);
		char *resp = api_proto_handle(p, (const char *)data, size);
		check_response(resp, data, size);
		g_free(resp);
		api_proto_free(p);
	}
	check_incomplete(data, size);
	return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_api_one(data, size);
}
#endif
