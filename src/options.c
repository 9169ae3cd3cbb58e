// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * options.c - the command line: parse, validate, and nothing else.
 *
 * slirpns accepts exactly slirp4netns's options (same spellings, defaults and positional
 * arguments) plus a few of its own (--cidr6, -p/--publish). options_parse() turns argv into a
 * struct options that the rest of the daemon treats as read-only. It never prints and never
 * exits: errors come back as a GError whose message is one line without the "slirpns: " prefix,
 * so main.c decides how to report them and the unit tests can check them. Deprecated aliases
 * are accepted and leave a message in opt->warnings.
 */
#include "config.h"
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

G_DEFINE_QUARK(slirpns - error - quark, slirpns_error)

/* Long options without a short form. */
enum {
	OPT_CIDR = 0x100,
	OPT_CIDR6,
	OPT_DISABLE_HOST_LOOPBACK,
	OPT_NO_HOST_LOOPBACK,
	OPT_NETNS_TYPE,
	OPT_USERNS_PATH,
	OPT_ENABLE_SANDBOX,
	OPT_CREATE_SANDBOX,
	OPT_ENABLE_SECCOMP,
	OPT_OUTBOUND_ADDR,
	OPT_OUTBOUND_ADDR6,
	OPT_DISABLE_DNS,
	OPT_MACADDRESS,
	OPT_TARGET_TYPE,
	OPT_NO_OFFLOAD,
	OPT_PORT_FAST_PATH,
	OPT_OUTBOUND_FAST_PATH,
	OPT_IO_URING,
	OPT_PCAP,
	OPT_PCAP_MAX_SIZE,
	OPT_DEBUG,
	OPT_MAX_TCP,
	OPT_MAX_HALF_OPEN,
	OPT_MAX_UDP,
	OPT_MAX_BUFFERED,
	OPT_UDP_TIMEOUT,
};

/* The leading ':' makes getopt return ':' (not '?') for a missing argument. */
static const char short_opts[] = ":ce:r:m:a:6hvp:";

static const struct option long_opts[] = {
    {"configure", no_argument, NULL, 'c'},
    {"exit-fd", required_argument, NULL, 'e'},
    {"ready-fd", required_argument, NULL, 'r'},
    {"mtu", required_argument, NULL, 'm'},
    {"cidr", required_argument, NULL, OPT_CIDR},
    {"cidr6", required_argument, NULL, OPT_CIDR6},
    {"enable-ipv6", no_argument, NULL, '6'},
    {"api-socket", required_argument, NULL, 'a'},
    {"disable-host-loopback", no_argument, NULL, OPT_DISABLE_HOST_LOOPBACK},
    {"no-host-loopback", no_argument, NULL, OPT_NO_HOST_LOOPBACK},
    {"netns-type", required_argument, NULL, OPT_NETNS_TYPE},
    {"userns-path", required_argument, NULL, OPT_USERNS_PATH},
    {"enable-sandbox", no_argument, NULL, OPT_ENABLE_SANDBOX},
    {"create-sandbox", no_argument, NULL, OPT_CREATE_SANDBOX},
    {"enable-seccomp", no_argument, NULL, OPT_ENABLE_SECCOMP},
    {"outbound-addr", required_argument, NULL, OPT_OUTBOUND_ADDR},
    {"outbound-addr6", required_argument, NULL, OPT_OUTBOUND_ADDR6},
    {"disable-dns", no_argument, NULL, OPT_DISABLE_DNS},
    {"macaddress", required_argument, NULL, OPT_MACADDRESS},
    {"target-type", required_argument, NULL, OPT_TARGET_TYPE},
    {"no-offload", no_argument, NULL, OPT_NO_OFFLOAD},
    {"port-fast-path", required_argument, NULL, OPT_PORT_FAST_PATH},
    {"outbound-fast-path", required_argument, NULL, OPT_OUTBOUND_FAST_PATH},
    {"io-uring", required_argument, NULL, OPT_IO_URING},
    {"publish", required_argument, NULL, 'p'},
    {"pcap", required_argument, NULL, OPT_PCAP},
    {"pcap-max-size", required_argument, NULL, OPT_PCAP_MAX_SIZE},
    {"debug", no_argument, NULL, OPT_DEBUG},
    {"max-tcp", required_argument, NULL, OPT_MAX_TCP},
    {"max-half-open", required_argument, NULL, OPT_MAX_HALF_OPEN},
    {"max-udp", required_argument, NULL, OPT_MAX_UDP},
    {"max-buffered", required_argument, NULL, OPT_MAX_BUFFERED},
    {"udp-timeout", required_argument, NULL, OPT_UDP_TIMEOUT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

static const char help_text[] =
    "Usage: slirpns [OPTION]... PID|PATH|FD [TAPNAME]\n"
    "  or:  slirpns [OPTION]... --target-type=bess PATH\n"
    "User-mode networking for unprivileged network namespaces (drop-in slirp4netns).\n"
    "\n"
    "-c, --configure          bring up the interface (lo too); address network+100,\n"
    "                         default route via network+2\n"
    "-e, --exit-fd=FD         exit when FD is closed or hung up\n"
    "-r, --ready-fd=FD        write \"1\" to FD and close it once ready\n"
    "-m, --mtu=MTU            MTU, 68 to 65521 (default 1500)\n"
    "--cidr=CIDR              IPv4 network (default 10.0.2.0/24, prefix at most /25)\n"
    "-6, --enable-ipv6        enable IPv6 (network from --cidr6)\n"
    "--cidr6=PREFIX/64        IPv6 network (default fd00::/64)\n"
    "-a, --api-socket=PATH    API socket path\n"
    "--disable-host-loopback  prohibit connecting to 127.0.0.1:* on the host\n"
    "                         (deprecated alias: --no-host-loopback)\n"
    "--netns-type=TYPE        type of the positional argument: pid, path or tapfd\n"
    "                         (default pid)\n"
    "--userns-path=PATH       user namespace to join (default /proc/PID/ns/user)\n"
    "--enable-sandbox         create a new mount namespace and drop privileges\n"
    "                         (deprecated alias: --create-sandbox)\n"
    "--enable-seccomp         restrict the system calls the daemon may make\n"
    "--outbound-addr=IPv4|IFACE   source address for outgoing IPv4 connections\n"
    "--outbound-addr6=IPv6|IFACE  source address for outgoing IPv6 connections\n"
    "--disable-dns            disable the built-in DNS server (network+3)\n"
    "--macaddress=MAC         MAC address of the interface (only with -c)\n"
    "--target-type=TYPE       netns (default), or bess: serve one User-Mode Linux\n"
    "                         instance on the AF_UNIX socket PATH, the only\n"
    "                         argument (not with -c, --netns-type, --userns-path)\n"
    "--no-offload             plain frames on the tap: no checksum/segmentation\n"
    "                         offloads (they are on by default)\n"
    "--port-fast-path=MODE    auto (default): forwarded TCP connections from the\n"
    "                         host's loopback are spliced to a socket inside the\n"
    "                         namespace; tcp: they go through slirpns's own TCP\n"
    "                         endpoint and the tap, from the gateway address\n"
    "                         (cheaper per request); off: all through libslirp\n"
    "--outbound-fast-path=MODE  auto (default): TCP connections the namespace\n"
    "                         opens to the host or beyond are relayed by slirpns\n"
    "                         itself, bypassing libslirp; off: all through libslirp\n"
    "--io-uring=MODE          auto (default): read and write the tap through\n"
    "                         io_uring, not a system call per frame (Linux 6.7+,\n"
    "                         else as off); off: read(2)/writev(2) per frame\n"
    "-p, --publish=[ADDR:]HOSTPORT:GUESTPORT[/tcp|/udp]\n"
    "                         forward a host port to the namespace (repeatable;\n"
    "                         IPv6 ADDR in brackets, HOSTPORT 0 = ephemeral)\n"
    "--pcap=FILE              write every frame to and from the tap (or BESS peer)\n"
    "                         to FILE in pcap format\n"
    "--pcap-max-size=SIZE     stop the capture once FILE would exceed SIZE bytes\n"
    "                         (suffix K, M or G; default 64M)\n"
    "--debug                  log connections, forwards, API requests, DHCP leases\n"
    "                         and DNS queries to stderr, with timestamps\n"
    "--max-tcp=N              TCP connections the namespace may have open at once\n"
    "                         (default 4096; beyond, a new one is refused)\n"
    "--max-half-open=N        of those, not yet established (default 1024; beyond,\n"
    "                         the oldest is reset: a SYN flood stays bounded)\n"
    "--max-udp=N              UDP flows at once (default 4096; beyond, datagrams\n"
    "                         that would open a new flow are dropped)\n"
    "--max-buffered=SIZE      bytes held for the host for all TCP connections\n"
    "                         (suffix K, M or G; default 64M, at least 64K)\n"
    "--udp-timeout=SECONDS    close a UDP flow after SECONDS without a datagram\n"
    "                         (default 240, 1 to 86400)\n"
    "-h, --help               show this help and exit\n"
    "-v, --version            show version and exit\n";

const char *options_help_text(void)
{
	return help_text;
}

static gboolean fail(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean fail(GError **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(err, SLIRPNS_ERROR, SLIRPNS_ERROR_USAGE, msg);
	return FALSE;
}

/* A MODE of auto or off; *off says which. */
static bool parse_auto_off(const char *name, const char *arg, bool *off, GError **err)
{
	if (strcmp(arg, "auto") != 0 && strcmp(arg, "off") != 0)
		return fail(err, "%s: '%s' is not auto or off", name, arg);
	*off = strcmp(arg, "off") == 0;
	return true;
}

bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	if (s == NULL || *s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

struct in_addr addr4_offset(struct in_addr net, uint32_t n)
{
	struct in_addr a = {.s_addr = htonl(ntohl(net.s_addr) + n)};
	return a;
}

/* What a Unix socket path may hold, its NUL included (108 on Linux): slirp4netns's limit. */
#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)NULL)->sun_path)

static bool socket_path_fits(const char *path)
{
	return strlen(path) < SUN_PATH_SIZE;
}

/* n decimal digits, min <= n <= max, at s; the number of characters taken, or 0. */
static size_t digits(const char *s, size_t min, size_t max)
{
	size_t n = 0;
	while (n < max && s[n] >= '0' && s[n] <= '9')
		n++;
	return n >= min ? n : 0;
}

/* The shape slirp4netns's --cidr takes: four dot-separated 1-3 digit groups, '/', 1-2 digits. */
static bool cidr4_shaped(const char *s)
{
	for (int i = 0; i < 4; i++) {
		size_t n = digits(s, 1, 3);
		if (n == 0 || s[n] != (i < 3 ? '.' : '/'))
			return false;
		s += n + 1;
	}
	size_t n = digits(s, 1, 2);
	return n != 0 && s[n] == '\0';
}

/*
 * The messages contain slirp4netns's ("invalid CIDR", "invalid network address", "prefix length
 * needs to be 1-25", "CIDR needs to be a network address like ...") for scripts that grep them.
 */
bool parse_cidr4(const char *s, struct in_addr *net, struct in_addr *mask, unsigned *prefix,
                 GError **err)
{
	if (!cidr4_shaped(s))
		return fail(
		    err, "--cidr: invalid CIDR: %s (expected ADDRESS/PREFIX, like 10.0.2.0/24)", s);
	const char *slash = strchr(s, '/');
	g_autofree char *addr = g_strndup(s, slash - s);
	unsigned long p;
	struct in_addr a;
	if (inet_pton(AF_INET, addr, &a) != 1)
		return fail(err, "--cidr: invalid network address: %s (not an IPv4 address)", addr);
	if (!parse_uint(slash + 1, 99, &p))
		return fail(err, "--cidr: invalid prefix length: %s", slash + 1);
	/* The namespace gets network+100, so the host part must hold at least that. */
	if (p < 1 || p > 25)
		return fail(
		    err, "--cidr: prefix length needs to be 1-25 (network+100 must fit), got %lu",
		    p);
	uint32_t m = p == 0 ? 0 : 0xffffffffu << (32 - p);
	if ((ntohl(a.s_addr) & ~m) != 0)
		return fail(err,
		            "--cidr: CIDR needs to be a network address like 10.0.2.0/24, not like "
		            "10.0.2.100/24 (%s has host bits set)",
		            s);
	net->s_addr = a.s_addr;
	mask->s_addr = htonl(m);
	*prefix = p;
	return true;
}

bool parse_cidr6(const char *s, struct in6_addr *net, GError **err)
{
	const char *slash = strchr(s, '/');
	if (slash == NULL)
		return fail(err, "--cidr6: '%s' is not PREFIX/64", s);
	g_autofree char *addr = g_strndup(s, slash - s);
	struct in6_addr a;
	if (inet_pton(AF_INET6, addr, &a) != 1)
		return fail(err, "--cidr6: '%s' is not an IPv6 address", addr);
	if (strcmp(slash + 1, "64") != 0)
		return fail(err, "--cidr6: prefix length must be 64 (SLAAC needs it), got '%s'",
		            slash + 1);
	for (int i = 8; i < 16; i++)
		if (a.s6_addr[i] != 0)
			return fail(err, "--cidr6: %s is not a /64 prefix (interface bits set)", s);
	*net = a;
	return true;
}

bool parse_mac(const char *s, uint8_t mac[6])
{
	/* Strictly six two-digit hex octets separated by ':'. */
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		const char *o = s + 3 * i;
		if (!g_ascii_isxdigit(o[0]) || !g_ascii_isxdigit(o[1]))
			return false;
		if (i < 5 && o[2] != ':')
			return false;
		mac[i] = (uint8_t)(g_ascii_xdigit_value(o[0]) << 4 | g_ascii_xdigit_value(o[1]));
	}
	return true;
}

bool parse_publish(const char *s, struct publish_spec *spec, GError **err)
{
	memset(spec, 0, sizeof(*spec));
	g_autofree char *buf = g_strdup(s);
	char *proto = strrchr(buf, '/');
	if (proto != NULL) {
		*proto++ = '\0';
		if (strcmp(proto, "udp") == 0)
			spec->udp = true;
		else if (strcmp(proto, "tcp") != 0)
			return fail(err, "--publish %s: protocol must be tcp or udp", s);
	}
	/* The last two ':'-separated fields are the ports; anything before is the address. */
	char *colon2 = strrchr(buf, ':');
	if (colon2 == NULL)
		return fail(err, "--publish %s: expected [ADDR:]HOSTPORT:GUESTPORT", s);
	*colon2 = '\0';
	char *colon1 = strrchr(buf, ':');
	const char *host_port = buf;
	const char *addr = "0.0.0.0";
	if (colon1 != NULL) {
		*colon1 = '\0';
		host_port = colon1 + 1;
		addr = buf;
		size_t n = strlen(buf);
		if (n >= 2 && buf[0] == '[' && buf[n - 1] == ']') {
			buf[n - 1] = '\0';
			addr = buf + 1;
		} else if (strchr(buf, ':') != NULL) {
			return fail(err, "--publish %s: put an IPv6 address in brackets", s);
		}
	}
	unsigned long hp, gp;
	if (!parse_uint(host_port, 65535, &hp))
		return fail(err, "--publish %s: bad host port '%s'", s, host_port);
	if (!parse_uint(colon2 + 1, 65535, &gp) || gp == 0)
		return fail(err, "--publish %s: bad guest port '%s'", s, colon2 + 1);
	struct in6_addr a6;
	if (inet_pton(AF_INET, addr, &a6) != 1 && inet_pton(AF_INET6, addr, &a6) != 1)
		return fail(err, "--publish %s: '%s' is not an IP address", s, addr);
	g_strlcpy(spec->host_addr, addr, sizeof(spec->host_addr));
	spec->host_port = (uint16_t)hp;
	spec->guest_port = (uint16_t)gp;
	g_strlcpy(spec->spec, s, sizeof(spec->spec));
	return true;
}

bool parse_size(const char *s, uint64_t *out)
{
	unsigned long v;
	g_autofree char *digits = g_strdup(s);
	size_t n = strlen(digits);
	unsigned shift = 0;
	if (n > 0) {
		const char *units = "KMG";
		const char *u = strchr(units, g_ascii_toupper(digits[n - 1]));
		if (u != NULL && *u != '\0') {
			shift = 10 * (unsigned)(u - units + 1);
			digits[n - 1] = '\0';
		}
	}
	if (!parse_uint(digits, ULONG_MAX, &v) || (uint64_t)v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

/*
 * Find an address of the given family on interface ifname. For IPv6 a global address is
 * preferred; a link-local one is used only when there is nothing else (with its scope).
 */
static bool iface_addr(const char *ifname, int family, struct sockaddr_storage *out)
{
	struct ifaddrs *list;
	bool found = false;
	if (getifaddrs(&list) < 0)
		return false;
	for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family ||
		    strcmp(i->ifa_name, ifname) != 0)
			continue;
		if (family == AF_INET) {
			memcpy(out, i->ifa_addr, sizeof(struct sockaddr_in));
			found = true;
			break;
		}
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)i->ifa_addr;
		bool link_local = IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr);
		if (!found || !link_local) {
			memcpy(out, a6, sizeof(*a6));
			found = true;
			if (!link_local)
				break;
		}
	}
	freeifaddrs(list);
	return found;
}

/*
 * slirp4netns's messages, verbatim for scripts that grep them; for --outbound-addr6 too it says
 * "outbound-addr" and "ipv4", and misspells "interface".
 */
#define OUTBOUND4_MSG "outbound-addr has to be valid ipv4 address or interface name."
#define OUTBOUND6_MSG "outbound-addr has to be valid ipv4 address or iterface name."

static bool parse_outbound4(const char *s, struct options *opt, GError **err)
{
	struct sockaddr_storage ss = {0};
	memset(&opt->outbound_addr, 0, sizeof(opt->outbound_addr));
	opt->outbound_addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, s, &opt->outbound_addr.sin_addr) == 1) {
		opt->has_outbound_addr = true;
		return true;
	}
	if (if_nametoindex(s) == 0)
		return fail(err,
		            "--outbound-addr: " OUTBOUND4_MSG
		            " ('%s' is neither an IPv4 address nor an interface)",
		            s);
	if (!iface_addr(s, AF_INET, &ss))
		return fail(err,
		            "--outbound-addr: " OUTBOUND4_MSG " (interface %s has no IPv4 address)",
		            s);
	memcpy(&opt->outbound_addr, &ss, sizeof(opt->outbound_addr));
	opt->outbound_addr.sin_port = 0;
	opt->has_outbound_addr = true;
	return true;
}

static bool parse_outbound6(const char *s, struct options *opt, GError **err)
{
	struct sockaddr_storage ss = {0};
	memset(&opt->outbound_addr6, 0, sizeof(opt->outbound_addr6));
	opt->outbound_addr6.sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, s, &opt->outbound_addr6.sin6_addr) == 1) {
		opt->has_outbound_addr6 = true;
		return true;
	}
	/* slirp4netns looks up the interface's IPv4 address here; we use its IPv6 address. */
	if (if_nametoindex(s) == 0)
		return fail(err,
		            "--outbound-addr6: " OUTBOUND6_MSG
		            " ('%s' is neither an IPv6 address nor an interface)",
		            s);
	if (!iface_addr(s, AF_INET6, &ss))
		return fail(
		    err, "--outbound-addr6: " OUTBOUND6_MSG " (interface %s has no IPv6 address)",
		    s);
	memcpy(&opt->outbound_addr6, &ss, sizeof(opt->outbound_addr6));
	opt->outbound_addr6.sin6_port = 0;
	opt->has_outbound_addr6 = true;
	return true;
}

/* what: the complaint, slirp4netns's where it has one ("exit-fd must be ..."). */
static bool parse_fd_arg(const char *name, const char *what, const char *s, int *fd, GError **err)
{
	unsigned long v;
	if (!parse_uint(s, INT32_MAX, &v))
		return fail(err, "%s: %s, got '%s'", name, what, s);
	*fd = (int)v;
	return true;
}

static void warn(struct options *opt, const char *msg)
{
	if (opt->warnings == NULL)
		opt->warnings = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(opt->warnings, g_strdup(msg));
}

static void options_init(struct options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->exit_fd = -1;
	opt->ready_fd = -1;
	opt->mtu = 1500;
	opt->target_tapfd = -1;
	opt->pcap_max_size = PCAP_MAX_SIZE_DEFAULT;
	bounds_default(&opt->bounds);
	opt->udp_timeout = UDP_TIMEOUT_DEFAULT;
	inet_pton(AF_INET, "10.0.2.0", &opt->net);
	inet_pton(AF_INET, "255.255.255.0", &opt->mask);
	opt->prefix = 24;
	inet_pton(AF_INET6, "fd00::", &opt->net6);
	opt->publish = g_array_new(FALSE, TRUE, sizeof(struct publish_spec));
}

void options_clear(struct options *opt)
{
	g_free(opt->api_socket);
	g_free(opt->userns_path);
	g_free(opt->target_path);
	g_free(opt->tapname);
	g_free(opt->bess_path);
	g_free(opt->pcap_path);
	if (opt->publish)
		g_array_unref(opt->publish);
	if (opt->warnings)
		g_ptr_array_unref(opt->warnings);
	memset(opt, 0, sizeof(*opt));
	opt->exit_fd = opt->ready_fd = opt->target_tapfd = -1;
}

/* A --max-* count: 1 to BOUND_COUNT_MAX. */
static bool parse_count(const char *name, const char *arg, unsigned *out, GError **err)
{
	unsigned long v;
	if (!parse_uint(arg, BOUND_COUNT_MAX, &v) || v < 1)
		return fail(err, "%s: '%s' is not a count from 1 to %u", name, arg,
		            BOUND_COUNT_MAX);
	*out = (unsigned)v;
	return true;
}

/* A number of seconds: 1 to 86400. */
static bool parse_seconds(const char *name, const char *arg, unsigned *out, GError **err)
{
	unsigned long secs;
	if (!parse_uint(arg, 86400, &secs) || secs < 1)
		return fail(err, "%s: '%s' is not a number of seconds from 1 to 86400", name, arg);
	*out = (unsigned)secs;
	return true;
}

/* Handle one option; false with *err set on a bad value. */
static bool apply_option(int c, const char *arg, struct options *opt, bool *mac_given, GError **err)
{
	unsigned long v;
	switch (c) {
	case 'c':
		opt->configure = true;
		return true;
	case 'e':
		return parse_fd_arg("--exit-fd", "exit-fd must be a non-negative integer", arg,
		                    &opt->exit_fd, err);
	case 'r':
		return parse_fd_arg("--ready-fd", "ready-fd must be a non-negative integer", arg,
		                    &opt->ready_fd, err);
	case 'm':
		/* slirp4netns takes 1-67 too, but libslirp needs 68 for IPv4 (RFC 791). */
		if (!parse_uint(arg, 65521, &v) || v < 68)
			return fail(
			    err,
			    "--mtu: MTU must be a positive integer (< 65522), and at least 68, "
			    "got '%s'",
			    arg);
		opt->mtu = (unsigned)v;
		return true;
	case OPT_CIDR:
		return parse_cidr4(arg, &opt->net, &opt->mask, &opt->prefix, err);
	case OPT_CIDR6:
		return parse_cidr6(arg, &opt->net6, err);
	case '6':
		opt->ipv6 = true;
		return true;
	case 'a':
		if (*arg == '\0')
			return fail(err, "--api-socket: empty path");
		if (!socket_path_fits(arg))
			return fail(
			    err, "--api-socket: the specified API socket path is too long (>= %zu)",
			    SUN_PATH_SIZE);
		g_free(opt->api_socket);
		opt->api_socket = g_strdup(arg);
		return true;
	case OPT_NO_HOST_LOOPBACK:
		warn(opt, "--no-host-loopback is deprecated, use --disable-host-loopback");
		/* fall through */
	case OPT_DISABLE_HOST_LOOPBACK:
		opt->disable_host_loopback = true;
		return true;
	case OPT_NETNS_TYPE:
		if (strcmp(arg, "pid") == 0)
			opt->netns_type = NETNS_PID;
		else if (strcmp(arg, "path") == 0)
			opt->netns_type = NETNS_PATH;
		else if (strcmp(arg, "tapfd") == 0)
			opt->netns_type = NETNS_TAPFD;
		else
			return fail(err, "--netns-type: '%s' is not pid, path or tapfd", arg);
		return true;
	case OPT_USERNS_PATH:
		if (*arg == '\0')
			return fail(err, "--userns-path: empty path");
		g_free(opt->userns_path);
		opt->userns_path = g_strdup(arg);
		return true;
	case OPT_CREATE_SANDBOX:
		warn(opt, "--create-sandbox is deprecated, use --enable-sandbox");
		/* fall through */
	case OPT_ENABLE_SANDBOX:
		opt->sandbox = true;
		return true;
	case OPT_ENABLE_SECCOMP:
		opt->seccomp = true;
		return true;
	case OPT_OUTBOUND_ADDR:
		return parse_outbound4(arg, opt, err);
	case OPT_OUTBOUND_ADDR6:
		return parse_outbound6(arg, opt, err);
	case OPT_DISABLE_DNS:
		opt->disable_dns = true;
		return true;
	case OPT_MACADDRESS:
		if (!parse_mac(arg, opt->mac))
			return fail(
			    err,
			    "--macaddress: \"%s\" is an invalid MAC address.%s macaddress has "
			    "to be a valid MAC address (hex string, 6 bytes, each byte separated "
			    "by a ':').",
			    arg, strlen(arg) > 17 ? "  Is it too long?" : "");
		if (opt->mac[0] & 1)
			return fail(err, "--macaddress: %s is a multicast address", arg);
		static const uint8_t zero_mac[6];
		if (memcmp(opt->mac, zero_mac, sizeof(zero_mac)) == 0)
			return fail(err, "--macaddress: %s is not a valid unicast address", arg);
		*mac_given = true;
		return true;
	case OPT_PORT_FAST_PATH:
		if (strcmp(arg, "auto") != 0 && strcmp(arg, "off") != 0 && strcmp(arg, "tcp") != 0)
			return fail(err, "--port-fast-path: '%s' is not auto, tcp or off", arg);
		opt->port_fast_path_off = strcmp(arg, "off") == 0;
		opt->port_fast_path_tcp = strcmp(arg, "tcp") == 0;
		return true;
	case OPT_OUTBOUND_FAST_PATH:
		return parse_auto_off("--outbound-fast-path", arg, &opt->outbound_fast_path_off,
		                      err);
	case OPT_IO_URING:
		return parse_auto_off("--io-uring", arg, &opt->io_uring_off, err);
	case OPT_NO_OFFLOAD:
		opt->no_offload = true;
		return true;
	case OPT_TARGET_TYPE:
		if (strcmp(arg, "netns") == 0)
			opt->target_type = TARGET_NETNS;
		else if (strcmp(arg, "bess") == 0)
			opt->target_type = TARGET_BESS;
		else
			return fail(
			    err,
			    "--target-type: --target-type must be either \"netns\" or \"bess\", "
			    "got '%s'",
			    arg);
		return true;
	case OPT_PCAP:
		if (*arg == '\0')
			return fail(err, "--pcap: empty path");
		g_free(opt->pcap_path);
		opt->pcap_path = g_strdup(arg);
		return true;
	case OPT_PCAP_MAX_SIZE:
		if (!parse_size(arg, &opt->pcap_max_size) || opt->pcap_max_size < PCAP_MAX_SIZE_MIN)
			return fail(err,
			            "--pcap-max-size: '%s' is not a size of at least %u bytes "
			            "(digits, then K, M or G)",
			            arg, PCAP_MAX_SIZE_MIN);
		return true;
	case OPT_DEBUG:
		opt->debug = true;
		return true;
	case OPT_MAX_TCP:
		return parse_count("--max-tcp", arg, &opt->bounds.tcp, err);
	case OPT_MAX_HALF_OPEN:
		opt->half_open_given = true;
		return parse_count("--max-half-open", arg, &opt->bounds.half_open, err);
	case OPT_MAX_UDP:
		return parse_count("--max-udp", arg, &opt->bounds.udp, err);
	case OPT_UDP_TIMEOUT:
		return parse_seconds("--udp-timeout", arg, &opt->udp_timeout, err);
	case OPT_MAX_BUFFERED:
		if (!parse_size(arg, &opt->bounds.buffered) ||
		    opt->bounds.buffered < BOUND_BUFFERED_MIN)
			return fail(err,
			            "--max-buffered: '%s' is not a size of at least %u bytes "
			            "(digits, then K, M or G)",
			            arg, BOUND_BUFFERED_MIN);
		return true;
	case 'p': {
		struct publish_spec spec;
		if (!parse_publish(arg, &spec, err))
			return false;
		g_array_append_val(opt->publish, spec);
		return true;
	}
	default:
		return fail(err, "unknown option");
	}
}

/*
 * A name the kernel accepts for a new interface as is (dev_valid_name(): no '/', ':' or
 * white space, shorter than IFNAMSIZ, not "." or ".."). '%' is refused too: the kernel takes
 * "tap%d" as a template and names the device something else than we would look up.
 */
static bool valid_ifname(const char *s)
{
	if (*s == '\0' || strlen(s) >= IFNAMSIZ || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p == '/' || *p == ':' || *p == '%' || g_ascii_isspace(*p) || *p == 0xa0)
			return false;
	return true;
}

/* The positional arguments: PID|PATH|FD [TAPNAME]. */
static bool apply_positional(int n, char *const args[], struct options *opt, GError **err)
{
	unsigned long v;
	if (n < 1)
		return fail(err, "missing the PID, PATH or FD argument");
	if (n > 2)
		return fail(err, "too many arguments (starting at '%s')", args[2]);
	switch (opt->netns_type) {
	case NETNS_PID:
		if (!parse_uint(args[0], INT32_MAX, &v) || v == 0)
			return fail(
			    err,
			    "PID must be a positive integer, got '%s' (use --netns-type=path for "
			    "a path)",
			    args[0]);
		opt->target_pid = (pid_t)v;
		break;
	case NETNS_PATH:
		if (*args[0] == '\0')
			return fail(err, "empty namespace path");
		opt->target_path = g_strdup(args[0]);
		break;
	case NETNS_TAPFD:
		if (!parse_fd_arg("--netns-type=tapfd", "FD must be a non-negative integer",
		                  args[0], &opt->target_tapfd, err))
			return false;
		break;
	case NETNS_NONE: /* only --target-type=bess sets it, and apply_bess() takes over */
		g_assert_not_reached();
	}
	const char *tap = n == 2 ? args[1] : "tap0";
	if (!valid_ifname(tap))
		return fail(err,
		            "'%s' is not a valid interface name (at most %d characters, no '/', "
		            "':', '%%' or spaces)",
		            tap, IFNAMSIZ - 1);
	opt->tapname = g_strdup(tap);
	return true;
}

/* --target-type=bess: exactly one positional argument, the socket path; no namespace. */
static bool apply_bess(int n, char *const args[], struct options *opt, bool netns_given,
                       GError **err)
{
	if (opt->configure)
		return fail(err, "--configure conflicts with --target-type=bess");
	if (netns_given)
		return fail(err, "--netns-type conflicts with --target-type=bess");
	if (opt->userns_path != NULL)
		return fail(err, "--userns-path conflicts with --target-type=bess");
	if (n > 1)
		return fail(
		    err,
		    "too many arguments (--target-type=bess takes exactly one argument, the "
		    "socket PATH; got %d)",
		    n);
	if (n != 1)
		return fail(err,
		            "--target-type=bess takes exactly one argument, the socket PATH "
		            "(got %d)",
		            n);
	if (*args[0] == '\0')
		return fail(err, "--target-type=bess: empty socket path");
	if (!socket_path_fits(args[0]))
		return fail(
		    err, "--target-type=bess: the specified BESS socket path is too long (>= %zu)",
		    SUN_PATH_SIZE);
	opt->netns_type = NETNS_NONE;
	opt->bess_path = g_strdup(args[0]);
	return true;
}

/* The long spelling of the option whose getopt value is val, or NULL. */
static const char *long_name(int val)
{
	for (const struct option *o = long_opts; o->name != NULL; o++)
		if (o->val == val)
			return o->name;
	return NULL;
}

/*
 * Describe what getopt_long() refused: ret is '?' or ':', word is argv[optind - 1]. word is
 * only trusted for long options (getopt consumed the whole word): after an unknown short
 * option in the middle of a cluster ("-xc"), optind still points at that cluster.
 */
static void getopt_error(int ret, const char *word, GError **err)
{
	/* The phrases are glibc's, which slirp4netns lets getopt_long() print. */
	if (ret == ':') {
		/* Missing argument: the option was the last word, so word is that option. */
		const char *name = long_name(optopt);
		if (g_str_has_prefix(word, "--") && name != NULL)
			fail(err, "option '--%s' requires an argument", name);
		else
			fail(err, "-%c: option requires an argument -- '%c'", optopt, optopt);
	} else if (optopt == 0 && (!g_str_has_prefix(word, "--") || word[2] == '=')) {
		fail(err, "unrecognized option '%s'", word); /* "--=x", or not from glibc */
	} else if (optopt == 0) {
		/* An unknown or ambiguous long option. */
		const char *name = word + 2;
		int len = (int)strcspn(name, "=");
		g_autoptr(GString) matches = g_string_new(NULL);
		int n = 0;
		for (const struct option *o = long_opts; o->name != NULL; o++)
			if (len > 0 && strncmp(o->name, name, len) == 0) {
				g_string_append_printf(matches, " '--%s'", o->name);
				n++;
			}
		if (n > 1)
			fail(err, "option '%s' is ambiguous; possibilities:%s", word, matches->str);
		else
			fail(err, "unrecognized option '%s'", word);
	} else if (long_name(optopt) != NULL) {
		/*
		 * Only a long option given "=VALUE" it does not take gets here with a known value:
		 * our short options without an argument cannot fail.
		 */
		fail(err, "option '--%s' doesn't allow an argument", long_name(optopt));
	} else if (optopt > ' ' && optopt < 0x7f) {
		fail(err, "-%c: invalid option -- '%c'", optopt, optopt);
	} else {
		fail(err, "invalid option -- character 0x%02x", optopt & 0xff);
	}
}

/* --max-half-open within --max-tcp; when not given, it follows a lower --max-tcp. */
static bool check_bounds(struct bounds *l, bool half_open_given, GError **err)
{
	if (l->half_open <= l->tcp)
		return true;
	if (half_open_given)
		return fail(err, "--max-half-open: %u is more than --max-tcp (%u)", l->half_open,
		            l->tcp);
	l->half_open = l->tcp;
	return true;
}

int options_parse(int argc, char *const argv[], struct options *opt, GError **err)
{
	options_init(opt);
	bool mac_given = false, netns_given = false, pcap_size_given = false;
	int c;

	optind = 0; /* glibc: full reinitialisation, so the parser can run more than once */
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		if (c == 'h')
			return ACTION_HELP;
		if (c == 'v')
			return ACTION_VERSION;
		if (c == '?' || c == ':') {
			getopt_error(c, argv[optind - 1], err);
			return -1;
		}
		netns_given |= c == OPT_NETNS_TYPE;
		pcap_size_given |= c == OPT_PCAP_MAX_SIZE;
		if (!apply_option(c, optarg, opt, &mac_given, err))
			return -1;
	}
	if (pcap_size_given && opt->pcap_path == NULL) {
		fail(err, "--pcap-max-size can only be used with --pcap");
		return -1;
	}
	if (mac_given && !opt->configure) {
		fail(err,
		     "--macaddress: --macaddr cannot be specified when --configure or -c is not "
		     "specified");
		return -1;
	}
	opt->has_mac = mac_given;
	if (!check_bounds(&opt->bounds, opt->half_open_given, err))
		return -1;
	if (opt->target_type == TARGET_BESS)
		return apply_bess(argc - optind, argv + optind, opt, netns_given, err) ? ACTION_RUN
		                                                                       : -1;
	if (opt->netns_type == NETNS_TAPFD && opt->userns_path != NULL) {
		fail(err, "--userns-path cannot be used with --netns-type=tapfd");
		return -1;
	}
	if (opt->netns_type == NETNS_TAPFD && opt->configure)
		warn(opt, "--configure is ignored with --netns-type=tapfd");
	if (!apply_positional(argc - optind, argv + optind, opt, err))
		return -1;
	return ACTION_RUN;
}

char *options_target_userns(const struct options *opt)
{
	if (opt->userns_path != NULL)
		return g_strdup(opt->userns_path);
	if (opt->netns_type == NETNS_PID)
		return g_strdup_printf("/proc/%d/ns/user", (int)opt->target_pid);
	return NULL;
}
