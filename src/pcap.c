// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pcap.c - --pcap=FILE: every frame that crosses the tap (or the BESS socket), in both
 * directions, written to FILE in the classic pcap format that tcpdump, tshark and Wireshark
 * read.
 *
 * Theory of operation
 *
 * main.c opens the file before the sandbox hides the file system: created or truncated, mode
 * 0600 (a capture holds the namespace's traffic), O_NONBLOCK. A symbolic link (O_NOFOLLOW),
 * a file of another uid, or anything but a regular file or a FIFO is refused, and an existing
 * file is emptied only once it is known to be ours. From then on the daemon needs
 * only writev(2) on that fd, which the seccomp filter allows. The file starts with the 24-byte
 * pcap header (native byte order, which readers detect from the magic number; microsecond
 * timestamps; link type Ethernet; snapshot length 262144, so no frame is cut). Each frame is
 * one record: a 16-byte header (wall-clock time, captured length, original length) and the
 * frame itself, written together by one writev(), so records never interleave.
 *
 * The engine hands us frames where libslirp sees them: on the way in after the virtio-net
 * header is taken off and its checksum/MSS fix-ups are applied, on the way out before a
 * header is put on. With offloads on (the default) TCP segments of up to 64 KiB cross the tap
 * as single frames ("GSO/TSO super-frames"), larger than the MTU; the capture shows them as
 * they are. With --no-offload or --target-type=bess every frame fits the MTU.
 *
 * Bounded: a record that would take the file past --pcap-max-size (default 64 MiB) is not
 * written; the capture stops there, for good, with one warning on stderr, and the file stays a
 * complete, readable capture of the frames before. There is no rotation. A write error (a
 * full disk) or a short write stops the capture the same way, so a truncated record is never
 * followed by another. FILE may be a FIFO (a live `tcpdump -r -` on the other end): a frame
 * the reader has no room for yet is left out (EAGAIN), not waited for, so the capture never
 * stalls the network.
 */
#include "config.h"
#include "pcap.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PCAP_MAGIC_USEC   0xa1b2c3d4u
#define PCAP_SNAPLEN      262144u
#define PCAP_LINK_EN10MB  1u
#define PCAP_FILE_HDR_LEN 24u

struct pcap_file_hdr {
	uint32_t magic;
	uint16_t version_major, version_minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec_hdr {
	uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

struct pcap {
	int fd;
	char *path;
	uint64_t size, max_size;
	uint64_t written, skipped;
	bool stopped;
};

static bool write_all(int fd, const void *buf, size_t len)
{
	ssize_t n;
	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len;
}

/*
 * The file must be ours: a regular file (emptied and made 0600 here) or a FIFO, owned by our
 * uid. Another process of the user could otherwise point the capture at a file of someone
 * else's that we may write (group-writable), or, through a symlink, at anything we may write.
 */
static bool check_capture_file(int fd, const char *path, GError **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return set_error(err, errno, "--pcap %s: fstat", path);
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		return set_error(err, 0, "--pcap %s: not a regular file or a FIFO", path);
	if (st.st_uid != geteuid())
		return set_error(err, 0, "--pcap %s: owned by uid %u, not by us (uid %u)", path,
		                 (unsigned)st.st_uid, (unsigned)geteuid());
	if (S_ISREG(st.st_mode) && (ftruncate(fd, 0) < 0 || fchmod(fd, 0600) < 0))
		return set_error(err, errno, "--pcap %s: truncate to a fresh 0600 file", path);
	return true;
}

struct pcap *pcap_open(const char *path, uint64_t max_size, GError **err)
{
	/* No O_TRUNC: nothing is emptied before check_capture_file() says the file is ours. */
	autoclose_fd int fd =
	    open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0 && errno == ELOOP)
		return set_error(err, 0, "--pcap %s: is a symbolic link (refused)", path), NULL;
	if (fd < 0)
		return set_error(err, errno, "--pcap %s", path), NULL;
	if (!check_capture_file(fd, path, err))
		return NULL;
	const struct pcap_file_hdr h = {
	    .magic = PCAP_MAGIC_USEC,
	    .version_major = 2,
	    .version_minor = 4,
	    .snaplen = PCAP_SNAPLEN,
	    .linktype = PCAP_LINK_EN10MB,
	};
	G_STATIC_ASSERT(sizeof(h) == PCAP_FILE_HDR_LEN);
	if (!write_all(fd, &h, sizeof(h)))
		return set_error(err, errno, "--pcap %s: write the file header", path), NULL;
	struct pcap *p = g_new0(struct pcap, 1);
	p->fd = fd;
	fd = -1;
	p->path = g_strdup(path);
	p->size = sizeof(h);
	p->max_size = max_size;
	return p;
}

static void stop(struct pcap *p, const char *why)
{
	p->stopped = true;
	log_warn("--pcap %s: capture stopped after %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT
	         " bytes): %s",
	         p->path, p->written, p->size, why);
}

void pcap_frame(struct pcap *p, const void *frame, size_t len)
{
	if (p->stopped) {
		p->skipped++;
		return;
	}
	size_t incl = MIN(len, (size_t)PCAP_SNAPLEN);
	if (p->size + sizeof(struct pcap_rec_hdr) + incl > p->max_size) {
		p->skipped++;
		g_autofree char *why =
		    g_strdup_printf("--pcap-max-size %" G_GUINT64_FORMAT " reached", p->max_size);
		stop(p, why);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct pcap_rec_hdr h = {
	    .ts_sec = (uint32_t)ts.tv_sec,
	    .ts_usec = (uint32_t)(ts.tv_nsec / 1000),
	    .incl_len = (uint32_t)incl,
	    .orig_len = (uint32_t)len,
	};
	struct iovec iov[2] = {
	    {.iov_base = &h, .iov_len = sizeof(h)},
	    {.iov_base = (void *)frame, .iov_len = incl},
	};
	ssize_t n;
	do
		n = writev(p->fd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		p->skipped++; /* a FIFO whose reader is behind: nothing was written */
		return;
	}
	if (n >= 0)
		p->size += (uint64_t)n;
	if (n == (ssize_t)(sizeof(h) + incl)) {
		p->written++;
		return;
	}
	p->skipped++;
	stop(p, n < 0 ? g_strerror(errno) : "short write");
}

void pcap_close(struct pcap *p)
{
	if (p == NULL)
		return;
	if (!p->stopped && p->skipped > 0)
		log_warn("--pcap %s: %" G_GUINT64_FORMAT " frames left out: the reader was behind",
		         p->path, p->skipped);
	close(p->fd);
	g_free(p->path);
	g_free(p);
}
