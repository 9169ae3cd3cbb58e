#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The tap's offloads as the namespace sees them, and as the daemon sees its traffic:
#  - by default `ip -d link show tap0` says vnet_hdr on, and `ethtool -k tap0` shows what
#    TUNSETOFFLOAD enabled (TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6): tx-checksumming,
#    tx-checksum-ip-generic, tcp-segmentation-offload, tx-tcp-segmentation and
#    tx-tcp6-segmentation on; ECN and UDP segmentation, never asked for, off;
#  - with --no-offload: vnet_hdr off, and checksumming and TCP segmentation off;
#  - the daemon's counters (get_info): with offloads at MTU 1500 a 16 MiB upload reaches the
#    daemon in frames larger than the MTU on average (TSO) and a download leaves it in such
#    frames (GSO); with --no-offload no frame is larger than 1514 bytes either way;
#  - the namespace may change its offloads: with tso off (software GSO: frames fit the MTU
#    again), then with tx checksumming off (full checksums from the namespace, so the SYN MSS
#    is raised with an incremental checksum update: downloads still come in large frames),
#    then with both back on, 16 MiB go each way intact (SHA-256) on new connections.
# (ethtool: Debian package ethtool; without it those checks are skipped with a message.)
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || skip "socat is not installed"
command -v jq >/dev/null || skip "jq is not installed"
ETHTOOL=1
command -v ethtool >/dev/null || { ETHTOOL=0; note "ethtool is not installed: ethtool -k checks skipped"; }

SIZE=$((16 * 1024 * 1024))
head -c "$SIZE" /dev/urandom >"$T/data"
chmod 644 "$T/data"
SHA=$(sha256sum <"$T/data" | cut -d' ' -f1)

add_dummy_if dummy0
ip addr add 192.0.2.1/24 dev dummy0
start_helper hash-sink 127.0.0.1 7001

# feature NAME: the state ("on"/"off") ethtool -k gives for NAME, without "[fixed]" etc.
feature() {
	in_ns ethtool -k tap0 | awk -v f="$1:" '$1 == f { print $2; found = 1 } END { exit !found }'
}

expect_features() { # WANT NAME...
	local want=$1 name got
	shift
	for name in "$@"; do
		got=$(feature "$name") || fail "$CASE: ethtool -k tap0 shows no $name: $(in_ns ethtool -k tap0)"
		[ "$got" = "$want" ] || fail "$CASE: $name is $got, want $want: $(in_ns ethtool -k tap0)"
	done
}

expect_vnet_hdr() {
	local link
	link=$(in_ns ip -d link show tap0)
	grep -q "tun type tap pi off vnet_hdr $1" <<<"$link" ||
		fail "$CASE: ip -d link show tap0 does not say 'tun type tap pi off vnet_hdr $1': $link"
}

counters() {
	api_call '{"execute":"get_info"}' |
		jq -r '.return.counters | "\(.frames_in) \(.bytes_in) \(.frames_out) \(.bytes_out)"'
}

# transfer WHAT up|down: 16 MiB namespace -> host (up) or host -> namespace through the forward
# (down), hash compared; sets AVG to the average size of the daemon's frames in the direction of
# the data (bytes per frame from the namespace for up, to it for down).
transfer() {
	local what=$1 dir=$2 out before after f0 b0 f1 b1
	before=$(counters)
	if [ "$dir" = up ]; then
		out=$(in_ns timeout 120 "$PY" "$TESTS_DIR/helper.py" hash-put 10.0.2.2 7001 "$T/data" 2>&1) ||
			fail "$CASE: $what: upload failed: $out"
	else
		out=$(timeout 120 "$PY" "$TESTS_DIR/helper.py" hash-put 192.0.2.1 18300 "$T/data" \
			--bind 192.0.2.1 2>&1) || fail "$CASE: $what: download failed: $out"
	fi
	[ "$out" = "$SHA $SIZE" ] || fail "$CASE: $what: received '$out', want '$SHA $SIZE'"
	after=$(counters)
	if [ "$dir" = up ]; then
		read -r f0 b0 _ _ <<<"$before"
		read -r f1 b1 _ _ <<<"$after"
	else
		read -r _ _ f0 b0 <<<"$before"
		read -r _ _ f1 b1 <<<"$after"
	fi
	[ "$f1" -gt "$f0" ] || fail "$CASE: $what: the daemon counted no frames ($before -> $after)"
	AVG=$(((b1 - b0) / (f1 - f0)))
	note "$CASE: $what: intact, $((f1 - f0)) frames of $AVG bytes on average"
}

launch() { # CASE [OPTION]...
	CASE=$1
	shift
	API_SOCK="$T/api.$CASE.sock"
	start_ns
	start_slirpns -c -m 1500 -a "$API_SOCK" -p 192.0.2.1:18300:80/tcp "$@" "$NSPID" tap0
	start_ns_helper hash-sink 10.0.2.100 80
}

# --- offloads on (the default) --------------------------------------------------------------
launch offload
expect_vnet_hdr on
if [ "$ETHTOOL" = 1 ]; then
	expect_features on tx-checksumming tx-checksum-ip-generic tcp-segmentation-offload \
		tx-tcp-segmentation tx-tcp6-segmentation
	expect_features off tx-tcp-ecn-segmentation
	feature tx-udp-segmentation >/dev/null && expect_features off tx-udp-segmentation
	note "offload: ethtool -k tap0 shows checksumming and TSO (IPv4, IPv6) on"
fi
transfer "upload" up
[ "$AVG" -gt 1514 ] || fail "offload: upload frames average $AVG bytes: no TSO from the namespace"
transfer "download" down
[ "$AVG" -gt 1514 ] || fail "offload: download frames average $AVG bytes: no GSO to the namespace"

if [ "$ETHTOOL" = 1 ]; then
	in_ns ethtool -K tap0 tso off >/dev/null || fail "ethtool -K tap0 tso off failed in the namespace"
	expect_features off tx-tcp-segmentation tx-tcp6-segmentation
	expect_features on tx-checksumming
	transfer "tso off: upload" up
	[ "$AVG" -le 1514 ] || fail "tso off: upload frames average $AVG bytes, more than the MTU"
	transfer "tso off: download" down
	[ "$AVG" -gt 1514 ] || fail "tso off: download frames average $AVG bytes: no GSO to the namespace"

	in_ns ethtool -K tap0 tx off >/dev/null || fail "ethtool -K tap0 tx off failed in the namespace"
	expect_features off tx-checksumming tx-tcp-segmentation
	transfer "tx checksumming off: upload" up
	transfer "tx checksumming off: download" down
	# Large segments from libslirp mean the SYN-ACK's MSS was raised (incremental checksum).
	[ "$AVG" -gt 1514 ] ||
		fail "tx checksumming off: download frames average $AVG bytes: SYN MSS not raised?"

	in_ns ethtool -K tap0 tx on tso on >/dev/null || fail "ethtool -K tap0 tx on tso on failed in the namespace"
	expect_features on tx-checksumming tx-tcp-segmentation tx-tcp6-segmentation
	transfer "back on: upload" up
	[ "$AVG" -gt 1514 ] || fail "back on: upload frames average $AVG bytes: no TSO"
	transfer "back on: download" down
fi
stop_slirpns

# --- --no-offload ---------------------------------------------------------------------------
launch no-offload --no-offload
expect_vnet_hdr off
if [ "$ETHTOOL" = 1 ]; then
	expect_features off tx-checksumming tx-checksum-ip-generic tcp-segmentation-offload \
		tx-tcp-segmentation tx-tcp6-segmentation
	note "no-offload: ethtool -k tap0 shows checksumming and TSO off"
fi
transfer "upload" up
[ "$AVG" -le 1514 ] || fail "no-offload: upload frames average $AVG bytes, more than the MTU"
transfer "download" down
[ "$AVG" -le 1514 ] || fail "no-offload: download frames average $AVG bytes, more than the MTU"
stop_slirpns
exit 0
