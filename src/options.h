// SPDX-License-Identifier: GPL-2.0-or-later
/* options.h - the validated command line of slirpns (see options.c). */
#pragma once

#include "bounds.h"

#include <glib.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* NETNS_NONE: --target-type=bess, no namespace to join (nothing reads a PID, path or fd). */
enum netns_type { NETNS_PID, NETNS_PATH, NETNS_TAPFD, NETNS_NONE };

/* --target-type: a namespace's tap (default), or a BESS socket for User-Mode Linux. */
enum target_type { TARGET_NETNS, TARGET_BESS };

/* --pcap-max-size default: 64 MiB. */
#define PCAP_MAX_SIZE_DEFAULT (64ull << 20)
/* The smallest --pcap-max-size: the file header and a few frames. */
#define PCAP_MAX_SIZE_MIN   4096u
#define UDP_TIMEOUT_DEFAULT 240u

enum options_action { ACTION_RUN, ACTION_HELP, ACTION_VERSION };

/* One port forward given with -p/--publish. */
struct publish_spec {
	bool udp;
	char host_addr[INET6_ADDRSTRLEN]; /* "0.0.0.0", "::", "127.0.0.1", ... */
	uint16_t host_port;               /* 0 = ephemeral */
	uint16_t guest_port;
	char spec[64]; /* as given, for messages */
};

struct options {
	bool configure;
	int exit_fd;  /* -1 when not given */
	int ready_fd; /* -1 when not given */
	unsigned mtu;
	bool ipv6;
	char *api_socket;

	/* IPv4 network: --cidr */
	struct in_addr net;  /* network address */
	struct in_addr mask; /* netmask */
	unsigned prefix;

	/* IPv6 network: --cidr6 (always /64) */
	struct in6_addr net6;

	bool disable_host_loopback;
	bool disable_dns;
	bool no_offload;             /* --no-offload: plain frames, no virtio-net header */
	bool port_fast_path_off;     /* --port-fast-path=off: every forward through libslirp */
	bool port_fast_path_tcp;     /* --port-fast-path=tcp: loopback clients via tcpout.c */
	bool io_uring_off;           /* --io-uring=off: read(2) the tap, one frame per call */
	bool outbound_fast_path_off; /* --outbound-fast-path=off: outbound TCP through libslirp */
	enum netns_type netns_type;
	char *userns_path;
	bool sandbox;
	bool seccomp;

	bool has_outbound_addr;
	struct sockaddr_in outbound_addr;
	bool has_outbound_addr6;
	struct sockaddr_in6 outbound_addr6;

	bool has_mac;
	uint8_t mac[6];

	enum target_type target_type;
	char *bess_path;        /* TARGET_BESS: the socket to listen on (the positional PATH) */
	char *pcap_path;        /* --pcap: capture file, or NULL */
	uint64_t pcap_max_size; /* --pcap-max-size, bytes */
	bool debug;             /* --debug */
	struct bounds bounds;   /* --max-tcp, --max-half-open, --max-udp, --max-buffered */
	bool half_open_given;
	unsigned udp_timeout; /* --udp-timeout, seconds */

	/* Positional arguments */
	pid_t target_pid;  /* NETNS_PID */
	char *target_path; /* NETNS_PATH */
	int target_tapfd;  /* NETNS_TAPFD */
	char *tapname;     /* default "tap0" */

	GArray *publish;     /* of struct publish_spec */
	GPtrArray *warnings; /* deprecation notes for main to print, or NULL */
};

/*
 * Parse argv into opt. Returns the action to take, or -1 with *err set to a one-line message
 * (without the "slirpns: " prefix). Never exits and never prints. Resets getopt's state itself.
 */
int options_parse(int argc, char *const argv[], struct options *opt, GError **err);
void options_clear(struct options *opt);
/* The user namespace the daemon joins for the target (as netns.c does), or NULL: --userns-path,
 * or the target process's for a PID target. Freed by the caller. */
char *options_target_userns(const struct options *opt);

/* Pure helpers, shared with the API and unit-tested. */
bool parse_cidr4(const char *s, struct in_addr *net, struct in_addr *mask, unsigned *prefix,
                 GError **err);
bool parse_cidr6(const char *s, struct in6_addr *net, GError **err);
bool parse_mac(const char *s, uint8_t mac[6]);
bool parse_uint(const char *s, unsigned long max, unsigned long *out);
bool parse_publish(const char *s, struct publish_spec *spec, GError **err);
/* A size in bytes: digits with an optional K, M or G (powers of 1024); false if malformed. */
bool parse_size(const char *s, uint64_t *out);
/* Offset an IPv4 network address by n hosts (network+2 is the gateway, and so on). */
struct in_addr addr4_offset(struct in_addr net, uint32_t n);

const char *options_help_text(void);

#define SLIRPNS_ERROR (slirpns_error_quark())
GQuark slirpns_error_quark(void);
/* Usage errors print a hint to --help; other errors do not. */
enum { SLIRPNS_ERROR_USAGE = 1, SLIRPNS_ERROR_RUNTIME };
