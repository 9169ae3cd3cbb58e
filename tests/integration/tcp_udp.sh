#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TCP and UDP from the namespace reach services on the host's loopback through 10.0.2.2.
. "$(dirname "$0")/lib.sh"

start_helper tcp-echo 127.0.0.1 7001
start_helper udp-echo 127.0.0.1 7002
start_ns
start_slirpns -c "$NSPID" tap0

out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.0.2.2 7001 hello-tcp) || fail "TCP failed"
[ "$out" = hello-tcp ] || fail "TCP echo returned '$out'"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" udp-send 10.0.2.2 7002 hello-udp) || fail "UDP failed"
[ "$out" = hello-udp ] || fail "UDP echo returned '$out'"
stop_slirpns
