// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_frame.c - libFuzzer target for the frame intake path: tap_fixup() (src/tap.c: the
 * virtio-net header, NEEDS_CSUM completion, the SYN MSS raise of src/frame.c), then
 * slirp_input() of a real libslirp instance configured as src/engine.c configures it.
 *
 * Frames go through ipfrag_input() (src/ipfrag.c) as engine_input() sends them: IPv4
 * fragments are reassembled before libslirp sees them.
 *
 * Input format (tests/fuzz/make_corpus.py writes it):
 *   byte 0        bit 0: the tap carries a virtio-net header (offloads on, the default);
 *                 bit 1: IPv6 on (-6)
 *   then records  2-byte little-endian length L, then L bytes as read() returns them from the
 *                 tap (virtio-net header + Ethernet frame when bit 0 is set); a length past
 *                 the end takes what is left.
 * Each record is one frame, so an input can open a TCP connection and then send on it, or
 * deliver the fragments of one datagram. After each frame libslirp gets a poll round (a real
 * poll() with no wait, on whatever sockets it opened) and a clock that advances 100 ms, and at
 * the end every pending timer fires, so replies, retransmissions and router advertisements
 * are produced too. Every frame libslirp sends goes through frame_vnet_hdr_out() (what
 * tap_write() does) and is then discarded. A fresh instance per input keeps runs repeatable.
 *
 * libslirp opens real host sockets for what the frames ask (TCP connects, UDP, DNS to the
 * nameserver of /etc/resolv.conf): run this only in a private network namespace, which has
 * nothing but a loopback device, so none of it leaves the machine. tests/fuzz/run.sh and
 * tests/unit/test_fuzz_corpus.c do that; the target refuses to run where it sees any other
 * network interface. There it brings the loopback up and plays the host: a TCP listener on
 * 127.0.0.1:8080 (so a SYN to 10.0.2.2:8080 opens a connection and later frames reach
 * libslirp's established-state code) whose connections it accepts and closes, and a UDP echo
 * on 127.0.0.1:7.
 *
 * Each frame also goes, as datapath.c offers it, to the TCP endpoint's parser (tcpseg_parse(),
 * src/tcpseg.c, before any fix-up: the payload it finds must lie inside the frame); each whole
 * datagram to the UDP endpoint (src/udpout.c, at most 4 flows, so eviction runs; its host
 * sockets are read after every frame, so the UDP echo's answers come back as frames and
 * fragments, and closed ports as ICMP errors), and what it does not take, as engine_input()
 * sends it, through admit.c's gate (small caps, so that refusals and expiry run); frames
 * libslirp sends back go through admit_output(). Every frame the UDP endpoint builds must fit
 * the MTU and be a well-formed IPv4 or IPv6 frame.
 *
 * Checked besides memory safety: tap_fixup() returns the frame right after the header with
 * the header's length taken off, and a checksum it completed at an even offset verifies.
 */
#include "config.h"
#include "admit.h"
#include "frame.h"
#include "fuzz.h"
#include "ipfrag.h"
#include "engine.h"
#include "options.h"
#include "tap.h"
#include "tcpseg.h"
#include "udpout.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <slirp/libslirp.h>
#include <string.h>

#define MAX_TIMERS 16

struct fuzz_timer {
	bool used;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;
};

struct fuzz_state {
	int64_t now_ns;
	unsigned mtu;
	struct fuzz_timer timers[MAX_TIMERS];
	struct pollfd fds[256];
	int nfds;
	struct admit *admit;
	struct udpout *udp;
};

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct fuzz_state *s = opaque;
	struct virtio_net_hdr h;
	admit_output(s->admit, buf, len, s->now_ns / 1000000);
	frame_vnet_hdr_out(buf, len, s->mtu, &h);
	FUZZ_CHECK(h.gso_type == VIRTIO_NET_HDR_GSO_NONE || (h.hdr_len < len && h.gso_size > 0),
	           "bad GSO header: hdr_len %u gso_size %u for %zu bytes", h.hdr_len, h.gso_size,
	           len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return ((struct fuzz_state *)opaque)->now_ns;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct fuzz_state *s = opaque;
	for (int i = 0; i < MAX_TIMERS; i++)
		if (!s->timers[i].used) {
			s->timers[i] = (struct fuzz_timer){true, id, cb_opaque, INT64_MAX};
			return &s->timers[i];
		}
	FUZZ_CHECK(false, "libslirp wants more than %d timers", MAX_TIMERS);
	return NULL;
}

static void cb_timer_free(void *timer, void *opaque)
{
	((struct fuzz_timer *)timer)->used = false;
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	((struct fuzz_timer *)timer)->expire_ms = expire_ms;
}

static void cb_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
}

static const SlirpCb callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_fd,
    .unregister_poll_fd = cb_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* libslirp exactly as engine_new() configures it, for the default network. */
static Slirp *make_slirp(struct fuzz_state *s, const struct tap *t, bool ipv6)
{
	struct options opt;
	char *argv[] = {"slirpns", "1", NULL};
	FUZZ_CHECK(options_parse(2, argv, &opt, NULL) == ACTION_RUN, "default options");
	opt.ipv6 = ipv6;
	SlirpConfig cfg;
	engine_slirp_config(&opt, t->slirp_mtu, &cfg);
	options_clear(&opt);
	Slirp *slirp = slirp_new(&cfg, &callbacks, s);
	FUZZ_CHECK(slirp != NULL, "slirp_new failed");
	return slirp;
}

/* The tap as tap_init() describes a vnet tap with the default header size, or a plain one. */
static void make_tap(struct tap *t, bool vnet)
{
	tap_init_mode(t, -1, 1500, vnet ? sizeof(struct virtio_net_hdr) : 0);
}

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct fuzz_state *s = opaque;
	if (s->nfds == (int)G_N_ELEMENTS(s->fds))
		return -1;
	short ev = 0;
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->fds[s->nfds] = (struct pollfd){.fd = fd, .events = ev};
	return s->nfds++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct fuzz_state *s = opaque;
	if (idx < 0 || idx >= s->nfds)
		return 0;
	short r = s->fds[idx].revents;
	int ev = 0;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static int host_tcp = -1, host_udp = -1;

/* Once per process: check that we are alone on the network, and set up the host's peers. */
static void setup_host(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	struct if_nameindex *ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; i != NULL && i->if_index != 0; i++)
		FUZZ_CHECK(strcmp(i->if_name, "lo") == 0,
		           "network interface %s: run only in a private network namespace "
		           "(tests/fuzz/run.sh)",
		           i->if_name);
	if (ifs != NULL)
		if_freenameindex(ifs);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {.ifr_name = "lo"};
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	host_tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a.sin_port = htons(8080);
	setsockopt(host_tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(host_tcp, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(host_tcp, 64) < 0) {
		close(host_tcp);
		host_tcp = -1;
	}
	host_udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a.sin_port = htons(7);
	if (bind(host_udp, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(host_udp);
		host_udp = -1;
	}
}

/* The host's side: accept and close new connections, echo datagrams. */
static void serve_host(void)
{
	int c;
	while (host_tcp >= 0 && (c = accept4(host_tcp, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(c);
	uint8_t buf[2048];
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	ssize_t n;
	while (host_udp >= 0 && (n = recvfrom(host_udp, buf, sizeof(buf), 0,
	                                      (struct sockaddr *)&peer, &plen)) >= 0) {
		sendto(host_udp, buf, (size_t)n, 0, (struct sockaddr *)&peer, plen);
		plen = sizeof(peer);
	}
}

static void poll_round(Slirp *slirp, struct fuzz_state *s)
{
	serve_host();
	uint32_t timeout = 0;
	s->nfds = 0;
	slirp_pollfds_fill(slirp, &timeout, cb_add_poll, s);
	int rc = poll(s->fds, (nfds_t)s->nfds, 0);
	slirp_pollfds_poll(slirp, rc < 0, cb_get_revents, s);
}

static void fire_timers(Slirp *slirp, struct fuzz_state *s, bool all)
{
	int64_t now_ms = s->now_ns / 1000000;
	for (int i = 0; i < MAX_TIMERS; i++) {
		struct fuzz_timer *t = &s->timers[i];
		if (t->used && t->expire_ms != INT64_MAX && (all || t->expire_ms <= now_ms)) {
			t->expire_ms = INT64_MAX;
			slirp_handle_timer(slirp, t->id, t->cb_opaque);
		}
	}
}

static void check_fixup(const struct tap *t, const uint8_t *in, const uint8_t *buf, size_t n,
                        const uint8_t *frame, ssize_t len)
{
	if (len == TAP_DROPPED)
		return;
	FUZZ_CHECK(len >= 0, "tap_fixup returned %zd", len);
	if (!t->vnet) {
		FUZZ_CHECK(frame == buf && (size_t)len == n, "plain frame changed");
		return;
	}
	FUZZ_CHECK(frame == buf + t->vnet_len && (size_t)len == n - t->vnet_len,
	           "frame at %td, %zd bytes, of %zu", frame - buf, len, n);
	struct virtio_net_hdr h;
	memcpy(&h, in, sizeof(h));
	if (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || h.csum_offset % 2 != 0)
		return;
	/* The field held the pseudo-header sum (after the MSS raise, which runs first): with
	 * it, the region from csum_start must now sum to all ones. */
	uint8_t *copy = g_malloc((size_t)len);
	memcpy(copy, in + t->vnet_len, (size_t)len);
	frame_raise_syn_mss(copy, (size_t)len, t->mss4, t->mss6, false);
	size_t at = (size_t)h.csum_start + h.csum_offset;
	uint16_t pseudo = (uint16_t)(copy[at] << 8 | copy[at + 1]);
	g_free(copy);
	FUZZ_CHECK(
	    csum_fold(csum_add(frame + h.csum_start, (size_t)len - h.csum_start, pseudo)) == 0xffff,
	    "completed checksum does not verify (start %u offset %u)", h.csum_start, h.csum_offset);
}

/* The TCP endpoint's parser on the frame as read (after the virtio-net header, if any). */
static void check_tcpseg(const struct tap *t, const uint8_t *buf, size_t n)
{
	size_t vl = t->vnet ? t->vnet_len : 0;
	if (n <= vl)
		return;
	const uint8_t *f = buf + vl;
	struct seg sg;
	if (tcpseg_parse(f, n - vl, &sg))
		FUZZ_CHECK(sg.data >= f && sg.data + sg.len <= f + (n - vl),
		           "tcpseg_parse: payload outside the frame");
}

/* The UDP endpoint first, then libslirp behind admit.c's gate, as datapath.c has it. */
static void to_slirp(Slirp *slirp, struct fuzz_state *s, const uint8_t *f, size_t len)
{
	if (udpout_input(s->udp, f, len))
		return;
	if (admit_input(s->admit, f, len, s->now_ns / 1000000))
		slirp_input(slirp, f, (int)len);
}

/* A frame the UDP endpoint sends: within the MTU, and its IP length matches. */
static bool udp_sent(void *opaque, const void *frame, size_t len)
{
	struct fuzz_state *s = opaque;
	const uint8_t *f = frame;
	FUZZ_CHECK(len >= 14 + 28 && len <= 14 + s->mtu, "udpout frame of %zu bytes", len);
	if (f[12] == 0x08 && f[13] == 0x00)
		FUZZ_CHECK((size_t)(f[16] << 8 | f[17]) == len - 14, "udpout IPv4 length");
	else
		FUZZ_CHECK(f[12] == 0x86 && f[13] == 0xdd &&
		               (size_t)(f[18] << 8 | f[19]) == len - 14 - 40,
		           "udpout IPv6 length");
	return true;
}

static struct udpout *make_udp(struct fuzz_state *s, struct loop *l, struct options *opt, bool ipv6)
{
	char *argv[] = {"slirpns", "1", NULL};
	FUZZ_CHECK(options_parse(2, argv, opt, NULL) == ACTION_RUN, "default options");
	opt->ipv6 = ipv6;
	opt->mtu = s->mtu;
	opt->bounds.udp = 4;
	struct frame_sink sink = {.send = udp_sent, .opaque = s, .slirp_mtu = s->mtu};
	return udpout_new(opt, &sink, l);
}

int fuzz_frame_one(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup_host();
	struct fuzz_state s = {.now_ns = 1000000000};
	struct tap t;
	make_tap(&t, data[0] & 1);
	s.mtu = t.mtu;
	Slirp *slirp = make_slirp(&s, &t, data[0] & 2);
	struct bounds caps = {.tcp = 4, .half_open = 4, .udp = 4, .buffered = 1 << 20};
	struct in_addr gw = {htonl(0x0a000202)}, dns = {htonl(0x0a000203)};
	struct in6_addr gw6 = {.s6_addr = {0xfd, [15] = 2}};
	s.admit = admit_new(&caps, gw, dns, gw6);
	struct loop *loop = loop_new(NULL);
	struct options uopt;
	s.udp = make_udp(&s, loop, &uopt, data[0] & 2);
	struct ipfrag *frags = ipfrag_new();
	size_t off = 1;
	while (off < size) {
		size_t n = size - off;
		if (n >= 2) {
			n = MIN((size_t)(data[off] | data[off + 1] << 8), n - 2);
			off += 2;
		}
		/* An exact-size copy, so that ASan sees any read past the end. */
		uint8_t *buf = g_malloc(MAX(n, 1));
		memcpy(buf, data + off, n);
		check_tcpseg(&t, buf, n);
		uint8_t *frame = NULL;
		ssize_t len = tap_fixup(&t, buf, n, &frame);
		check_fixup(&t, data + off, buf, n, frame, len);
		const uint8_t *whole;
		size_t whole_len;
		if (len > 0) {
			switch (ipfrag_input(frags, frame, (size_t)len, s.now_ns / 1000000, &whole,
			                     &whole_len)) {
			case IPFRAG_PASS:
				to_slirp(slirp, &s, frame, (size_t)len);
				break;
			case IPFRAG_DONE:
				FUZZ_CHECK(whole_len >= 34 && (whole[20] & 0x3f) == 0 &&
				               whole[21] == 0,
				           "a reassembled datagram is still a fragment");
				to_slirp(slirp, &s, whole, whole_len);
				break;
			case IPFRAG_HELD:
				break;
			}
		}
		g_free(buf);
		off += n;
		s.now_ns += 100 * 1000000;
		poll_round(slirp, &s);
		udpout_flush(s.udp);
		serve_host();
		udpout_poll(s.udp);
		admit_set_sockets(s.admit, (unsigned)s.nfds);
		admit_expire(s.admit, s.now_ns / 1000000);
		fire_timers(slirp, &s, false);
	}
	fire_timers(slirp, &s, true);
	poll_round(slirp, &s);
	slirp_cleanup(slirp);
	ipfrag_free(frags);
	admit_free(s.admit);
	udpout_free(s.udp);
	loop_free(loop);
	options_clear(&uopt);
	return 0;
}

/*
 * LeakSanitizer (the fuzzer, and make check built with --enable-sanitizers): libslirp 4.7's
 * slirp_cleanup() frees only the first of the packets queued for one connection (if.c chains
 * the others on the first one's ifs_next, which m_cleanup() does not walk), so an instance
 * torn down with packets still waiting (for the guest's ARP answer, say) leaks them. That
 * happens once per instance, in libslirp; the daemon has one. Our own allocations are still
 * checked: only leaks allocated from inside libslirp are ignored. That needs whole stacks
 * (libslirp and glib have no frame pointers), which makes every allocation slow: the replay
 * asks for them, while make fuzz runs this target with -detect_leaks=0 (ipfrag.c, the only
 * allocator on the path, is leak-checked by test_ipfrag and under valgrind).
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libslirp.so\n";
}

#ifdef FUZZ_REPLAY
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}
#endif

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_frame_one(data, size);
}
#endif
