#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --disable-host-loopback: the gateway 10.0.2.2 no longer leads to the host's 127.0.0.1
# (TCP connections fail, UDP gets no answer, the servers see nothing); without it, it does.
. "$(dirname "$0")/lib.sh"

start_helper tcp-echo 127.0.0.1 7001 --log "$T/tcp.log"
start_helper udp-echo 127.0.0.1 7002 --log "$T/udp.log"
touch "$T/tcp.log" "$T/udp.log"
send() { in_ns "$PY" "$TESTS_DIR/helper.py" "$@"; }

start_ns
start_slirpns -c --disable-host-loopback "$NSPID" tap0
grep -q "WARNING: 127.0.0.1" "$T/slirpns.log" && fail "host loopback warning printed although disabled"
out=$(send tcp-send 10.0.2.2 7001 hello --timeout 3 2>&1) &&
	fail "TCP to 10.0.2.2 worked with --disable-host-loopback: '$out'"
note "TCP with --disable-host-loopback: $(echo "$out" | tail -n1)"
out=$(send udp-send 10.0.2.2 7002 hello --timeout 0.5 --tries 2 2>&1) &&
	fail "UDP to 10.0.2.2 was answered with --disable-host-loopback: '$out'"
[ -s "$T/tcp.log" ] && fail "the TCP server saw a connection: $(cat "$T/tcp.log")"
[ -s "$T/udp.log" ] && fail "the UDP server saw a datagram: $(cat "$T/udp.log")"
stop_slirpns

# The same namespace setup without the option reaches both servers.
start_ns
start_slirpns -c "$NSPID" tap0
grep -q "WARNING: 127.0.0.1" "$T/slirpns.log" || fail "no host loopback warning by default"
out=$(send tcp-send 10.0.2.2 7001 hello 2>&1) || fail "TCP to 10.0.2.2 failed: $out"
[ "$out" = hello ] || fail "TCP echo returned '$out'"
out=$(send udp-send 10.0.2.2 7002 hello 2>&1) || fail "UDP to 10.0.2.2 failed: $out"
[ "$out" = hello ] || fail "UDP echo returned '$out'"
stop_slirpns
