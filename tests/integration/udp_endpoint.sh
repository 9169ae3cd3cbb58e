#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# slirpns's own UDP endpoint (src/udpout.c): the namespace's datagrams to the host or beyond
# go to a host socket of their flow, without libslirp. Against an echo server on the host's
# 127.0.0.1 (via 10.0.2.2) and ::1 (via fd00::2), udp_peer.py checks:
#  - integrity: datagrams numbered and filled from their number, up to 64 in flight, each
#    echo compared byte for byte: 16 MiB of 1400-byte and 16 MiB of 8000-byte datagrams at
#    MTU 1500 (8000 bytes are IP fragments both ways: reassembled by the daemon on the way out,
#    cut by it on the way in) and 65520, with offloads and with --no-offload; 64 MiB of 1400-byte
#    datagrams once, under --enable-sandbox --enable-seccomp, where runs of them must have
#    gone out as segmented sends (UDP_SEGMENT); mixed sizes (60 to 3000 bytes, so batches
#    that cannot be one segmented send); 8000-byte datagrams with the host's loopback at MTU
#    1500, where the socket refuses UDP_SEGMENT and the flow falls back to sendmmsg;
#    4 MiB over IPv6;
#  - UDP forwards (udpfwd.c): the same transfers from a host client bound to 192.0.2.1 through
#    a forward to an echo server in the namespace, which sees the client's own address; with
#    offloads, runs of datagrams reach the namespace as UDP GSO frames (segmented_frames),
#    without them never;
#  - a port nobody listens on: the namespace's connected socket gets ECONNREFUSED (the daemon
#    turns the host's refusal into an ICMP port unreachable) within 2 s, IPv4 and IPv6;
#  - 1,000 flows opened and left idle with --udp-timeout=3: the daemon's fds rise by about
#    1,000, then fall back to where they were once the flows expire, and get_info's
#    udp_endpoint counts them (total, expired);
#  - --max-udp=100: 300 flows leave at most 100 open and count the rest as evicted;
#  - get_info: udp_endpoint.enabled and datagram counters; list_connections shows the flows
#    (path "fast"); --outbound-fast-path=off leaves every datagram to libslirp (no flow).
# Under a wrapper (valgrind): 2 MiB per transfer.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || skip "jq is not installed"
API_SOCK="$T/api.sock"
MIB=16
BIG=64
[ "$SLIRPNS_SLOW" = 0 ] || { MIB=2; BIG=2; }
peer() { "$PY" "$TESTS_DIR/udp_peer.py" "$@"; }
ns_peer() { in_ns "$PY" "$TESTS_DIR/udp_peer.py" "$@"; }
info() { api_call '{"execute":"get_info"}' | jq -c ".return$1"; }
fds() { find "/proc/$SLIRPNS_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
IPV6=1
[ -e /proc/sys/net/ipv6 ] || IPV6=0

start_server "UDP echo" peer echo 127.0.0.1 7000
[ "$IPV6" = 0 ] || start_server "UDP echo (IPv6)" peer echo ::1 7000

# new_daemon ARGS...: a fresh namespace and daemon (configured, IPv6 fd00::100).
new_daemon() {
	[ -z "${SLIRPNS_PID:-}" ] || stop_slirpns
	start_ns
	start_slirpns -c -6 -a "$API_SOCK" "$@" "$NSPID" tap0
	in_ns ip -6 addr add fd00::100/64 dev tap0 nodad 2>/dev/null || true
}

transfer() { # WHAT SIZE MIB [ADDR]
	local out
	out=$(ns_peer transfer "${4:-10.0.2.2}" 7000 "$2" "$3" 2>&1) || fail "$1: $out"
	note "$1: $3 MiB of $2-byte datagrams: $out"
}

# forward_transfer WHAT SIZE MIB: the same from the host, through a UDP forward on
# 192.0.2.1 (the client bound there) to an echo server in the namespace: udpfwd.c's path. The
# namespace must see the client's own address (list_connections: the flow's dst_addr).
add_dummy_if fwd0
ip addr add 192.0.2.1/24 dev fwd0
FWD_PORT=17000
forward_transfer() {
	local out
	FWD_PORT=$((FWD_PORT + 1))
	in_ns "$PY" "$TESTS_DIR/udp_peer.py" echo 10.0.2.100 7100 >/dev/null 2>&1 &
	retry in_ns sh -c 'grep -q ":1BBC " /proc/net/udp' || fail "$1: no echo in the namespace"
	api_call '{"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"192.0.2.1","host_port":'$FWD_PORT',"guest_port":7100}}' |
		jq -e '.return.id' >/dev/null || fail "$1: add_hostfwd"
	out=$(peer transfer 192.0.2.1 "$FWD_PORT" "$2" "$3" 192.0.2.1 2>&1) || fail "$1 forward: $out"
	note "$1: forward: $3 MiB of $2-byte datagrams: $out"
	api_call '{"execute":"list_connections"}' |
		jq -e '[.return.connections[] | select(.proto == "UDP" and .dst_addr == "192.0.2.1")] | length > 0' >/dev/null ||
		fail "$1: no forward flow from 192.0.2.1: $(api_call '{"execute":"list_connections"}')"
	[ "$(info .udp_endpoint.forward_clients)" -ge 1 ] || fail "$1: forward_clients: $(info .udp_endpoint)"
}

for mtu in 1500 65520; do
	for mode in offload no-offload; do
		args=(--mtu="$mtu")
		[ "$mode" = offload ] || args+=(--no-offload)
		new_daemon "${args[@]}"
		transfer "mtu $mtu $mode" 1400 "$MIB"
		transfer "mtu $mtu $mode" 8000 "$MIB"
		forward_transfer "mtu $mtu $mode" 1400 "$MIB"
		forward_transfer "mtu $mtu $mode" 8000 "$MIB"
		if [ "$mode" = offload ] && [ "$mtu" = 1500 ]; then
			# Runs of 1400-byte datagrams reach the namespace as UDP GSO frames.
			[ "$(info .udp_endpoint.segmented_frames)" -gt 0 ] ||
				fail "no GSO frame to the namespace: $(info .udp_endpoint)"
		fi
		if [ "$mode" = no-offload ]; then
			[ "$(info .udp_endpoint.segmented_frames)" = 0 ] ||
				fail "a GSO frame without offloads: $(info .udp_endpoint)"
		fi
	done
done
in_ns ip link show tap0 | grep -q "mtu 65520" || fail "tap0 MTU"
[ "$(info .udp_endpoint.enabled)" = true ] || fail "udp_endpoint.enabled: $(info .udp_endpoint)"
[ "$(info .udp_endpoint.datagrams_out)" -gt 1000 ] || fail "datagrams_out: $(info .udp_endpoint)"

new_daemon --mtu=65520 --enable-sandbox --enable-seccomp
transfer "sandbox and seccomp" 1400 "$BIG"
# A run of one flow's datagrams in a tap batch goes out as one UDP_SEGMENT send.
[ "$(info .udp_endpoint.segmented_sends)" -gt 0 ] ||
	fail "no segmented send in $BIG MiB: $(info .udp_endpoint)"
transfer "sandbox and seccomp" mixed "$MIB"
forward_transfer "sandbox and seccomp" 1400 "$BIG"
note "sends: $(info .udp_endpoint)"
# A route whose MTU is below a datagram refuses UDP_SEGMENT (EINVAL): the flow falls back to
# sendmmsg, and the kernel fragments each datagram. Here: the host's own loopback at 1500.
ip link set lo mtu 1500
transfer "loopback MTU 1500" 8000 "$MIB"
ip link set lo mtu 65536
[ "$(info .udp_endpoint.segment_refused)" -ge 1 ] ||
	fail "UDP_SEGMENT was never refused at loopback MTU 1500: $(info .udp_endpoint)"
if [ "$IPV6" = 1 ]; then
	transfer "IPv6" 1400 4 fd00::2
fi

# Port unreachable.
out=$(ns_peer refused 10.0.2.2 7999 2>&1) || fail "IPv4 closed port: $out"
note "IPv4 closed port: $out"
if [ "$IPV6" = 1 ]; then
	out=$(ns_peer refused fd00::2 7999 2>&1) || fail "IPv6 closed port: $out"
	note "IPv6 closed port: $out"
fi
[ "$(info .udp_endpoint.port_unreachable)" -ge 1 ] || fail "port_unreachable not counted"
rows=$(api_call '{"execute":"list_connections"}' |
	jq '[.return.connections[] | select(.proto == "UDP" and .path == "fast")] | length')
[ "$rows" -ge 1 ] || fail "list_connections shows no UDP flow of the endpoint"

# Idle flows expire and give their fds back.
new_daemon --udp-timeout=3
sleep 0.5
fd0=$(fds)
out=$(ns_peer flows 10.0.2.2 7000 1000 2>&1) || fail "1,000 flows: $out"
held=$(fds)
note "1,000 idle flows: daemon fds $fd0 before, $held with them open"
[ "$held" -ge $((fd0 + 990)) ] || fail "1,000 flows hold only $((held - fd0)) fds"
for _ in $(seq 100); do
	[ "$(fds)" -le "$fd0" ] && break
	sleep 0.1
done
[ "$(fds)" -le "$fd0" ] || fail "after --udp-timeout=3 the daemon holds $(fds) fds, $fd0 before"
u=$(info .udp_endpoint)
note "after expiry: $u"
[ "$(jq .flows <<<"$u")" = 0 ] && [ "$(jq .total <<<"$u")" -ge 1000 ] &&
	[ "$(jq .expired <<<"$u")" -ge 1000 ] || fail "udp_endpoint after expiry: $u"

# The flow table's cap.
new_daemon --max-udp=100
out=$(ns_peer spray 10.0.2.2 7000 300 2>&1) || fail "300 flows: $out"
u=$(info .udp_endpoint)
note "--max-udp=100, 300 flows: $u"
[ "$(jq .flows <<<"$u")" -le 100 ] && [ "$(jq .evicted <<<"$u")" -ge 200 ] ||
	fail "--max-udp=100: $u"
[ "$(info .limits.refused.udp_evicted)" -ge 200 ] || fail "limits.refused: $(info .limits)"

# Off: libslirp carries it all.
new_daemon --outbound-fast-path=off
transfer "--outbound-fast-path=off" 1400 1
u=$(info .udp_endpoint)
[ "$(jq .enabled <<<"$u")" = false ] && [ "$(jq .total <<<"$u")" = 0 ] ||
	fail "--outbound-fast-path=off: $u"
stop_slirpns
