// SPDX-License-Identifier: GPL-2.0-or-later
/* datapath.h - the one owner of the tap's frames: read, classify, write (see datapath.c). */
#pragma once

#include "engine.h"
#include "options.h"
#include "sink.h"
#include "tapring.h"
#include "tcpout.h"
#include "udpout.h"

#include <glib.h>
#include <stdint.h>

struct datapath_stats {
	uint64_t frames_in, bytes_in;   /* namespace -> slirpns */
	uint64_t frames_out, bytes_out; /* slirpns -> namespace */
	uint64_t frames_dropped;        /* could not be written to the tap */
	uint64_t frames_malformed;      /* refused on the way in (bad offload header) */
};

struct datapath;

/* tapfd: the tap (or -1 for a BESS link that attaches later, see datapath_set_link()). */
struct datapath *datapath_new(const struct options *opt, int tapfd);
void datapath_free(struct datapath *dp);
/* Where the endpoints send their frames. */
struct frame_sink datapath_sink(struct datapath *dp);
/*
 * The endpoints frames are classified to: the TCP endpoint first, then (once fixed up and
 * reassembled) the UDP endpoint, then libslirp. t and u may be NULL.
 */
void datapath_set_endpoints(struct datapath *dp, struct engine *e, struct tcpout *t,
                            struct udpout *u);

/* Read every frame the tap has (bounded) and hand each to its endpoint. false: tap gone. */
bool datapath_tap_readable(struct datapath *dp, GError **err);
/*
 * The fd to poll for POLLIN before datapath_tap_readable(): the io_uring that reads the tap
 * (tapring.c) where the kernel allows it, else the tap. A tap that goes away fails the ring's
 * read as it fails read(2): datapath_tap_readable() then says so.
 */
int datapath_poll_fd(const struct datapath *dp);
/* Write the frames queued for the namespace (io_uring only): at the end of each round of l. */
void datapath_flush(struct datapath *dp);
struct loop;
void datapath_attach(struct datapath *dp, struct loop *l);
/* How the tap is read and written: "io_uring" or "read" (read(2) and writev(2)). */
const char *datapath_tap_io(const struct datapath *dp);
/* The ring's counters (all 0 without one). */
struct tapring_stats datapath_ring_stats(const struct datapath *dp);
/* Whether the tap carries virtio-net headers (offloads on). */
bool datapath_offload(const struct datapath *dp);
const struct datapath_stats *datapath_stats(const struct datapath *dp);

struct pcap;
/* Show every frame crossing the tap to this capture (NULL: none); see pcap.c. */
void datapath_set_pcap(struct datapath *dp, struct pcap *p);
/*
 * --target-type=bess: carry frames over fd, a connected BESS peer (plain frames), or nowhere
 * (-1: frames for the namespace are dropped). The datapath was created with tapfd -1.
 */
void datapath_set_link(struct datapath *dp, int fd);
