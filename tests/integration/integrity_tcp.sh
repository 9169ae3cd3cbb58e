#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TCP data integrity through the tap, with its offloads on (the default: TSO and checksum
# offload from the namespace, GSO into it) and with --no-offload, at namespace MTUs 1500, 9000
# and 65520 (six daemons side by side):
#  - 64 MiB of random data namespace -> host (to a server on the host's 127.0.0.1 via
#    10.0.2.2) and host -> namespace (from 192.0.2.1, a dummy address of the private host
#    namespace, through a -p forward to 10.0.2.100), its SHA-256 compared at the far end;
#  - with -6, 16 MiB each way between the namespace and a server on the host's ::1 via
#    fd00::2 (the namespace sends to one server and receives from another);
#  - full duplex: 16 MiB sent to an echo server while it is read back, on one connection
#    (namespace -> host echo server, and host -> namespace echo server through a forward);
#  - tiny frames: 300 one-byte request/response round trips with TCP_NODELAY, then 300
#    one-byte writes in a burst read back whole, namespace -> host and host -> namespace.
# Any difference, short count, reset or stall (> 120 s per step) fails the test, and so does
# a transfer whose bytes did not cross tap0 (the namespace's counters): the loopback port
# forward fast path bypasses the tap, hence the 192.0.2.1 client.
# UDP, fragments and ICMP: integrity_udp.sh; a namespace that routes on: integrity_routed.sh;
# the tap's offload state: offload_state.sh.
. "$(dirname "$0")/lib.sh"

MTUS=(1500 9000 65520)
MODES=(offload no-offload)
BIG=$((64 * 1024 * 1024))
V6=$((16 * 1024 * 1024))
STEP_TIMEOUT=120

IPV6=1
[ -e /proc/sys/net/ipv6 ] || { IPV6=0; note "the kernel has no IPv6: IPv6 transfers skipped"; }

head -c "$BIG" /dev/urandom >"$T/data64"
head -c "$V6" /dev/urandom >"$T/data16"
chmod 644 "$T/data64" "$T/data16"
SHA64=$(sha256sum <"$T/data64" | cut -d' ' -f1)
SHA16=$(sha256sum <"$T/data16" | cut -d' ' -f1)

add_dummy_if dummy0
ip addr add 192.0.2.1/24 dev dummy0

start_helper hash-sink 127.0.0.1 7001
start_helper tcp-echo 127.0.0.1 7003
if [ "$IPV6" = 1 ]; then
	start_helper hash-sink ::1 7001
	start_helper hash-source ::1 7004 "$T/data16"
fi

# One namespace and daemon per case, all up before the transfers start. The namespace gets a
# static IPv6 address (nodad) so that nothing waits for SLAAC.
i=0
for mtu in "${MTUS[@]}"; do
	for mode in "${MODES[@]}"; do
		name=${mode//-/_}_$mtu
		args=(-c -m "$mtu"
			-p "192.0.2.1:$((18000 + i)):80/tcp" -p "192.0.2.1:$((18100 + i)):82/tcp")
		[ "$mode" = no-offload ] && args+=(--no-offload)
		[ "$IPV6" = 1 ] && args+=(-6)
		start_ns
		start_slirpns "${args[@]}" "$NSPID" tap0
		[ "$IPV6" = 1 ] && { in_ns ip -6 addr add fd00::100/64 dev tap0 nodad ||
			fail "$name: cannot add fd00::100 in the namespace"; }
		start_ns_helper hash-sink 10.0.2.100 80
		start_ns_helper tcp-echo 10.0.2.100 82
		save_case "$name"
		i=$((i + 1))
	done
done

# Bytes tap0 has received and sent, as the namespace counts them ("RX TX").
# shellcheck disable=SC2016 # an awk program
tap_bytes() { in_ns awk '$1 == "tap0:" { print $2, $10 }' /proc/net/dev; }

# run_step NAME WANT rx|tx COMMAND...: run COMMAND (it prints "<sha256> <bytes>"), compare with
# WANT (a timeout's exit 124 means the transfer stalled), and check that the data crossed the
# tap: it received (rx) or sent (tx) at least that many bytes meanwhile, so that no shortcut
# around the tap (a port forward fast path) leaves the offloads untested.
run_step() {
	local what=$1 want=$2 dir=$3 out rc=0 start ms rx0 tx0 rx1 tx1 moved
	shift 3
	read -r rx0 tx0 <<<"$(tap_bytes)"
	start=${EPOCHREALTIME/./}
	out=$("$@" 2>&1) || rc=$?
	ms=$(((${EPOCHREALTIME/./} - start) / 1000))
	[ "$rc" = 0 ] || fail "$what: exit $rc after $ms ms ($([ "$rc" = 124 ] && echo "stalled, ")$out)"
	[ "$out" = "$want" ] || fail "$what: received '$out', want '$want'"
	read -r rx1 tx1 <<<"$(tap_bytes)"
	if [ "$dir" = rx ]; then moved=$((rx1 - rx0)); else moved=$((tx1 - tx0)); fi
	[ "$moved" -ge "${want#* }" ] ||
		fail "$what: only $moved bytes crossed tap0 ($dir) for ${want#* } bytes of data"
	note "$what: ok in $ms ms ($((${want#* } * 1000 / (ms + 1) / 1048576)) MiB/s)"
}

# helper.py in the namespace / on the host, killed if it takes longer than STEP_TIMEOUT.
in_ns_py() { in_ns timeout "$STEP_TIMEOUT" "$PY" "$TESTS_DIR/helper.py" "$@"; }
host_py() { timeout "$STEP_TIMEOUT" "$PY" "$TESTS_DIR/helper.py" "$@"; }

i=0
for mtu in "${MTUS[@]}"; do
	for mode in "${MODES[@]}"; do
		name=${mode//-/_}_$mtu
		use_case "$name"
		kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "$name: the daemon died"

		run_step "$name: 64 MiB namespace -> host" "$SHA64 $BIG" tx \
			in_ns_py hash-put 10.0.2.2 7001 "$T/data64"
		run_step "$name: 64 MiB host -> namespace (forward)" "$SHA64 $BIG" rx \
			host_py hash-put 192.0.2.1 $((18000 + i)) "$T/data64" --bind 192.0.2.1
		if [ "$IPV6" = 1 ]; then
			run_step "$name: 16 MiB namespace -> host ::1 (IPv6)" "$SHA16 $V6" tx \
				in_ns_py hash-put fd00::2 7001 "$T/data16"
			run_step "$name: 16 MiB host ::1 -> namespace (IPv6)" "$SHA16 $V6" rx \
				in_ns_py hash-get fd00::2 7004
		fi

		run_step "$name: 16 MiB full duplex to a host echo server" "$SHA16 $V6" tx \
			in_ns_py hash-echo 10.0.2.2 7003 "$T/data16"
		run_step "$name: 16 MiB full duplex to a namespace echo server (forward)" "$SHA16 $V6" rx \
			host_py hash-echo 192.0.2.1 $((18100 + i)) "$T/data16" --bind 192.0.2.1

		out=$(in_ns_py tcp-tiny 10.0.2.2 7003 --count 300 --seed "$i" 2>&1) ||
			fail "$name: tiny frames namespace -> host: $out"
		out=$(host_py tcp-tiny 192.0.2.1 $((18100 + i)) --bind 192.0.2.1 --count 300 --seed "$i" 2>&1) ||
			fail "$name: tiny frames host -> namespace (forward): $out"
		note "$name: tiny frames both ways: $out"

		kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "$name: the daemon died"
		stop_slirpns
		i=$((i + 1))
	done
done
exit 0
