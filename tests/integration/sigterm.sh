#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SIGTERM and SIGINT each make the daemon exit 0 promptly, and it removes its -a API socket.
. "$(dirname "$0")/lib.sh"

for sig in TERM INT; do
	start_ns
	start_slirpns -c -a "$T/api.$sig.sock" "$NSPID" tap0
	[ -S "$T/api.$sig.sock" ] || fail "SIG$sig: no API socket at $T/api.$sig.sock while running"
	kill -"$sig" "$SLIRPNS_PID"
	wait_exit "$SLIRPNS_PID" 2 || fail "SIG$sig: slirpns still runs 2 s later"
	[ "$EXIT_RC" = 0 ] || fail "SIG$sig: exit code $EXIT_RC, expected 0"
	[ -e "$T/api.$sig.sock" ] && fail "SIG$sig: API socket $T/api.$sig.sock left behind"
	in_ns ip link show tap0 >/dev/null 2>&1 && fail "SIG$sig: tap0 outlived the daemon"
	note "SIG$sig: exit 0 after ${EXIT_MS} ms"
	kill "$NSPID"
done
