#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --netns-type=tapfd: the caller opens the tap in the namespace (tapfd-helper) and passes the fd;
# traffic flows through it. The test configures the address and route itself (-c is ignored).
. "$(dirname "$0")/lib.sh"

[ -n "${TAPFD_HELPER:-}" ] ||
	skip "TAPFD_HELPER is not set (make check sets it; or build tests/integration/tapfd-helper and pass its path)"
[ -x "$TAPFD_HELPER" ] || fail "TAPFD_HELPER=$TAPFD_HELPER is not an executable"
# Like the daemon, the helper must be runnable by the unprivileged user.
cp "$TAPFD_HELPER" "$T/tapfd-helper"
chmod 755 "$T/tapfd-helper"

start_helper tcp-echo 127.0.0.1 7001
start_helper udp-echo 127.0.0.1 7002
start_ns

# The helper execs slirpns (same PID), so the harness's ready-fd wait and stop work as usual.
rm -f "$T/ready"
"${AS_USER[@]}" bash -c 'exec "$0" "$@" 9>"'"$T"'/ready"' "$T/tapfd-helper" "$NSPID" tap0 \
	"$SLIRPNS_BIN" -r 9 --netns-type=tapfd @TAPFD@ >"$T/slirpns.log" 2>&1 &
SLIRPNS_PID=$!
wait_ready "$SLIRPNS_PID"

in_ns ip -o link show tap0 | grep -q ",UP" || fail "tap0 is not up"
in_ns ip addr add 10.0.2.100/24 dev tap0 || fail "cannot add the address"
in_ns ip route add default via 10.0.2.2 || fail "cannot add the default route"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.0.2.2 7001 hello-tcp 2>&1) ||
	fail "TCP through the passed tap fd failed: $out"
[ "$out" = hello-tcp ] || fail "TCP echo returned '$out'"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" udp-send 10.0.2.2 7002 hello-udp 2>&1) ||
	fail "UDP through the passed tap fd failed: $out"
[ "$out" = hello-udp ] || fail "UDP echo returned '$out'"
stop_slirpns

# An fd that is not open is refused with exit 1 and a message naming it.
rc=0
as_user "$SLIRPNS_BIN" --netns-type=tapfd 42 >"$T/err" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "closed tap fd: exit $rc, expected 1"
grep -q "42" "$T/err" || fail "closed tap fd: unclear message: $(cat "$T/err")"
note "closed tap fd: $(cat "$T/err")"
