// SPDX-License-Identifier: GPL-2.0-or-later
/* tap.h - frame I/O on the tap, with or without the virtio-net header (see tap.c). */
#pragma once

#include <glib.h>
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct tap {
	int fd;
	bool vnet;           /* frames carry a virtio-net header (IFF_VNET_HDR) */
	size_t vnet_len;     /* its size (TUNGETVNETHDRSZ) */
	unsigned mtu;        /* the namespace's MTU */
	unsigned slirp_mtu;  /* what libslirp is told: larger than mtu when vnet */
	uint16_t mss4, mss6; /* MSS advertised to libslirp in SYNs (vnet only) */
	/* If set, offered every frame to write (iovecs, header included) before writev(2): true
	 * if it took the frame (datapath.c: tapring.c's write queue). */
	bool (*queue)(void *opaque, const struct iovec *iov, int cnt);
	void *queue_opaque;
};

/* Ask for the tap flags slirpns wants at TUNSETIFF time. */
short tap_open_flags(bool offload);
/* In the namespace: enable checksum and TSO offloads (TUNSETOFFLOAD); false if refused. */
bool tap_enable_offload(int fd, GError **err);
/* Describe an open tap fd (vnet or not, from TUNGETIFF) for a namespace MTU. */
void tap_init(struct tap *t, int fd, unsigned mtu);
/* The same for a known mode: vnet_len 0 for plain frames, else the virtio-net header size. */
void tap_init_mode(struct tap *t, int fd, unsigned mtu, size_t vnet_len);

/*
 * Read one frame into buf (cap bytes) and fix it up for libslirp; *frame points into buf.
 * Returns the frame length, 0 when there is nothing to read, TAP_DROPPED for a malformed
 * frame (skip it and read on), -1 with *err on a fatal error.
 */
#define TAP_DROPPED (-2)
ssize_t tap_read(struct tap *t, uint8_t *buf, size_t cap, uint8_t **frame, GError **err);
/* Only the read of tap_read(): n bytes as read (virtio-net header first), 0 or -1 likewise. */
ssize_t tap_read_raw(struct tap *t, uint8_t *buf, size_t cap, GError **err);
/*
 * The fix-up part of tap_read(), without I/O (the fuzzer's entry point): buf holds n bytes as
 * read from the tap. Same results as tap_read(), except that it never fails fatally.
 */
ssize_t tap_fixup(struct tap *t, uint8_t *buf, size_t n, uint8_t **frame);
/* Write one frame from libslirp; false if it was dropped (the namespace is not keeping up). */
bool tap_write(struct tap *t, const void *frame, size_t len);
/* Write one frame behind the given virtio-net header (t->vnet only): nothing is derived. */
bool tap_write_vnet(struct tap *t, const struct virtio_net_hdr *h, const void *frame, size_t len);
