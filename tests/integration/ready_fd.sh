#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# -r/--ready-fd: "1" is written only once the daemon is ready: the tap is configured (its address
# is present) and the -a API socket exists. A daemon that fails before that (a namespace that
# does not exist) writes nothing and exits 1.
. "$(dirname "$0")/lib.sh"

start_ns
# The ready fd is a FIFO: the moment the daemon writes "1" and closes it, cat returns and we
# look at the state, so anything set up after the ready signal would be caught missing.
mkfifo -m 666 "$T/ready.fifo"
"${AS_USER[@]}" bash -c 'exec "$0" "$@" 9>"'"$T"'/ready.fifo"' "$SLIRPNS_BIN" -r 9 -c \
	-a "$T/api.sock" "$NSPID" tap0 >"$T/slirpns.log" 2>&1 &
SLIRPNS_PID=$!
ready=$(timeout 10 cat "$T/ready.fifo") || fail "no ready signal within 10 s"
addr=$(in_ns ip -o -4 addr show tap0)
api_exists=0
[ -S "$T/api.sock" ] && api_exists=1
kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "slirpns is not running after signalling ready"
[ "$ready" = 1 ] || fail "ready fd said '$ready', expected 1"
echo "$addr" | grep -q "inet 10.0.2.100/24" || fail "ready before tap0 was configured: '$addr'"
[ "$api_exists" = 1 ] || fail "ready before the API socket $T/api.sock existed"
stop_slirpns

# Failures before readiness: nothing on the ready fd, exit 1. The ready fd is a regular file
# here, so anything written stays visible.
expect_not_ready() {
	local what=$1 rc=0
	shift
	: >"$T/ready.file"
	chmod 666 "$T/ready.file"
	"${AS_USER[@]}" bash -c 'exec "$0" "$@" 9>>"'"$T"'/ready.file"' "$SLIRPNS_BIN" -r 9 "$@" \
		>"$T/err" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "$what: exit $rc, expected 1 ($(cat "$T/err"))"
	[ -s "$T/ready.file" ] && fail "$what: ready fd got '$(cat "$T/ready.file")'"
	note "$what: $(head -n1 "$T/err")"
}
expect_not_ready "PID without a namespace" -c 999999 tap0
expect_not_ready "missing netns path" -c --netns-type=path "$T/no-such-netns" tap0
expect_not_ready "unusable API socket path" -c -a "$T/no-such-dir/api.sock" "$NSPID" tap1
