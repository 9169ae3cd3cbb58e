#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --target-type=bess: the daemon serves one User-Mode Linux style peer on an AF_UNIX
# SOCK_SEQPACKET socket (one Ethernet frame per message) instead of a namespace's tap.
# bess-peer.py plays the peer:
#   1. slirp4netns's restrictions: -c, --netns-type, --userns-path and anything but exactly
#      one positional argument are refused; a non-socket file at PATH is not replaced.
#   2. The socket is mode 0600 and listed in the startup summary; the daemon is ready (ready
#      fd) before any peer connects, and runs sandboxed with the seccomp filter.
#   3. A peer with its own tiny stack in raw frames: DHCP discover/request (10.0.2.15, router
#      .2, DNS .3), an ARP request for 10.0.2.2, and a TCP connection through 10.0.2.2 to an
#      echo service on the host's loopback.
#   4. After that peer left, a second one takes its place: a bridge to a tap in a namespace,
#      whose kernel is the guest: TCP and a 4 MiB transfer (by hash) to the host, and a -p
#      port forward from the host into it. While it is attached, a third peer is refused
#      (end of file, one warning).
#   5. SIGTERM: exit 0 and the socket file is removed. --debug logged each peer attached and
#      detached and the probe's lease; --pcap captured the probe's frames (with tcpdump).
. "$(dirname "$0")/lib.sh"

PEER="$TESTS_DIR/bess-peer.py"
SOCK="$T/bess.sock"
peer() { as_user "$PY" "$PEER" "$@"; }

# --- 1. usage errors ----------------------------------------------------------------------
refused_args() { # NEEDLE ARGS...: the daemon exits 1 at once with NEEDLE in its message
	local needle=$1 rc=0
	shift
	as_user "$SLIRPNS_BIN" "$@" >"$T/err" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "slirpns $* exited $rc, expected 1"
	grep -qF -- "$needle" "$T/err" || fail "slirpns $*: no '$needle' in: $(cat "$T/err")"
}
refused_args "--configure conflicts with --target-type=bess" --target-type=bess -c "$SOCK"
refused_args "--netns-type conflicts with --target-type=bess" --target-type=bess --netns-type=path "$SOCK"
refused_args "--userns-path conflicts with --target-type=bess" --target-type=bess --userns-path=/x "$SOCK"
refused_args "exactly one argument" --target-type=bess
refused_args "exactly one argument" --target-type=bess "$SOCK" tap0
as_user touch "$T/not-a-socket"
refused_args "exists and is not a socket" --target-type=bess "$T/not-a-socket"
[ -f "$T/not-a-socket" ] || fail "a regular file at the socket path was removed"

# --- 2. start: ready before any peer --------------------------------------------------------
start_helper tcp-echo 127.0.0.1 7001
start_helper hash-sink 127.0.0.1 7002
start_slirpns --target-type=bess --enable-sandbox --enable-seccomp -p 8080:7007 \
	--debug --pcap="$T/bess.pcap" "$SOCK"
[ -S "$SOCK" ] || fail "no socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket mode is $(stat -c %a "$SOCK"), expected 600"
grep -qE "^\* BESS Socket: +$SOCK\$" "$T/slirpns.log" || fail "no BESS line in the summary"

# --- 3. a raw-frame peer: DHCP, ARP, TCP ----------------------------------------------------
out=$(peer probe "$SOCK" 7001 hello-through-bess 2>&1) || fail "probe peer: $out"
note "${out//$'\n'/; }"
grep -qx "ok dhcp 10.0.2.15 router 10.0.2.2 dns 10.0.2.3" <<<"$out" || fail "DHCP: $out"
grep -q "^ok arp 10.0.2.2 is-at " <<<"$out" || fail "ARP: $out"
grep -qx "ok tcp 10.0.2.2:7001 echoed 18 bytes" <<<"$out" || fail "TCP: $out"
grep -qx "ok tcp closed" <<<"$out" || fail "TCP close: $out"

# --- 4. the next peer: a namespace's kernel behind a tap ------------------------------------
start_ns
in_ns "$PY" "$PEER" bridge "$SOCK" tap0 >"$T/bridge.log" 2>&1 &
BRIDGE_PID=$!
retry grep -q ready "$T/bridge.log" || fail "bridge peer did not start: $(cat "$T/bridge.log")"
in_ns ip link set tap0 up
in_ns ip addr add 10.0.2.100/24 dev tap0
in_ns ip route add default via 10.0.2.2

out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.0.2.2 7001 hello-bridge) ||
	fail "TCP through the bridge peer failed"
[ "$out" = hello-bridge ] || fail "TCP echo through the bridge returned '$out'"

head -c $((4 << 20)) /dev/urandom >"$T/data"
chmod 644 "$T/data"
want="$(sha256sum <"$T/data" | cut -d' ' -f1) $((4 << 20))"
got=$(in_ns "$PY" "$TESTS_DIR/helper.py" hash-put 10.0.2.2 7002 "$T/data") ||
	fail "4 MiB upload through the bridge failed"
[ "$got" = "$want" ] || fail "upload through the bridge: sink saw '$got', expected '$want'"

start_ns_helper tcp-echo 10.0.2.100 7007
out=$(helper tcp-send 127.0.0.1 8080 hello-forward) || fail "port forward into the peer failed"
[ "$out" = hello-forward ] || fail "port forward echo returned '$out'"

out=$(peer refused "$SOCK" 2>&1) || fail "third peer: $out"
[ "$out" = refused ] || fail "third peer: $out"
grep -q "warning: bess $SOCK: a second peer connected and was refused" "$T/slirpns.log" ||
	fail "no warning about the refused peer"
peer refused "$SOCK" >/dev/null 2>&1 || fail "fourth peer was not refused"
[ "$(grep -c "was refused" "$T/slirpns.log")" = 1 ] || fail "more than one warning for refusals"

# The bridge still works after the refusals.
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.0.2.2 7001 still-there) ||
	fail "TCP after the refusals failed"
[ "$out" = still-there ] || fail "TCP echo after the refusals returned '$out'"

# --- 5. exit ---------------------------------------------------------------------------------
stop_slirpns
[ ! -e "$SOCK" ] || fail "the socket file is left after exit"
wait_exit "$BRIDGE_PID" 5 || fail "the bridge peer did not see the daemon go away"
for what in "peer attached \(pid [0-9]+, uid [0-9]+\)" "peer detached: the peer hung up" \
	"peer detached: exiting"; do
	grep -qE "debug: bess $SOCK: $what\$" "$T/slirpns.log" || fail "--debug: no '$what' line"
done
[ "$(grep -c "debug: bess $SOCK: peer attached" "$T/slirpns.log")" = 2 ] ||
	fail "--debug: expected two peers attached"
grep -qE "debug: dhcp: lease 10\.0\.2\.15 to 02:00:00:b3:e5:51 for" "$T/slirpns.log" ||
	fail "--debug: no lease line for the probe"
if command -v tcpdump >/dev/null; then
	tcpdump -r "$T/bess.pcap" -nn >"$T/dump" 2>/dev/null || fail "tcpdump cannot read the capture"
	grep -q "BOOTP/DHCP, Request from 02:00:00:b3:e5:51" "$T/dump" ||
		fail "the probe's DHCP request is not in the capture"
	grep -q "10.0.2.15.[0-9]* > 10.0.2.2.7001: Flags \[S\]" "$T/dump" ||
		fail "the probe's SYN is not in the capture"
fi
note "probe, bridge, forward, refusals and exit as expected"
