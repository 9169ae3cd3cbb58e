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
 * Writes: a loop round makes many small frames for the namespace (keep-alive answers of 32
 * connections, datagrams), one writev(2) each. A second ring takes them instead: a frame of at
 * most WSLOT bytes is copied to a free slot and queued as an IORING_OP_WRITE, and
 * tapring_flush() submits every queued write with one io_uring_enter(2) at the end of the round
 * (the loop calls it before it sleeps) or when the slots run out. The kernel issues them in
 * order, inline, as writev(2) would have been; their completions free the slots. A larger frame
 * (a TSO segment) is written directly, after a flush, so frames never pass one another.
 *
 * The rings can do only this: each is created disabled, the tap is its only (fixed) file, and
 * io_uring's restrictions allow one opcode each (READ_MULTISHOT with the fixed-file and
 * buffer-select flags required; WRITE with the fixed-file flag required) before it is enabled;
 * the only registrations left are the two that release the tap at exit (release_tap()). The
 * seccomp filter allows io_uring_enter(2) and io_uring_register(2) but not io_uring_setup(2):
 * io_uring's operations do not pass the filter, so the rings there are must not be able to do
 * anything else.
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
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT 49 /* Linux 6.7; the uapi headers we build with may be older */
#endif

#define TAPRING_BUFS 64 /* a power of two; the completion queue holds twice as many */
#define BUF_GROUP    0
#define WSLOTS       64   /* queued writes; a power of two */
#define WSLOT        4096 /* the largest frame (with its header) that is queued, not written */

/* One io_uring: the submission and completion rings, one mapping (IORING_FEAT_SINGLE_MMAP). */
struct uring {
	int fd;
	void *rings;
	size_t rings_len;
	struct io_uring_sqe *sqes;
	size_t sqes_len;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

struct tapring {
	struct uring rd; /* the multishot read */
	struct uring wr; /* queued writes (fd -1: none, writev(2) only) */
	int tapfd;
	/* the provided buffers: their ring (one page) and the frames' memory */
	struct io_uring_buf_ring *br;
	size_t br_len;
	uint8_t *bufs;
	size_t buf_size;
	uint16_t br_tail;
	int held;   /* the buffer of the frame last handed out, or -1 */
	bool armed; /* the multishot read is in place */
	/* the write slots: a slot is busy from tapring_write() until its completion */
	uint8_t *wbufs;
	uint16_t wfree[WSLOTS]; /* a stack of free slots */
	unsigned nfree;
	unsigned queued; /* submission entries not yet submitted */
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

/* --- one ring --- */

static bool uring_map(struct uring *u, const struct io_uring_params *p, GError **err)
{
	if (!(p->features & IORING_FEAT_SINGLE_MMAP))
		return set_error(err, 0, "io_uring: no IORING_FEAT_SINGLE_MMAP (kernel < 5.4)");
	u->rings_len = MAX(p->sq_off.array + p->sq_entries * sizeof(unsigned),
	                   p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe));
	u->rings = map(u->rings_len, u->fd, IORING_OFF_SQ_RING);
	u->sqes_len = p->sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = map(u->sqes_len, u->fd, IORING_OFF_SQES);
	if (u->rings == NULL || u->sqes == NULL)
		return set_error(err, errno, "io_uring: mmap");
	uint8_t *m = u->rings;
	u->sq_tail = (unsigned *)(m + p->sq_off.tail);
	u->sq_mask = (unsigned *)(m + p->sq_off.ring_mask);
	u->sq_array = (unsigned *)(m + p->sq_off.array);
	u->cq_head = (unsigned *)(m + p->cq_off.head);
	u->cq_tail = (unsigned *)(m + p->cq_off.tail);
	u->cq_mask = (unsigned *)(m + p->cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)(m + p->cq_off.cqes);
	return true;
}

/*
 * A disabled ring of `sqes` submissions and `cqes` completions: room for every completion its
 * requests can post (one per provided buffer, one per write slot), since completions beyond it
 * wait in the kernel until an io_uring_enter(2) fetches them. COOP_TASKRUN: a
 * completion that comes while the daemon runs must not interrupt it (an IPI each made one
 * connection per request 20% slower); the work is done at its next system call.
 */
static bool uring_setup(struct uring *u, unsigned sqes, unsigned cqes, GError **err)
{
	struct io_uring_params p = {
	    .flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN,
	    .cq_entries = cqes,
	};
	u->fd = sys_setup(sqes, &p);
	if (u->fd < 0)
		return set_error(err, errno, "io_uring_setup");
	return uring_map(u, &p, err);
}

/* The tap as the ring's only file, these restrictions (and the release at exit), enabled. */
static bool uring_restrict(struct uring *u, int tapfd, const struct io_uring_restriction *own,
                           size_t n, GError **err)
{
	if (sys_register(u->fd, IORING_REGISTER_FILES, &tapfd, 1) < 0)
		return set_error(err, errno, "io_uring: register the tap");
	struct io_uring_restriction res[8] = {
	    {.opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_REGISTER_SYNC_CANCEL},
	    {.opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_UNREGISTER_FILES},
	};
	g_assert(n <= G_N_ELEMENTS(res) - 2);
	memcpy(res + 2, own, n * sizeof(*own));
	if (sys_register(u->fd, IORING_REGISTER_RESTRICTIONS, res, (unsigned)n + 2) < 0)
		return set_error(err, errno, "io_uring: restrict the ring (kernel < 6.7?)");
	if (sys_register(u->fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return set_error(err, errno, "io_uring: enable");
	return true;
}

/* The next free submission entry, zeroed (the caller checked that one is free). */
static struct io_uring_sqe *sq_next(struct uring *u, unsigned *tail)
{
	*tail = *u->sq_tail; /* only we write it */
	unsigned idx = *tail & *u->sq_mask;
	u->sq_array[idx] = idx;
	memset(&u->sqes[idx], 0, sizeof(u->sqes[idx]));
	return &u->sqes[idx];
}

static void sq_push(struct uring *u, unsigned tail)
{
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

static int submit(struct uring *u, unsigned n)
{
	int got;
	do
		got = sys_enter(u->fd, n, 0, 0);
	while (got < 0 && errno == EINTR);
	return got;
}

/* The next completion, or NULL; consumed by cq_pop(). */
static const struct io_uring_cqe *cq_peek(const struct uring *u)
{
	unsigned head = *u->cq_head;
	if (head == __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE))
		return NULL;
	return &u->cqes[head & *u->cq_mask];
}

static void cq_pop(struct uring *u)
{
	__atomic_store_n(u->cq_head, *u->cq_head + 1, __ATOMIC_RELEASE);
}

/*
 * The ring's last reference to the tap goes only when io_uring tears the ring down, in a kernel
 * worker after close(): the tap would outlive the daemon for a moment, and a daemon started at
 * once for the same namespace would find tap0 busy. So end what is in flight and drop the tap
 * from the ring first, synchronously (the two registrations the restrictions allow; seccomp.c
 * lets io_uring_register(2) through for them).
 */
static void release_tap(struct uring *u)
{
	if (u->fd < 0)
		return;
	struct io_uring_sync_cancel_reg cancel = {
	    .fd = -1, .flags = IORING_ASYNC_CANCEL_ANY, .timeout = {.tv_sec = -1, .tv_nsec = -1}};
	sys_register(u->fd, IORING_REGISTER_SYNC_CANCEL, &cancel, 1);
	sys_register(u->fd, IORING_UNREGISTER_FILES, NULL, 0);
}

static void uring_close(struct uring *u)
{
	if (u->fd >= 0) {
		release_tap(u);
		close(u->fd);
	}
	if (u->rings != NULL)
		munmap(u->rings, u->rings_len);
	if (u->sqes != NULL)
		munmap(u->sqes, u->sqes_len);
	*u = (struct uring){.fd = -1};
}

/* --- the rings alive now, so that an exit() from anywhere (die()) still releases the tap --- */

static struct tapring *live;

static void release_at_exit(void)
{
	if (live != NULL) {
		release_tap(&live->rd);
		release_tap(&live->wr);
	}
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
	tapring_flush(r);
	uring_close(&r->rd);
	uring_close(&r->wr);
	if (r->br != NULL)
		munmap(r->br, r->br_len);
	if (r->bufs != NULL)
		munmap(r->bufs, r->buf_size * TAPRING_BUFS);
	if (r->wbufs != NULL)
		munmap(r->wbufs, (size_t)WSLOT * WSLOTS);
	g_free(r);
}

/* --- reads --- */

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
	if (sys_register(r->rd.fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
		return set_error(err, errno, "io_uring: register buffer ring (kernel < 5.19?)");
	for (uint16_t i = 0; i < TAPRING_BUFS; i++)
		buf_give(r, i);
	return true;
}

static bool setup_reads(struct tapring *r, GError **err)
{
	const uint8_t flags = IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	const struct io_uring_restriction res[] = {
	    {.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READ_MULTISHOT},
	    {.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = flags},
	    {.opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = flags},
	};
	return uring_setup(&r->rd, 4, 2 * TAPRING_BUFS, err) && setup_buffers(r, err) &&
	       uring_restrict(&r->rd, r->tapfd, res, G_N_ELEMENTS(res), err);
}

/* Submit the multishot read (again). */
static bool arm(struct tapring *r, GError **err)
{
	unsigned tail;
	struct io_uring_sqe *sqe = sq_next(&r->rd, &tail);
	sqe->opcode = IORING_OP_READ_MULTISHOT;
	sqe->flags = IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->fd = 0; /* the first fixed file: the tap */
	sqe->buf_group = BUF_GROUP;
	sq_push(&r->rd, tail);
	if (submit(&r->rd, 1) < 0)
		return set_error(err, errno, "io_uring_enter");
	r->armed = true;
	r->stats.arms++;
	return true;
}

/* --- writes --- */

static bool setup_writes(struct tapring *r, GError **err)
{
	const struct io_uring_restriction res[] = {
	    {.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITE},
	    {.opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = IOSQE_FIXED_FILE},
	    {.opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE},
	};
	r->wbufs = map((size_t)WSLOT * WSLOTS, -1, 0);
	if (r->wbufs == NULL)
		return set_error(err, errno, "io_uring: mmap write slots");
	for (unsigned i = 0; i < WSLOTS; i++)
		r->wfree[r->nfree++] = (uint16_t)(WSLOTS - 1 - i);
	return uring_setup(&r->wr, WSLOTS, 2 * WSLOTS, err) &&
	       uring_restrict(&r->wr, r->tapfd, res, G_N_ELEMENTS(res), err);
}

/* Free the slots of the writes that are done (all of them, normally: tun writes inline). */
static void reap_writes(struct tapring *r)
{
	const struct io_uring_cqe *c;
	while ((c = cq_peek(&r->wr)) != NULL) {
		if (c->res < 0)
			r->stats.write_errors++;
		if (c->user_data < WSLOTS && r->nfree < WSLOTS)
			r->wfree[r->nfree++] = (uint16_t)c->user_data;
		cq_pop(&r->wr);
	}
}

void tapring_flush(struct tapring *r)
{
	if (r->wr.fd < 0)
		return;
	if (r->queued > 0) {
		/* What the kernel does not take now stays in the ring for the next flush. */
		int n = submit(&r->wr, r->queued);
		r->stats.write_batches++;
		if (n > 0)
			r->queued -= MIN((unsigned)n, r->queued);
	}
	reap_writes(r);
}

bool tapring_write(struct tapring *r, const struct iovec *iov, int cnt)
{
	if (r->wr.fd < 0)
		return false;
	size_t len = 0;
	for (int i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	if (len > WSLOT)
		return tapring_flush(r), false;
	if (r->nfree == 0)
		tapring_flush(r);
	if (r->nfree == 0) /* every slot still in the kernel's hands */
		return false;
	uint16_t slot = r->wfree[--r->nfree];
	uint8_t *p = r->wbufs + (size_t)slot * WSLOT;
	for (int i = 0, off = 0; i < cnt; off += (int)iov[i].iov_len, i++)
		memcpy(p + off, iov[i].iov_base, iov[i].iov_len);
	unsigned tail;
	struct io_uring_sqe *sqe = sq_next(&r->wr, &tail);
	sqe->opcode = IORING_OP_WRITE;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->fd = 0;
	sqe->addr = (uint64_t)(uintptr_t)p;
	sqe->len = (uint32_t)len;
	sqe->user_data = slot;
	sq_push(&r->wr, tail);
	r->queued++;
	r->stats.queued_writes++;
	return true;
}

/* --- the whole --- */

struct tapring *tapring_new(int tapfd, size_t frame_max, GError **err)
{
	struct tapring *r = g_new0(struct tapring, 1);
	r->rd.fd = r->wr.fd = -1;
	r->tapfd = tapfd;
	r->held = -1;
	r->buf_size = (frame_max + 63) & ~(size_t)63;
	if (!setup_reads(r, err) || !arm(r, err))
		return tapring_free(r), NULL;
	/* A kernel that does not know the opcode fails the request at once. */
	const struct io_uring_cqe *c = cq_peek(&r->rd);
	if (c != NULL && c->res < 0 && !(c->flags & IORING_CQE_F_MORE)) {
		set_error(err, -c->res, "io_uring: multishot read of the tap (kernel < 6.7?)");
		return tapring_free(r), NULL;
	}
	g_autoptr(GError) werr = NULL;
	if (!setup_writes(r, &werr)) {
		log_debug("tap: writev(2) per frame: %s", werr->message);
		uring_close(&r->wr);
	}
	track(r);
	return r;
}

int tapring_fd(const struct tapring *r)
{
	return r->rd.fd;
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
		const struct io_uring_cqe *c = cq_peek(&r->rd);
		if (c == NULL) {
			if (r->armed)
				return 0;
			if (!arm(r, err))
				return -1;
			if ((c = cq_peek(&r->rd)) == NULL)
				return 0;
		}
		int res = c->res;
		uint32_t flags = c->flags;
		cq_pop(&r->rd);
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
