// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * datapath.c - the one owner of the tap's frames: it reads them, decides which endpoint each
 * belongs to, and writes what the endpoints send back, with or without offload headers.
 *
 *   tap <-> datapath --> tcpout.c  (slirpns's own TCP endpoint) --> host sockets
 *                    --> udpout.c  (slirpns's own UDP endpoint) --> host sockets
 *                    --> engine.c  (libslirp: DHCP, DNS, ICMP, the rest) --> host sockets
 *
 * Calls go one way only: the datapath calls the endpoints; they send frames back through the
 * struct frame_sink they were given (sink.h) and never name this file, nor one another.
 *
 * Input: the tap is read in bounded batches (until no frame is ready, at most TAP_BATCH frames,
 * and no longer than TAP_BATCH_NS) so one wake-up moves many frames and a flood cannot starve the
 * host sockets or the API. The time bound matters when libslirp is slow per frame: it looks
 * up UDP sockets in a list, so with 4,000 flows each datagram costs ~100 us, and 128 of them
 * kept the API waiting 40 ms per round. Each frame is offered first, before any checksum work,
 * to the TCP endpoint, which takes the segments of its own connections and the SYNs that open
 * them, then to the UDP endpoint, which takes the datagrams of its flows; everything else is
 * fixed up (tap.c: offload headers resolved, partial checksums completed) and IPv4 fragments
 * are reassembled (ipfrag.c: the libslirp we link crashes on some fragment orders); a
 * reassembled datagram is offered to the UDP endpoint, the rest goes to libslirp. At the end of a
 * batch tcpout_flush() sends the ACKs the batch made due, and udpout_flush() the datagrams
 * the UDP endpoint gathered (one send per flow and batch).
 *
 * Frames come from the io_uring multishot read of tapring.c where the kernel has it (no system
 * call per frame; the loop then polls the ring's fd), else from read(2) on the tap. With the
 * ring, small frames for the namespace are queued too and go at the end of the loop's round
 * (datapath_flush()), one io_uring_enter(2) for all of them.
 *
 * Output: plain frames (libslirp's, and the TCP endpoint's without offloads) go through
 * tap_write(), which adds the virtio-net header the tap expects; the TCP endpoint's large
 * segments come with a header of their own (tap_write_vnet()). A frame the tap will not take
 * is dropped and counted, as a full link drops it; TCP recovers.
 *
 * Observers: with --pcap or --debug every frame that crosses the tap, both ways, is also
 * handed to pcap.c and framelog.c (one branch per frame when neither is on). With
 * --target-type=bess the "tap" is the BESS peer's socket, set and cleared by bess.c through
 * datapath_set_link(); while no peer is attached, frames for the namespace are dropped.
 */
#include "config.h"
#include "datapath.h"
#include "framelog.h"
#include "ipfrag.h"
#include "loop.h"
#include "pcap.h"
#include "tap.h"
#include "tapring.h"
#include "util.h"

#include <net/if.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <time.h>

#define TAP_BATCH    128
#define TAP_BATCH_NS (2 * 1000 * 1000)
/* A 64 KiB TSO segment, Ethernet and VLAN headers, and the virtio-net header before it. */
#define FRAME_MAX (65536 + 256)

struct datapath {
	struct tap tap;
	struct tapring *ring; /* the tap read through io_uring (tapring.c), or NULL: read(2) */
	struct datapath_stats stats;
	struct engine *engine; /* libslirp: every frame no other endpoint takes */
	struct tcpout *tcp;    /* offered every frame first; or NULL */
	struct udpout *udp;    /* offered every whole datagram then; or NULL */
	struct ipfrag *frags;
	struct pcap *pcap; /* --pcap, or NULL */
	bool observe;      /* pcap or --debug: show frames to them */
	uint8_t frame[FRAME_MAX];
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool queue_frame(void *ring, const struct iovec *iov, int cnt)
{
	return tapring_write(ring, iov, cnt);
}

static void open_ring(struct datapath *dp)
{
	g_autoptr(GError) err = NULL;
	size_t frame_max = dp->tap.vnet ? sizeof(dp->frame) : dp->tap.mtu + 64u;
	dp->ring = tapring_new(dp->tap.fd, MIN(frame_max, sizeof(dp->frame)), &err);
	if (dp->ring == NULL) {
		log_debug("tap: read(2) and writev(2) per frame: %s", err->message);
		return;
	}
	log_debug("tap: read through io_uring (multishot)");
	dp->tap.queue = queue_frame;
	dp->tap.queue_opaque = dp->ring;
}

struct datapath *datapath_new(const struct options *opt, int tapfd)
{
	struct datapath *dp = g_new0(struct datapath, 1);
	tap_init(&dp->tap, tapfd, opt->mtu);
	dp->observe = slirpns_debug;
	dp->frags = ipfrag_new();
	if (tapfd >= 0 && !opt->io_uring_off)
		open_ring(dp);
	return dp;
}

void datapath_free(struct datapath *dp)
{
	if (dp == NULL)
		return;
	ipfrag_free(dp->frags);
	tapring_free(dp->ring);
	g_free(dp);
}

void datapath_set_endpoints(struct datapath *dp, struct engine *e, struct tcpout *t,
                            struct udpout *u)
{
	dp->engine = e;
	dp->tcp = t;
	dp->udp = u;
	/* The namespace's MAC, for the UDP endpoint's frames to forwarded ports before the
	 * namespace has sent anything (a BESS peer has none to ask: learned from its frames). */
	struct ifreq ifr = {0};
	if (u != NULL && dp->tap.fd >= 0 && ioctl(dp->tap.fd, SIOCGIFHWADDR, &ifr) == 0)
		udpout_set_guest_mac(u, (const uint8_t *)ifr.ifr_hwaddr.sa_data);
}

static void observe_frame(struct datapath *dp, const uint8_t *f, size_t len, bool to_guest)
{
	if (dp->pcap != NULL)
		pcap_frame(dp->pcap, f, len);
	if (slirpns_debug)
		framelog_frame(f, len, to_guest);
}

/* --- frames to the namespace --- */

static bool sent(struct datapath *dp, bool ok, const void *frame, size_t len)
{
	if (!ok) {
		dp->stats.frames_dropped++;
		return false;
	}
	dp->stats.frames_out++;
	dp->stats.bytes_out += len;
	if (G_UNLIKELY(dp->observe))
		observe_frame(dp, frame, len, true);
	return true;
}

static bool sink_send(void *opaque, const void *frame, size_t len)
{
	struct datapath *dp = opaque;
	return sent(dp, tap_write(&dp->tap, frame, len), frame, len);
}

static bool sink_send_vnet(void *opaque, const struct virtio_net_hdr *h, const void *frame,
                           size_t len)
{
	struct datapath *dp = opaque;
	return sent(dp, tap_write_vnet(&dp->tap, h, frame, len), frame, len);
}

struct frame_sink datapath_sink(struct datapath *dp)
{
	return (struct frame_sink){.send = sink_send,
	                           .send_vnet = sink_send_vnet,
	                           .opaque = dp,
	                           .vnet = dp->tap.vnet,
	                           .slirp_mtu = dp->tap.slirp_mtu};
}

/* --- frames from the namespace --- */

/*
 * The endpoints take frames as read, before any fix-up: they need no checksum work. The UDP
 * endpoint only takes a datagram the tap did not segment (no GSO in the header); it sees IPv4
 * fragments once they are reassembled, below.
 */
static bool endpoints_take(struct datapath *dp, const uint8_t *buf, size_t n)
{
	size_t vl = dp->tap.vnet ? dp->tap.vnet_len : 0;
	if (n <= vl)
		return false;
	const uint8_t *f = buf + vl;
	if (dp->tcp != NULL && tcpout_input(dp->tcp, f, n - vl))
		return true;
	/* gso_type, the header's second byte (read as a byte: the buffer is not aligned). */
	bool gso =
	    vl > 0 && buf[offsetof(struct virtio_net_hdr, gso_type)] != VIRTIO_NET_HDR_GSO_NONE;
	return dp->udp != NULL && !gso && udpout_input(dp->udp, f, n - vl);
}

/* The endpoints first, then (fixed up, fragments reassembled) libslirp. */
static void frame_in(struct datapath *dp, uint8_t *buf, size_t n)
{
	if (endpoints_take(dp, buf, n)) {
		size_t vl = dp->tap.vnet ? dp->tap.vnet_len : 0;
		if (G_UNLIKELY(dp->observe))
			observe_frame(dp, buf + vl, n - vl, false);
		return;
	}
	uint8_t *frame;
	ssize_t len = tap_fixup(&dp->tap, buf, n, &frame);
	if (len == TAP_DROPPED) {
		dp->stats.frames_malformed++;
		return;
	}
	if (G_UNLIKELY(dp->observe))
		observe_frame(dp, frame, (size_t)len, false);
	const uint8_t *whole = frame;
	size_t whole_len = (size_t)len;
	switch (
	    ipfrag_input(dp->frags, frame, (size_t)len, now_ns() / 1000000, &whole, &whole_len)) {
	case IPFRAG_HELD:
		return;
	case IPFRAG_DONE: /* a whole datagram now: the UDP endpoint's, or libslirp's */
		if (dp->udp != NULL && udpout_input(dp->udp, whole, whole_len))
			return;
		break;
	case IPFRAG_PASS:
		break;
	}
	if (dp->engine != NULL)
		engine_input(dp->engine, whole, whole_len);
}

bool datapath_tap_readable(struct datapath *dp, GError **err)
{
	bool ok = true;
	int64_t start = now_ns();
	for (int i = 0; i < TAP_BATCH; i++) {
		uint8_t *buf = dp->frame;
		ssize_t n = dp->ring != NULL ? tapring_read(dp->ring, &buf, err)
		                             : tap_read_raw(&dp->tap, buf, sizeof(dp->frame), err);
		if (n <= 0) {
			ok = n == 0;
			break;
		}
		dp->stats.frames_in++;
		dp->stats.bytes_in +=
		    (uint64_t)n - MIN((size_t)n, dp->tap.vnet ? dp->tap.vnet_len : 0);
		frame_in(dp, buf, (size_t)n);
		if (i % 16 == 15 && now_ns() - start > TAP_BATCH_NS)
			break;
	}
	if (dp->tcp != NULL)
		tcpout_flush(dp->tcp);
	if (dp->udp != NULL)
		udpout_flush(dp->udp);
	return ok;
}

void datapath_flush(struct datapath *dp)
{
	if (dp->ring != NULL)
		tapring_flush(dp->ring);
}

static void flush_at_round_end(void *dp)
{
	datapath_flush(dp);
}

void datapath_attach(struct datapath *dp, struct loop *l)
{
	loop_at_round_end(l, flush_at_round_end, dp);
}

int datapath_poll_fd(const struct datapath *dp)
{
	return dp->ring != NULL ? tapring_fd(dp->ring) : dp->tap.fd;
}

const char *datapath_tap_io(const struct datapath *dp)
{
	return dp->ring != NULL ? "io_uring" : "read";
}

struct tapring_stats datapath_ring_stats(const struct datapath *dp)
{
	return dp->ring != NULL ? *tapring_stats(dp->ring) : (struct tapring_stats){0};
}

bool datapath_offload(const struct datapath *dp)
{
	return dp->tap.vnet;
}

const struct datapath_stats *datapath_stats(const struct datapath *dp)
{
	return &dp->stats;
}

void datapath_set_pcap(struct datapath *dp, struct pcap *p)
{
	dp->pcap = p;
	dp->observe = p != NULL || slirpns_debug;
}

void datapath_set_link(struct datapath *dp, int fd)
{
	dp->tap.fd = fd; /* a BESS peer: plain frames, as tap_init() found for fd -1 */
}
