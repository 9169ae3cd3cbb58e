#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --outbound-addr / --outbound-addr6: the daemon's host-side sockets use the given source
# address, given as an address or as an interface name (the interface's address). A server on a
# dummy interface (add_dummy_if) in the private host namespace logs which source each connection came from;
# without the options the source is the kernel's choice (the control).
. "$(dirname "$0")/lib.sh"

[ -e /proc/sys/net/ipv6 ] || skip "the kernel has no IPv6"
# Test addresses (RFC 5737 / RFC 3849) that exist only in this private network namespace.
add_dummy_if d0
ip addr add 192.0.2.1/24 dev d0
ip addr add 192.0.2.2/24 dev d0
ip addr add 2001:db8::1/64 dev d0 nodad
ip addr add 2001:db8::2/64 dev d0 nodad
# d1 holds one address per family, for the interface-name forms.
add_dummy_if d1
ip addr add 198.51.100.1/24 dev d1
ip addr add 2001:db8:1::1/64 dev d1 nodad

start_helper tcp-echo 192.0.2.1 7001 --log "$T/tcp4.log"
start_helper udp-echo 192.0.2.1 7002 --log "$T/udp4.log"
start_helper tcp-echo 2001:db8::1 7003 --log "$T/tcp6.log"

# Three daemons side by side (their IPv6 waits for SLAAC overlap).
start_ns
start_slirpns -c -6 --outbound-addr=192.0.2.2 --outbound-addr6=2001:db8::2 "$NSPID" tap0
save_case addr
start_ns
start_slirpns -c -6 --outbound-addr=d1 --outbound-addr6=d1 "$NSPID" tap0
save_case iface
start_ns
start_slirpns -c -6 "$NSPID" tap0
save_case control

has_ipv6_route() {
	in_ns ip -6 -o addr show dev tap0 scope global | grep -v tentative | grep -q fd00:: &&
		in_ns ip -6 route show default | grep -q "via fe80::2"
}

# expect CASE PROTO ADDR PORT LOG SOURCE: a connection from CASE's namespace arrives from SOURCE.
expect() {
	local case=$1 proto=$2 addr=$3 port=$4 log=$5 want=$6 out
	: >"$log"
	out=$(in_ns "$PY" "$TESTS_DIR/helper.py" "$proto-send" "$addr" "$port" "hi-$case" 2>&1) ||
		fail "$case: $proto to $addr:$port failed: $out"
	[ "$out" = "hi-$case" ] || fail "$case: $proto echo returned '$out'"
	[ "$(cat "$log")" = "$want" ] ||
		fail "$case: $proto to $addr came from '$(cat "$log")', expected $want"
	note "$case: $proto to $addr came from $want"
}

for case in addr iface control; do
	use_case "$case"
	retry has_ipv6_route || fail "$case: no IPv6 address/route from SLAAC"
done

use_case addr
expect addr tcp 192.0.2.1 7001 "$T/tcp4.log" 192.0.2.2
expect addr udp 192.0.2.1 7002 "$T/udp4.log" 192.0.2.2
expect addr tcp 2001:db8::1 7003 "$T/tcp6.log" 2001:db8::2
stop_slirpns

use_case iface
expect iface tcp 192.0.2.1 7001 "$T/tcp4.log" 198.51.100.1
expect iface udp 192.0.2.1 7002 "$T/udp4.log" 198.51.100.1
expect iface tcp 2001:db8::1 7003 "$T/tcp6.log" 2001:db8:1::1
stop_slirpns

use_case control
expect control tcp 192.0.2.1 7001 "$T/tcp4.log" 192.0.2.1
expect control tcp 2001:db8::1 7003 "$T/tcp6.log" 2001:db8::1
stop_slirpns

# Unusable values are refused with exit 1.
add_dummy_if d2 # an interface without an IPv4 address
for bad in "--outbound-addr=no-such-if0" "--outbound-addr=d2" "-6 --outbound-addr6=no-such-if0" \
	"--outbound-addr6=192.0.2.2"; do
	rc=0
	# shellcheck disable=SC2086 # $bad is one or two options
	as_user "$SLIRPNS_BIN" -c $bad "$NSPID" tap0 >"$T/err" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "$bad: exit $rc, expected 1 ($(cat "$T/err"))"
	grep -q -- "--outbound-addr" "$T/err" || fail "$bad: unclear message: $(cat "$T/err")"
	note "$bad: $(head -n1 "$T/err")"
done
