#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The outbound fast path: TCP connections the namespace opens to the host (10.0.2.2 -> the
# host's 127.0.0.1, fd00::2 -> ::1) or to addresses outside the virtual network are terminated
# by the daemon and relayed to an ordinary host socket instead of going through libslirp
# (--outbound-fast-path=auto, the default); --outbound-fast-path=off leaves them to libslirp.
# For each mode, at namespace MTUs 1500 and 65520, with the tap's offloads on (the default) and
# with --no-offload (one namespace and daemon per case, -6 with a static fd00::100; the case
# at 65520 with offloads also runs --enable-sandbox --enable-seccomp):
#  - 64 MiB of random data namespace -> host and host -> namespace over connections the
#    namespace opens to 10.0.2.2 (servers on the host's 127.0.0.1), SHA-256 compared at the
#    far end;
#  - half-close: a namespace client that shuts down writing still gets the host's 1 MiB reply
#    (sent only after EOF), and a host server that shuts down writing first still receives the
#    1 MiB the namespace sends after it has read that EOF;
#  - nothing listening on the host port: the namespace's connect is refused (or reset) within
#    1 s, no hang; a host server that resets (SO_LINGER 0) is seen by the namespace client as a
#    reset or EOF within 2 s, with nothing more received; a namespace client that resets is
#    seen by the host server as a reset or EOF within 2 s, after the bytes sent before it;
#  - 200 connections open at once, each echoing its own bytes, all then closed cleanly; the
#    daemon's fd count (/proc/PID/fd, its helper processes included) is back to its value from
#    before them within 5 s;
#  - IPv6: 4 MiB each way between the namespace and servers on the host's ::1 via fd00::2;
#  - backpressure: 8 MiB to a host server that sleeps 1 s before it reads arrives intact, and
#    the daemon uses less than 0.5 s of CPU meanwhile (no busy loop);
#  - outside the virtual network: 1 MiB to 192.0.2.1 (a dummy address of the private host
#    namespace) through the default route; inside it, TCP to 10.0.2.3:53 (the DNS address,
#    forwarded to the nameserver of resolv.conf, a TCP echo on 127.0.0.1:53) and to 10.0.2.5
#    (routed via 10.0.2.2 in the namespace; the host holds that address too, so libslirp's
#    connect reaches a server there) works through libslirp;
#  - get_info's .outbound_fast_path: with auto, enabled is true, a connection to 10.0.2.2,
#    fd00::2 or 192.0.2.1 adds exactly one to connections, 10.0.2.3:53 and 10.0.2.5 none, the
#    200 add 200 and are active = 200 while open, and active is 0 once all is closed, as is the
#    daemon's fd count compared with the start of the case; with off, enabled is false and
#    connections and active stay 0.
# Per mode also: --disable-host-loopback still forbids 10.0.2.2 (the connect fails, the host
# server sees nothing, no fast-path connection is counted) while 192.0.2.1 stays reachable; and
# an unknown --outbound-fast-path value is refused at startup.
# Under a wrapper (make check-valgrind): 8 MiB instead of 64, MTU 1500 only, time limits x10,
# no CPU check; under valgrind get_info's counters and the final fd count are not checked.
# Environment: OFP_MODES lists the modes to run (default "auto off"); "none" runs every check
# without passing --outbound-fast-path and skips the get_info and option checks (for a daemon
# that predates the option).
. "$(dirname "$0")/lib.sh"

for tool in socat jq; do
	command -v "$tool" >/dev/null || skip "$tool is not installed"
done

read -ra MODES <<<"${OFP_MODES:-auto off}"
for mode in "${MODES[@]}"; do
	case $mode in auto | off | none) ;; *) echo "ERROR: OFP_MODES: unknown mode $mode"; exit 99 ;; esac
done
MTUS=(1500 65520)
OFFLOADS=(offload no-offload)
IPV6=1
[ -e /proc/sys/net/ipv6 ] || { IPV6=0; note "the kernel has no IPv6: IPv6 transfers skipped"; }

API_SOCK="$T/api.sock"
BIG=64 # MiB
STEP_TIMEOUT=60
# Under a wrapper (make check-valgrind) the daemon is many times slower: less data, one MTU,
# time limits 10 times longer, no CPU check, and get_info's counters unchecked (the fast path
# may be unavailable there, as the port fast path is).
LIMIT=1
if [ "$SLIRPNS_SLOW" = 1 ]; then
	BIG=8 MTUS=(1500) LIMIT=10 STEP_TIMEOUT=300
	note "under $SLIRPNS_WRAPPER: $BIG MiB, MTU 1500 only, time limits x$LIMIT, no CPU check"
fi
CHECK_INFO=1
[ "$UNDER_VALGRIND" = 1 ] && { CHECK_INFO=0; note "get_info's outbound_fast_path unchecked under valgrind"; }
MANY=200
OUTSIDE=192.0.2.1 # a non-loopback address of the private host namespace
INSIDE=10.0.2.5   # an address inside the virtual network that the host holds too
# Host ports (all servers run on the host for the whole test; the cases take turns).
P_ECHO=7001 P_SINK=7002 P_SRC=7003 P_EOFREPLY=7004 P_SHUTFIRST=7005 P_NONE=7006 P_RSTSRV=7007
P_OUTCOME=7008 P_MANY=7009 P_SLOW=7010 P_LOGECHO=7011

# ---- peers: helper.py, and a few more of its kind for the half-closes and the slow reader -------
PEER="$T/ofp_peer.py"
# The peer imports read_all and family_of from helper.py (one copy of each).
export OFP_TESTS_DIR="$TESTS_DIR" PYTHONDONTWRITEBYTECODE=1
cat >"$PEER" <<'PYEOF'
"""Peers for outbound_fast_path.sh, in the style of helper.py (servers print "ready")."""
import argparse
import os
import socket
import sys
import threading
import time


sys.path.insert(0, os.environ["OFP_TESTS_DIR"])
from helper import family_of, read_all  # noqa: E402  (one copy of the shared pieces)


def log(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")


def server(args, serve):
    s = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.addr, args.port))
    s.listen(128)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def eof_reply(args):
    """Read to EOF, log "<sha256> <bytes>" of it, wait a little, then send FILE and close."""
    def serve(c):
        with c, open(args.file, "rb") as f:
            log(args.log, read_all(c))
            time.sleep(0.2)
            c.sendfile(f)
    server(args, serve)


def shut_first(args):
    """Send "bye\\n", shut down writing, then read to EOF, log "<sha256> <bytes>", close."""
    def serve(c):
        with c:
            c.sendall(b"bye\n")
            c.shutdown(socket.SHUT_WR)
            try:
                out = read_all(c)
            except OSError as e:
                out = "error %s" % e
            log(args.log, out)
    server(args, serve)


def slow_sink(args):
    """Sleep DELAY seconds before reading anything, then read to EOF, answer "<sha256> <bytes>"."""
    def serve(c):
        with c:
            time.sleep(args.delay)
            c.sendall((read_all(c) + "\n").encode())
    server(args, serve)


def connect(args):
    c = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
    c.settimeout(args.timeout)
    c.connect((args.addr, args.port))
    return c


def half_client(args):
    """Send MSG, shut down writing, print "<sha256> <bytes>" of what arrives after that."""
    with connect(args) as c:
        c.sendall(args.msg.encode())
        c.shutdown(socket.SHUT_WR)
        print(read_all(c))


def late_sender(args):
    """Read the server's greeting to EOF, then send FILE, shut down writing and wait for the
    server to close; print the greeting."""
    with connect(args) as c, open(args.file, "rb") as f:
        got = b""
        while True:
            data = c.recv(65536)
            if not data:
                break
            got += data
        time.sleep(0.2)
        c.sendfile(f)
        c.shutdown(socket.SHUT_WR)
        print(got.decode(errors="replace").strip())


def connect_check(args):
    """Connect and print how it ended ("refused", "reset", "timeout" or "connected") and the
    milliseconds connect() took."""
    t0 = time.monotonic()
    how = "connected"
    try:
        c = connect(args)
        c.settimeout(0.5)  # a connection "accepted" and then reset at once counts as a reset
        try:
            if c.recv(1) == b"":
                how = "eof"
        except socket.timeout:
            pass
    except ConnectionRefusedError:
        how = "refused"
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        how = "timeout"
    except OSError as e:
        how = "error:%s" % e.strerror.replace(" ", "_")
    print("%s %d" % (how, (time.monotonic() - t0) * 1000))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("eof-reply", "shut-first", "slow-sink", "half-client", "late-sender",
                 "connect-check"):
        sp = sub.add_parser(name)
        sp.add_argument("addr")
        sp.add_argument("port", type=int)
        if name in ("eof-reply", "late-sender"):
            sp.add_argument("file")
        if name in ("eof-reply", "shut-first"):
            sp.add_argument("--log", required=True)
        if name == "slow-sink":
            sp.add_argument("--delay", type=float, default=1)
        if name == "half-client":
            sp.add_argument("msg")
        sp.add_argument("--timeout", type=float, default=30)
    args = p.parse_args()
    {"eof-reply": eof_reply, "shut-first": shut_first, "slow-sink": slow_sink,
     "half-client": half_client, "late-sender": late_sender,
     "connect-check": connect_check}[args.cmd](args)


main()
PYEOF
chmod 644 "$PEER"

# start_peer ARGS...: start an ofp_peer.py server on the host, wait until it listens.
start_peer() { start_server "peer $1" "$PY" "$PEER" "$@"; }
# helper.py / ofp_peer.py inside the namespace, killed after STEP_TIMEOUT.
ns_helper() { in_ns timeout "$STEP_TIMEOUT" "$PY" "$TESTS_DIR/helper.py" "$@"; }
ns_peer() { in_ns timeout "$STEP_TIMEOUT" "$PY" "$PEER" "$@"; }

# last_line FILE COUNT [TRIES]: wait (TRIES tenths of a second) until FILE has COUNT lines, print
# the last one.
last_line() {
	for _ in $(seq "${3:-50}"); do
		[ "$(wc -l <"$1")" -ge "$2" ] && { tail -n1 "$1"; return 0; }
		sleep 0.1
	done
	return 1
}
lines() { wc -l <"$1"; }

# The daemon and its helper processes (descendants): their fds and CPU time.
daemon_tree() {
	ps -e -o pid=,ppid= | awk -v root="$SLIRPNS_PID" '
		{ parent[$1] = $2 }
		END { for (p in parent) { q = p; while (q in parent && q != root) q = parent[q]
			if (q == root) print p } }'
}
fd_count() {
	local p n=0
	for p in $(daemon_tree); do
		n=$((n + $(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)))
	done
	echo "$n"
}
cpu_ticks() {
	local p n=0 t
	for p in $(daemon_tree); do
		t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || continue
		n=$((n + t))
	done
	echo "$n"
}
HZ=$(getconf CLK_TCK)

# wait_fds WHAT BASE: the daemon's fd count must come back to at most BASE within 5 s.
wait_fds() {
	local fds
	for _ in $(seq $((50 * LIMIT))); do
		fds=$(fd_count)
		[ "$fds" -le "$2" ] && { note "$1: $fds fds (baseline $2)"; return 0; }
		sleep 0.1
	done
	fail "$1: fd leak: the daemon holds $fds fds, $2 before"
}

# get_info's .outbound_fast_path, and checks on it (not in mode none).
ofp() { api_call '{"execute":"get_info"}' | jq -c '.return.outbound_fast_path'; }
ofp_conns() { ofp | jq -r '.connections'; }
# expect_ofp WHAT JQ-FILTER: the filter (on .outbound_fast_path, with $base = BASE) holds within 2 s.
expect_ofp() {
	local what=$1 filter=$2 got
	[ "$MODE" = none ] || [ "$CHECK_INFO" = 0 ] && return 0
	for _ in $(seq $((20 * LIMIT))); do
		got=$(ofp)
		jq -e --argjson base "${BASE:-0}" "$filter" >/dev/null 2>&1 <<<"$got" && return 0
		sleep 0.1
	done
	fail "$what: get_info's outbound_fast_path is $got, expected $filter (base ${BASE:-0})"
}
# mark, then added WHAT N: since mark, a fast path (auto) has counted exactly N more
# connections; with off none.
mark() { [ "$MODE" = none ] || [ "$CHECK_INFO" = 0 ] || BASE=$(ofp_conns); }
added() {
	local n=$2
	[ "$MODE" = auto ] || n=0
	expect_ofp "$1" ".connections == \$base + $n"
}

# ---- the data, the host's servers ------------------------------------------------------------------
head -c $((64 << 20)) /dev/urandom >"$T/data64"
for mib in 8 4 1; do head -c $((mib << 20)) "$T/data64" >"$T/data$mib"; done
chmod 644 "$T"/data*
declare -A SHA SIZE
for mib in 64 8 4 1; do
	SHA[$mib]=$(sha256sum <"$T/data$mib" | cut -d' ' -f1)
	SIZE[$mib]=$((mib << 20))
done
want() { echo "${SHA[$1]} ${SIZE[$1]}"; }

add_dummy_if ofp0
ip addr add "$OUTSIDE/24" dev ofp0
ip addr add "$INSIDE/32" dev ofp0
use_resolv_conf "nameserver 127.0.0.1"

for f in eofreply shutfirst rstsrv outcome logecho; do : >"$T/$f.log"; done
start_helper tcp-echo 127.0.0.1 "$P_ECHO"
start_helper tcp-echo 127.0.0.1 "$P_LOGECHO" --log "$T/logecho.log"
start_helper tcp-echo 127.0.0.1 53 # resolv.conf's nameserver, for TCP to 10.0.2.3:53
start_helper tcp-echo "$INSIDE" "$P_ECHO"
start_helper hash-sink 127.0.0.1 "$P_SINK"
start_helper hash-sink "$OUTSIDE" "$P_SINK"
start_helper hash-source 127.0.0.1 "$P_SRC" "$T/data$BIG"
start_peer eof-reply 127.0.0.1 "$P_EOFREPLY" "$T/data1" --log "$T/eofreply.log"
start_peer shut-first 127.0.0.1 "$P_SHUTFIRST" --log "$T/shutfirst.log"
# nothing listens on $P_NONE
start_helper tcp-outcome 127.0.0.1 "$P_RSTSRV" --rst --log "$T/rstsrv.log"
start_helper tcp-outcome 127.0.0.1 "$P_OUTCOME" --log "$T/outcome.log"
start_helper tcp-echo-events 127.0.0.1 "$P_MANY"
start_peer slow-sink 127.0.0.1 "$P_SLOW" --delay 1
if [ "$IPV6" = 1 ]; then
	start_helper hash-sink ::1 "$P_SINK"
	start_helper hash-source ::1 "$P_SRC" "$T/data4"
fi

# ---- one case: a namespace and a daemon in MODE at MTU with or without offloads ---------------------
run_case() {
	local name=$1 out how ms n start ticks got fds0 fds held many
	local args=(-c -m "$MTU" -a "$API_SOCK")
	[ "$MODE" = none ] || args+=(--outbound-fast-path="$MODE")
	[ "$OFFLOAD" = no-offload ] && args+=(--no-offload)
	# One case in four runs confined, as podman runs it: the path must work under the filter.
	[ "$OFFLOAD" = offload ] && [ "$MTU" = 65520 ] && args+=(--enable-sandbox --enable-seccomp)
	[ "$IPV6" = 1 ] && args+=(-6)
	start_ns
	start_slirpns "${args[@]}" "$NSPID" tap0
	if [ "$IPV6" = 1 ]; then
		in_ns ip -6 addr add fd00::100/64 dev tap0 nodad || fail "$name: cannot add fd00::100"
	fi
	# libslirp answers ARP only for its own addresses: $INSIDE is reached through the gateway.
	in_ns ip route add "$INSIDE/32" via 10.0.2.2 dev tap0 || fail "$name: cannot route $INSIDE"
	BASE=0
	expect_ofp "$name: at the start" \
		"if \"$MODE\" == \"auto\" then .enabled == true else .enabled == false end and
		.connections == 0 and .active == 0"

	# A first connection (the daemon may set up what the path needs only now), then the fds.
	mark
	out=$(ns_helper tcp-send 10.0.2.2 "$P_ECHO" warm-up 2>&1) || fail "$name: first connection: $out"
	[ "$out" = warm-up ] || fail "$name: first connection: echoed '$out'"
	added "$name: a first connection" 1
	sleep 0.2
	fds0=$(fd_count)

	# 1. 64 MiB each way.
	mark
	run_step "$name: $BIG MiB namespace -> host" "$(want "$BIG")" \
		ns_helper hash-put 10.0.2.2 "$P_SINK" "$T/data$BIG"
	added "$name: $BIG MiB namespace -> host" 1
	run_step "$name: $BIG MiB host -> namespace" "$(want "$BIG")" \
		ns_helper hash-get 10.0.2.2 "$P_SRC"
	added "$name: $BIG MiB each way" 2

	# 2. Half-close, both ways.
	n=$(lines "$T/eofreply.log")
	mark
	run_step "$name: the namespace shuts down writing, then reads 1 MiB" "$(want 1)" \
		ns_peer half-client 10.0.2.2 "$P_EOFREPLY" half-closed
	got=$(last_line "$T/eofreply.log" $((n + 1))) || fail "$name: the server logged nothing"
	[ "$got" = "$(printf half-closed | sha256sum | cut -d' ' -f1) 11" ] ||
		fail "$name: the server that replies after EOF received '$got'"
	n=$(lines "$T/shutfirst.log")
	out=$(ns_peer late-sender 10.0.2.2 "$P_SHUTFIRST" "$T/data1" 2>&1) ||
		fail "$name: sending after the host shut down writing: $out"
	[ "$out" = bye ] || fail "$name: the server that shuts down writing first sent '$out'"
	got=$(last_line "$T/shutfirst.log" $((n + 1))) ||
		fail "$name: the server that shut down writing first never saw EOF"
	[ "$got" = "$(want 1)" ] ||
		fail "$name: after it shut down writing, the host server received '$got', want '$(want 1)'"
	added "$name: half-closes" 2
	note "$name: half-close: reply after the namespace's EOF, 1 MiB after the host's EOF: ok"

	# 3. Connection refused.
	out=$(ns_peer connect-check 10.0.2.2 "$P_NONE" --timeout 5 2>&1) || fail "$name: refused: $out"
	read -r how ms <<<"$out"
	[[ "$how" =~ ^(refused|reset)$ ]] ||
		fail "$name: connect to a host port nobody listens on: $out (want refused or reset)"
	[ "$ms" -lt $((1000 * LIMIT)) ] || fail "$name: the connection was refused only after $ms ms"
	note "$name: no host server: $how after $ms ms"

	# 4. Resets, both ways.
	n=$(lines "$T/rstsrv.log")
	mark
	out=$(ns_helper tcp-close-check 10.0.2.2 "$P_RSTSRV" --greeting --send x --timeout 5 2>&1) ||
		fail "$name: the host server resets: $out"
	read -r how got ms <<<"$out"
	if ! [[ "$how" =~ ^(reset|eof)$ ]] || [ "$got" != 0 ]; then
		fail "$name: the host server reset, the namespace client saw '$out'"
	fi
	[ "$ms" -lt $((2000 * LIMIT)) ] || fail "$name: the host server's reset reached the namespace after $ms ms"
	got=$(last_line "$T/rstsrv.log" $((n + 1))) || fail "$name: the resetting server logged nothing"
	[[ "$got" =~ \ sent-reset\ 1$ ]] || fail "$name: the resetting server logged '$got'"
	note "$name: the host server resets: the namespace client sees $how after $ms ms"
	n=$(lines "$T/outcome.log")
	out=$(ns_helper tcp-close-check 10.0.2.2 "$P_OUTCOME" --greeting --send data --rst 2>&1) ||
		fail "$name: the namespace client resets: $out"
	got=$(last_line "$T/outcome.log" $((n + 1)) $((20 * LIMIT))) ||
		fail "$name: the namespace client reset, the host server saw nothing within $((2 * LIMIT)) s"
	[[ "$got" =~ \ (reset|eof)\ 4$ ]] ||
		fail "$name: the namespace client sent 4 bytes and reset; the host server logged '$got'"
	added "$name: resets" 2
	note "$name: the namespace client resets: the host server sees '${got#* }'"

	# 6. IPv6.
	if [ "$IPV6" = 1 ]; then
		mark
		run_step "$name: 4 MiB namespace -> host ::1" "$(want 4)" \
			ns_helper hash-put fd00::2 "$P_SINK" "$T/data4"
		run_step "$name: 4 MiB host ::1 -> namespace" "$(want 4)" \
			ns_helper hash-get fd00::2 "$P_SRC"
		added "$name: IPv6" 2
	fi

	# Outside the virtual network (fast path), inside it (libslirp).
	mark
	run_step "$name: 1 MiB to $OUTSIDE (outside the network)" "$(want 1)" \
		ns_helper hash-put "$OUTSIDE" "$P_SINK" "$T/data1"
	added "$name: to $OUTSIDE" 1
	mark
	out=$(ns_helper tcp-send 10.0.2.3 53 dns-tcp 2>&1) || fail "$name: TCP to 10.0.2.3:53: $out"
	[ "$out" = dns-tcp ] || fail "$name: TCP to 10.0.2.3:53 echoed '$out'"
	out=$(ns_helper tcp-send "$INSIDE" "$P_ECHO" inside 2>&1) || fail "$name: TCP to $INSIDE: $out"
	[ "$out" = inside ] || fail "$name: TCP to $INSIDE echoed '$out'"
	added "$name: TCP to 10.0.2.3:53 and $INSIDE" 0
	note "$name: $OUTSIDE, 10.0.2.3:53 and $INSIDE reachable"

	# 8. Backpressure: a host server that reads nothing for 1 s.
	mark
	ticks=$(cpu_ticks)
	start=${EPOCHREALTIME/./}
	run_step "$name: 8 MiB to a host server that stalls 1 s" "$(want 8)" \
		ns_helper hash-put 10.0.2.2 "$P_SLOW" "$T/data8"
	ms=$(ms_since "$start")
	ticks=$(($(cpu_ticks) - ticks))
	added "$name: slow reader" 1
	[ "$ms" -ge 1000 ] || fail "$name: the slow reader's transfer took only $ms ms"
	[ "$ticks" -lt $((HZ / 2)) ] || [ "$SLIRPNS_SLOW" = 1 ] ||
		fail "$name: backpressure: the daemon used $((ticks * 1000 / HZ)) ms of CPU around a 1 s stall"
	note "$name: backpressure: the daemon used $((ticks * 1000 / HZ)) ms of CPU in $ms ms$(
		[ "$SLIRPNS_SLOW" = 0 ] || echo " (not checked under a wrapper)")"

	# 5. Many at once, then no fd left behind. The baseline is taken once the earlier steps'
	# sockets are gone (libslirp closes a finished connection's socket a little later): a
	# busy machine otherwise counted one of them as the baseline and one too few as added.
	fds=$(fd_count)
	for _ in $(seq 20); do
		sleep 0.1
		[ "$(fd_count)" = "$fds" ] && break
		fds=$(fd_count)
	done
	mark
	rm -f "$T/go"
	ns_helper tcp-many 10.0.2.2 "$P_MANY" --count "$MANY" --hold "$T/go" --timeout $((30 * LIMIT)) \
		>"$T/many.out" 2>&1 &
	many=$!
	for _ in $(seq $((300 * LIMIT))); do
		grep -q held "$T/many.out" && break
		kill -0 "$many" 2>/dev/null || break
		sleep 0.1
	done
	grep -q held "$T/many.out" || fail "$name: $MANY connections at once: $(cat "$T/many.out")"
	held=$(fd_count) # each connection needs at least its host socket: the count sees them
	[ "$held" -ge $((fds + MANY)) ] ||
		fail "$name: with $MANY connections open the daemon has $held fds, $fds before"
	if [ "$MODE" = auto ]; then
		expect_ofp "$name: $MANY connections open" \
			".connections == \$base + $MANY and .active == $MANY"
	else
		expect_ofp "$name: $MANY connections open" ".connections == 0 and .active == 0"
	fi
	touch "$T/go"
	wait_exit "$many" $((30 * LIMIT)) || fail "$name: $MANY connections: not closed in time"
	[ "$EXIT_RC" = 0 ] || fail "$name: $MANY connections: $(cat "$T/many.out")"
	note "$name: $(tail -n1 "$T/many.out"); $held fds while open"
	wait_fds "$name: after $MANY connections" "$fds"

	# 7. get_info at the end: nothing active. With the fast path every connection of the case
	# has been a kernel socket on either side, so the fds are back to the start's too (libslirp
	# keeps a closed connection's host socket for its TIME_WAIT: not checked with off).
	expect_ofp "$name: at the end" "if \"$MODE\" == \"auto\" then .enabled == true and
		.connections > $MANY else .enabled == false and .connections == 0 end and .active == 0"
	[ "$MODE" = auto ] && [ "$CHECK_INFO" = 1 ] && wait_fds "$name: at the end" "$fds0"
	[ "$MODE" = none ] || note "$name: get_info: $(ofp)"
	kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "$name: the daemon died"
	stop_slirpns
}

# ---- per mode: --disable-host-loopback, a bad option value -------------------------------------------
loopback_disabled() {
	local args=(-c -a "$API_SOCK" --disable-host-loopback) out n refused start
	[ "$MODE" = none ] || args+=(--outbound-fast-path="$MODE")
	start_ns
	start_slirpns "${args[@]}" "$NSPID" tap0
	n=$(lines "$T/logecho.log")
	start=${EPOCHREALTIME/./}
	refused=$(ns_helper tcp-send 10.0.2.2 "$P_LOGECHO" hello --timeout 2 2>&1) &&
		fail "$MODE: TCP to 10.0.2.2 worked with --disable-host-loopback: '$refused'"
	refused="$(echo "$refused" | tail -n1) after $(ms_since "$start") ms"
	[ "$(lines "$T/logecho.log")" = "$n" ] ||
		fail "$MODE: with --disable-host-loopback the host server saw a connection"
	BASE=0
	expect_ofp "$MODE: --disable-host-loopback, after 10.0.2.2" ".connections == 0 and .active == 0"
	out=$(ns_helper hash-put "$OUTSIDE" "$P_SINK" "$T/data1" 2>&1) ||
		fail "$MODE: --disable-host-loopback: TCP to $OUTSIDE failed: $out"
	[ "$out" = "$(want 1)" ] || fail "$MODE: --disable-host-loopback: $OUTSIDE received '$out'"
	note "$MODE: --disable-host-loopback: 10.0.2.2 fails ($refused), $OUTSIDE reachable"
	stop_slirpns
}

CASES=0
for MODE in "${MODES[@]}"; do
	note "=== mode $MODE$([ "$MODE" = none ] && echo " (no --outbound-fast-path; get_info unchecked)")"
	for MTU in "${MTUS[@]}"; do
		for OFFLOAD in "${OFFLOADS[@]}"; do
			run_case "${MODE}_${MTU}_${OFFLOAD//-/_}"
			CASES=$((CASES + 1))
		done
	done
	loopback_disabled
done

if [[ " ${MODES[*]} " != *" none "* ]]; then
	start_ns
	rc=0
	timeout 5 "${AS_USER[@]}" "$SLIRPNS_BIN" --outbound-fast-path=bogus "$NSPID" tap0 \
		>"$T/bogus.log" 2>&1 || rc=$?
	if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
		fail "--outbound-fast-path=bogus: exit $rc ($(cat "$T/bogus.log"))"
	fi
	note "--outbound-fast-path=bogus refused: $(head -n1 "$T/bogus.log")"
fi
note "$CASES cases passed"
exit 0
