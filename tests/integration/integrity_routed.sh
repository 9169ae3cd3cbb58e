#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Integrity when the namespace routes the traffic on (as rootlesskit's namespace does for the
# containers behind it): an inner namespace hangs off the container namespace by a veth pair
# with a smaller MTU (1280), the container namespace forwards (and answers ARP for the inner
# address on tap0, so libslirp can reach it). With the tap's offloads on and with
# --no-offload, at tap MTUs 1500, 9000 and 65520, a client in the inner namespace
#  - downloads 8 MiB from a server on the host's 127.0.0.1 (via 10.0.2.2): the large
#    segments libslirp sends (GSO frames with offloads, or whole 64 KiB packets at MTU 65520)
#    must be cut down for the veth by the forwarding namespace, not lost;
#  - uploads 8 MiB, and echoes UDP datagrams of up to 8000 bytes (fragmented by the inner
#    namespace at 1280, reassembled by libslirp);
# SHA-256 and byte-for-byte checks as in integrity_tcp.sh / integrity_udp.sh.
. "$(dirname "$0")/lib.sh"

MTUS=(1500 9000 65520)
MODES=(offload no-offload)
INNER_MTU=1280
SIZE=$((8 * 1024 * 1024))
STEP_TIMEOUT=120

head -c "$SIZE" /dev/urandom >"$T/data"
chmod 644 "$T/data"
SHA=$(sha256sum <"$T/data" | cut -d' ' -f1)

start_helper hash-sink 127.0.0.1 7001
start_helper udp-echo 127.0.0.1 7002
start_helper hash-source 127.0.0.1 7004 "$T/data"

in_inner() { as_user nsenter -t "$INNER" -U --preserve-credentials -n -- "$@"; }
in_inner_py() { in_inner timeout "$STEP_TIMEOUT" "$PY" "$TESTS_DIR/helper.py" "$@"; }

# Start an inner network namespace (owned by the container's user namespace) behind a veth
# pair; sets INNER.
start_inner() {
	local ns_net
	ns_net=$(readlink "/proc/$NSPID/ns/net")
	INNER=$(in_ns sh -c 'unshare --net sleep infinity </dev/null >/dev/null 2>&1 & echo $!')
	for _ in $(seq 100); do
		[ "$(readlink "/proc/$INNER/ns/net" 2>/dev/null)" != "$ns_net" ] && break
		sleep 0.05
	done
	[ "$(readlink "/proc/$INNER/ns/net" 2>/dev/null)" != "$ns_net" ] ||
		fail "$CASE: the inner namespace did not come up"
	in_ns ip link add veth0 mtu "$INNER_MTU" type veth peer name veth1 mtu "$INNER_MTU" \
		netns "$INNER" || fail "$CASE: cannot create the veth pair"
	in_ns ip addr add 10.1.0.1/24 dev veth0
	in_ns ip link set veth0 up
	in_ns sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward &&
		echo 1 >/proc/sys/net/ipv4/conf/tap0/proxy_arp' ||
		fail "$CASE: cannot enable forwarding in the namespace"
	in_inner ip link set lo up
	in_inner ip addr add 10.1.0.2/24 dev veth1
	in_inner ip link set veth1 up
	in_inner ip route add default via 10.1.0.1
}

check_hash() { # WHAT OUTPUT
	[ "$2" = "$SHA $SIZE" ] || fail "$CASE: $1: received '$2', want '$SHA $SIZE'"
}

for mtu in "${MTUS[@]}"; do
	for mode in "${MODES[@]}"; do
		CASE=${mode//-/_}_$mtu
		args=(-c -m "$mtu")
		[ "$mode" = no-offload ] && args+=(--no-offload)
		start_ns
		start_slirpns "${args[@]}" "$NSPID" tap0
		start_inner

		start=${EPOCHREALTIME/./}
		out=$(in_inner_py hash-get 10.0.2.2 7004 2>&1) || fail "$CASE: download failed: $out"
		check_hash "download to the inner namespace" "$out"
		out=$(in_inner_py hash-put 10.0.2.2 7001 "$T/data" 2>&1) || fail "$CASE: upload failed: $out"
		check_hash "upload from the inner namespace" "$out"
		out=$(in_inner_py udp-check 10.0.2.2 7002 --sizes "1-16,1000,1252-1253,1500,4000,8000" 2>&1) ||
			fail "$CASE: UDP from the inner namespace: $out"
		note "$CASE: 8 MiB each way and UDP ($out) intact in $(((${EPOCHREALTIME/./} - start) / 1000)) ms"

		kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "$CASE: the daemon died"
		stop_slirpns
	done
done
exit 0
