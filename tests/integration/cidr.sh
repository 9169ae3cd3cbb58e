#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --cidr=10.8.0.0/24 -c: the namespace gets 10.8.0.100/24 and a default route via 10.8.0.2, the
# host's loopback is reached through 10.8.0.2 and DNS is served at 10.8.0.3. A bad --cidr is
# refused: exit 1 and a message naming the option.
. "$(dirname "$0")/lib.sh"

start_helper tcp-echo 127.0.0.1 7001
start_helper dns 127.0.0.1 53 --record example.test=192.0.2.7
use_resolv_conf "nameserver 127.0.0.1"
start_ns
start_slirpns -c --cidr=10.8.0.0/24 "$NSPID" tap0

grep -q "Gateway: *10.8.0.2" "$T/slirpns.log" || fail "summary does not show gateway 10.8.0.2"
in_ns ip -o -4 addr show tap0 | grep -q "inet 10.8.0.100/24" || fail "no 10.8.0.100/24 on tap0"
in_ns ip route show default | grep -q "default via 10.8.0.2 dev tap0" || fail "no route via 10.8.0.2"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.8.0.2 7001 hello 2>&1) ||
	fail "TCP to 10.8.0.2 failed: $out"
[ "$out" = hello ] || fail "TCP echo via 10.8.0.2 returned '$out'"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" resolve 10.8.0.3 example.test 2>&1) ||
	fail "DNS at 10.8.0.3 failed: $out"
[ "$out" = 192.0.2.7 ] || fail "DNS at 10.8.0.3 answered '$out'"
# The default network's addresses mean nothing here.
in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.0.2.2 7001 hello --timeout 2 >/dev/null 2>&1 &&
	fail "10.0.2.2 still reaches the host with --cidr=10.8.0.0/24"
stop_slirpns

# Bad values: exit 1 before doing anything, with a message about --cidr.
for bad in 10.8.0.1/24 10.8.0.0/26 10.8.0.0 300.1.1.0/24 10.8.0.0/x; do
	rc=0
	as_user "$SLIRPNS_BIN" -c --cidr="$bad" "$NSPID" tap0 >"$T/bad.out" 2>"$T/bad.err" || rc=$?
	[ "$rc" = 1 ] || fail "--cidr=$bad: exit code $rc, expected 1"
	grep -q -- "--cidr" "$T/bad.err" || fail "--cidr=$bad: unclear message: $(cat "$T/bad.err")"
	note "--cidr=$bad: $(head -n1 "$T/bad.err")"
done
in_ns ip -o link show tap0 >/dev/null 2>&1 && fail "a tap0 exists after the refused runs"
true
