/*
 * util.c - error reporting and small fd helpers shared by every part of the daemon.
 *
 * Every message slirpns prints to stderr starts with "slirpns: " so that podman and
 * rootlesskit, which capture it, show where it came from. Errors travel up as GError values
 * built by set_error(), which appends strerror() so each carries both context and cause.
 */
#include "config.h"
#include "util.h"
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
