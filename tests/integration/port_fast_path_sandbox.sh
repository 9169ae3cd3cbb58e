#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# port_fast_path.sh again with --enable-sandbox --enable-seccomp: every fast-path check (big
# transfers, half-close, backpressure, resets, the namespace's loopback out of reach, many
# connections at once with no fd leak, IPv6, the libslirp path for other clients, and
# --port-fast-path=off) with the daemon confined, which must never be killed by SIGSYS.
# shellcheck source=SCRIPTDIR/port_fast_path.sh
. "$(dirname "$0")/port_fast_path.sh"
