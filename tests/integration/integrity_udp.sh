#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# UDP and ICMP integrity through the tap, with its offloads on (the default) and with
# --no-offload, at namespace MTUs 1500, 9000 and 65520 (six daemons side by side). Every
# datagram carries random bytes and must come back byte for byte (a lost one is resent up to
# 5 times; a wrong one fails at once):
#  - UDP namespace -> host (an echo server on the host's 127.0.0.1 via 10.0.2.2) and host ->
#    namespace (from 192.0.2.1, a dummy address of the private host namespace, through a -p
#    UDP forward to an echo server on 10.0.2.100), datagrams of 1..64 bytes and of sizes
#    around every MTU boundary up to 65507 bytes, so that large ones are IP fragments on the
#    way in (the namespace fragments them) and, at the smaller MTUs, on the way out; the
#    forwarded datagrams must have crossed tap0 (the namespace's counters);
#  - UDP over IPv6 (namespace -> host ::1 via fd00::2) up to the largest unfragmented size:
#    libslirp does not reassemble IPv6 fragments (slirp4netns has the same limit);
#  - ICMP echo of 10.0.2.2 (raw socket, payload checked) with 0..64 bytes and large payloads
#    (1473, 8000, 65000: fragmented), and busybox ping -s 8000 / ping -6 fd00::2 as real tools.
# TCP: integrity_tcp.sh; a namespace that routes on: integrity_routed.sh; the tap's offload
# state: offload_state.sh.
. "$(dirname "$0")/lib.sh"

MTUS=(1500 9000 65520)
MODES=(offload no-offload)
SIZES4="1-64,100,255-257,512,1000,1024,1400-1500,1972-1973,2000,2048,2952-2953,4000,4096,7999-8000,8192,8952,8972-8973,9001,16000,32000,65000,65507"
PING_SIZES="0-64,1000,1472-1473,4000,8000,8972-8973,65000"
STEP_TIMEOUT=120

IPV6=1
[ -e /proc/sys/net/ipv6 ] || { IPV6=0; note "the kernel has no IPv6: IPv6 checks skipped"; }
BUSYBOX=1
command -v busybox >/dev/null || { BUSYBOX=0; note "busybox is not installed: busybox ping skipped"; }

add_dummy_if dummy0
ip addr add 192.0.2.1/24 dev dummy0

start_helper udp-echo 127.0.0.1 7002
[ "$IPV6" = 1 ] && start_helper udp-echo ::1 7002

i=0
for mtu in "${MTUS[@]}"; do
	for mode in "${MODES[@]}"; do
		name=${mode//-/_}_$mtu
		args=(-c -m "$mtu" -p "192.0.2.1:$((18200 + i)):81/udp")
		[ "$mode" = no-offload ] && args+=(--no-offload)
		[ "$IPV6" = 1 ] && args+=(-6)
		start_ns
		start_slirpns "${args[@]}" "$NSPID" tap0
		[ "$IPV6" = 1 ] && { in_ns ip -6 addr add fd00::100/64 dev tap0 nodad ||
			fail "$name: cannot add fd00::100 in the namespace"; }
		start_ns_helper udp-echo 10.0.2.100 81
		save_case "$name"
		i=$((i + 1))
	done
done

# shellcheck disable=SC2317 # called through check()
in_ns_py() { in_ns timeout "$STEP_TIMEOUT" "$PY" "$TESTS_DIR/helper.py" "$@"; }
# shellcheck disable=SC2317
host_py() { timeout "$STEP_TIMEOUT" "$PY" "$TESTS_DIR/helper.py" "$@"; }

# Bytes tap0 has received and sent, as the namespace counts them ("RX TX").
# shellcheck disable=SC2016 # an awk program
tap_bytes() { in_ns awk '$1 == "tap0:" { print $2, $10 }' /proc/net/dev; }

# check NAME COMMAND...: COMMAND must succeed; its last line is the note, and LAST.
check() {
	local what=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" = 0 ] || fail "$what: exit $rc$([ "$rc" = 124 ] && echo " (stalled)"): $out"
	LAST=$(tail -n1 <<<"$out")
	note "$what: $LAST"
}

i=0
for mtu in "${MTUS[@]}"; do
	for mode in "${MODES[@]}"; do
		name=${mode//-/_}_$mtu
		use_case "$name"
		kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "$name: the daemon died"

		check "$name: UDP namespace -> host" \
			in_ns_py udp-check 10.0.2.2 7002 --sizes "$SIZES4" --seed "$i"
		read -r rx0 _ <<<"$(tap_bytes)"
		check "$name: UDP host -> namespace (forward)" \
			host_py udp-check 192.0.2.1 $((18200 + i)) --bind 192.0.2.1 --sizes "$SIZES4" \
			--seed "$i"
		# The datagrams crossed the tap (no shortcut around it left the offloads untested).
		read -r rx1 _ <<<"$(tap_bytes)"
		total=$(sed -n 's/.*(\([0-9]*\) bytes).*/\1/p' <<<"$LAST")
		if [ -z "$total" ] || [ $((rx1 - rx0)) -lt "$total" ]; then
			fail "$name: only $((rx1 - rx0)) bytes crossed tap0 for '$LAST'"
		fi
		if [ "$IPV6" = 1 ]; then
			check "$name: UDP namespace -> host ::1 (IPv6)" \
				in_ns_py udp-check fd00::2 7002 --sizes "1-64,1000,1232,$((mtu - 49))-$((mtu - 48))" \
				--seed "$i"
		fi
		check "$name: ICMP echo of 10.0.2.2" in_ns_py ping-check 10.0.2.2 --sizes "$PING_SIZES" \
			--seed "$i"
		if [ "$BUSYBOX" = 1 ]; then
			for size in 56 8000; do
				out=$(in_ns busybox ping -c 1 -W 5 -s "$size" 10.0.2.2 2>&1) ||
					fail "$name: busybox ping -s $size 10.0.2.2 failed: $out"
				grep -q "1 packets received" <<<"$out" ||
					fail "$name: busybox ping -s $size 10.0.2.2: $out"
			done
			if [ "$IPV6" = 1 ]; then
				out=$(in_ns busybox ping -6 -c 1 -W 5 -s "$((mtu - 48 - 8))" fd00::2 2>&1) ||
					fail "$name: busybox ping -6 -s $((mtu - 56)) fd00::2 failed: $out"
				grep -q "1 packets received" <<<"$out" ||
					fail "$name: busybox ping -6 fd00::2: $out"
			fi
			note "$name: busybox ping -s 56/8000 10.0.2.2$([ "$IPV6" = 1 ] && echo " and -6 -s $((mtu - 56)) fd00::2") ok"
		fi

		kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "$name: the daemon died"
		stop_slirpns
		i=$((i + 1))
	done
done
exit 0
