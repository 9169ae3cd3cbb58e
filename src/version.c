// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * version.c - the --version text. Scripts parse it line by line (podman and rootlesskit read
 * "SLIRP_CONFIG_VERSION_MAX:"), so the lines and their order follow slirp4netns's.
 */
#include "config.h"
#include "version.h"

#include <glib.h>
#include <seccomp.h>
#include <slirp/libslirp.h>

char *version_text(void)
{
	const struct scmp_version *sv = seccomp_version();
	return g_strdup_printf("slirpns version %s\n"
	                       "commit: %s\n"
	                       "libslirp: %s\n"
	                       "SLIRP_CONFIG_VERSION_MAX: %d\n"
	                       "libseccomp: %u.%u.%u\n",
	                       PACKAGE_VERSION, SLIRPNS_COMMIT, slirp_version_string(),
	                       SLIRP_CONFIG_VERSION_MAX, sv->major, sv->minor, sv->micro);
}
