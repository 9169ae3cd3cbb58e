// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tapfd-helper.c - open a tap in another process's namespaces and exec a command holding it.
 *
 * Usage: tapfd-helper PID TAPNAME COMMAND [ARG]...
 *
 * For the --netns-type=tapfd integration test: the caller of slirpns, not slirpns, creates the
 * tap. A child process joins PID's user namespace (unless it is already there) and network
 * namespace, opens /dev/net/tun as TAPNAME with IFF_TAP|IFF_NO_PI, brings the link up, and sends
 * the fd back over a socketpair with SCM_RIGHTS. The parent, which never left its namespaces,
 * waits for the child, clears close-on-exec on the fd, replaces every ARG that is exactly
 * "@TAPFD@" with the fd number, and execs COMMAND. Addresses and routes are left to the test.
 * Errors go to stderr with context and the exit code is 1 (127 if the exec fails).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FD_PLACEHOLDER "@TAPFD@"

/* Print "tapfd-helper: <message>[: <errno text>]" and exit 1. */
static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	fputs("tapfd-helper: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (saved != 0)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
	exit(1);
}

/* Join the namespace of type nstype that /proc/PID/ns/NAME refers to, unless we are in it. */
static void join_ns(const char *pid, const char *name, int nstype)
{
	char path[64], self[64];
	snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, name);
	snprintf(self, sizeof(self), "/proc/self/ns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open %s", path);
	struct stat target, current;
	if (fstat(fd, &target) < 0 || stat(self, &current) < 0)
		fail("stat %s", path);
	if ((target.st_dev != current.st_dev || target.st_ino != current.st_ino) &&
	    setns(fd, nstype) < 0)
		fail("setns %s", path);
	close(fd);
}

static int open_tap(const char *name)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fail("open /dev/net/tun");
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		fail("TUNSETIFF %s", name);
	return fd;
}

static void link_up(const char *name)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		fail("socket");
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		fail("SIOCGIFFLAGS %s", name);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		fail("SIOCSIFFLAGS %s", name);
	close(s);
}

static void send_fd(int sock, int fd)
{
	char byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u = {0};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = u.buf,
	    .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		fail("sendmsg");
}

/* Returns -1 (errno 0) when the child closed the socket without sending an fd. */
static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = u.buf,
	    .msg_controllen = sizeof(u.buf),
	};
	ssize_t n;
	do
		n = recvmsg(sock, &msg, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fail("recvmsg");
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (n == 0 || c == NULL || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static void child_main(const char *pid, const char *tapname, int sock)
{
	join_ns(pid, "user", CLONE_NEWUSER);
	join_ns(pid, "net", CLONE_NEWNET);
	int fd = open_tap(tapname);
	link_up(tapname);
	send_fd(sock, fd);
	exit(0);
}

/* Fork the namespace child and return the tap fd it sends. */
static int get_tap(const char *pid, const char *tapname)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		fail("socketpair");
	pid_t child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0) {
		close(sv[0]);
		child_main(pid, tapname, sv[1]);
	}
	close(sv[1]);
	int fd = recv_fd(sv[0]);
	close(sv[0]);
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			fail("waitpid");
	if (fd < 0) {
		errno = 0;
		fail("the namespace child sent no tap fd (exit status %d)", status);
	}
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
		        "usage: %s PID TAPNAME COMMAND [ARG]... (" FD_PLACEHOLDER
		        " in ARGs becomes the tap fd)\n",
		        argv[0]);
		return 2;
	}
	int fd = get_tap(argv[1], argv[2]);
	int flags = fcntl(fd, F_GETFD);
	if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
		fail("clear FD_CLOEXEC on fd %d", fd);
	char fdstr[16];
	snprintf(fdstr, sizeof(fdstr), "%d", fd);
	char **cmd = argv + 3;
	for (int i = 0; cmd[i] != NULL; i++)
		if (strcmp(cmd[i], FD_PLACEHOLDER) == 0)
			cmd[i] = fdstr;
	execvp(cmd[0], cmd);
	fprintf(stderr, "tapfd-helper: exec %s: %s\n", cmd[0], strerror(errno));
	return 127;
}
