// SPDX-License-Identifier: GPL-2.0-or-later
/* version.h - what --version reports (see version.c). */
#pragma once

/* The whole --version text: name, commit, libslirp, SLIRP_CONFIG_VERSION_MAX, libseccomp. */
char *version_text(void);
