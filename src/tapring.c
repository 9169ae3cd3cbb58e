// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tapring.c - reading the tap through io_uring: frames arrive with no system call each.
 *
 * A tap hands over one frame per read(2), and on these machines a system call's entry and exit
 * cost more than the read itself: a UDP stream from the namespace made the daemon spend 45% of
 * its time there, one read() per datagram. So where the kernel allows, the tap is read by one
 * multishot read request (IORING_OP_READ_MULTISHOT, Linux 6.7): whenever the tap has frames the
 * kernel reads them, in the daemon's own context and in order, into buffers of a provided-buffer
 * ring, and posts one completion per frame. The daemon polls the ring's fd instead of the tap's
 * and takes frames from the completion queue in user space; a buffer goes back to the ring
 * once its frame has been handled (datapath.c handles one frame at a time, and the endpoints
 * copy what they keep). A request that ends (all buffers in use: ENOBUFS) is submitted again,
 * one io_uring_enter(2) for as many frames as there are buffers.
 *
 * The ring can do only this: it is created disabled, the tap is its only (fixed) file, and
 * io_uring's restrictions allow one opcode, READ_MULTISHOT, with the fixed-file and
 * buffer-select flags required, before it is enabled; the only registrations left are the two
 * that release the tap at exit (release_tap()). The seccomp filter allows io_uring_enter(2) and
 * io_uring_register(2) but not io_uring_setup(2): io_uring's operations do not pass the filter,
 * so the one ring there is must not be able to do anything else.
 *
 * Where any step fails (an older kernel, kernel.io_uring_disabled, a tap fd that cannot be
 * polled) tapring_new() says why and the datapath reads the tap with read(2) as before.
 * The ring's memory: buffers of one frame's largest size (a 64 KiB TSO segment with offloads,
 * the MTU without), TAPRING_BUFS of them; pages are touched only as large frames arrive.
 */
#include "config.h"
#include "tapring.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT 49 /* Linux 6.7; the uapi headers we build with may be older */
#endif

#define TAPRING_BUFS 64 /* a power of two; the completion queue holds twice as many */
#define BUF_GROUP    0

struct tapring {
	int fd;
	/* the submission and completion rings, one mapping (IORING_FEAT_SINGLE_MMAP) */
	void *rings;
	size_t rings_len;
	struct io_uring_sqe *sqes;
	size_t sqes_len;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
	/* the provided buffers: their ring (one page) and the frames' memory */
	struct io_uring_buf_ring *br;
	size_t br_len;
	uint8_t *bufs;
	size_t buf_size;
	uint16_t br_tail;
	int held;   /* the buffer of the frame last handed out, or -1 */
	bool armed; /* the multishot read is in place */
	struct tapring_stats stats;
};

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, NULL, 0);
}

static int sys_register(int fd, unsigned op, const void *arg, unsigned n)
{
	return (int)syscall(__NR_io_uring_register, fd, op, arg, n);
}

static void *map(size_t len, int fd, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED | MAP_POPULATE, fd, off);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * The ring's last reference to the tap goes only when io_uring tears the ring down, in a kernel
 * worker after close(): the tap would outlive the daemon for a moment, and a daemon started at
 * once for the same namespace would find tap0 busy. So end the read and drop the tap from the
 * ring first, synchronously (the two registrations the restrictions allow; seccomp.c lets
 * io_uring_register(2) through for them).
 */
static void release_tap(struct tapring *r)
{
	struct io_uring_sync_cancel_reg cancel = {
	    .fd = -1, .flags = IORING_ASYNC_CANCEL_ANY, .timeout = {.tv_sec = -1, .tv_nsec = -1}};
	if (r->armed)
		sys_register(r->fd, IORING_REGISTER_SYNC_CANCEL, &cancel, 1);
	sys_register(r->fd, IORING_UNREGISTER_FILES, NULL, 0);
}

/* The ring alive now, so that an exit() from anywhere (die()) still releases the tap at once. */
static struct tapring *live;

static void release_at_exit(void)
{
	if (live != NULL)
		release_tap(live);
}

static void track(struct tapring *r)
{
	static bool registered;
	if (!registered)
		registered = atexit(release_at_exit) == 0;
	live = r;
}

void tapring_free(struct tapring *r)
{
	if (r == NULL)
		return;
	if (live == r)
		live = NULL;
	if (r->fd >= 0) {
		release_tap(r);
		close(r->fd);
	}
	if (r->rings != NULL)
		munmap(r->rings, r->rings_len);
	if (r->sqes != NULL)
		munmap(r->sqes, r->sqes_len);
	if (r->br != NULL)
		munmap(r->br, r->br_len);
	if (r->bufs != NULL)
		munmap(r->bufs, r->buf_size * TAPRING_BUFS);
	g_free(r);
}

static bool map_rings(struct tapring *r, const struct io_uring_params *p, GError **err)
{
	if (!(p->features & IORING_FEAT_SINGLE_MMAP))
		return set_error(err, 0, "io_uring: no IORING_FEAT_SINGLE_MMAP (kernel < 5.4)");
	r->rings_len = MAX(p->sq_off.array + p->sq_entries * sizeof(unsigned),
	                   p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe));
	r->rings = map(r->rings_len, r->fd, IORING_OFF_SQ_RING);
	r->sqes_len = p->sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = map(r->sqes_len, r->fd, IORING_OFF_SQES);
	if (r->rings == NULL || r->sqes == NULL)
		return set_error(err, errno, "io_uring: mmap");
	uint8_t *m = r->rings;
	r->sq_tail = (unsigned *)(m + p->sq_off.tail);
	r->sq_mask = (unsigned *)(m + p->sq_off.ring_mask);
	r->sq_array = (unsigned *)(m + p->sq_off.array);
	r->cq_head = (unsigned *)(m + p->cq_off.head);
	r->cq_tail = (unsigned *)(m + p->cq_off.tail);
	r->cq_mask = (unsigned *)(m + p->cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(m + p->cq_off.cqes);
	return true;
}

/* Hand buffer bid to the kernel again. */
static void buf_give(struct tapring *r, uint16_t bid)
{
	struct io_uring_buf *b = &r->br->bufs[r->br_tail & (TAPRING_BUFS - 1)];
	b->addr = (uint64_t)(uintptr_t)(r->bufs + (size_t)bid * r->buf_size);
	b->len = (uint32_t)r->buf_size;
	b->bid = bid;
	r->br_tail++;
	__atomic_store_n(&r->br->tail, r->br_tail, __ATOMIC_RELEASE);
}

static bool setup_buffers(struct tapring *r, GError **err)
{
	r->br_len = (size_t)MAX(sysconf(_SC_PAGESIZE), 4096);
	r->br = map(r->br_len, -1, 0);
	r->bufs = map(r->buf_size * TAPRING_BUFS, -1, 0);
	if (r->br == NULL || r->bufs == NULL)
		return set_error(err, errno, "io_uring: mmap buffers");
	struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)r->br,
	                               .ring_entries = TAPRING_BUFS,
	                               .bgid = BUF_GROUP};
	if (sys_register(r->fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
		return set_error(err, errno, "io_uring: register buffer ring (kernel < 5.19?)");
	for (uint16_t i = 0; i < TAPRING_BUFS; i++)
		buf_give(r, i);
	return true;
}

/* Allow nothing but multishot reads of the tap, then enable the ring. */
static bool restrict_and_enable(struct tapring *r, int tapfd, GError **err)
{
	if (sys_register(r->fd, IORING_REGISTER_FILES, &tapfd, 1) < 0)
		return set_error(err, errno, "io_uring: register the tap");
	const uint8_t flags = IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	struct io_uring_restriction res[5] = {
	    {.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READ_MULTISHOT},
	    {.opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_REGISTER_SYNC_CANCEL},
	    {.opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_UNREGISTER_FILES},
	    {.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = flags},
	    {.opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = flags},
	};
	if (sys_register(r->fd, IORING_REGISTER_RESTRICTIONS, res, G_N_ELEMENTS(res)) < 0)
		return set_error(err, errno,
		                 "io_uring: restrict to multishot reads (kernel < 6.7?)");
	if (sys_register(r->fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return set_error(err, errno, "io_uring: enable");
	return true;
}

/* Submit the multishot read (again). */
static bool arm(struct tapring *r, GError **err)
{
	unsigned tail = *r->sq_tail; /* only we write it */
	unsigned idx = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[idx];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ_MULTISHOT;
	sqe->flags = IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->fd = 0; /* the first fixed file: the tap */
	sqe->buf_group = BUF_GROUP;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	int n;
	do
		n = sys_enter(r->fd, 1, 0, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return set_error(err, errno, "io_uring_enter");
	r->armed = true;
	r->stats.arms++;
	return true;
}

/* The next completion, or NULL; consumed by cq_pop(). */
static const struct io_uring_cqe *cq_peek(const struct tapring *r)
{
	unsigned head = *r->cq_head;
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return NULL;
	return &r->cqes[head & *r->cq_mask];
}

static void cq_pop(struct tapring *r)
{
	__atomic_store_n(r->cq_head, *r->cq_head + 1, __ATOMIC_RELEASE);
}

struct tapring *tapring_new(int tapfd, size_t frame_max, GError **err)
{
	struct tapring *r = g_new0(struct tapring, 1);
	r->held = -1;
	r->buf_size = (frame_max + 63) & ~(size_t)63;
	struct io_uring_params p = {
	    .flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN,
	    .cq_entries = 2 * TAPRING_BUFS,
	};
	r->fd = sys_setup(4, &p);
	if (r->fd < 0) {
		set_error(err, errno, "io_uring_setup");
		return tapring_free(r), NULL;
	}
	if (!map_rings(r, &p, err) || !setup_buffers(r, err) ||
	    !restrict_and_enable(r, tapfd, err) || !arm(r, err))
		return tapring_free(r), NULL;
	/* A kernel that does not know the opcode fails the request at once. */
	const struct io_uring_cqe *c = cq_peek(r);
	if (c != NULL && c->res < 0 && !(c->flags & IORING_CQE_F_MORE)) {
		set_error(err, -c->res, "io_uring: multishot read of the tap (kernel < 6.7?)");
		return tapring_free(r), NULL;
	}
	track(r);
	return r;
}

int tapring_fd(const struct tapring *r)
{
	return r->fd;
}

const struct tapring_stats *tapring_stats(const struct tapring *r)
{
	return &r->stats;
}

ssize_t tapring_read(struct tapring *r, uint8_t **frame, GError **err)
{
	if (r->held >= 0) {
		buf_give(r, (uint16_t)r->held);
		r->held = -1;
	}
	for (;;) {
		const struct io_uring_cqe *c = cq_peek(r);
		if (c == NULL) {
			if (r->armed)
				return 0;
			if (!arm(r, err))
				return -1;
			if ((c = cq_peek(r)) == NULL)
				return 0;
		}
		int res = c->res;
		uint32_t flags = c->flags;
		cq_pop(r);
		if (!(flags & IORING_CQE_F_MORE))
			r->armed = false;
		if (res == -ENOBUFS || res == -EAGAIN || res == -EINTR) {
			r->stats.out_of_buffers += res == -ENOBUFS;
			continue; /* every buffer was in use: armed again once the queue is empty */
		}
		if (res < 0)
			return set_error(err, -res, "read from tap (io_uring)"), -1;
		if (!(flags & IORING_CQE_F_BUFFER))
			return set_error(err, 0, "read from tap (io_uring): no buffer"), -1;
		uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
		if (bid >= TAPRING_BUFS)
			return set_error(err, 0, "read from tap (io_uring): buffer %u", bid), -1;
		if (res == 0) {
			buf_give(r, bid);
			return set_error(err, 0, "read from tap: end of file"), -1;
		}
		r->held = bid;
		*frame = r->bufs + (size_t)bid * r->buf_size;
		return res;
	}
}
