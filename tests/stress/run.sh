#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh - make stress: slirpns under load, churn and hostile API clients (not in make check;
# tests/integration/stress_quick.sh and faults.sh are the quick versions). About 4 minutes.
#
#   SLIRPNS=build/src/slirpns tests/stress/run.sh       (as root, or as a user; like lib.sh)
#
# One daemon, one namespace, host servers on 127.0.0.1 (load.py: echo and byte-counting sink),
# the same servers inside the namespace behind forwards. In order:
#  1. idle: the daemon's open fds and VmRSS after a short warm-up (the baseline);
#  2. 2,000 simultaneous TCP connections from the namespace to the host echo, each sending
#     and getting back 1,000 bytes, all held open together; none may fail;
#  3. 1,000 simultaneous inbound connections through a forward (port fast path, the default);
#  4. churn soak: 20,000 short connections (connect, request, response, close), 64 at a time,
#     within 2 minutes;
#  5. afterwards: fds back to the baseline within 60 s, VmRSS within 2x of idle;
#  6. throughput: 256 MiB through the forward to the namespace's sink, three times alone and
#     three times while load.py api-abuse runs (200 concurrent API clients, 50 silent ones,
#     1 MiB of garbage, deep nesting, invalid UTF-8, every command with wrong types); the
#     abuse must be answered or closed, and the median with abuse at least half of without;
#  7. 1,000 simultaneous inbound connections through libslirp (--port-fast-path=off).
# The figures go to stdout as "# ..." lines (and to $STRESS_OUT, default ./stress-out.txt).
# Exit 0 when everything held, 1 otherwise.
. "$(dirname "$0")/../integration/lib.sh"

OUT=${STRESS_OUT:-$PWD/stress-out.txt}
: >"$OUT" 2>/dev/null || OUT=/dev/null
report() { note "$*"; echo "$*" >>"$OUT"; }

LOAD="$TESTS_DIR/../stress/load.py"
cp "$LOAD" "$T/load.py"
chmod 644 "$T/load.py"
load() { "$PY" "$T/load.py" "$@"; }
ns_load() { in_ns "$PY" "$T/load.py" "$@"; }
fds() { ls "/proc/$SLIRPNS_PID/fd" 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SLIRPNS_PID/status"; }
check_alive() { kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "the daemon died $1"; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$(((${#@} + 1) / 2))p"; }
# The namespace's servers and clients may hold thousands of sockets.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

wait_ready_file() { # FILE: until a server says ready
	retry grep -q ready "$1" || fail "server did not start: $(cat "$1")"
}

# hold_and_sample NAME WHERE ARGS...: run load.py hold (in the namespace when WHERE is ns),
# sample the daemon's fds and RSS while all connections are held.
hold_and_sample() {
	local name=$1 where=$2 pidh
	shift 2
	rm -f "$T/held"
	if [ "$where" = ns ]; then
		ns_load hold "$@" --pause 3 --hold-file "$T/held" >"$T/hold.out" 2>&1 &
	else
		load hold "$@" --pause 3 --hold-file "$T/held" >"$T/hold.out" 2>&1 &
	fi
	pidh=$!
	for _ in $(seq 1200); do
		[ -s "$T/held" ] && break
		kill -0 "$pidh" 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	local f r
	f=$(fds) r=$(rss_kb)
	wait "$pidh" || fail "$name: $(cat "$T/hold.out")"
	report "$name: $(cat "$T/hold.out"); daemon while holding: $f fds, VmRSS $r kB"
	check_alive "during $name"
}

load server 127.0.0.1 7000 >"$T/server.out" 2>&1 &
wait_ready_file "$T/server.out"
start_ns
ns_load server 0.0.0.0 8000 >"$T/ns_server.out" 2>&1 &
ns_load sink 0.0.0.0 8001 >"$T/ns_sink.out" 2>&1 &
start_slirpns -c -a "$T/api.sock" "$NSPID" tap0
wait_ready_file "$T/ns_server.out"
wait_ready_file "$T/ns_sink.out"
API_SOCK="$T/api.sock"
for fw in 18000:8000 18001:8001; do
	api_call "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"tcp\",\"host_addr\":\"127.0.0.1\",\"host_port\":${fw%:*},\"guest_port\":${fw#*:}}}" |
		grep -q '"return"' || fail "add_hostfwd $fw failed"
done

# 1. Idle baseline, after a little of everything.
ns_load churn 10.0.2.2 7000 50 --parallel 8 >/dev/null || fail "warm-up failed"
load churn 127.0.0.1 18000 50 --parallel 8 >/dev/null || fail "warm-up (inbound) failed"
load transfer 127.0.0.1 18001 $((16 << 20)) >/dev/null || fail "warm-up transfer failed"
sleep 12 # libslirp's TIME_WAIT for the warm-up connections
fd0=$(fds) rss0=$(rss_kb)
report "idle: $fd0 fds, VmRSS $rss0 kB"

# 2. and 3. Bursts.
hold_and_sample "2,000 out" ns 10.0.2.2 7000 2000 --timeout 120
hold_and_sample "1,000 in (fast path)" host 127.0.0.1 18000 1000 --timeout 120

# 4. Churn soak.
start=$SECONDS
out=$(ns_load churn 10.0.2.2 7000 20000 --parallel 64 --deadline 120) || fail "churn: $out"
report "soak: $out"
[ $((SECONDS - start)) -le 125 ] || fail "the soak took $((SECONDS - start)) s"
check_alive "during the soak"
rss_soak=$(rss_kb)

# 5. Back to the baseline.
# (libslirp keeps closed connections for their TIME_WAIT; the heap is trimmed at most once a
# second, on the daemon's next wake-up after its sockets closed.)
for i in $(seq 120); do
	[ "$(fds)" -le "$fd0" ] && [ "$(rss_kb)" -le $((2 * rss0)) ] && break
	sleep 0.5
done
fd1=$(fds) rss1=$(rss_kb)
report "after the bursts and the soak: $fd1 fds (idle: $fd0) after $((i / 2)) s; VmRSS $rss1 kB (idle: $rss0 kB, right after the soak: $rss_soak kB)"
[ "$fd1" -le "$fd0" ] || fail "fds did not come back: $fd1, idle $fd0"
[ "$rss1" -le $((2 * rss0)) ] || fail "VmRSS stayed at $rss1 kB, more than twice the idle $rss0 kB"

# 6. Throughput with and without API abuse.
SIZE=$((256 << 20))
base=() abused=()
for _ in 1 2 3; do
	base+=("$(load transfer 127.0.0.1 18001 $SIZE | sed 's/.*: \([0-9.]*\) MB\/s/\1/')")
done
as_user "$PY" "$T/load.py" api-abuse "$API_SOCK" --clients 200 --silent 50 >"$T/abuse.out" 2>&1 &
ABUSE_PID=$!
sleep 0.2
while kill -0 "$ABUSE_PID" 2>/dev/null || [ ${#abused[@]} -lt 3 ]; do
	abused+=("$(load transfer 127.0.0.1 18001 $SIZE | sed 's/.*: \([0-9.]*\) MB\/s/\1/')")
	[ ${#abused[@]} -lt 12 ] || break
done
wait "$ABUSE_PID" || fail "API abuse: $(cat "$T/abuse.out")"
report "$(cat "$T/abuse.out")"
b=$(median "${base[@]}") a=$(median "${abused[@]}")
report "throughput, 256 MiB through the forward: ${base[*]} MB/s alone (median $b), ${abused[*]} MB/s during the API abuse (median $a)"
awk -v a="$a" -v b="$b" 'BEGIN { exit !(a >= b / 2) }' ||
	fail "throughput fell from $b to $a MB/s during the API abuse"
check_alive "after the API abuse"
report "after everything: $(fds) fds, VmRSS $(rss_kb) kB"
stop_slirpns

# 7. Inbound through libslirp.
start_slirpns -c -a "$T/api.sock" --port-fast-path=off "$NSPID" tap0
api_call '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":18000,"guest_port":8000}}' |
	grep -q '"return"' || fail "add_hostfwd failed"
hold_and_sample "1,000 in (libslirp, --port-fast-path=off)" host 127.0.0.1 18000 1000 --timeout 120
stop_slirpns
report "make stress: everything held"
