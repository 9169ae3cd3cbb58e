// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_options.c - unit tests for the command-line parser (src/options.c) and the --version
 * text (src/version.c): every option in its short and long spelling, the defaults, every usage
 * error and its message, the pure helpers (parse_cidr4/6, parse_mac, parse_uint, parse_publish,
 * addr4_offset), and the --help / --version texts that podman and rootlesskit read.
 */
#include "config.h"
#include "netns.h"
#include "options.h"
#include "version.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ifaddrs.h>
#include <slirp/libslirp.h>
#include <stdlib.h>
#include <string.h>

/* One parse per PARSE/OK/FAILS; the fixture frees whatever the last one left. */
static struct options opt;
static GError *err;

static void setup(void)
{
	/* glibc stops permuting argv when this is set; slirp4netns users rely on permutation. */
	unsetenv("POSIXLY_CORRECT");
}

static void teardown(void)
{
	options_clear(&opt);
	g_clear_error(&err);
}

TestSuite(options, .init = setup, .fini = teardown);
TestSuite(helpers, .init = setup, .fini = teardown);
TestSuite(s4n_messages, .init = setup, .fini = teardown);
TestSuite(texts);

static int parse_argv(int argc, char **argv)
{
	options_clear(&opt);
	g_clear_error(&err);
	return options_parse(argc, argv, &opt, &err);
}

/* PARSE("-c", "1234") runs options_parse on {"slirpns", "-c", "1234"}. */
#define ARGV(...)  ((char *[]){"slirpns", ##__VA_ARGS__, NULL})
#define ARGC(...)  ((int)(sizeof((char *[]){"slirpns", ##__VA_ARGS__}) / sizeof(char *)))
#define PARSE(...) parse_argv(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

#define OK(...)                                                                                    \
	do {                                                                                       \
		int rc_ = PARSE(__VA_ARGS__);                                                      \
		cr_assert_eq(rc_, ACTION_RUN, "%s: expected success, got %d: %s", #__VA_ARGS__,    \
		             rc_, err ? err->message : "(no error)");                              \
		cr_assert_null(err);                                                               \
	} while (0)

/* The parse fails with a usage error whose message contains needle. */
#define FAILS(needle, ...)                                                                         \
	do {                                                                                       \
		int rc_ = PARSE(__VA_ARGS__);                                                      \
		cr_assert_eq(rc_, -1, "%s: expected failure, got %d", #__VA_ARGS__, rc_);          \
		check_error(needle, #__VA_ARGS__);                                                 \
	} while (0)

/* err is a one-line usage error mentioning needle (a macro, so failures show the caller's line). */
#define check_error(needle, what)                                                                  \
	do {                                                                                       \
		cr_assert_not_null(err, "%s: no error set", what);                                 \
		cr_assert_eq(err->domain, SLIRPNS_ERROR, "%s: wrong error domain", what);          \
		cr_assert_eq(err->code, SLIRPNS_ERROR_USAGE, "%s: not a usage error", what);       \
		cr_assert_not_null(strstr(err->message, needle),                                   \
		                   "%s: message '%s' does not contain '%s'", what, err->message,   \
		                   needle);                                                        \
		cr_assert_null(strchr(err->message, '\n'), "%s: message '%s' is not one line",     \
		               what, err->message);                                                \
		cr_assert_neq(strncmp(err->message, "slirpns", 7), 0,                              \
		              "%s: message '%s' has a prefix", what, err->message);                \
	} while (0)

static const char *ntop4(struct in_addr a)
{
	static char buf[INET_ADDRSTRLEN];
	return inet_ntop(AF_INET, &a, buf, sizeof(buf));
}

static const char *ntop6(const struct in6_addr *a)
{
	static char buf[INET6_ADDRSTRLEN];
	return inet_ntop(AF_INET6, a, buf, sizeof(buf));
}

static const struct publish_spec *publish_at(unsigned i)
{
	cr_assert_lt(i, opt.publish->len);
	return &g_array_index(opt.publish, struct publish_spec, i);
}

static bool has_warning(const char *needle)
{
	for (guint i = 0; opt.warnings != NULL && i < opt.warnings->len; i++)
		if (strstr(g_ptr_array_index(opt.warnings, i), needle) != NULL)
			return true;
	return false;
}

/* ---- defaults ------------------------------------------------------------------------- */

Test(options, defaults)
{
	OK("1234");
	cr_assert_not(opt.configure);
	cr_assert_eq(opt.exit_fd, -1);
	cr_assert_eq(opt.ready_fd, -1);
	cr_assert_eq(opt.mtu, 1500);
	cr_assert_not(opt.ipv6);
	cr_assert_null(opt.api_socket);
	cr_assert_str_eq(ntop4(opt.net), "10.0.2.0");
	cr_assert_str_eq(ntop4(opt.mask), "255.255.255.0");
	cr_assert_eq(opt.prefix, 24);
	cr_assert_str_eq(ntop6(&opt.net6), "fd00::");
	cr_assert_not(opt.disable_host_loopback);
	cr_assert_not(opt.disable_dns);
	cr_assert_eq(opt.netns_type, NETNS_PID);
	cr_assert_null(opt.userns_path);
	cr_assert_not(opt.sandbox);
	cr_assert_not(opt.seccomp);
	cr_assert_not(opt.has_outbound_addr);
	cr_assert_not(opt.has_outbound_addr6);
	cr_assert_not(opt.has_mac);
	cr_assert_eq(opt.target_pid, 1234);
	cr_assert_null(opt.target_path);
	cr_assert_eq(opt.target_tapfd, -1);
	cr_assert_str_eq(opt.tapname, "tap0");
	cr_assert_not_null(opt.publish);
	cr_assert_eq(opt.publish->len, 0);
	cr_assert(opt.warnings == NULL || opt.warnings->len == 0);
}

Test(options, clear_resets_and_is_idempotent)
{
	OK("-a", "/tmp/api.sock", "-e", "3", "--no-host-loopback", "-p", "80:80", "1", "tap1");
	options_clear(&opt);
	cr_assert_null(opt.api_socket);
	cr_assert_null(opt.tapname);
	cr_assert_null(opt.publish);
	cr_assert_null(opt.warnings);
	cr_assert_eq(opt.exit_fd, -1);
	cr_assert_eq(opt.ready_fd, -1);
	cr_assert_eq(opt.target_tapfd, -1);
	options_clear(&opt); /* a second clear must be harmless */
}

/* ---- every option, short and long ------------------------------------------------------ */

Test(options, configure)
{
	OK("-c", "1");
	cr_assert(opt.configure);
	OK("--configure", "1");
	cr_assert(opt.configure);
	OK("--conf", "1"); /* getopt_long abbreviations work, as in slirp4netns */
	cr_assert(opt.configure);
}

Test(options, exit_fd)
{
	OK("-e", "3", "1");
	cr_assert_eq(opt.exit_fd, 3);
	OK("-e7", "1");
	cr_assert_eq(opt.exit_fd, 7);
	OK("--exit-fd=0", "1");
	cr_assert_eq(opt.exit_fd, 0);
	OK("--exit-fd", "2147483647", "1");
	cr_assert_eq(opt.exit_fd, 2147483647);
	cr_assert_eq(opt.ready_fd, -1);
}

Test(options, ready_fd)
{
	OK("-r", "4", "1");
	cr_assert_eq(opt.ready_fd, 4);
	OK("--ready-fd=9", "1");
	cr_assert_eq(opt.ready_fd, 9);
	OK("--ready-fd", "5", "-e", "6", "1");
	cr_assert_eq(opt.ready_fd, 5);
	cr_assert_eq(opt.exit_fd, 6);
}

Test(options, mtu)
{
	OK("-m", "65520", "1");
	cr_assert_eq(opt.mtu, 65520);
	OK("-m9000", "1");
	cr_assert_eq(opt.mtu, 9000);
	OK("--mtu=68", "1");
	cr_assert_eq(opt.mtu, 68);
	OK("--mtu", "65521", "1");
	cr_assert_eq(opt.mtu, 65521);
}

Test(options, cidr)
{
	OK("--cidr=10.0.3.0/24", "1");
	cr_assert_str_eq(ntop4(opt.net), "10.0.3.0");
	cr_assert_str_eq(ntop4(opt.mask), "255.255.255.0");
	cr_assert_eq(opt.prefix, 24);
	OK("--cidr", "192.168.0.0/16", "1");
	cr_assert_str_eq(ntop4(opt.net), "192.168.0.0");
	cr_assert_str_eq(ntop4(opt.mask), "255.255.0.0");
	cr_assert_eq(opt.prefix, 16);
	OK("--cidr=172.16.5.128/25", "1");
	cr_assert_str_eq(ntop4(opt.net), "172.16.5.128");
	cr_assert_str_eq(ntop4(opt.mask), "255.255.255.128");
	cr_assert_eq(opt.prefix, 25);
}

Test(options, cidr6)
{
	OK("--cidr6=fd12:3456:789a:1::/64", "1");
	cr_assert_str_eq(ntop6(&opt.net6), "fd12:3456:789a:1::");
	OK("--cidr6", "2001:db8::/64", "-6", "1");
	cr_assert_str_eq(ntop6(&opt.net6), "2001:db8::");
	cr_assert(opt.ipv6);
}

Test(options, enable_ipv6)
{
	OK("-6", "1");
	cr_assert(opt.ipv6);
	OK("--enable-ipv6", "1");
	cr_assert(opt.ipv6);
}

Test(options, api_socket)
{
	OK("-a", "/tmp/slirp.sock", "1");
	cr_assert_str_eq(opt.api_socket, "/tmp/slirp.sock");
	OK("--api-socket=/run/user/1000/api.sock", "1");
	cr_assert_str_eq(opt.api_socket, "/run/user/1000/api.sock");
	/* given twice, the last one wins (and the first is not leaked) */
	OK("--api-socket", "first", "-a", "second", "1");
	cr_assert_str_eq(opt.api_socket, "second");
}

Test(options, disable_host_loopback)
{
	OK("--disable-host-loopback", "1");
	cr_assert(opt.disable_host_loopback);
	cr_assert(opt.warnings == NULL || opt.warnings->len == 0);
}

Test(options, no_host_loopback_is_deprecated)
{
	OK("--no-host-loopback", "1");
	cr_assert(opt.disable_host_loopback);
	cr_assert_not_null(opt.warnings);
	cr_assert_eq(opt.warnings->len, 1);
	cr_assert(has_warning("--no-host-loopback"));
	cr_assert(has_warning("deprecated"));
	cr_assert(has_warning("--disable-host-loopback"));
}

Test(options, netns_type)
{
	OK("--netns-type=pid", "42");
	cr_assert_eq(opt.netns_type, NETNS_PID);
	cr_assert_eq(opt.target_pid, 42);

	OK("--netns-type=path", "/run/netns/foo", "eth0");
	cr_assert_eq(opt.netns_type, NETNS_PATH);
	cr_assert_str_eq(opt.target_path, "/run/netns/foo");
	cr_assert_str_eq(opt.tapname, "eth0");
	cr_assert_eq(opt.target_pid, 0);

	OK("--netns-type", "tapfd", "5");
	cr_assert_eq(opt.netns_type, NETNS_TAPFD);
	cr_assert_eq(opt.target_tapfd, 5);
	cr_assert_null(opt.target_path);
	cr_assert_str_eq(opt.tapname, "tap0");

	OK("--netns-type=tapfd", "0", "tap3");
	cr_assert_eq(opt.target_tapfd, 0);
	cr_assert_str_eq(opt.tapname, "tap3");
}

Test(options, tapfd_ignores_configure_with_a_warning)
{
	OK("-c", "--netns-type=tapfd", "5");
	cr_assert(has_warning("--configure"));
}

Test(options, userns_path)
{
	OK("--userns-path=/proc/99/ns/user", "99");
	cr_assert_str_eq(opt.userns_path, "/proc/99/ns/user");
	OK("--netns-type=path", "--userns-path", "/run/user/1/userns", "/run/user/1/netns");
	cr_assert_str_eq(opt.userns_path, "/run/user/1/userns");
	cr_assert_str_eq(opt.target_path, "/run/user/1/netns");
}

Test(options, enable_sandbox)
{
	OK("--enable-sandbox", "1");
	cr_assert(opt.sandbox);
	cr_assert(opt.warnings == NULL || opt.warnings->len == 0);
}

Test(options, create_sandbox_is_deprecated)
{
	OK("--create-sandbox", "1");
	cr_assert(opt.sandbox);
	cr_assert(has_warning("--create-sandbox"));
	cr_assert(has_warning("--enable-sandbox"));
}

Test(options, enable_seccomp)
{
	OK("--enable-seccomp", "1");
	cr_assert(opt.seccomp);
	cr_assert_not(opt.sandbox);
}

Test(options, outbound_addr_literal)
{
	OK("--outbound-addr=192.0.2.7", "1");
	cr_assert(opt.has_outbound_addr);
	cr_assert_eq(opt.outbound_addr.sin_family, AF_INET);
	cr_assert_eq(opt.outbound_addr.sin_port, 0);
	cr_assert_str_eq(ntop4(opt.outbound_addr.sin_addr), "192.0.2.7");
	cr_assert_not(opt.has_outbound_addr6);
}

Test(options, outbound_addr_interface)
{
	OK("--outbound-addr", "lo", "1");
	cr_assert(opt.has_outbound_addr);
	cr_assert_eq(opt.outbound_addr.sin_family, AF_INET);
	cr_assert_eq(opt.outbound_addr.sin_port, 0);
	cr_assert_str_eq(ntop4(opt.outbound_addr.sin_addr), "127.0.0.1");
}

Test(options, outbound_addr6_literal)
{
	OK("--outbound-addr6=2001:db8::42", "1");
	cr_assert(opt.has_outbound_addr6);
	cr_assert_eq(opt.outbound_addr6.sin6_family, AF_INET6);
	cr_assert_eq(opt.outbound_addr6.sin6_port, 0);
	cr_assert_str_eq(ntop6(&opt.outbound_addr6.sin6_addr), "2001:db8::42");
	cr_assert_not(opt.has_outbound_addr);
}

static bool lo_has_ipv6_loopback(void)
{
	struct ifaddrs *list;
	bool found = false;
	if (getifaddrs(&list) < 0)
		return false;
	for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET6 &&
		    strcmp(i->ifa_name, "lo") == 0 &&
		    IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
			found = true;
	freeifaddrs(list);
	return found;
}

Test(options, outbound_addr6_interface)
{
	if (!lo_has_ipv6_loopback())
		cr_skip_test("lo has no ::1 here");
	OK("--outbound-addr6", "lo", "1");
	cr_assert(opt.has_outbound_addr6);
	cr_assert_eq(opt.outbound_addr6.sin6_family, AF_INET6);
	cr_assert_eq(opt.outbound_addr6.sin6_port, 0);
	cr_assert_str_eq(ntop6(&opt.outbound_addr6.sin6_addr), "::1");
}

Test(options, disable_dns)
{
	OK("--disable-dns", "1");
	cr_assert(opt.disable_dns);
	cr_assert_not(opt.disable_host_loopback);
}

Test(options, macaddress)
{
	OK("-c", "--macaddress=02:00:5e:aB:Cd:ef", "1");
	cr_assert(opt.has_mac);
	const uint8_t want[6] = {0x02, 0x00, 0x5e, 0xab, 0xcd, 0xef};
	cr_assert_arr_eq(opt.mac, want, 6);
	/* -c may come after --macaddress */
	OK("--macaddress", "52:54:00:12:34:56", "--configure", "1");
	cr_assert(opt.has_mac);
	cr_assert_eq(opt.mac[0], 0x52);
	cr_assert_eq(opt.mac[5], 0x56);
}

Test(options, target_type)
{
	OK("--target-type=netns", "1");
	cr_assert_eq(opt.target_pid, 1);
	OK("--target-type", "netns", "--netns-type=path", "/x");
	cr_assert_str_eq(opt.target_path, "/x");
	cr_assert_eq(opt.target_type, TARGET_NETNS);
}

Test(options, target_type_bess)
{
	OK("--target-type=bess", "/tmp/bess.sock");
	cr_assert_eq(opt.target_type, TARGET_BESS);
	cr_assert_eq(opt.netns_type, NETNS_NONE); /* no namespace: the sandbox makes its own */
	cr_assert_str_eq(opt.bess_path, "/tmp/bess.sock");
	cr_assert_null(opt.tapname);
	cr_assert_null(opt.target_path);
	/* options around it, and the last --target-type wins */
	OK("--enable-sandbox", "--target-type", "bess", "-a", "/tmp/api", "-p", "80:80", "b.sock");
	cr_assert_str_eq(opt.bess_path, "b.sock");
	OK("--target-type=bess", "--target-type=netns", "1");
	cr_assert_eq(opt.target_type, TARGET_NETNS);
	cr_assert_eq(opt.target_pid, 1);
}

Test(options, pcap_and_debug)
{
	OK("1");
	cr_assert_null(opt.pcap_path);
	cr_assert_eq(opt.pcap_max_size, 64ull << 20);
	cr_assert(!opt.debug);
	OK("--pcap=/tmp/x.pcap", "--debug", "1");
	cr_assert_str_eq(opt.pcap_path, "/tmp/x.pcap");
	cr_assert_eq(opt.pcap_max_size, 64ull << 20);
	cr_assert(opt.debug);
	OK("--pcap", "/tmp/y.pcap", "--pcap-max-size", "1M", "1");
	cr_assert_str_eq(opt.pcap_path, "/tmp/y.pcap");
	cr_assert_eq(opt.pcap_max_size, 1ull << 20);
	OK("--pcap-max-size=4096", "--pcap=/tmp/z", "1"); /* the smallest, in either order */
	cr_assert_eq(opt.pcap_max_size, 4096);
	OK("--pcap=/tmp/z", "--pcap-max-size=2g", "--target-type=bess", "/tmp/b");
	cr_assert_eq(opt.pcap_max_size, 2ull << 30);
}

Test(options, publish)
{
	OK("-p", "8080:80", "1");
	cr_assert_eq(opt.publish->len, 1);
	cr_assert_not(publish_at(0)->udp);
	cr_assert_str_eq(publish_at(0)->host_addr, "0.0.0.0");
	cr_assert_eq(publish_at(0)->host_port, 8080);
	cr_assert_eq(publish_at(0)->guest_port, 80);

	OK("--publish=127.0.0.1:5353:53/udp", "1");
	cr_assert_eq(opt.publish->len, 1);
	cr_assert(publish_at(0)->udp);
	cr_assert_str_eq(publish_at(0)->host_addr, "127.0.0.1");
	cr_assert_eq(publish_at(0)->host_port, 5353);
	cr_assert_eq(publish_at(0)->guest_port, 53);
}

Test(options, publish_is_repeatable)
{
	OK("-p", "1:2", "--publish", "[::1]:3:4/udp", "-p5:6/tcp", "--publish=0:7", "1");
	cr_assert_eq(opt.publish->len, 4);
	cr_assert_eq(publish_at(0)->host_port, 1);
	cr_assert_eq(publish_at(0)->guest_port, 2);
	cr_assert_str_eq(publish_at(1)->host_addr, "::1");
	cr_assert(publish_at(1)->udp);
	cr_assert_eq(publish_at(1)->host_port, 3);
	cr_assert_eq(publish_at(2)->host_port, 5);
	cr_assert_not(publish_at(2)->udp);
	cr_assert_eq(publish_at(3)->host_port, 0);
	cr_assert_eq(publish_at(3)->guest_port, 7);
}

Test(options, help)
{
	cr_assert_eq(PARSE("-h"), ACTION_HELP);
	cr_assert_null(err);
	cr_assert_eq(PARSE("--help"), ACTION_HELP);
	cr_assert_null(err);
	/* no positional argument needed, and it wins over options given with it */
	cr_assert_eq(PARSE("-c", "--mtu=9000", "--help", "1"), ACTION_HELP);
	cr_assert_null(err);
}

Test(options, version)
{
	cr_assert_eq(PARSE("-v"), ACTION_VERSION);
	cr_assert_null(err);
	cr_assert_eq(PARSE("--version"), ACTION_VERSION);
	cr_assert_null(err);
	cr_assert_eq(PARSE("-6", "--version", "1", "tap1"), ACTION_VERSION);
	cr_assert_null(err);
}

Test(options, positional)
{
	OK("4321", "tap1");
	cr_assert_eq(opt.target_pid, 4321);
	cr_assert_str_eq(opt.tapname, "tap1");
	OK("4321");
	cr_assert_str_eq(opt.tapname, "tap0");
	OK("1", "abcdefghijklmno"); /* 15 characters: the longest name the kernel takes */
	cr_assert_str_eq(opt.tapname, "abcdefghijklmno");
	OK("2147483647", "eth0.100");
	cr_assert_eq(opt.target_pid, 2147483647);
	cr_assert_str_eq(opt.tapname, "eth0.100");
}

Test(options, options_after_positional_arguments)
{
	/* GNU getopt permutes: slirp4netns accepts "PID TAP -c --mtu=..." and so do we. */
	OK("1234", "tap1", "-c", "--mtu", "9000", "-6", "--cidr=10.9.0.0/16");
	cr_assert_eq(opt.target_pid, 1234);
	cr_assert_str_eq(opt.tapname, "tap1");
	cr_assert(opt.configure);
	cr_assert_eq(opt.mtu, 9000);
	cr_assert(opt.ipv6);
	cr_assert_str_eq(ntop4(opt.net), "10.9.0.0");

	OK("-c", "1234", "--mtu=1400", "tap2", "--enable-ipv6");
	cr_assert_eq(opt.target_pid, 1234);
	cr_assert_str_eq(opt.tapname, "tap2");
	cr_assert_eq(opt.mtu, 1400);
	cr_assert(opt.ipv6);
}

Test(options, double_dash_ends_options)
{
	OK("-c", "--", "1234", "tap1");
	cr_assert(opt.configure);
	cr_assert_eq(opt.target_pid, 1234);
	cr_assert_str_eq(opt.tapname, "tap1");
	/* after "--" a dash-word is positional (and here an invalid PID, not an option) */
	FAILS("-c", "--", "-c");
}

Test(options, podman_command_line)
{
	/* What podman 4.x runs. */
	OK("--mtu=65520", "--enable-sandbox", "--enable-seccomp", "--enable-ipv6", "-c", "-e", "3",
	   "-r", "4", "--api-socket", "/run/user/1000/libpod/slirp.sock", "--netns-type=path",
	   "--disable-host-loopback", "--outbound-addr=127.0.0.1", "/run/user/1000/netns/cni-1",
	   "tap0");
	cr_assert_eq(opt.mtu, 65520);
	cr_assert(opt.sandbox && opt.seccomp && opt.ipv6 && opt.configure);
	cr_assert_eq(opt.exit_fd, 3);
	cr_assert_eq(opt.ready_fd, 4);
	cr_assert_str_eq(opt.api_socket, "/run/user/1000/libpod/slirp.sock");
	cr_assert_eq(opt.netns_type, NETNS_PATH);
	cr_assert(opt.disable_host_loopback);
	cr_assert(opt.has_outbound_addr);
	cr_assert_str_eq(opt.target_path, "/run/user/1000/netns/cni-1");
	cr_assert_str_eq(opt.tapname, "tap0");
	cr_assert(opt.warnings == NULL || opt.warnings->len == 0);
}

Test(options, parser_state_is_reset_between_calls)
{
	/* An error in the middle of a short-option cluster leaves getopt mid-word. */
	FAILS("-x", "-cxm", "1");
	OK("-m", "1400", "7");
	cr_assert_eq(opt.mtu, 1400);
	cr_assert_not(opt.configure);
	cr_assert_eq(opt.target_pid, 7);
	/* A help request stops early, too. */
	cr_assert_eq(PARSE("-h", "-c"), ACTION_HELP);
	OK("8");
	cr_assert_not(opt.configure);
	cr_assert_eq(opt.target_pid, 8);
}

/* ---- errors ----------------------------------------------------------------------------- */

Test(options, bad_mtu)
{
	FAILS("--mtu", "-m", "67", "1");
	FAILS("--mtu", "--mtu=65522", "1");
	FAILS("--mtu", "--mtu=0", "1");
	FAILS("--mtu", "-m", "abc", "1");
	FAILS("--mtu", "--mtu=", "1");
	FAILS("--mtu", "-m", "", "1");
	FAILS("--mtu", "-m", "-1500", "1");
	FAILS("--mtu", "-m", "1500x", "1");
	FAILS("--mtu", "-m", " 1500", "1");
	FAILS("--mtu", "-m", "99999999999999999999999", "1");
	/* the message shows the bad value and the range */
	FAILS("65522", "--mtu=65522", "1");
	FAILS("68", "--mtu=67", "1");
}

Test(options, bad_cidr)
{
	FAILS("--cidr", "--cidr=10.0.2.0", "1");
	FAILS("--cidr", "--cidr=10.0.2/24", "1");
	FAILS("--cidr", "--cidr=foo/24", "1");
	FAILS("--cidr", "--cidr=/24", "1");
	FAILS("--cidr", "--cidr=10.0.2.0/", "1");
	FAILS("--cidr", "--cidr=10.0.2.0/x", "1");
	FAILS("--cidr", "--cidr=10.0.2.0/24x", "1");
	FAILS("--cidr", "--cidr=10.0.2.0/0", "1");
	FAILS("--cidr", "--cidr=10.0.2.0/26", "1");
	FAILS("--cidr", "--cidr=10.0.2.0/32", "1");
	FAILS("--cidr", "--cidr=10.0.2.0/33", "1");
	FAILS("--cidr", "--cidr=fd00::/24", "1");
	FAILS("host bits", "--cidr=10.0.2.1/24", "1");
	FAILS("host bits", "--cidr=10.0.2.128/24", "1");
	FAILS("host bits", "--cidr=10.1.0.0/8", "1");
}

Test(options, bad_cidr6)
{
	FAILS("--cidr6", "--cidr6=fd00::", "1");
	FAILS("--cidr6", "--cidr6=fd00::/48", "1");
	FAILS("--cidr6", "--cidr6=fd00::/128", "1");
	FAILS("--cidr6", "--cidr6=fd00::/", "1");
	FAILS("--cidr6", "--cidr6=fd00::/064", "1");
	FAILS("--cidr6", "--cidr6=10.0.2.0/64", "1");
	FAILS("--cidr6", "--cidr6=fd00:::/64", "1");
	FAILS("--cidr6", "--cidr6=/64", "1");
	FAILS("interface bits", "--cidr6=fd00::1/64", "1");
	FAILS("interface bits", "--cidr6=fd00:0:0:0:8000::/64", "1");
}

Test(options, bad_macaddress)
{
	FAILS("--macaddress", "-c", "--macaddress=02:00:00:00:00", "1");         /* short */
	FAILS("--macaddress", "-c", "--macaddress=02:00:00:00:00:00:01", "1");   /* long */
	FAILS("--macaddress", "-c", "--macaddress=02:00:00:00:00:1", "1");       /* short octet */
	FAILS("--macaddress", "-c", "--macaddress=02-00-00-00-00-01", "1");      /* separator */
	FAILS("--macaddress", "-c", "--macaddress=02.00.00.00.00.01", "1");      /* separator */
	FAILS("--macaddress", "-c", "--macaddress=0200:00:00:00:01:", "1");      /* misplaced */
	FAILS("--macaddress", "-c", "--macaddress=02:00:00:00:00:0g", "1");      /* non-hex */
	FAILS("--macaddress", "-c", "--macaddress=2:0:0:0:0:1", "1");            /* one digit */
	FAILS("--macaddress", "-c", "--macaddress= 2:00:00:00:00:01", "1");      /* space */
	FAILS("--macaddress", "-c", "--macaddress=", "1");                       /* empty */
	FAILS("multicast", "-c", "--macaddress=01:00:5e:00:00:01", "1");         /* multicast */
	FAILS("multicast", "-c", "--macaddress=ff:ff:ff:ff:ff:ff", "1");         /* broadcast */
	FAILS("--macaddress", "-c", "--macaddress=00:00:00:00:00:00", "1");      /* all-zero */
	FAILS("02-00-00-00-00-01", "-c", "--macaddress=02-00-00-00-00-01", "1"); /* shows it */
}

Test(options, macaddress_needs_configure)
{
	FAILS("--macaddress", "--macaddress=02:00:00:00:00:01", "1");
	cr_assert_not_null(strstr(err->message, "--configure"), "%s", err->message);
}

Test(options, bad_netns_type)
{
	FAILS("--netns-type", "--netns-type=foo", "1");
	FAILS("--netns-type", "--netns-type=PID", "1");
	FAILS("--netns-type", "--netns-type=", "1");
	FAILS("foo", "--netns-type", "foo", "1");
}

Test(options, bad_target_type)
{
	FAILS("--target-type", "--target-type=foo", "1");
	FAILS("--target-type", "--target-type=", "1");
	FAILS("--target-type", "--target-type=BESS", "/tmp/bess.sock");
}

Test(options, bess_conflicts)
{
	FAILS("--configure conflicts with --target-type=bess", "--target-type=bess", "-c",
	      "/tmp/b");
	FAILS("--netns-type conflicts with --target-type=bess", "--target-type=bess",
	      "--netns-type=pid", "/tmp/b");
	FAILS("--netns-type conflicts with --target-type=bess", "--netns-type=path",
	      "--target-type=bess", "/tmp/b");
	FAILS("--userns-path conflicts with --target-type=bess", "--target-type=bess",
	      "--userns-path=/proc/1/ns/user", "/tmp/b");
	FAILS("exactly one argument", "--target-type=bess");
	FAILS("exactly one argument", "--target-type=bess", "/tmp/b", "tap0");
	FAILS("empty socket path", "--target-type=bess", "");
	FAILS("--configure", "--target-type=bess", "-c", "--macaddress=02:00:00:00:00:01", "/b");
}

Test(options, bad_pcap)
{
	FAILS("--pcap: empty path", "--pcap=", "1");
	FAILS("--pcap-max-size can only be used with --pcap", "--pcap-max-size=1M", "1");
	FAILS("at least 4096 bytes", "--pcap=/x", "--pcap-max-size=4095", "1");
	FAILS("--pcap-max-size", "--pcap=/x", "--pcap-max-size=0", "1");
	FAILS("--pcap-max-size", "--pcap=/x", "--pcap-max-size=", "1");
	FAILS("--pcap-max-size", "--pcap=/x", "--pcap-max-size=1T", "1");
	FAILS("--pcap-max-size", "--pcap=/x", "--pcap-max-size=-1M", "1");
	FAILS("--pcap-max-size", "--pcap=/x", "--pcap-max-size=1 M", "1");
	FAILS("--pcap-max-size", "--pcap=/x", "--pcap-max-size=M", "1");
	FAILS("--pcap-max-size", "--pcap=/x", "--pcap-max-size=99999999999999999999G", "1");
	FAILS("'12KB'", "--pcap=/x", "--pcap-max-size=12KB", "1"); /* shows the value */
}

Test(helpers, parse_size)
{
	uint64_t v;
	cr_assert(parse_size("0", &v) && v == 0);
	cr_assert(parse_size("4096", &v) && v == 4096);
	cr_assert(parse_size("64K", &v) && v == 64 << 10);
	cr_assert(parse_size("64k", &v) && v == 64 << 10);
	cr_assert(parse_size("3M", &v) && v == 3 << 20);
	cr_assert(parse_size("5G", &v) && v == 5ull << 30);
	cr_assert(parse_size("17179869183G", &v) && v == 17179869183ull << 30);
	cr_assert(!parse_size("17179869184G", &v)); /* 2^64 bytes */
	cr_assert(!parse_size("", &v));
	cr_assert(!parse_size("K", &v));
	cr_assert(!parse_size("1KiB", &v));
	cr_assert(!parse_size("1.5M", &v));
	cr_assert(!parse_size("+1", &v));
	cr_assert(!parse_size(" 1", &v));
}

Test(options, bad_positional_arguments)
{
	FAILS("missing", "-c");
	FAILS("missing");
	FAILS("abc", "abc"); /* not a PID */
	FAILS("'0'", "0");   /* not a PID either */
	FAILS("12abc", "12abc");
	FAILS("2147483648", "2147483648");
	FAILS("' 1'", " 1");
	FAILS("--netns-type=path", "/proc/1/ns/net"); /* a path in pid mode: hint at the option */
	FAILS("path", "--netns-type=path", "");       /* empty path */
	FAILS("--netns-type=tapfd", "--netns-type=tapfd", "x");
	FAILS("--netns-type=tapfd", "--netns-type=tapfd", "2147483648");
	FAILS("--netns-type=tapfd", "--netns-type=tapfd", "");
	FAILS("missing", "--netns-type=tapfd");
}

Test(options, too_many_arguments)
{
	FAILS("too many", "1", "tap0", "extra");
	cr_assert_not_null(strstr(err->message, "extra"), "%s", err->message);
	FAILS("too many", "--netns-type=path", "/a", "tap0", "/b", "c");
}

Test(options, bad_tap_names)
{
	FAILS("0123456789abcdef", "1", "0123456789abcdef"); /* 16 characters */
	FAILS("interface name", "1", "a-very-long-interface-name");
	FAILS("tap/0", "1", "tap/0");
	FAILS("interface name", "1", "/");
	FAILS("interface name", "1", "");
	FAILS("interface name", "1", ".");
	FAILS("interface name", "1", "..");
	/* the kernel refuses these too (dev_valid_name), and '%' makes it pick another name */
	FAILS("interface name", "1", "tap:0");
	FAILS("interface name", "1", "tap 0");
	FAILS("interface name", "1", "tap\t0");
	FAILS("interface name", "1", "tap%d");
}

Test(options, unknown_options)
{
	FAILS("--bogus", "--bogus", "1");
	FAILS("--bogus", "--bogus=3", "1");
	FAILS("-x", "-x", "1");
	FAILS("-x", "-cx", "1");
	FAILS("-x", "-xc", "1");
	FAILS("-x", "--mtu=1500", "-xc", "1"); /* an error in a cluster after a long option */
	FAILS("-W", "-W", "foo", "1");
	FAILS("-:", "-:", "1");
	FAILS("invalid option -- ':'",
	      "-:", "1");               /* ':' is in the getopt string, but not an option */
	FAILS("-b", "1", "tap0", "-b"); /* after the positional arguments too */
	FAILS("--cidr7", "--cidr7=10.0.0.0/8", "1");
	FAILS("unrecognized option '--cidr7=10.0.0.0/8'", "--cidr7=10.0.0.0/8", "1");
	FAILS("invalid option -- 'x'", "-cx", "1");
	FAILS("invalid option -- 'x'", "--mtu=1500", "-xc", "1");
	/* a non-ASCII option character, in the middle of a word (getopt reads bytes) */
	FAILS("invalid option -- character 0xc3", "-\xc3\xa9", "1");
	cr_assert_null(strstr(err->message, "slirpns"), "%s", err->message);
}

Test(options, ambiguous_abbreviations)
{
	/* --enable matches --enable-ipv6, --enable-sandbox and --enable-seccomp */
	FAILS("--enable", "--enable", "1");
	FAILS("ambiguous", "--enable", "1");
	FAILS("ambiguous", "--disable", "1");
	FAILS("ambiguous", "--outbound=1.2.3.4", "1");
	/* the message lists the candidates */
	FAILS("--enable-seccomp", "--enable", "1");
	FAILS("--disable-dns", "--disable", "1");
	/* a unique abbreviation is fine, and an exact name is never ambiguous */
	OK("--disable-d", "--enable-sa", "1");
	cr_assert(opt.disable_dns && opt.sandbox);
	OK("--cidr=10.1.0.0/16", "--outbound-addr=10.0.0.1", "1");
	cr_assert_eq(opt.prefix, 16);
	cr_assert(opt.has_outbound_addr && !opt.has_outbound_addr6);
}

Test(options, odd_option_words)
{
	FAILS("--=x", "--=x", "1");
	FAILS("invalid option -- character 0x01", "-\x01", "1");
	FAILS("invalid option -- character 0x20", "- ", "1");
}

Test(options, option_given_an_argument_it_does_not_take)
{
	FAILS("--configure", "--configure=yes", "1");
	cr_assert_null(strstr(err->message, "requires"), "%s", err->message);
	FAILS("--disable-dns", "--disable-dns=1", "1");
	cr_assert_null(strstr(err->message, "requires"), "%s", err->message);
	FAILS("--enable-ipv6", "--enable-ipv6=true", "1");
	FAILS("--help", "--help=me");
}

Test(options, missing_arguments)
{
	FAILS("-m", "1", "-m");
	FAILS("requires an argument", "1", "-m");
	FAILS("-e", "1", "-ce");
	FAILS("-p", "1", "-p");
	FAILS("--mtu", "1", "--mtu");
	FAILS("requires an argument", "1", "--mtu");
	FAILS("--exit-fd", "1", "--exit-fd");
	FAILS("--ready-fd", "1", "--ready-fd");
	FAILS("--api-socket", "1", "--api-socket");
	FAILS("--publish", "1", "--publish");
	FAILS("--cidr", "1", "--cidr");
	FAILS("--cidr6", "1", "--cidr6");
	FAILS("--netns-type", "1", "--netns-type");
	FAILS("--userns-path", "1", "--userns-path");
	FAILS("--outbound-addr", "1", "--outbound-addr");
	FAILS("--outbound-addr6", "1", "--outbound-addr6");
	FAILS("--macaddress", "1", "--macaddress");
	FAILS("--target-type", "1", "--target-type");
	FAILS("--mtu", "1", "--mt"); /* an abbreviation is named in full */
	/* the argument of an option is taken even when it looks like an option or is empty */
	FAILS("--mtu", "--mtu", "--configure", "1");
	FAILS("--api-socket", "--api-socket=", "1");
	FAILS("--userns-path", "--userns-path=", "1");
}

Test(options, bad_fd_numbers)
{
	FAILS("--exit-fd", "-e", "abc", "1");
	FAILS("--exit-fd", "-e", "-1", "1");
	FAILS("--exit-fd", "--exit-fd=", "1");
	FAILS("--exit-fd", "--exit-fd=3x", "1");
	FAILS("--exit-fd", "--exit-fd=2147483648", "1");
	FAILS("--exit-fd", "--exit-fd=0x3", "1");
	FAILS("--ready-fd", "-r", "abc", "1");
	FAILS("--ready-fd", "--ready-fd=-2", "1");
	FAILS("--ready-fd", "--ready-fd= 4", "1");
	FAILS("abc", "-r", "abc", "1");
}

Test(options, bad_publish)
{
	FAILS("--publish", "-p", "8080", "1");
	FAILS("--publish", "-p", "", "1");
	FAILS("--publish", "-p", "8080:", "1");
	FAILS("--publish", "-p", ":80", "1");
	FAILS("--publish", "-p", "http:80", "1");
	FAILS("--publish", "-p", "8080:http", "1");
	FAILS("--publish", "-p", "65536:80", "1");
	FAILS("--publish", "-p", "8080:65536", "1");
	FAILS("--publish", "-p", "-1:80", "1");
	FAILS("guest port", "-p", "8080:0", "1");
	FAILS("tcp or udp", "-p", "8080:80/sctp", "1");
	FAILS("tcp or udp", "-p", "8080:80/", "1");
	FAILS("tcp or udp", "-p", "8080:80/TCP", "1");
	FAILS("brackets", "-p", "::1:8080:80", "1");
	FAILS("brackets", "-p", ":::8080:80", "1");
	FAILS("not an IP address", "-p", "localhost:8080:80", "1");
	FAILS("not an IP address", "-p", "1.2.3.256:8080:80", "1");
	FAILS("not an IP address", "-p", "[]:8080:80", "1");
	FAILS("--publish", "-p", "[::1]:8080", "1");
	FAILS("--publish", "-p", "1.2.3.4:1:2:3", "1");
	FAILS("--publish", "--publish=8080:80", "--publish=x", "1");
}

Test(options, userns_path_with_tapfd)
{
	FAILS("--userns-path", "--netns-type=tapfd", "--userns-path=/proc/1/ns/user", "5");
	cr_assert_not_null(strstr(err->message, "tapfd"), "%s", err->message);
	/* in either order */
	FAILS("tapfd", "--userns-path=/proc/1/ns/user", "--netns-type=tapfd", "5");
}

Test(options, bad_outbound_addr)
{
	FAILS("--outbound-addr", "--outbound-addr=no-such-if0", "1");
	FAILS("no-such-if0", "--outbound-addr=no-such-if0", "1");
	FAILS("--outbound-addr", "--outbound-addr=2001:db8::1", "1");
	FAILS("--outbound-addr", "--outbound-addr=", "1");
	FAILS("--outbound-addr", "--outbound-addr=1.2.3", "1");
	FAILS("--outbound-addr6", "--outbound-addr6=no-such-if0", "1");
	FAILS("--outbound-addr6", "--outbound-addr6=192.0.2.1", "1");
	FAILS("--outbound-addr6", "--outbound-addr6=", "1");
}

/* ---- slirp4netns 1.2's messages ------------------------------------------------------------ */

/*
 * Scripts and test suites written against slirp4netns grep its messages, so each of its
 * command-line errors is contained verbatim in ours (issue 14): one test per message.
 */

Test(s4n_messages, exit_fd)
{
	FAILS("exit-fd must be a non-negative integer", "--exit-fd=-1", "1");
	FAILS("exit-fd must be a non-negative integer", "-e", "x", "1");
}

Test(s4n_messages, ready_fd)
{
	FAILS("ready-fd must be a non-negative integer", "--ready-fd=-1", "1");
	FAILS("ready-fd must be a non-negative integer", "-r", "x", "1");
}

Test(s4n_messages, mtu)
{
	FAILS("MTU must be a positive integer (< 65522)", "--mtu=65522", "1");
	FAILS("MTU must be a positive integer (< 65522)", "--mtu=0", "1");
	FAILS("MTU must be a positive integer (< 65522)", "-m", "abc", "1");
	FAILS("MTU must be a positive integer (< 65522)", "--mtu=67", "1"); /* ours: at least 68 */
}

Test(s4n_messages, cidr_invalid)
{
	FAILS("invalid CIDR", "--cidr", "24", "1");
	FAILS("invalid CIDR", "--cidr", "foo", "1");
	FAILS("invalid CIDR", "--cidr", "10.0.2.0", "1");
	FAILS("invalid CIDR: 10.0.2.0", "--cidr", "10.0.2.0", "1");
	FAILS("invalid CIDR", "--cidr=10.0.2/24", "1");
	FAILS("invalid CIDR", "--cidr=10.0.2.0/", "1");
	FAILS("invalid CIDR", "--cidr=10.0.2.0/x", "1");
	FAILS("invalid CIDR", "--cidr=10.0.2.0/024", "1"); /* slirp4netns: 1 or 2 digits */
	FAILS("invalid CIDR", "--cidr=fd00::/24", "1");
}

Test(s4n_messages, cidr_network_address)
{
	FAILS("invalid network address: 300.0.2.0", "--cidr=300.0.2.0/24", "1");
}

Test(s4n_messages, cidr_prefix_length)
{
	FAILS("prefix length needs to be 1-25", "--cidr", "10.0.2.100/26", "1");
	FAILS("prefix length needs to be 1-25", "--cidr=10.0.2.0/0", "1");
	FAILS("prefix length needs to be 1-25", "--cidr=10.0.2.0/32", "1");
	FAILS("prefix length needs to be 1-25", "--cidr=10.0.2.0/33", "1");
	FAILS("prefix length needs to be 1-25", "--cidr=10.0.2.0/99", "1");
}

Test(s4n_messages, cidr_network)
{
	FAILS("CIDR needs to be a network address like 10.0.2.0/24, not like 10.0.2.100/24",
	      "--cidr", "10.0.2.100/24", "1");
	FAILS("CIDR needs to be a network address like 10.0.2.0/24, not like 10.0.2.100/24",
	      "--cidr=10.1.0.0/8", "1");
}

Test(s4n_messages, macaddress_without_configure)
{
	FAILS("--macaddr cannot be specified when --configure or -c is not specified",
	      "--macaddress=02:00:00:00:00:01", "1");
}

Test(s4n_messages, macaddress_invalid)
{
	FAILS("\"zz\" is an invalid MAC address.", "-c", "--macaddress=zz", "1");
	FAILS("macaddress has to be a valid MAC address (hex string, 6 bytes, each byte separated "
	      "by a ':').",
	      "-c", "--macaddress=zz", "1");
	FAILS("macaddress has to be a valid MAC address", "-c", "--macaddress=02:00:00:00:00", "1");
}

Test(s4n_messages, macaddress_too_long)
{
	FAILS("\"02:00:00:00:00:00:01\" is an invalid MAC address.  Is it too long?", "-c",
	      "--macaddress=02:00:00:00:00:00:01", "1");
}

Test(s4n_messages, outbound_addr)
{
	FAILS("outbound-addr has to be valid ipv4 address or interface name.",
	      "--outbound-addr=no-such-if0", "1");
	FAILS("outbound-addr has to be valid ipv4 address or interface name.",
	      "--outbound-addr=2001:db8::1", "1");
}

Test(s4n_messages, outbound_addr6)
{
	/* sic: slirp4netns says "ipv4" and "iterface" for --outbound-addr6 */
	FAILS("outbound-addr has to be valid ipv4 address or iterface name.",
	      "--outbound-addr6=no-such-if0", "1");
	FAILS("outbound-addr has to be valid ipv4 address or iterface name.",
	      "--outbound-addr6=192.0.2.1", "1");
}

Test(s4n_messages, api_socket_too_long)
{
	g_autofree char *path = g_strnfill(108, 'a');
	FAILS("the specified API socket path is too long (>= 108)", "--api-socket", path, "1");
	options_clear(&opt);
	g_clear_error(&err);
	path[107] = '\0'; /* 107 bytes and the NUL fit */
	OK("--api-socket", path, "1");
}

Test(s4n_messages, bess_socket_too_long)
{
	g_autofree char *path = g_strnfill(108, 'b');
	FAILS("the specified BESS socket path is too long (>= 108)", "--target-type=bess", path);
	options_clear(&opt);
	g_clear_error(&err);
	path[107] = '\0';
	OK("--target-type=bess", path);
}

Test(s4n_messages, configure_conflicts_with_bess)
{
	FAILS("--configure conflicts with --target-type=bess", "--target-type=bess", "-c", "/b");
}

Test(s4n_messages, netns_type_conflicts_with_bess)
{
	FAILS("--netns-type conflicts with --target-type=bess", "--target-type=bess",
	      "--netns-type=path", "/b");
}

Test(s4n_messages, userns_path_conflicts_with_bess)
{
	FAILS("--userns-path conflicts with --target-type=bess", "--target-type=bess",
	      "--userns-path=/x", "/b");
}

Test(s4n_messages, bess_too_many_arguments)
{
	FAILS("too many arguments", "--target-type=bess", "/b", "tap0");
}

Test(s4n_messages, target_type)
{
	FAILS("--target-type must be either \"netns\" or \"bess\"", "--target-type=foo", "1");
	FAILS("--target-type must be either \"netns\" or \"bess\"", "--target-type=", "1");
}

Test(s4n_messages, pid)
{
	FAILS("PID must be a positive integer", "abc");
	FAILS("PID must be a positive integer", "0");
	FAILS("PID must be a positive integer", "--", "-1", "tap0");
}

Test(s4n_messages, netns_too_many_arguments)
{
	/* slirp4netns only warns "WARNING: too many arguments" here; we refuse them. */
	FAILS("too many arguments", "1", "tap0", "extra");
}

Test(s4n_messages, getopt_unrecognized_option)
{
	/* slirp4netns lets glibc's getopt_long() report these; its wording, then */
	FAILS("unrecognized option '--bogus'", "--bogus", "1");
	FAILS("unrecognized option '--bogus=3'", "--bogus=3", "1");
}

Test(s4n_messages, getopt_invalid_option)
{
	FAILS("invalid option -- 'x'", "-x", "1");
}

Test(s4n_messages, getopt_requires_an_argument)
{
	FAILS("option '--mtu' requires an argument", "1", "--mtu");
	FAILS("option requires an argument -- 'm'", "1", "-m");
}

Test(s4n_messages, getopt_ambiguous)
{
	FAILS("option '--enable' is ambiguous; possibilities: '--enable-ipv6'", "--enable", "1");
}

Test(s4n_messages, getopt_does_not_allow_an_argument)
{
	FAILS("option '--configure' doesn't allow an argument", "--configure=yes", "1");
	FAILS("option '--configure' doesn't allow an argument", "--conf=yes", "1");
}

/* These two slirp4netns checks while parsing; we when opening the namespaces (netns_enter). */
Test(s4n_messages, userns_path_missing)
{
	OK("--userns-path=/nonexistent/userns", "--netns-type=path", "/nonexistent/netns");
	GError *e = NULL;
	cr_assert_not(netns_enter(&opt, &e));
	cr_assert_not_null(e);
	cr_assert_not_null(strstr(e->message, "userns path doesn't exist: /nonexistent/userns"),
	                   "message: %s", e->message);
	g_error_free(e);
}

Test(s4n_messages, netns_path_missing)
{
	OK("--netns-type=path", "/nonexistent/netns");
	GError *e = NULL;
	cr_assert_not(netns_enter(&opt, &e));
	cr_assert_not_null(e);
	cr_assert_not_null(strstr(e->message, "existing path expected when --netns-type=path"),
	                   "message: %s", e->message);
	g_error_free(e);
}

/* ---- helpers ---------------------------------------------------------------------------- */

Test(helpers, parse_uint)
{
	unsigned long v = 77;
	cr_assert(parse_uint("0", 10, &v));
	cr_assert_eq(v, 0);
	cr_assert(parse_uint("42", 100, &v));
	cr_assert_eq(v, 42);
	cr_assert(parse_uint("65535", 65535, &v));
	cr_assert_eq(v, 65535);
	cr_assert(parse_uint("007", 10, &v));
	cr_assert_eq(v, 7);

	v = 77;
	cr_assert_not(parse_uint("65536", 65535, &v));
	cr_assert_not(parse_uint("", 10, &v));
	cr_assert_not(parse_uint(NULL, 10, &v));
	cr_assert_not(parse_uint("-1", 10, &v));
	cr_assert_not(parse_uint("+1", 10, &v));
	cr_assert_not(parse_uint(" 1", 10, &v));
	cr_assert_not(parse_uint("1 ", 10, &v));
	cr_assert_not(parse_uint("1.0", 10, &v));
	cr_assert_not(parse_uint("0x10", 100, &v));
	cr_assert_not(parse_uint("abc", 10, &v));
	cr_assert_not(parse_uint("99999999999999999999999999", ULONG_MAX, &v));
	cr_assert_eq(v, 77, "the output is written on failure");
}

Test(helpers, parse_cidr4)
{
	struct in_addr net, mask;
	unsigned prefix = 0;
	cr_assert(parse_cidr4("10.0.2.0/24", &net, &mask, &prefix, &err));
	cr_assert_null(err);
	cr_assert_str_eq(ntop4(net), "10.0.2.0");
	cr_assert_str_eq(ntop4(mask), "255.255.255.0");
	cr_assert_eq(prefix, 24);

	cr_assert(parse_cidr4("128.0.0.0/1", &net, &mask, &prefix, &err));
	cr_assert_str_eq(ntop4(mask), "128.0.0.0");
	cr_assert_eq(prefix, 1);

	cr_assert(parse_cidr4("10.0.0.0/8", &net, &mask, &prefix, &err));
	cr_assert_str_eq(ntop4(mask), "255.0.0.0");

	cr_assert(parse_cidr4("192.168.7.128/25", &net, &mask, &prefix, &err));
	cr_assert_str_eq(ntop4(net), "192.168.7.128");
	cr_assert_str_eq(ntop4(mask), "255.255.255.128");
	cr_assert_eq(prefix, 25);

	/* failure leaves the outputs alone and sets a --cidr error */
	const char *bad[] = {"10.0.2.0",    "10.0.2.0/",    "10.0.2.0/0",   "10.0.2.0/26",
	                     "10.0.2.0/32", "10.0.2.1/24",  "1.2.3/24",     "a.b.c.d/24",
	                     "/24",         "10.0.2.0/-24", "10.0.2.0/+24", "10.0.2.0/24/1"};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct in_addr n2 = {.s_addr = 0x01020304}, m2 = {.s_addr = 0x05060708};
		unsigned p2 = 99;
		g_clear_error(&err);
		cr_assert_not(parse_cidr4(bad[i], &n2, &m2, &p2, &err), "%s accepted", bad[i]);
		check_error("--cidr", bad[i]);
		cr_assert_eq(n2.s_addr, 0x01020304, "%s", bad[i]);
		cr_assert_eq(m2.s_addr, 0x05060708, "%s", bad[i]);
		cr_assert_eq(p2, 99, "%s", bad[i]);
	}
	/* a NULL GError is allowed */
	cr_assert_not(parse_cidr4("10.0.2.1/24", &net, &mask, &prefix, NULL));
}

Test(helpers, parse_cidr6)
{
	struct in6_addr net;
	cr_assert(parse_cidr6("fd00::/64", &net, &err));
	cr_assert_null(err);
	cr_assert_str_eq(ntop6(&net), "fd00::");
	cr_assert(parse_cidr6("2001:db8:aaaa:bbbb::/64", &net, &err));
	cr_assert_str_eq(ntop6(&net), "2001:db8:aaaa:bbbb::");
	cr_assert(parse_cidr6("2001:db8:aaaa:bbbb:0:0:0:0/64", &net, &err));
	cr_assert_str_eq(ntop6(&net), "2001:db8:aaaa:bbbb::");

	const char *bad[] = {"fd00::",     "fd00::/",      "fd00::/48",   "fd00::/65",
	                     "fd00::/064", "fd00::1/64",   "::ff/64",     "10.0.2.0/64",
	                     "/64",        "fd00::/64/64", "fd00::%lo/64"};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct in6_addr n2;
		memset(&n2, 0xaa, sizeof(n2));
		g_clear_error(&err);
		cr_assert_not(parse_cidr6(bad[i], &n2, &err), "%s accepted", bad[i]);
		check_error("--cidr6", bad[i]);
		cr_assert_eq(n2.s6_addr[0], 0xaa, "%s", bad[i]);
		cr_assert_eq(n2.s6_addr[15], 0xaa, "%s", bad[i]);
	}
	cr_assert_not(parse_cidr6("fd00::/48", &net, NULL));
}

Test(helpers, parse_mac)
{
	uint8_t mac[6];
	cr_assert(parse_mac("02:00:5e:10:00:01", mac));
	const uint8_t want1[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
	cr_assert_arr_eq(mac, want1, 6);
	cr_assert(parse_mac("AA:bb:Cc:dD:EE:ff", mac));
	const uint8_t want2[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	cr_assert_arr_eq(mac, want2, 6);
	/* parse_mac is syntax only; options_parse refuses multicast and all-zero addresses */
	cr_assert(parse_mac("01:00:5e:00:00:01", mac));

	const char *bad[] = {"",
	                     "02:00:00:00:00",
	                     "02:00:00:00:00:00:00",
	                     "02:00:00:00:00:0",
	                     "02:00:00:00:00:001",
	                     "02-00-00-00-00-01",
	                     "02:00:00:00:00-01",
	                     "02:00:00:00:00:01:",
	                     ":02:00:00:00:00:01",
	                     "020:0:00:00:00:01",
	                     "02:00:00:00:00:0g",
	                     "0x:00:00:00:00:01",
	                     "2:0:0:0:0:1",
	                     " 2:00:00:00:00:01",
	                     "02:00:00:00:00:01 "};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		cr_assert_not(parse_mac(bad[i], mac), "'%s' accepted", bad[i]);
}

Test(helpers, parse_publish)
{
	struct publish_spec s;
	cr_assert(parse_publish("8080:80", &s, &err));
	cr_assert_null(err);
	cr_assert_not(s.udp);
	cr_assert_str_eq(s.host_addr, "0.0.0.0");
	cr_assert_eq(s.host_port, 8080);
	cr_assert_eq(s.guest_port, 80);

	cr_assert(parse_publish("127.0.0.1:8080:80/udp", &s, &err));
	cr_assert(s.udp);
	cr_assert_str_eq(s.host_addr, "127.0.0.1");
	cr_assert_eq(s.host_port, 8080);
	cr_assert_eq(s.guest_port, 80);

	cr_assert(parse_publish("[::]:8080:80", &s, &err));
	cr_assert_not(s.udp);
	cr_assert_str_eq(s.host_addr, "::");
	cr_assert_eq(s.host_port, 8080);
	cr_assert_eq(s.guest_port, 80);

	cr_assert(parse_publish("[::1]:0:80/tcp", &s, &err));
	cr_assert_not(s.udp);
	cr_assert_str_eq(s.host_addr, "::1");
	cr_assert_eq(s.host_port, 0);
	cr_assert_eq(s.guest_port, 80);

	/* a udp spec followed by a tcp one into the same struct: nothing leaks over */
	cr_assert(parse_publish("[2001:db8::1]:65535:65535/udp", &s, &err));
	cr_assert(s.udp);
	cr_assert_str_eq(s.host_addr, "2001:db8::1");
	cr_assert_eq(s.host_port, 65535);
	cr_assert_eq(s.guest_port, 65535);
	cr_assert(parse_publish("1:1", &s, &err));
	cr_assert_not(s.udp);
	cr_assert_str_eq(s.host_addr, "0.0.0.0");
	cr_assert_null(err);

	/* the longest IPv6 text form fits host_addr */
	cr_assert(parse_publish("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:1:2", &s, &err));
	cr_assert_str_eq(s.host_addr, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");

	const char *bad[] = {"",
	                     "80",
	                     "8080:",
	                     ":80",
	                     "8080:0",
	                     "8080:80/sctp",
	                     "8080:80/",
	                     "0:0",
	                     "65536:80",
	                     "80:65536",
	                     "a:80",
	                     "80:b",
	                     "::1:8080:80",
	                     "x:8080:80",
	                     "[::1]:8080",
	                     "[::1:8080:80",
	                     "::1]:8080:80",
	                     "[]:80:80",
	                     "1.2.3.4:1:2:3",
	                     "8080:80/udp/tcp"};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_clear_error(&err);
		cr_assert_not(parse_publish(bad[i], &s, &err), "'%s' accepted", bad[i]);
		check_error("--publish", bad[i]);
		/* the message quotes the spec */
		cr_assert_not_null(strstr(err->message, bad[i]), "%s: %s", bad[i], err->message);
	}
	cr_assert_not(parse_publish("8080", &s, NULL));
}

Test(helpers, addr4_offset)
{
	struct in_addr net;
	inet_pton(AF_INET, "10.0.2.0", &net);
	cr_assert_str_eq(ntop4(addr4_offset(net, 0)), "10.0.2.0");
	cr_assert_str_eq(ntop4(addr4_offset(net, 2)), "10.0.2.2");
	cr_assert_str_eq(ntop4(addr4_offset(net, 3)), "10.0.2.3");
	cr_assert_str_eq(ntop4(addr4_offset(net, 100)), "10.0.2.100");
	cr_assert_str_eq(ntop4(addr4_offset(net, 256 + 15)), "10.0.3.15");
	inet_pton(AF_INET, "192.168.255.200", &net);
	cr_assert_str_eq(ntop4(addr4_offset(net, 100)), "192.169.0.44"); /* carries */
	inet_pton(AF_INET, "172.16.5.128", &net);
	cr_assert_str_eq(ntop4(addr4_offset(net, 100)), "172.16.5.228");
}

/* ---- --help and --version --------------------------------------------------------------- */

/* text has "--name" followed by something that cannot continue an option name. */
static bool mentions_option(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; (p = strstr(p, name)) != NULL; p += n) {
		char after = p[n];
		bool before_ok = p == text || !(g_ascii_isalnum(p[-1]) || p[-1] == '-');
		if (before_ok && !(g_ascii_isalnum(after) || after == '-'))
			return true;
	}
	return false;
}

Test(texts, help_mentions_every_option)
{
	const char *help = options_help_text();
	cr_assert_not_null(help);
	static const char *const long_names[] = {
	    /* slirp4netns's, which podman and rootlesskit look for */
	    "--configure", "--exit-fd", "--ready-fd", "--mtu", "--cidr", "--enable-ipv6",
	    "--api-socket", "--disable-host-loopback", "--netns-type", "--userns-path",
	    "--enable-sandbox", "--enable-seccomp", "--outbound-addr", "--outbound-addr6",
	    "--disable-dns", "--macaddress", "--target-type", "--help", "--version",
	    /* ours */
	    "--cidr6", "--publish", "--pcap", "--pcap-max-size", "--debug",
	    /* the deprecated aliases */
	    "--no-host-loopback", "--create-sandbox"};
	for (size_t i = 0; i < G_N_ELEMENTS(long_names); i++)
		cr_assert(mentions_option(help, long_names[i]), "--help does not mention %s",
		          long_names[i]);
	static const char *const short_names[] = {"-c", "-e", "-r", "-m", "-6",
	                                          "-a", "-p", "-h", "-v"};
	for (size_t i = 0; i < G_N_ELEMENTS(short_names); i++)
		cr_assert(mentions_option(help, short_names[i]), "--help does not mention %s",
		          short_names[i]);
	/* the check itself must not be fooled by a longer name */
	cr_assert_not(mentions_option("--cidr6=X", "--cidr"));
	cr_assert_not(mentions_option("--outbound-addr6", "--outbound-addr"));
}

Test(texts, help_layout)
{
	const char *help = options_help_text();
	cr_assert(g_str_has_prefix(help, "Usage: slirpns "), "%s", help);
	cr_assert_not_null(strstr(help, "PID|PATH|FD [TAPNAME]"));
	cr_assert(g_str_has_suffix(help, "\n"));
	g_auto(GStrv) lines = g_strsplit(help, "\n", -1);
	for (int i = 0; lines[i] != NULL; i++)
		cr_assert_leq(strlen(lines[i]), 80, "help line too long: '%s'", lines[i]);
}

Test(texts, version)
{
	g_autofree char *text = version_text();
	cr_assert_not_null(text);
	cr_assert(g_str_has_suffix(text, "\n"));
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	cr_assert_eq(g_strv_length(lines), 6, "expected 5 lines: %s", text);
	cr_assert_str_empty(lines[5]);

	cr_assert(
	    g_regex_match_simple("^slirpns version [0-9]+\\.[0-9]+\\.[0-9]+$", lines[0], 0, 0),
	    "%s", lines[0]);
	cr_assert_str_eq(lines[0], "slirpns version " PACKAGE_VERSION);

	cr_assert(g_str_has_prefix(lines[1], "commit: "), "%s", lines[1]);
	cr_assert_gt(strlen(lines[1]), strlen("commit: "));

	cr_assert(g_str_has_prefix(lines[2], "libslirp: "), "%s", lines[2]);
	cr_assert_str_eq(lines[2] + strlen("libslirp: "), slirp_version_string());

	cr_assert(g_regex_match_simple("^SLIRP_CONFIG_VERSION_MAX: [0-9]+$", lines[3], 0, 0), "%s",
	          lines[3]);
	cr_assert_eq(atoi(lines[3] + strlen("SLIRP_CONFIG_VERSION_MAX: ")),
	             SLIRP_CONFIG_VERSION_MAX);

	cr_assert(g_regex_match_simple("^libseccomp: [0-9]+\\.[0-9]+\\.[0-9]+$", lines[4], 0, 0),
	          "%s", lines[4]);
}

/* ---- fast paths ----------------------------------------------------------------------- */

Test(options, port_fast_path)
{
	OK("1234");
	cr_assert_not(opt.port_fast_path_off);
	OK("--port-fast-path=off", "1234");
	cr_assert(opt.port_fast_path_off);
	OK("--port-fast-path=auto", "1234");
	cr_assert_not(opt.port_fast_path_off);
	cr_assert_not(opt.port_fast_path_tcp);
	OK("--port-fast-path=tcp", "1234");
	cr_assert_not(opt.port_fast_path_off);
	cr_assert(opt.port_fast_path_tcp);
	OK("--port-fast-path=tcp", "--port-fast-path=off", "1234"); /* the last one counts */
	cr_assert(opt.port_fast_path_off);
	cr_assert_not(opt.port_fast_path_tcp);
	FAILS("--port-fast-path: 'on' is not auto, tcp or off", "--port-fast-path=on", "1234");
}

Test(options, outbound_fast_path)
{
	OK("1234");
	cr_assert_not(opt.outbound_fast_path_off);
	OK("--outbound-fast-path=off", "1234");
	cr_assert(opt.outbound_fast_path_off);
	OK("--outbound-fast-path=auto", "1234");
	cr_assert_not(opt.outbound_fast_path_off);
	FAILS("--outbound-fast-path: 'yes' is not auto or off", "--outbound-fast-path=yes", "1234");
	FAILS("outbound-fast-path", "--outbound-fast-path", "1234");
}

/* ---- the bounds on what a guest can make the daemon hold (src/bounds.c) ------------------- */

Test(options, bounds)
{
	OK("1");
	cr_assert_eq(opt.bounds.tcp, 4096);
	cr_assert_eq(opt.bounds.half_open, 1024);
	cr_assert_eq(opt.bounds.udp, 4096);
	cr_assert_eq(opt.bounds.buffered, 64ull << 20);
	OK("--max-tcp=100", "--max-half-open", "10", "--max-udp=7", "--max-buffered=1M", "1");
	cr_assert_eq(opt.bounds.tcp, 100);
	cr_assert_eq(opt.bounds.half_open, 10);
	cr_assert_eq(opt.bounds.udp, 7);
	cr_assert_eq(opt.bounds.buffered, 1ull << 20);
	/* A lower --max-tcp takes the default half-open count down with it. */
	OK("--max-tcp=100", "1");
	cr_assert_eq(opt.bounds.half_open, 100);
	OK("--max-tcp=1048576", "--max-half-open=1048576", "--max-buffered=64K", "1");
	cr_assert_eq(opt.bounds.buffered, 65536);
}

Test(options, bad_bounds)
{
	FAILS("--max-tcp: '0' is not a count from 1 to 1048576", "--max-tcp=0", "1");
	FAILS("--max-tcp: '1048577' is not a count", "--max-tcp=1048577", "1");
	FAILS("--max-udp: 'x' is not a count", "--max-udp=x", "1");
	FAILS("--max-udp: '' is not a count", "--max-udp=", "1");
	FAILS("--max-half-open: '-1' is not a count", "--max-half-open=-1", "1");
	FAILS("--max-half-open: 20 is more than --max-tcp (10)", "--max-tcp=10",
	      "--max-half-open=20", "1");
	FAILS("--max-buffered: '65535' is not a size of at least 65536 bytes",
	      "--max-buffered=65535", "1");
	FAILS("--max-buffered: '1T'", "--max-buffered=1T", "1");
}

Test(bounds, fit_leaves_room_alone)
{
	struct bounds b;
	bounds_default(&b);
	cr_assert_not(bounds_fit(&b, RLIM_INFINITY));
	cr_assert_not(bounds_fit(&b, 1048576));
	cr_assert_not(bounds_fit(&b, 2 * 4096 + 2 * 4096 + BOUND_FD_RESERVE));
	cr_assert_eq(b.tcp, 4096);
	cr_assert_eq(b.udp, 4096);
	cr_assert_eq(bounds_sockets(&b), 8192);
}

Test(bounds, fit_scales_to_the_fd_limit)
{
	struct bounds b;
	bounds_default(&b);
	cr_assert(bounds_fit(&b, 8192));
	/* The endpoints' TCP and UDP, libslirp's, and the reserve fit in 8192. */
	cr_assert_leq(2ull * b.tcp + 2ull * b.udp + BOUND_FD_RESERVE, 8192);
	cr_assert_eq(b.tcp, b.udp); /* proportions kept */
	cr_assert_eq(b.half_open, 1024);
	bounds_default(&b);
	cr_assert(bounds_fit(&b, 1024)); /* less than twice the reserve: half for the daemon */
	cr_assert_leq(2ull * b.tcp + 2ull * b.udp, 512);
	cr_assert_leq(b.half_open, b.tcp);
	cr_assert_geq(b.tcp, 1);
	b = (struct bounds){.tcp = 1, .half_open = 1, .udp = 1, .buffered = 1};
	cr_assert(bounds_fit(&b, 3));
	cr_assert_eq(b.tcp, 1); /* never below one */
	cr_assert_eq(b.udp, 1);
}

Test(options, udp_timeout)
{
	OK("1");
	cr_assert_eq(opt.udp_timeout, 240);
	OK("--udp-timeout=3", "1");
	cr_assert_eq(opt.udp_timeout, 3);
	OK("--udp-timeout", "86400", "1");
	cr_assert_eq(opt.udp_timeout, 86400);
	FAILS("--udp-timeout: '0' is not a number of seconds from 1 to 86400", "--udp-timeout=0",
	      "1");
	FAILS("--udp-timeout: '86401'", "--udp-timeout=86401", "1");
	FAILS("--udp-timeout: '1s'", "--udp-timeout=1s", "1");
}
