#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The quick version of make stress (tests/stress/run.sh), a few seconds long:
#  - 200 simultaneous TCP connections from the namespace to a host server, each exchanging
#    data, none failing;
#  - 200 simultaneous inbound through a forward, with the port fast path (the default) and
#    through libslirp (--port-fast-path=off);
#  - 2,000 short connections (connect, request, response, close), after which the daemon's
#    open fd count comes back to what it was before, and its VmRSS to within 2x of it
#    (engine.c trims the heap after bursts);
#  - a guest that sends a lone last IPv4 fragment (which crashes libslirp 4.7.0 if it sees
#    it) does not kill the daemon, and fragmented UDP datagrams still get through.
# The load generator is tests/stress/load.py.
. "$(dirname "$0")/lib.sh"

LOAD="$TESTS_DIR/../stress/load.py"
load() { "$PY" "$LOAD" "$@"; }
# Run load.py in the namespace (as the user, who must be able to read it: use a copy in $T).
cp "$LOAD" "$T/load.py"
chmod 644 "$T/load.py"
ns_load() { in_ns "$PY" "$T/load.py" "$@"; }

fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# Under AddressSanitizer (its allocator keeps freed memory in quarantine) or a wrapper such
# as valgrind, the daemon's RSS says nothing about glibc's heap: not checked there.
CHECK_RSS=1
if grep -qa __asan_init "$SLIRPNS_BIN" || [ -n "${SLIRPNS_WRAPPER:-}" ]; then
	CHECK_RSS=0
fi
check_alive() { kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "the daemon died $1"; }

# Host side: an echo server on 127.0.0.1:7000 (10.0.2.2:7000 from the namespace).
load server 127.0.0.1 7000 >"$T/server.out" 2>&1 &
retry grep -q ready "$T/server.out" || fail "the host echo server did not start"

start_ns
# Namespace side: an echo server for the inbound connections.
ns_load server 0.0.0.0 8000 >"$T/ns_server.out" 2>&1 &
start_slirpns -c -a "$T/api.sock" "$NSPID" tap0
retry grep -q ready "$T/ns_server.out" || fail "the namespace echo server did not start"
api() { printf '%s' "$1" | as_user socat -t 5 - "UNIX-CONNECT:$T/api.sock"; }
api '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":18000,"guest_port":8000}}' |
	grep -q '"return"' || fail "add_hostfwd failed"

# A warm-up exchange, then the baseline.
out=$(ns_load churn 10.0.2.2 7000 20 --parallel 4) || fail "warm-up: $out"
sleep 0.5
fd0=$(fd_count "$SLIRPNS_PID") rss0=$(rss_kb "$SLIRPNS_PID")

# While the 200 are held: libslirp's socket buffers must stay untouched mmap()s (engine.c
# pins glibc's mmap threshold), about 64 KiB resident per connection, not 256 KiB.
rm -f "$T/held"
ns_load hold 10.0.2.2 7000 200 --timeout 30 --pause 2 --hold-file "$T/held" >"$T/hold.out" 2>&1 &
HOLD_PID=$!
for _ in $(seq 300); do
	[ -s "$T/held" ] || ! kill -0 "$HOLD_PID" 2>/dev/null && break
	sleep 0.1
done
sleep 0.5
rss_held=$(rss_kb "$SLIRPNS_PID")
wait "$HOLD_PID" || fail "outbound: $(cat "$T/hold.out")"
note "outbound: $(cat "$T/hold.out"); daemon VmRSS while holding: $rss_held kB (idle: $rss0 kB)"
[ "$CHECK_RSS" = 0 ] || [ "$rss_held" -le $((rss0 + 200 * 128)) ] ||
	fail "200 held connections take $((rss_held - rss0)) kB in the daemon, more than 128 kB each"
out=$(load hold 127.0.0.1 18000 200 --timeout 30 --pause 0.5) || fail "inbound (fast path): $out"
note "inbound, fast path: $out"
check_alive "under 200 connections"

out=$(ns_load churn 10.0.2.2 7000 2000 --parallel 32 --deadline 60) || fail "churn: $out"
note "$out"
check_alive "after the churn"
# libslirp keeps a closed connection's socket for its TIME_WAIT (a few seconds); the heap is
# trimmed at most once a second.
for _ in $(seq 60); do
	[ "$(fd_count "$SLIRPNS_PID")" -le "$fd0" ] &&
		{ [ "$CHECK_RSS" = 0 ] || [ "$(rss_kb "$SLIRPNS_PID")" -le $((2 * rss0)) ]; } && break
	sleep 0.5
done
fd1=$(fd_count "$SLIRPNS_PID")
note "daemon fds: $fd0 before, $fd1 after 2,000 connections"
[ "$fd1" -le "$fd0" ] || fail "the daemon holds $fd1 fds after the churn, $fd0 before: $(ls -l "/proc/$SLIRPNS_PID/fd" | tail -n 5)"
rss1=$(rss_kb "$SLIRPNS_PID")
note "daemon VmRSS: $rss0 kB before, $rss1 kB after$([ "$CHECK_RSS" = 1 ] || echo " (not checked: sanitizer or wrapper)")"
[ "$CHECK_RSS" = 0 ] || [ "$rss1" -le $((2 * rss0)) ] ||
	fail "the daemon's VmRSS stayed at $rss1 kB, $rss0 kB before"

# Fragments. A lone last fragment (MF clear, offset 16) to 10.0.2.3, then a whole exchange
# of fragmented UDP datagrams through the host's echo.
"$PY" "$TESTS_DIR/helper.py" udp-echo 127.0.0.1 7002 >"$T/udp.out" 2>&1 &
retry grep -q ready "$T/udp.out" || fail "the UDP echo server did not start"
in_ns "$PY" - <<'EOF' || fail "could not send the fragment"
import socket, struct
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s >> 16) + (s & 0xffff)
    return ~s & 0xffff
payload = b"\0" * 38
h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 9, 2, 64, 17, 0,
                socket.inet_aton("10.0.2.100"), socket.inet_aton("10.0.2.3"))
h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("tap0", 0))
s.send(bytes.fromhex("52550a000202") + bytes.fromhex("02deadbeef01") + b"\x08\x00" + h + payload)
EOF
sleep 0.5
check_alive "after a lone last IPv4 fragment (libslirp 4.7.0 crashes on it)"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" udp-send 10.0.2.2 7002 "$(head -c 6000 /dev/zero | tr '\0' x)" 2>&1) ||
	fail "a 6000-byte UDP datagram (3 fragments) did not come back: ${out:0:200}"
[ ${#out} = 6000 ] || fail "a 6000-byte UDP datagram came back as ${#out} bytes"
note "a lone last fragment is dropped; a 6000-byte UDP datagram goes out and back in fragments"
stop_slirpns

# Inbound through libslirp: the same with the fast path off.
start_slirpns -c -a "$T/api.sock" --port-fast-path=off "$NSPID" tap0
api '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":18000,"guest_port":8000}}' |
	grep -q '"return"' || fail "add_hostfwd failed"
out=$(load hold 127.0.0.1 18000 200 --timeout 30 --pause 0.5) || fail "inbound (libslirp): $out"
note "inbound, libslirp path: $out"
stop_slirpns
