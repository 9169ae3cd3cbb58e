// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * util.c - error reporting and small fd helpers shared by every part of the daemon.
 *
 * Every message slirpns prints to stderr starts with "slirpns: " so that podman and
 * rootlesskit, which capture it, show where it came from. Errors travel up as GError values
 * built by set_error(), which appends strerror() so each carries both context and cause.
 *
 * --debug sets slirpns_debug; log_debug() (util.h) then prints lines stamped with the UTC
 * wall-clock time to the microsecond. UTC needs no time zone file, which the sandbox hides.
 */
#include "config.h"
#include "util.h"
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

bool slirpns_debug;

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	fprintf(stderr, "slirpns: %s%s\n", prefix, msg);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_debug_print(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm = {0};
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm); /* no strftime(): it may look for a time zone file */
	g_autofree char *prefix = g_strdup_printf(
	    "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ debug: ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	va_list ap;
	va_start(ap, fmt);
	vlog(prefix, fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}

bool set_error(GError **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_autofree char *msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (errnum != 0)
		g_set_error(err, SLIRPNS_ERROR, SLIRPNS_ERROR_RUNTIME, "%s: %s", msg,
		            g_strerror(errnum));
	else
		g_set_error_literal(err, SLIRPNS_ERROR, SLIRPNS_ERROR_RUNTIME, msg);
	return false;
}

bool fd_set_nonblock(int fd, GError **err)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && (flags & O_NONBLOCK))
		return true;
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return set_error(err, errno, "fcntl(%d, O_NONBLOCK)", fd);
	return true;
}

void close_fdp(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

/* One SCM_RIGHTS fd's worth of control buffer, aligned for struct cmsghdr. */
/* Room for more fds than we ever send, so that extras are seen (and closed), not left over. */
#define FD_CMSG_MAX 16
union fd_cmsg {
	char buf[CMSG_SPACE(FD_CMSG_MAX * sizeof(int))];
	struct cmsghdr align;
};

ssize_t unix_send_fd(int sock, const void *data, size_t len, int fd, int flags)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	union fd_cmsg u = {0};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, flags);
}

/*
 * The peer may send more fds than the one we asked for, in one or several SCM_RIGHTS messages:
 * keep the first, close every other (the kernel installed them in our table). What did not fit
 * in the control buffer (MSG_CTRUNC) the kernel has already dropped.
 */
static void keep_first_fd(struct msghdr *msg, int *fd)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = got;
			else
				close(got);
		}
	}
}

/*
 * No fstat() first: getsockopt() fails with ENOTSOCK on anything but a socket, and then
 * fstat() only names the file type. A forwarded connection checks one socket, so this is
 * one system call fewer per connection. A negative domain, type or protocol is not checked.
 */
static bool not_a_socket(int fd, GError **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return set_error(err, errno, "fstat");
	return set_error(err, 0, "not a socket (file type 0%o)", st.st_mode & S_IFMT);
}

bool fd_check_socket(int fd, int domain, int type, int protocol, GError **err)
{
	const struct {
		int opt, want;
		const char *name;
	} checks[] = {
	    {SO_DOMAIN, domain, "domain"},
	    {SO_TYPE, type, "type"},
	    {SO_PROTOCOL, protocol, "protocol"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(checks); i++) {
		if (checks[i].want < 0)
			continue; /* not asked */
		int v = -1;
		socklen_t len = sizeof(v);
		int rc = getsockopt(fd, SOL_SOCKET, checks[i].opt, &v, &len);
		if (rc < 0 && errno == ENOTSOCK)
			return not_a_socket(fd, err);
		if (rc < 0)
			return set_error(err, errno, "getsockopt(%s)", checks[i].name);
		if (v != checks[i].want)
			return set_error(err, 0, "socket %s %d, expected %d", checks[i].name, v,
			                 checks[i].want);
	}
	return true;
}

ssize_t unix_recv_fd(int sock, void *data, size_t len, int *fd, int flags, bool *ctrunc)
{
	struct iovec iov = {.iov_base = data, .iov_len = len};
	union fd_cmsg u;
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = u.buf,
	    .msg_controllen = sizeof(u.buf),
	};
	ssize_t n;
	do
		n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	*fd = -1;
	if (ctrunc != NULL)
		*ctrunc = n >= 0 && (msg.msg_flags & MSG_CTRUNC);
	if (n >= 0)
		keep_first_fd(&msg, fd);
	return n;
}

int unix_recv_fd_batch(int sock, struct fd_msg *out, unsigned max, int flags)
{
	struct mmsghdr mm[FD_BATCH_MAX];
	struct iovec iov[FD_BATCH_MAX];
	union fd_cmsg u[FD_BATCH_MAX];
	max = MIN(max, FD_BATCH_MAX);
	for (unsigned i = 0; i < max; i++) {
		iov[i] = (struct iovec){.iov_base = out[i].data, .iov_len = sizeof(out[i].data)};
		mm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i],
		                                     .msg_iovlen = 1,
		                                     .msg_control = u[i].buf,
		                                     .msg_controllen = sizeof(u[i].buf)}};
	}
	int n;
	do
		n = recvmmsg(sock, mm, max, flags | MSG_CMSG_CLOEXEC, NULL);
	while (n < 0 && errno == EINTR);
	for (int i = 0; i < n; i++) {
		out[i].len = mm[i].msg_len;
		out[i].ctrunc = mm[i].msg_hdr.msg_flags & MSG_CTRUNC;
		out[i].fd = -1;
		keep_first_fd(&mm[i].msg_hdr, &out[i].fd);
	}
	return n;
}

void process_set_undumpable(void)
{
	/* Cannot fail with these arguments; say so if a kernel ever disagrees. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		log_warn("prctl(PR_SET_DUMPABLE, 0): %s", g_strerror(errno));
}

guint hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

socklen_t sockaddr_parse(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return sizeof(*in);
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		return sizeof(*in6);
	}
	return 0;
}
