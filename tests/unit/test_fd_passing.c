// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_fd_passing.c - fds received over SCM_RIGHTS (src/util.c): unix_recv_fd(),
 * unix_recv_fd_batch() and fd_check_socket(), which the daemon uses on what the fast-path helper
 * and the tap child send from inside the container's namespaces.
 *
 * A fake helper (the test, on the other end of a SOCK_SEQPACKET socketpair) sends what a
 * compromised one could: a regular file, a pipe, a UDP socket, a TCP socket of the other
 * family, a netlink socket of the wrong protocol, ten fds in place of one, and more fds than
 * fit the control buffer. Each must be refused with a reason, or reduced to the one fd
 * expected, and /proc/self/fd must come back to what was open before: no extra fd left
 * behind.
 */
#include "config.h"
#include "util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	int n = 0;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static int sv[2];
static int baseline;

static void setup(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	baseline = open_fds();
}

static void teardown(void)
{
	close(sv[0]);
	close(sv[1]);
}

/* Send fds[0..n) in one SCM_RIGHTS message with one byte, as a misbehaving helper would. */
static void send_fds(const int *fds, size_t n)
{
	char byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(64 * sizeof(int))];
		struct cmsghdr align;
	} u = {0};
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = u.buf,
	                     .msg_controllen = CMSG_SPACE(n * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	cr_assert_eq(sendmsg(sv[1], &msg, 0), 1, "sendmsg: %s", strerror(errno));
}

/* Send one fd the normal way, close our copy, receive it: returns the received fd. */
static int pass(int fd)
{
	cr_assert_eq(unix_send_fd(sv[1], "x", 1, fd, 0), 1);
	close(fd);
	char b;
	int got;
	bool ctrunc;
	cr_assert_eq(unix_recv_fd(sv[0], &b, 1, &got, 0, &ctrunc), 1);
	cr_assert(!ctrunc);
	cr_assert_geq(got, 0);
	return got;
}

/* fd must be refused as an AF_INET TCP socket with a message containing why. */
static void expect_refused(int fd, const char *why)
{
	g_autoptr(GError) err = NULL;
	cr_assert(!fd_check_socket(fd, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err));
	cr_assert_not_null(strstr(err->message, why), "'%s' lacks '%s'", err->message, why);
	close(fd);
	cr_assert_eq(open_fds(), baseline);
}

TestSuite(fd_passing, .init = setup, .fini = teardown);

Test(fd_passing, tcp_socket_of_the_requested_family_is_accepted)
{
	int fd = pass(socket(AF_INET, SOCK_STREAM, 0));
	g_autoptr(GError) err = NULL;
	cr_assert(fd_check_socket(fd, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err));
	close(fd);
	fd = pass(socket(AF_INET6, SOCK_STREAM, 0));
	cr_assert(fd_check_socket(fd, AF_INET6, SOCK_STREAM, IPPROTO_TCP, &err));
	close(fd);
	cr_assert_eq(open_fds(), baseline);
}

Test(fd_passing, regular_file_is_refused)
{
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	expect_refused(pass(fd), "not a socket");
}

Test(fd_passing, pipe_is_refused)
{
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	close(p[1]);
	expect_refused(pass(p[0]), "not a socket");
}

Test(fd_passing, udp_socket_is_refused)
{
	expect_refused(pass(socket(AF_INET, SOCK_DGRAM, 0)), "socket type 2, expected 1");
}

Test(fd_passing, other_family_is_refused)
{
	expect_refused(pass(socket(AF_INET6, SOCK_STREAM, 0)), "socket domain 10, expected 2");
}

/* fastpath.c leaves the family unasked: type and protocol must still tell TCP from raw. */
Test(fd_passing, raw_tcp_socket_is_refused_when_the_family_is_not_asked)
{
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
	if (raw < 0)
		cr_skip("no raw socket here: %s", strerror(errno));
	int fd = pass(raw);
	g_autoptr(GError) err = NULL;
	cr_assert(!fd_check_socket(fd, -1, SOCK_STREAM, IPPROTO_TCP, &err));
	cr_assert_not_null(strstr(err->message, "type"), "%s", err->message);
	close(fd);
	fd = pass(socket(AF_INET6, SOCK_STREAM, 0));
	cr_assert(fd_check_socket(fd, -1, SOCK_STREAM, IPPROTO_TCP, NULL));
	close(fd);
	cr_assert_eq(open_fds(), baseline);
}

Test(fd_passing, netlink_of_another_protocol_is_refused)
{
	int fd = pass(socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT));
	g_autoptr(GError) err = NULL;
	cr_assert(!fd_check_socket(fd, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, &err));
	cr_assert_not_null(strstr(err->message, "protocol"));
	close(fd);
	cr_assert_eq(open_fds(), baseline);
}

Test(fd_passing, ten_fds_instead_of_one_keep_only_the_first)
{
	int fds[10];
	for (int i = 0; i < 10; i++)
		fds[i] = socket(AF_INET, i == 0 ? SOCK_STREAM : SOCK_DGRAM, 0);
	send_fds(fds, 10);
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	char b;
	int got;
	bool ctrunc;
	cr_assert_eq(unix_recv_fd(sv[0], &b, 1, &got, 0, &ctrunc), 1);
	cr_assert(!ctrunc);
	cr_assert_eq(open_fds(), baseline + 1, "the nine extra fds were not closed");
	g_autoptr(GError) err = NULL;
	cr_assert(fd_check_socket(got, AF_INET, SOCK_STREAM, IPPROTO_TCP, &err));
	close(got);
	cr_assert_eq(open_fds(), baseline);
}

Test(fd_passing, more_fds_than_fit_leave_nothing_behind)
{
	int fds[40];
	for (int i = 0; i < 40; i++)
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
	send_fds(fds, 40);
	for (int i = 0; i < 40; i++)
		close(fds[i]);
	char b;
	int got;
	bool ctrunc;
	cr_assert_eq(unix_recv_fd(sv[0], &b, 1, &got, 0, &ctrunc), 1);
	cr_assert(ctrunc, "40 fds should not fit the control buffer");
	cr_assert_eq(open_fds(), baseline + 1);
	close(got);
	cr_assert_eq(open_fds(), baseline);
}

/*
 * unix_recv_fd_batch(), the fast path's receipt of the helper's answers: several messages in
 * one call, each with its own bytes and first fd; extra fds closed; a message without an fd;
 * too many fds flagged; the peer's end of file as a message of length 0.
 */
Test(fd_passing, batch_keeps_each_message_and_its_first_fd)
{
	for (int i = 0; i < 3; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		char msg[2] = {0, (char)('4' + i)};
		cr_assert_eq(unix_send_fd(sv[1], msg, 2, s, 0), 2);
		close(s);
	}
	int ten[10];
	for (int i = 0; i < 10; i++)
		ten[i] = socket(AF_INET, SOCK_DGRAM, 0);
	send_fds(ten, 10);
	for (int i = 0; i < 10; i++)
		close(ten[i]);
	cr_assert_eq(unix_send_fd(sv[1], "\x05\x36", 2, -1, 0), 2);
	int forty[40];
	for (int i = 0; i < 40; i++)
		forty[i] = socket(AF_INET, SOCK_STREAM, 0);
	send_fds(forty, 40);
	for (int i = 0; i < 40; i++)
		close(forty[i]);

	struct fd_msg a[4], b[FD_BATCH_MAX];
	int n = unix_recv_fd_batch(sv[0], a, 4, MSG_DONTWAIT);
	cr_assert_eq(n, 4, "%d messages, expected the 4 asked for", n);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(a[i].len, 2);
		cr_assert_eq(a[i].data[1], '4' + i, "message %d out of order", i);
		cr_assert(fd_check_socket(a[i].fd, AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL));
		cr_assert(!a[i].ctrunc);
	}
	cr_assert_eq(a[3].len, 1);
	cr_assert_geq(a[3].fd, 0);
	cr_assert_eq(open_fds(), baseline + 4, "the nine extra fds were not closed");
	n = unix_recv_fd_batch(sv[0], b, FD_BATCH_MAX, MSG_DONTWAIT);
	cr_assert_eq(n, 2, "%d messages, expected the 2 left", n);
	cr_assert_eq(b[0].len, 2);
	cr_assert_eq(b[0].data[0], 5);
	cr_assert_eq(b[0].fd, -1);
	cr_assert(b[1].ctrunc, "40 fds should not fit the control buffer");
	cr_assert_geq(b[1].fd, 0);
	cr_assert_eq(unix_recv_fd_batch(sv[0], b, 1, MSG_DONTWAIT), -1);
	cr_assert_eq(errno, EAGAIN);
	for (int i = 0; i < 4; i++)
		close(a[i].fd);
	close(b[1].fd);
	cr_assert_eq(open_fds(), baseline);
	close(sv[1]);
	sv[1] = -1;
	cr_assert_eq(unix_recv_fd_batch(sv[0], b, 1, MSG_DONTWAIT), 1);
	cr_assert_eq(b[0].len, 0, "end of file is a message of length 0");
	cr_assert_eq(b[0].fd, -1);
}
