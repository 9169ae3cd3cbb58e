/* netns.h - obtain the tap fd from the target namespace (see netns.c). */
#pragma once

#include "options.h"

#include <glib.h>

/*
 * Return a non-blocking tap fd for the target described by opt (configured when
 * opt->configure), or -1 with *err set. The calling process stays in its own namespaces.
 */
int netns_open_tap(const struct options *opt, GError **err);
