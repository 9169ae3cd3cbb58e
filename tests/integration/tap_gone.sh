#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# When the tap goes away, the daemon notices and exits (with a failure code) within about a
# second, saying why on stderr, instead of idling or spinning on a dead tap fd. Two ways:
#   deleted: the tap is deleted inside the namespace (the tap fd then reports an error);
#   killed:  the namespace's process is killed. The daemon's own tap fd keeps the namespace
#            alive, so the tap fd reports nothing: the daemon must watch the target process.
# While idle, the daemon uses no noticeable CPU.
. "$(dirname "$0")/lib.sh"

# CPU time (user + system, in clock ticks) that process $1 has used so far (0 once it is gone).
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	stat=${stat##*) }
	awk '{ print $12 + $13 }' <<<"$stat"
}
TICKS=$(getconf CLK_TCK)

# expect_exit CASE: the daemon exits non-zero within 1.5 s with a message on stderr.
expect_exit() {
	local before
	before=$(cpu_ticks "$SLIRPNS_PID")
	wait_exit "$SLIRPNS_PID" 1.5 ||
		fail "$1: slirpns still runs 1.5 s later (CPU meanwhile: $(($(cpu_ticks "$SLIRPNS_PID") - before))/$TICKS s)"
	note "$1: exit $EXIT_RC after ${EXIT_MS} ms: $(sed -n '/^slirpns:/p' "$T/slirpns.log" | tail -n1)"
	[ "$EXIT_RC" != 0 ] || fail "$1: slirpns exited 0 although its tap went away"
	grep -q "^slirpns: .*\(tap0\|namespace\|process\)" "$T/slirpns.log" ||
		fail "$1: no message on stderr saying why"
}

start_ns
start_slirpns -c "$NSPID" tap0
before=$(cpu_ticks "$SLIRPNS_PID")
sleep 1
idle=$(($(cpu_ticks "$SLIRPNS_PID") - before))
[ "$idle" -le $((TICKS / 10)) ] || fail "idle daemon used $idle/$TICKS s of CPU in 1 s"
in_ns ip link del tap0 || fail "cannot delete tap0 in the namespace"
expect_exit deleted
kill "$NSPID"

# valgrind 3.19 does not know pidfd_open(): under it the daemon cannot watch its target.
if [ "${UNDER_VALGRIND:-0}" = 1 ]; then
	note "killed: not tested under valgrind (no pidfd_open)"
	exit 0
fi
start_ns
start_slirpns -c "$NSPID" tap0
kill -KILL "$NSPID"
wait "$NSPID" 2>/dev/null || true
expect_exit killed
