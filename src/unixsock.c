// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * unixsock.c - a listening Unix socket at a file system path, for the API and BESS sockets.
 *
 * The socket file is created with mode 0600 (umask around bind()). A stale socket file at the
 * path is removed first, as after a crash; anything else there is refused rather than
 * deleted. The directory is kept open with O_PATH, so that at exit the file is removed with
 * unlinkat() even when the sandbox has since hidden the host's file system. A path longer
 * than sun_path holds is an error naming the limit.
 */
#include "config.h"
#include "unixsock.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Remove a stale socket file; refuse to remove anything that is not a socket. */
static bool remove_stale(const struct unix_listener *u, const char *what, const char *path,
                         GError **err)
{
	struct stat st;
	if (fstatat(u->dirfd, u->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? true : set_error(err, errno, "%s %s", what, path);
	if (!S_ISSOCK(st.st_mode))
		return set_error(err, 0, "%s %s: exists and is not a socket", what, path);
	if (unlinkat(u->dirfd, u->name, 0) < 0)
		return set_error(err, errno, "%s %s: remove stale socket", what, path);
	return true;
}

bool unix_listener_open(struct unix_listener *u, const char *what, const char *path, int type,
                        int backlog, GError **err)
{
	u->fd = u->dirfd = -1;
	u->name = NULL;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path))
		return set_error(err, 0, "%s %s: path too long (at most %zu bytes)", what, path,
		                 sizeof(sun.sun_path) - 1);
	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	g_autofree char *dir = g_path_get_dirname(path);
	u->name = g_path_get_basename(path);
	u->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (u->dirfd < 0)
		return set_error(err, errno, "%s %s: open directory %s", what, path, dir);
	if (!remove_stale(u, what, path, err))
		return false;
	u->fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0)
		return set_error(err, errno, "%s: socket", what);
	mode_t old = umask(0177);
	int rc = bind(u->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0) {
		close(u->fd);
		u->fd = -1; /* the file is not ours: leave it */
		return set_error(err, errno, "%s %s: bind", what, path);
	}
	if (listen(u->fd, backlog) < 0)
		return set_error(err, errno, "%s %s: listen", what, path);
	return true;
}

void unix_listener_close(struct unix_listener *u)
{
	if (u->fd >= 0) {
		close(u->fd);
		unlinkat(u->dirfd, u->name, 0);
	}
	if (u->dirfd >= 0)
		close(u->dirfd);
	g_free(u->name);
	u->fd = u->dirfd = -1;
	u->name = NULL;
}
