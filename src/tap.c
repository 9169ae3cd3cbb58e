// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tap.c - reading and writing Ethernet frames on the tap device.
 *
 * By default the tap is opened with IFF_VNET_HDR and the namespace side gets checksum and
 * TCP segmentation offloads (TUNSETOFFLOAD: TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6). Then every
 * frame is preceded by a struct virtio_net_hdr, and:
 *  - reading: the namespace hands over TCP segments of up to 64 KiB at any MTU, with the
 *    transport checksum left to us. We complete it (frame.c), raise the MSS of SYNs to
 *    libslirp's large internal MTU, and give the whole segment to libslirp at once;
 *  - writing: libslirp, configured with a 65520-byte MTU, sends large TCP segments; we
 *    prefix them with a GSO header carrying the MSS of the namespace's real MTU, so its
 *    kernel receives them as one large packet (as from a NIC doing receive offload).
 * The MTU-1500 path thus moves data in 64 KiB units like the MTU-65520 one. With
 * --no-offload, or a --netns-type=tapfd fd opened without IFF_VNET_HDR, frames are plain
 * and libslirp uses the namespace's MTU.
 *
 * Header fields are in the host's byte order (tun's legacy virtio-net default).
 */
#include "config.h"
#include "tap.h"
#include "frame.h"
#include "util.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#define SLIRP_BIG_MTU 65520u

short tap_open_flags(bool offload)
{
	return (short)(IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0));
}

bool tap_enable_offload(int fd, GError **err)
{
	unsigned long feats = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	if (ioctl(fd, TUNSETOFFLOAD, feats) < 0)
		return set_error(err, errno, "TUNSETOFFLOAD");
	return true;
}

void tap_init_mode(struct tap *t, int fd, unsigned mtu, size_t vnet_len)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->mtu = mtu;
	t->slirp_mtu = mtu;
	if (vnet_len > 0) {
		t->vnet = true;
		t->vnet_len = vnet_len;
		t->slirp_mtu = MAX(mtu, SLIRP_BIG_MTU);
		t->mss4 = (uint16_t)(t->slirp_mtu - 40);
		t->mss6 = (uint16_t)(t->slirp_mtu - 60);
	}
}

void tap_init(struct tap *t, int fd, unsigned mtu)
{
	struct ifreq ifr = {0};
	int hdr = 0;
	bool vnet = ioctl(fd, TUNGETIFF, &ifr) == 0 && (ifr.ifr_flags & IFF_VNET_HDR) &&
	            ioctl(fd, TUNGETVNETHDRSZ, &hdr) == 0 &&
	            hdr >= (int)sizeof(struct virtio_net_hdr) && hdr <= 64;
	tap_init_mode(t, fd, mtu, vnet ? (size_t)hdr : 0);
}

/* Apply the header's instructions to an incoming frame; false if it is malformed. */
static bool fix_incoming(struct tap *t, const struct virtio_net_hdr *h, uint8_t *f, size_t len)
{
	bool partial = h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	frame_raise_syn_mss(f, len, t->mss4, t->mss6, !partial);
	if (partial)
		return frame_complete_csum(f, len, h->csum_start, h->csum_offset);
	return true;
}

ssize_t tap_read_raw(struct tap *t, uint8_t *buf, size_t cap, GError **err)
{
	ssize_t n;
	do
		n = read(t->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0)
		return set_error(err, errno, "read from tap"), -1;
	if (n == 0)
		return set_error(err, 0, "read from tap: end of file"), -1;
	return n;
}

ssize_t tap_read(struct tap *t, uint8_t *buf, size_t cap, uint8_t **frame, GError **err)
{
	ssize_t n = tap_read_raw(t, buf, cap, err);
	if (n <= 0)
		return n;
	return tap_fixup(t, buf, (size_t)n, frame);
}

ssize_t tap_fixup(struct tap *t, uint8_t *buf, size_t n, uint8_t **frame)
{
	if (!t->vnet) {
		*frame = buf;
		return (ssize_t)n;
	}
	if (n <= t->vnet_len)
		return TAP_DROPPED;
	struct virtio_net_hdr h;
	memcpy(&h, buf, sizeof(h));
	*frame = buf + t->vnet_len;
	size_t len = n - t->vnet_len;
	return fix_incoming(t, &h, *frame, len) ? (ssize_t)len : TAP_DROPPED;
}

/* One frame: to the queue if there is one and it takes the frame, else writev(2). */
static bool send_iov(struct tap *t, const struct iovec *iov, int cnt)
{
	if (t->queue != NULL && t->queue(t->queue_opaque, iov, cnt))
		return true;
	ssize_t n;
	do
		n = writev(t->fd, iov, cnt);
	while (n < 0 && errno == EINTR);
	return n >= 0;
}

bool tap_write(struct tap *t, const void *frame, size_t len)
{
	uint8_t hdr[64] = {0};
	uint8_t csum[2];
	struct iovec iov[4];
	int cnt = 0;
	size_t pos = 0;
	if (t->vnet) {
		struct virtio_net_hdr h;
		frame_vnet_hdr_out(frame, len, t->mtu, &h);
		pos = frame_csum_partial_out(frame, len, &h, csum);
		memcpy(hdr, &h, sizeof(h));
		iov[cnt++] = (struct iovec){.iov_base = hdr, .iov_len = t->vnet_len};
	}
	if (pos != 0) {
		/* The frame is libslirp's: send our checksum field in place of its own. */
		iov[cnt++] = (struct iovec){.iov_base = (void *)frame, .iov_len = pos};
		iov[cnt++] = (struct iovec){.iov_base = csum, .iov_len = 2};
		iov[cnt++] = (struct iovec){.iov_base = (uint8_t *)frame + pos + 2,
		                            .iov_len = len - pos - 2};
	} else {
		iov[cnt++] = (struct iovec){.iov_base = (void *)frame, .iov_len = len};
	}
	return send_iov(t, iov, cnt);
}

bool tap_write_vnet(struct tap *t, const struct virtio_net_hdr *h, const void *frame, size_t len)
{
	uint8_t hdr[64] = {0};
	memcpy(hdr, h, sizeof(*h));
	struct iovec iov[2] = {{.iov_base = hdr, .iov_len = t->vnet_len},
	                       {.iov_base = (void *)frame, .iov_len = len}};
	return send_iov(t, iov, 2);
}
