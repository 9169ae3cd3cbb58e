/* seccomp.h - --enable-seccomp: the daemon's system call allowlist (see seccomp.c). */
#pragma once

#include <glib.h>
#include <stdbool.h>

/*
 * Load the allowlist into this process (and sets NO_NEW_PRIVS): from then on a system call
 * outside it kills the process with SIGSYS. Call it last, single-threaded, once everything is
 * set up. Errors read "seccomp: ...".
 */
bool seccomp_apply(GError **err);

/* Write the filter as libseccomp's pseudo filter code to fd (for review and debugging). */
bool seccomp_export(int fd, GError **err);
