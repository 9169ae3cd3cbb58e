// SPDX-License-Identifier: GPL-2.0-or-later
/* framelog.h - --debug lines derived from frames: TCP setup/teardown, DHCP, DNS (see framelog.c).
 */
#pragma once

#include "options.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Remember the addresses of the built-in DNS server and whether it is disabled. */
void framelog_init(const struct options *opt);
/* Log what one frame says about connections, leases and DNS; to_guest: libslirp sent it. */
void framelog_frame(const uint8_t *frame, size_t len, bool to_guest);
