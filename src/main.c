// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - startup order, and nothing else.
 *
 * parse options -> open the tap (netns.c, a child in the target namespace) -> the data path
 * (datapath.c, which owns the tap) and its endpoints, libslirp (engine.c) and slirpns's own TCP
 * endpoint (tcpout.c) -> API socket and command-line forwards (api.c, forward.c) -> print the
 * summary -> write the ready fd -> run the loop (loop.c) until SIGTERM/SIGINT, the exit fd hanging
 * up, or the tap going away. Anything that fails before the ready fd is written exits 1 with one
 * line. With --target-type=bess there is no namespace and no tap: bess.c listens at the socket path
 * instead (before the sandbox) and hands the datapath its peer when one connects. The --pcap
 * file is opened before the sandbox too.
 */
#include "config.h"
#include "api.h"
#include "api_proto.h"
#include "bess.h"
#include "datapath.h"
#include "engine.h"
#include "fastpath.h"
#include "forward.h"
#include "framelog.h"
#include "loop.h"
#include "netns.h"
#include "options.h"
#include "pcap.h"
#include "sandbox.h"
#include "seccomp.h"
#include "status.h"
#include "tcpout.h"
#include "udpfwd.h"
#include "udpout.h"
#include "udpreply.h"
#include "util.h"
#include "version.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct daemon {
	struct options opt;
	struct datapath *dp;
	struct engine *engine;
	struct loop *loop;
	struct api_proto *proto;
	struct api_server *api;
	struct forwarder *forwarder;
	struct fastpath *fastpath;
	struct tcpout *tcpout;     /* the outbound fast path */
	struct udpout *udpout;     /* its UDP endpoint */
	struct udpfwd *udpfwd;     /* UDP port forwards through it */
	struct udpreply *udpreply; /* UDP forwards' loopback clients (udpreply.c) */
	struct bess *bess;         /* --target-type=bess */
	struct pcap *pcap;         /* --pcap */
	int tapfd;
	int sigfd;
	int targetfd; /* pidfd of the target process (pid mode), or -1 */
};

/* As many descriptors as allowed, and caps (bounds.c) that fit in them. */
static void raise_nofile_limit(struct bounds *lim)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return;
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			log_warn("setrlimit(RLIMIT_NOFILE): %s", g_strerror(errno));
		getrlimit(RLIMIT_NOFILE, &r);
	}
	if (bounds_fit(lim, r.rlim_cur))
		log_warn("%lu file descriptors allowed: using --max-tcp=%u --max-half-open=%u "
		         "--max-udp=%u",
		         (unsigned long)r.rlim_cur, lim->tcp, lim->half_open, lim->udp);
}

static void check_fd(const char *what, int fd)
{
	if (fd >= 0 && fcntl(fd, F_GETFD) < 0)
		die("%s: fd %d: %s", what, fd, g_strerror(errno));
}

static void on_tap(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct daemon *d = data;
	g_autoptr(GError) err = NULL;
	if (!datapath_tap_readable(d->dp, &err)) {
		log_error("%s: %s (the namespace is gone?)", d->opt.tapname, err->message);
		loop_quit(l, 1);
		return;
	}
	if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
		log_error("%s: tap device error (the namespace is gone?)", d->opt.tapname);
		loop_quit(l, 1);
	}
}

static void on_exit_fd(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	/* Only a hang-up or error ends us; data written to the fd does not. */
	if (revents & (POLLHUP | POLLERR | POLLNVAL))
		loop_quit(l, 0);
}

static void on_target_exit(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	/* Our tap keeps the namespace alive, so its end shows only as the target's exit. */
	struct daemon *d = data;
	log_error("target process %d exited: its namespace is gone", (int)d->opt.target_pid);
	loop_quit(l, 1);
}

static void on_signal(struct loop *l, struct loop_watch *w, short revents, void *data)
{
	struct daemon *d = data;
	struct signalfd_siginfo si;
	if (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		loop_quit(l, 0);
}

static int setup_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		die("sigprocmask: %s", g_strerror(errno));
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		die("signalfd: %s", g_strerror(errno));
	return fd;
}

static bool hide_listener(void *opaque, int fd)
{
	return fastpath_owns_listener(opaque, fd);
}

/* The API's view of the daemon: forwards through libslirp, status from the engine. */
static bool backend_add(void *opaque, struct forward *fw, GError **err)
{
	struct daemon *d = opaque;
	if (fw->udp && udpfwd_enabled(d->udpfwd))
		return udpfwd_open(d->udpfwd, fw, err);
	if (!forwarder_open(d->forwarder, fw, err))
		return false;
	if (fw->udp)
		udpout_reserve(d->udpout, fw->guest_addr, fw->guest_port);
	return true;
}

static void backend_remove(void *opaque, const struct forward *fw)
{
	struct daemon *d = opaque;
	if (fw->udp && udpfwd_enabled(d->udpfwd)) {
		udpfwd_close(d->udpfwd, fw);
		return;
	}
	forwarder_close(d->forwarder, fw);
	if (fw->udp)
		udpout_release(d->udpout, fw->guest_addr, fw->guest_port);
}

static json_t *backend_info(void *opaque)
{
	struct daemon *d = opaque;
	json_t *info = status_info(&d->opt, d->engine, datapath_stats(d->dp));
	json_object_set_new(info, "target", status_target(&d->opt));
	struct fastpath_stats fs = fastpath_stats(d->fastpath);
	const struct relay_set *cross = forwarder_relays(d->forwarder);
	struct tcpout_stats ts = tcpout_stats(d->tcpout);
	json_object_set_new(
	    info, "port_forwarding",
	    json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "fast_path_enabled", fs.enabled,
	              "fast_path_connections", (json_int_t)fs.fast_total, "fast_path_active",
	              (json_int_t)fs.fast_active, "slirp_path_connections",
	              (json_int_t)fs.slirp_total, "direct_connections", (json_int_t)ts.total_in,
	              "direct_active", (json_int_t)ts.active_in, "relayed_ipv6_connections",
	              (json_int_t)cross->total));
	struct tapring_stats rs = datapath_ring_stats(d->dp);
	json_object_set_new(
	    info, "tap_io",
	    json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "via", datapath_tap_io(d->dp), "read_submits",
	              (json_int_t)rs.arms, "out_of_buffers", (json_int_t)rs.out_of_buffers,
	              "queued_writes", (json_int_t)rs.queued_writes, "write_batches",
	              (json_int_t)rs.write_batches, "write_errors", (json_int_t)rs.write_errors));
	json_object_set_new(info, "outbound_fast_path",
	                    json_pack("{s:b,s:I,s:I}", "enabled", ts.enabled, "connections",
	                              (json_int_t)ts.total, "active", (json_int_t)ts.active));
	struct admit_stats as = engine_admit_stats(d->engine);
	struct udpout_stats us = udpout_stats(d->udpout);
	json_object_set_new(info, "udp_endpoint", status_udp(&us));
	json_object_set_new(info, "limits", status_bounds(&d->opt.bounds, &ts, &as, &us));
	json_t *counters = json_object_get(info, "counters");
	json_t *n = json_object_get(counters, "connections");
	if (json_is_integer(n))
		json_integer_set(n, json_integer_value(n) + (json_int_t)(ts.active + ts.active_in));
	return info;
}

static json_t *backend_connections(void *opaque)
{
	struct daemon *d = opaque;
	json_t *list = status_connections(d->engine);
	tcpout_connections(d->tcpout, list);
	udpout_connections(d->udpout, list);
	return list;
}

static void setup_api(struct daemon *d)
{
	const struct api_backend backend = {
	    .add = backend_add,
	    .remove = backend_remove,
	    .info = backend_info,
	    .connections = backend_connections,
	    .opaque = d,
	};
	d->forwarder = forwarder_new(engine_slirp(d->engine), d->loop, d->fastpath);
	forwarder_set_udpreply(d->forwarder, d->udpreply);
	d->proto = api_proto_new(&backend, addr4_offset(d->opt.net, 100), d->opt.ipv6);
	for (guint i = 0; i < d->opt.publish->len; i++) {
		const struct publish_spec *p =
		    &g_array_index(d->opt.publish, struct publish_spec, i);
		struct forward fw = {
		    .udp = p->udp, .host_port = p->host_port, .guest_port = p->guest_port};
		g_autoptr(GError) err = NULL;
		struct in_addr guest = addr4_offset(d->opt.net, 100);
		g_strlcpy(fw.host_addr, p->host_addr, sizeof(fw.host_addr));
		inet_ntop(AF_INET, &guest, fw.guest_addr, sizeof(fw.guest_addr));
		if (!api_proto_add(d->proto, &fw, &err))
			die("--publish %s: %s", p->spec, err->message);
	}
	if (d->opt.api_socket) {
		g_autoptr(GError) err = NULL;
		d->api = api_server_new(d->opt.api_socket, d->loop, d->proto, &err);
		if (d->api == NULL)
			die("%s", err->message);
	}
}

static void print_summary(const struct options *opt)
{
	char net[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], dns[INET_ADDRSTRLEN],
	    dhcp0[INET_ADDRSTRLEN], dhcp1[INET_ADDRSTRLEN], ip[INET_ADDRSTRLEN],
	    net6[INET6_ADDRSTRLEN];
	struct in_addr a;
	inet_ntop(AF_INET, &opt->net, net, sizeof(net));
	inet_ntop(AF_INET, &opt->mask, mask, sizeof(mask));
	a = addr4_offset(opt->net, 2);
	inet_ntop(AF_INET, &a, gw, sizeof(gw));
	a = addr4_offset(opt->net, 3);
	inet_ntop(AF_INET, &a, dns, sizeof(dns));
	a = addr4_offset(opt->net, 15);
	inet_ntop(AF_INET, &a, dhcp0, sizeof(dhcp0));
	a = addr4_offset(opt->net, 30);
	inet_ntop(AF_INET, &a, dhcp1, sizeof(dhcp1));
	a = addr4_offset(opt->net, 100);
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	inet_ntop(AF_INET6, &opt->net6, net6, sizeof(net6));

	printf("Starting slirpns %s\n", PACKAGE_VERSION);
	printf("* MTU:             %u\n", opt->mtu);
	printf("* Network:         %s\n", net);
	printf("* Netmask:         %s\n", mask);
	printf("* Gateway:         %s\n", gw);
	printf("* DNS:             %s\n", opt->disable_dns ? "(disabled)" : dns);
	printf("* DHCP begin:      %s\n", dhcp0);
	printf("* DHCP end:        %s\n", dhcp1);
	printf("* Recommended IP:  %s\n", ip);
	if (opt->ipv6)
		printf("* IPv6 network:    %s/64 (gateway ::2, DNS ::3)\n", net6);
	if (opt->api_socket)
		printf("* API Socket:      %s\n", opt->api_socket);
	if (opt->target_type == TARGET_BESS)
		printf("* BESS Socket:     %s\n", opt->bess_path);
	if (opt->pcap_path)
		printf("* Capture:         %s (pcap, at most %" G_GUINT64_FORMAT " bytes)\n",
		       opt->pcap_path, opt->pcap_max_size);
	if (!opt->disable_host_loopback)
		printf("WARNING: 127.0.0.1:* on the host is accessible as %s (set "
		       "--disable-host-loopback to prohibit connecting to 127.0.0.1:*)\n",
		       gw);
	fflush(stdout);
}

static void signal_ready(int fd)
{
	if (fd < 0)
		return;
	ssize_t n;
	do
		n = write(fd, "1", 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		die("--ready-fd %d: write: %s", fd, g_strerror(errno));
	close(fd);
}

static void parse_or_exit(int argc, char **argv, struct options *opt)
{
	g_autoptr(GError) err = NULL;
	int action = options_parse(argc, argv, opt, &err);
	if (action < 0) {
		fprintf(stderr, "slirpns: %s\nTry 'slirpns --help' for more information.\n",
		        err->message);
		g_clear_error(&err);
		options_clear(opt);
		exit(EXIT_FAILURE);
	}
	if (action == ACTION_HELP) {
		fputs(options_help_text(), stdout);
		options_clear(opt);
		exit(EXIT_SUCCESS);
	}
	if (action == ACTION_VERSION) {
		char *v = version_text();
		fputs(v, stdout);
		g_free(v); /* exit() skips cleanup attributes: free it here for LeakSanitizer */
		options_clear(opt);
		exit(EXIT_SUCCESS);
	}
	for (guint i = 0; opt->warnings && i < opt->warnings->len; i++)
		log_warn("%s", (char *)g_ptr_array_index(opt->warnings, i));
	slirpns_debug = opt->debug;
	if (opt->debug)
		framelog_init(opt);
}

/* The link: a namespace's tap (netns.c), or a BESS socket that a peer connects to later. */
static void open_link(struct daemon *d)
{
	g_autoptr(GError) err = NULL;
	if (d->opt.target_type == TARGET_BESS) {
		d->bess = bess_new(d->opt.bess_path, d->dp, d->loop, &err);
		if (d->bess == NULL)
			die("%s", err->message);
		return;
	}
	loop_watch_fd(d->loop, datapath_poll_fd(d->dp), POLLIN, on_tap, d);
	datapath_attach(d->dp, d->loop);
}

static void open_pcap(struct daemon *d)
{
	g_autoptr(GError) err = NULL;
	if (d->opt.pcap_path == NULL)
		return;
	d->pcap = pcap_open(d->opt.pcap_path, d->opt.pcap_max_size, &err);
	if (d->pcap == NULL)
		die("%s", err->message);
	datapath_set_pcap(d->dp, d->pcap);
}

/* After every fd is open and before the ready fd: give up what the daemon no longer needs. */
static void confine(const struct options *opt)
{
	g_autoptr(GError) err = NULL;
	/* jansson seeds its hash function from /dev/urandom on first use: do it while it is there.
	 */
	json_object_seed(0);
	if (opt->sandbox && !sandbox_enter(opt, &err))
		die("%s", err->message);
	process_set_undumpable(); /* again: the sandbox's user namespace may reset it */
	if (opt->seccomp && !seccomp_apply(&err))
		die("%s", err->message);
}

int main(int argc, char **argv)
{
	struct daemon d = {.tapfd = -1, .sigfd = -1, .targetfd = -1};
	g_autoptr(GError) err = NULL;

	process_set_undumpable(); /* before any fd or secret exists; children inherit it */
	parse_or_exit(argc, argv, &d.opt);
	check_fd("--exit-fd", d.opt.exit_fd);
	check_fd("--ready-fd", d.opt.ready_fd);
	raise_nofile_limit(&d.opt.bounds);
	d.sigfd = setup_signals();

	if (d.opt.target_type == TARGET_NETNS) {
		d.targetfd = netns_target_pidfd(&d.opt);
		d.tapfd = netns_open_tap(&d.opt, &err);
		if (d.tapfd < 0)
			die("%s", err->message);
		/* forks into the namespace: before any sandbox */
		d.fastpath = fastpath_new(&d.opt);
	}

	d.dp = datapath_new(&d.opt, d.tapfd);
	struct frame_sink sink = datapath_sink(d.dp);
	d.engine = engine_new(&d.opt, &sink);
	d.loop = loop_new(d.engine);
	fastpath_attach(d.fastpath, d.loop);
	d.tcpout = tcpout_new(&d.opt, &sink, d.loop);
	d.udpout = udpout_new(&d.opt, &sink, d.loop);
	d.udpfwd = udpfwd_new(&d.opt, d.udpout, d.loop);
	datapath_set_endpoints(d.dp, d.engine, d.tcpout, d.udpout);
	d.udpreply = udpreply_new(addr4_offset(d.opt.net, 2));
	engine_set_udpreply(d.engine, d.udpreply);
	fastpath_set_tcpout(d.fastpath, d.tcpout);
	if (d.fastpath != NULL)
		engine_hide_readable(d.engine, hide_listener, d.fastpath);
	open_link(&d);
	open_pcap(&d);
	loop_watch_fd(d.loop, d.sigfd, POLLIN, on_signal, &d);
	if (d.targetfd >= 0)
		loop_watch_fd(d.loop, d.targetfd, POLLIN, on_target_exit, &d);
	if (d.opt.exit_fd >= 0)
		loop_watch_fd(d.loop, d.opt.exit_fd, 0, on_exit_fd, &d);

	setup_api(&d);
	print_summary(&d.opt);
	status_probe_target(&d.opt); /* while /proc is there: before the sandbox */
	confine(&d.opt);
	signal_ready(d.opt.ready_fd);
	int code = loop_run(d.loop);

	api_server_free(d.api);
	bess_free(d.bess);
	api_proto_free(d.proto);
	forwarder_free(d.forwarder);
	udpreply_free(d.udpreply);
	fastpath_free(d.fastpath);
	tcpout_free(d.tcpout);
	udpfwd_free(d.udpfwd);
	udpout_free(d.udpout);
	loop_free(d.loop);
	engine_free(d.engine);
	datapath_free(d.dp);
	pcap_close(d.pcap);
	if (d.tapfd >= 0)
		close(d.tapfd);
	close(d.sigfd);
	if (d.targetfd >= 0)
		close(d.targetfd);
	options_clear(&d.opt);
	return code;
}
