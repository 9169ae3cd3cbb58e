// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_tapring.c - reading frames through the io_uring multishot read (src/tapring.c).
 *
 * The "tap" is one end of a SOCK_SEQPACKET socketpair: like a tap, one read returns one
 * packet. What is checked: every frame comes back whole and in order, more frames than the
 * ring has buffers included (the read ends with ENOBUFS and must be submitted again without
 * losing or reordering one); the ring's fd polls readable exactly while frames wait; a frame's
 * buffer is reused only after the next call; and a closed peer ends reading with an error.
 * Writes: queued frames reach the peer only at tapring_flush(), all of them, in order and in
 * one submission; more frames than slots flush by themselves; a frame too large to queue is
 * refused after the queued ones went, so the caller's own write comes after them.
 * The ring refuses registrations beyond the ones it was restricted to.
 * Where the kernel has no multishot read (before 6.7, or io_uring disabled) the tests are
 * skipped, as the daemon then reads with read(2).
 */
#include "config.h"
#include "tapring.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sp[2] = {-1, -1};
static struct tapring *ring;

static void setup(void)
{
	cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp) == 0);
	int big = 4 << 20;
	/* room for every frame a test sends before it reads: a tap never blocks a writer */
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	g_autoptr(GError) err = NULL;
	ring = tapring_new(sp[0], 2048, &err);
	if (ring == NULL)
		cr_skip_test("no io_uring multishot read here: %s", err->message);
}

static void teardown(void)
{
	tapring_free(ring);
	close(sp[0]);
	close(sp[1]);
}

TestSuite(tapring, .init = setup, .fini = teardown);

/* Frame i: its length and bytes follow from i, so order and content are both checked. */
static size_t frame_len(unsigned i)
{
	return 60 + (i * 37) % 1900;
}

static void send_frame(unsigned i)
{
	uint8_t f[2048];
	size_t n = frame_len(i);
	for (size_t k = 0; k < n; k++)
		f[k] = (uint8_t)(i + k);
	cr_assert_eq(send(sp[1], f, n, 0), (ssize_t)n, "send frame %u: %s", i, strerror(errno));
}

static bool ring_readable(int timeout_ms)
{
	struct pollfd p = {.fd = tapring_fd(ring), .events = POLLIN};
	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* Read until `want` frames have come (each checked) or 2 s pass; returns how many came. */
static unsigned read_frames(unsigned first, unsigned want)
{
	unsigned got = 0;
	for (int idle = 0; got < want && idle < 200;) {
		uint8_t *f = NULL;
		g_autoptr(GError) err = NULL;
		ssize_t n = tapring_read(ring, &f, &err);
		cr_assert(n >= 0, "tapring_read: %s", err ? err->message : "?");
		if (n == 0) {
			idle += !ring_readable(10);
			continue;
		}
		unsigned i = first + got;
		cr_assert_eq((size_t)n, frame_len(i), "frame %u: %zd bytes, expected %zu", i, n,
		             frame_len(i));
		for (size_t k = 0; k < (size_t)n; k++)
			cr_assert_eq(f[k], (uint8_t)(i + k), "frame %u byte %zu", i, k);
		got++;
	}
	return got;
}

Test(tapring, frames_in_order)
{
	for (unsigned i = 0; i < 10; i++)
		send_frame(i);
	cr_assert(ring_readable(1000), "the ring's fd does not poll readable");
	cr_assert_eq(read_frames(0, 10), 10);
	uint8_t *f;
	cr_assert_eq(tapring_read(ring, &f, NULL), 0, "an 11th frame out of nowhere");
	cr_assert(!ring_readable(0), "the ring polls readable with nothing to read");
}

Test(tapring, more_frames_than_buffers)
{
	/* 500 frames before the first read: the kernel fills every buffer and the read ends. */
	for (unsigned i = 0; i < 500; i++)
		send_frame(i);
	cr_assert_eq(read_frames(0, 500), 500);
	cr_assert_gt(tapring_stats(ring)->out_of_buffers, 0, "the read never ran out of buffers");
	/* and it goes on after the re-arm */
	for (unsigned i = 500; i < 520; i++)
		send_frame(i);
	cr_assert_eq(read_frames(500, 20), 20);
}

Test(tapring, buffer_held_until_next_call)
{
	send_frame(1);
	send_frame(2);
	cr_assert(ring_readable(1000));
	uint8_t *a, *b;
	ssize_t na = tapring_read(ring, &a, NULL);
	cr_assert_eq((size_t)na, frame_len(1));
	uint8_t copy[2048];
	memcpy(copy, a, (size_t)na);
	ssize_t nb = tapring_read(ring, &b, NULL);
	cr_assert_eq((size_t)nb, frame_len(2));
	cr_assert_neq(a, b, "the second frame was read into the buffer still handed out");
	cr_assert_eq(memcmp(copy, a, (size_t)na), 0, "frame 1 changed before the next call");
}

Test(tapring, peer_gone_is_an_error)
{
	close(sp[1]);
	sp[1] = -1;
	cr_assert(ring_readable(1000), "a hung-up tap does not wake the ring");
	uint8_t *f;
	g_autoptr(GError) err = NULL;
	ssize_t n = 0;
	for (int i = 0; i < 100 && n == 0; i++) {
		n = tapring_read(ring, &f, &err);
		if (n == 0)
			ring_readable(10);
	}
	cr_assert_eq(n, -1, "no error after the peer went away");
	cr_assert_not_null(err);
}

/*
 * The ring's restrictions hold: whoever gets hold of its fd cannot give it another file, other
 * buffers, or new restrictions (the seccomp filter allows io_uring_register(2) because of this).
 */
Test(tapring, ring_refuses_other_registrations)
{
	int fd = tapring_fd(ring);
	int other = sp[1];
	cr_assert_eq(syscall(__NR_io_uring_register, fd, IORING_REGISTER_FILES, &other, 1), -1);
	cr_assert_eq(errno, EACCES, "register files: %s", strerror(errno));
	int upd[1] = {other};
	struct io_uring_files_update u = {.offset = 0, .fds = (uintptr_t)upd};
	cr_assert_eq(syscall(__NR_io_uring_register, fd, IORING_REGISTER_FILES_UPDATE, &u, 1), -1);
	cr_assert_eq(errno, EACCES, "update files: %s", strerror(errno));
	struct io_uring_restriction r = {.opcode = IORING_RESTRICTION_SQE_OP,
	                                 .sqe_op = IORING_OP_WRITE};
	cr_assert_eq(syscall(__NR_io_uring_register, fd, IORING_REGISTER_RESTRICTIONS, &r, 1), -1);
}

static void queue_frame(unsigned i)
{
	uint8_t f[2048];
	size_t n = frame_len(i);
	for (size_t k = 0; k < n; k++)
		f[k] = (uint8_t)(i + k);
	struct iovec iov[2] = {{f, 10}, {f + 10, n - 10}}; /* a header and a frame, as tap.c */
	cr_assert(tapring_write(ring, iov, 2), "frame %u not queued", i);
}

/* The peer's next packet is frame i. */
static void peer_gets(unsigned i)
{
	uint8_t f[8192];
	ssize_t n = recv(sp[1], f, sizeof(f), 0);
	cr_assert_eq(n, (ssize_t)frame_len(i), "peer: %zd bytes for frame %u (%s)", n, i,
	             n < 0 ? strerror(errno) : "");
	for (size_t k = 0; k < (size_t)n; k++)
		cr_assert_eq(f[k], (uint8_t)(i + k), "peer: frame %u byte %zu", i, k);
}

Test(tapring, writes_go_at_flush_in_order)
{
	for (unsigned i = 0; i < 20; i++)
		queue_frame(i);
	uint8_t b;
	cr_assert_lt(recv(sp[1], &b, 1, MSG_PEEK), 0, "a queued frame went before the flush");
	uint64_t batches = tapring_stats(ring)->write_batches;
	tapring_flush(ring);
	cr_assert_eq(tapring_stats(ring)->write_batches, batches + 1, "not one submission");
	for (unsigned i = 0; i < 20; i++)
		peer_gets(i);
	cr_assert_eq(tapring_stats(ring)->write_errors, 0);
}

Test(tapring, more_writes_than_slots)
{
	for (unsigned i = 0; i < 200; i++)
		queue_frame(i);
	tapring_flush(ring);
	for (unsigned i = 0; i < 200; i++)
		peer_gets(i);
	cr_assert_eq(tapring_stats(ring)->queued_writes, 200);
}

Test(tapring, large_frame_after_the_queued_ones)
{
	queue_frame(1);
	queue_frame(2);
	static uint8_t big[6000];
	struct iovec iov = {big, sizeof(big)};
	cr_assert(!tapring_write(ring, &iov, 1), "a 6000-byte frame was queued");
	cr_assert_eq(send(sp[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
	peer_gets(1);
	peer_gets(2);
	uint8_t f[8192];
	cr_assert_eq(recv(sp[1], f, sizeof(f), 0), (ssize_t)sizeof(big),
	             "the large frame is not third");
}
