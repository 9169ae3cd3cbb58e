// SPDX-License-Identifier: GPL-2.0-or-later
/* sandbox.h - --enable-sandbox: an almost empty file system, no privileges (see sandbox.c). */
#pragma once

#include "options.h"

#include <glib.h>
#include <stdbool.h>

/*
 * Enter the sandbox: a new mount namespace (joining the target's user namespace first when the
 * daemon is not privileged enough to create one itself), a root that holds only what DNS
 * resolution needs (read-only), the old root detached, every capability but
 * CAP_NET_BIND_SERVICE dropped (bounding set too), no ambient capabilities, NO_NEW_PRIVS.
 * Call it once, single-threaded, after every file the daemon needs is open. On failure the
 * process may be half-way (in a new namespace, say): the caller must exit.
 */
bool sandbox_enter(const struct options *opt, GError **err);

/*
 * Give up capabilities, all but keep (none when keep < 0): sandbox_drop_bounding_set() empties
 * the bounding set but for keep (it needs CAP_SETPCAP, so call it first);
 * sandbox_drop_capabilities() leaves keep in permitted and effective if it was permitted, and
 * nothing else there or in inheritable and ambient. The sandbox keeps CAP_NET_BIND_SERVICE,
 * fastpath.c's helper nothing. Raw system calls: no libcap to load at every start.
 */
bool sandbox_drop_bounding_set(int keep, GError **err);
bool sandbox_drop_capabilities(int keep, GError **err);

/*
 * The directories that must stay visible for `path` to keep resolving as it does now and when
 * it is replaced later: each directory in which the walk from "/" to the file follows a
 * symbolic link or finds the last component (or finds nothing), as canonical absolute paths,
 * sorted, without a directory whose ancestor is already listed. "/" itself is never listed;
 * an entry directly in "/" is returned in *root_entries instead (names, e.g. "etc" when /etc is
 * a symlink). Never fails: a loop or a dangling link ends the walk (DNS then fails in the
 * sandbox exactly as it does outside). Exposed for the tests.
 */
GPtrArray *sandbox_lookup_dirs(const char *path, GPtrArray **root_entries);

/*
 * LeakSanitizer (--enable-sanitizers) checks for leaks at exit through /proc, clone() and
 * ptrace(), none of which a confined daemon has: confined sanitizer builds check once, when
 * this is called, instead of at exit. A no-op in other builds; calling it twice is harmless.
 */
void sandbox_leak_check_now(void);
