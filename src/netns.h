// SPDX-License-Identifier: GPL-2.0-or-later
/* netns.h - obtain the tap fd from the target namespace (see netns.c). */
#pragma once

#include "options.h"

#include <glib.h>

/*
 * Return a non-blocking tap fd for the target described by opt (configured when
 * opt->configure), or -1 with *err set. The calling process stays in its own namespaces.
 */
int netns_open_tap(const struct options *opt, GError **err);

/*
 * In pid mode, a pidfd for the target process: it polls readable (POLLIN) once the process has
 * exited, after which nothing but our own tap fd keeps the namespace alive, so the daemon should
 * exit. -1 in the other modes, when the process does not exist, or when the kernel has no
 * pidfd_open(). Open it before netns_open_tap() so a recycled PID cannot be mistaken for it.
 */
int netns_target_pidfd(const struct options *opt);

/*
 * Join the target's user namespace (unless already in it) and network namespace, in the
 * calling process. Only for short-lived or dedicated children: the caller leaves the host's
 * namespaces for good.
 */
bool netns_enter(const struct options *opt, GError **err);
