#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --netns-type=path: the target is a namespace file, not a PID. Both /proc/PID/ns/net with
# --userns-path and a bind-mounted copy of the netns file work (configure + traffic).
. "$(dirname "$0")/lib.sh"

start_helper tcp-echo 127.0.0.1 7001
start_ns

check_traffic() {
	in_ns ip -o -4 addr show tap0 | grep -q "inet 10.0.2.100/24" || fail "$1: tap0 not configured"
	in_ns ip route show default | grep -q "via 10.0.2.2" || fail "$1: no default route"
	local out
	out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.0.2.2 7001 "hello-$1" 2>&1) ||
		fail "$1: TCP failed: $out"
	[ "$out" = "hello-$1" ] || fail "$1: TCP echo returned '$out'"
}

start_slirpns -c --netns-type=path --userns-path=/proc/$NSPID/ns/user /proc/$NSPID/ns/net tap0
check_traffic proc
stop_slirpns
in_ns ip link show tap0 >/dev/null 2>&1 && fail "tap0 outlived the daemon"

# A bind mount of the netns file (the way `ip netns add` and podman pin namespaces).
touch "$T/netns"
mount --bind /proc/$NSPID/ns/net "$T/netns" || fail "cannot bind-mount the netns file"
if as_user test -r "$T/netns"; then
	start_slirpns -c --netns-type=path --userns-path=/proc/$NSPID/ns/user "$T/netns" tap0
	check_traffic bind
	stop_slirpns
else
	note "the unprivileged user cannot open the bind-mounted netns file; that case is skipped"
fi

# Without --userns-path an unprivileged daemon has no right to join the network namespace: it
# must say so and exit 1. (In non-root mode the daemon owns the namespace's parent user
# namespace and may join, so this is only checked as root.)
if [ "$RUN_AS_USER" = 1 ]; then
	rc=0
	as_user "$SLIRPNS_BIN" -c --netns-type=path "$T/netns" tap0 >"$T/err" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "joining without --userns-path: exit $rc, expected 1"
	grep -q "network namespace" "$T/err" || fail "unclear error: $(cat "$T/err")"
	note "without --userns-path: $(cat "$T/err")"
fi
umount "$T/netns" # else the harness cannot remove $T
# A path that is not there.
rc=0
as_user "$SLIRPNS_BIN" --netns-type=path "$T/nonexistent" tap0 >"$T/err" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "missing netns path: exit $rc, expected 1"
grep -q "$T/nonexistent" "$T/err" || fail "missing netns path: unclear error: $(cat "$T/err")"
