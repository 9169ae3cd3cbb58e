#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ICMP echo: the gateway 10.0.2.2 answers a ping sent from inside the namespace (the daemon
# relays it with an unprivileged ping socket on the host side).
. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null || skip "busybox is not installed"
start_ns
start_slirpns -c "$NSPID" tap0

out=$(in_ns busybox ping -c 2 -W 3 10.0.2.2 2>&1) || fail "ping 10.0.2.2 failed: $out"
echo "$out" | grep -q "2 packets received" || fail "unexpected ping output: $out"
# A ping nobody answers must fail, or the assertion above proves nothing.
in_ns busybox ping -c 1 -W 1 10.0.2.77 >/dev/null 2>&1 && fail "ping to an unused address succeeded"
stop_slirpns
