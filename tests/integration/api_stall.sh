#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Stalled API clients cost nothing: while API clients sit connected and silent, or with half a
# request (some trickling bytes), a 64 MiB transfer through a forward runs as fast as without
# them (fail only if more than 3x slower, or stuck), and other API clients are answered at once.
# Each stalled client is dropped after the ~5 s client timeout, trickling or not.
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || skip "socat is not installed"
command -v jq >/dev/null || skip "jq is not installed"

API_SOCK="$T/api.sock"
SIZE=$((64 * 1024 * 1024))
ROUNDS=3

# Send $SIZE bytes through the forward to a counting sink in the namespace; print milliseconds.
# The sink answers with the byte count once it has read everything, so the time is end to end.
transfer_ms() {
	local start end got
	start=${EPOCHREALTIME/./}
	got=$(head -c "$SIZE" /dev/zero | timeout 30 socat -t 30 - TCP:127.0.0.1:19000) ||
		fail "transfer stalled or failed (got '${got:-nothing}')"
	end=${EPOCHREALTIME/./}
	[ "$(tr -d ' \n' <<<"$got")" = "$SIZE" ] || fail "the sink counted '$got' bytes, want $SIZE"
	echo $(((end - start) / 1000))
}

median() {
	printf '%s\n' "$@" | sort -n | sed -n "$(((${#@} + 1) / 2))p"
}

# Time one API request from a fresh client (ms); it must be answered.
api_latency_ms() {
	local start end resp
	start=${EPOCHREALTIME/./}
	resp=$(api_call '{"execute":"list_hostfwd"}')
	end=${EPOCHREALTIME/./}
	jq -e '.entries | length == 1' >/dev/null 2>&1 <<<"$resp" || fail "API answer: $resp"
	echo $(((end - start) / 1000))
}

# Keep $1 silent clients and $1 half-request clients connected for $2 seconds, reconnecting
# whenever the daemon drops one (it should, every ~5 s); log each drop's age to $3.
stall_clients() {
	"${AS_USER[@]}" "$PY" - "$API_SOCK" "$1" "$2" "$3" <<'EOF' &
import selectors, socket, sys, time
path, n, duration, log = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
sel = selectors.DefaultSelector()

def connect(half):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
    except OSError:  # the daemon is gone: the test is over
        sys.exit(0)
    if half:
        s.sendall(b'{"execute":"add_hostfwd","arguments":{"proto":"tc')
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, (half, time.monotonic()))

for i in range(n):
    connect(False)
    connect(True)
end = time.monotonic() + duration
with open(log, "a") as f:
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            half, born = key.data
            try:
                data = key.fileobj.recv(4096)
            except ConnectionResetError:
                data = b""
            if data:
                f.write("answered %r\n" % data)  # a stalled client must not get an answer
                f.flush()
                continue
            sel.unregister(key.fileobj)
            key.fileobj.close()
            f.write("dropped %s %.2f\n" % ("half" if half else "silent", time.monotonic() - born))
            f.flush()
            connect(half)
EOF
	STALL_PID=$!
}

start_ns
start_slirpns -c -a "$API_SOCK" "$NSPID" tap0
in_ns socat TCP-LISTEN:9000,bind=10.0.2.100,reuseaddr,fork EXEC:"wc -c" &
resp=$(api_call '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":19000,"guest_port":9000}}')
jq -e '.return.id == 1' >/dev/null <<<"$resp" || fail "add_hostfwd: $resp"
retry sh -c 'echo x | socat -t 5 - TCP:127.0.0.1:19000 | grep -q 2' || fail "the sink does not answer"

# Without stalled clients.
base=()
for _ in $(seq $ROUNDS); do base+=("$(transfer_ms)"); done
note "64 MiB without stalled clients: ${base[*]} ms"

# With 8 silent and 8 half-request clients, kept stalled for the whole measurement.
stall_clients 8 40 "$T/stall.log"
sleep 0.5
stalled=() lat=()
for _ in $(seq $ROUNDS); do
	stalled+=("$(transfer_ms)")
	lat+=("$(api_latency_ms)")
done
note "64 MiB with 16 stalled API clients: ${stalled[*]} ms"
note "API answers meanwhile: ${lat[*]} ms"

# Every round counts (one stuck round is the failure we look for); the limit is 3x the
# median without stalled clients, and at least 1 s more than it, to absorb scheduling noise.
b=$(median "${base[@]}")
limit=$((3 * b > b + 1000 ? 3 * b : b + 1000))
for s in "${stalled[@]}"; do
	[ "$s" -le "$limit" ] || fail "a transfer took $s ms with stalled clients, $b ms without"
done
for l in "${lat[@]}"; do
	[ "$l" -lt 1000 ] || fail "an API client waited $l ms while others were stalled"
done

# Let the stalled clients age past the timeout, then check how they were dropped.
sleep 7
grep -q answered "$T/stall.log" && fail "a stalled client got an answer: $(grep answered "$T/stall.log")"
grep -q "dropped silent" "$T/stall.log" || fail "no silent client was dropped: $(cat "$T/stall.log")"
grep -q "dropped half" "$T/stall.log" || fail "no half-request client was dropped"
awk '$1 == "dropped" && ($3 < 4.5 || $3 > 7) { bad = 1; print } END { exit bad }' \
	"$T/stall.log" || fail "stalled clients were dropped outside 4.5..7 s"
note "stalled clients dropped after $(awk '$1 == "dropped" { print $3 }' "$T/stall.log" |
	sort -n | sed -n '1p;$p' | paste -sd- -) s"

# A client that keeps trickling bytes of an unfinished request is dropped all the same.
out=$(as_user "$PY" - "$API_SOCK" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"execute":')
start = time.monotonic()
s.settimeout(0.2)
while time.monotonic() - start < 15:
    try:
        if s.recv(4096) == b"":
            break
    except socket.timeout:
        try:
            s.sendall(b" ")
        except (BrokenPipeError, ConnectionResetError):
            break
    except ConnectionResetError:
        break
print("%.2f" % (time.monotonic() - start))
EOF
)
awk -v t="$out" 'BEGIN { exit !(t >= 4.5 && t <= 7) }' || fail "a trickling client was dropped after $out s"
note "trickling client dropped after $out s"

kill -0 "$SLIRPNS_PID" || fail "the daemon died"
[ "$(api_latency_ms)" -lt 1000 ] || fail "the API is slow after the stalls"
kill "$STALL_PID" 2>/dev/null || true
wait "$STALL_PID" 2>/dev/null || true
stop_slirpns
exit 0
