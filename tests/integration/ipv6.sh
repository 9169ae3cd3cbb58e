#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# -6 -c: the namespace gets an IPv6 address in fd00::/64 (SLAAC from libslirp's router
# advertisements) and a default route, and reaches a TCP server on the host's ::1 at fd00::2.
# This must also hold when the namespace forwards IPv6 (as a container runtime's network
# namespace does), where the kernel ignores router advertisements unless accept_ra=2. Without
# -6 no global IPv6 address appears.
. "$(dirname "$0")/lib.sh"

[ -e /proc/sys/net/ipv6 ] || skip "the kernel has no IPv6"
start_helper tcp-echo ::1 7001

# SLAAC takes a few seconds (duplicate address detection, router solicitation delay), so the
# three cases run side by side: launch CASE [SLIRPNS-OPTION]... starts a namespace and a daemon.
launch() {
	local name=$1
	shift
	start_ns
	if [ "$name" = forwarding ]; then
		in_ns sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/forwarding' ||
			fail "cannot enable IPv6 forwarding in the namespace"
	fi
	start_slirpns -c "$@" "$NSPID" tap0
	save_case "$name"
}

has_ipv6_config() {
	in_ns ip -6 -o addr show dev tap0 scope global | grep -v tentative |
		grep -Eq "inet6 fd00::[0-9a-f:]+/64" &&
		in_ns ip -6 route show default | grep -q "default via fe80::2 dev tap0"
}

check_ipv6() {
	use_case "$1"
	retry has_ipv6_config || fail "$1: no global fd00::/64 address and default route: $(
		in_ns ip -6 addr show dev tap0
		in_ns ip -6 route
	)"
	note "$1: $(in_ns ip -6 -o addr show dev tap0 scope global | awk '{print $4}')"
	local out
	out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send fd00::2 7001 "hello-$1" 2>&1) ||
		fail "$1: TCP to [fd00::2]:7001 failed: $out"
	[ "$out" = "hello-$1" ] || fail "$1: TCP echo returned '$out'"
	stop_slirpns
}

launch plain
launch default -6
launch forwarding -6
check_ipv6 default
check_ipv6 forwarding
use_case plain # by now it has had as long as the others to autoconfigure
in_ns ip -6 -o addr show dev tap0 scope global | grep -q inet6 &&
	fail "a global IPv6 address appeared without -6"
stop_slirpns
