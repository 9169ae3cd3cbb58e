#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# -e/--exit-fd: data written to the exit fd does not stop the daemon; closing the write end
# (the fd hangs up) makes it exit 0 promptly (within 1 s).
. "$(dirname "$0")/lib.sh"

start_helper tcp-echo 127.0.0.1 7001
start_ns
mkfifo "$T/exit.fifo"
# Our write end is fd 7 (opened read-write so the open does not block); the daemon gets only a
# read end as fd 8, and must not inherit fd 7 or it would keep the FIFO open itself.
exec 7<>"$T/exit.fifo"
start_slirpns -c -e 8 "$NSPID" tap0 8<"$T/exit.fifo" 7>&-

echo "data is not a reason to exit" >&7
sleep 0.5
wait_exit "$SLIRPNS_PID" 0 && fail "slirpns exited (code $EXIT_RC) when data was written to the exit fd"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.0.2.2 7001 still-working 2>&1) ||
	fail "TCP failed after writing to the exit fd: $out"
[ "$out" = still-working ] || fail "TCP echo returned '$out'"

exec 7>&- # the last writer goes away: the daemon's end hangs up
wait_exit "$SLIRPNS_PID" 1 || fail "slirpns still runs 1 s after the exit fd was closed"
[ "$EXIT_RC" = 0 ] || fail "slirpns exited with $EXIT_RC on exit-fd hang-up, expected 0"
note "exited ${EXIT_MS} ms after the exit fd closed"
