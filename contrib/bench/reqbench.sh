#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# reqbench.sh - small-request cost of the daemon (issue #18): wrk against nginx serving 1 KiB,
# either namespace -> host (nginx on the host's loopback, reached as 10.0.2.2) or a forward
# (wrk on 127.0.0.1:18080 -> nginx inside the namespace on port 80), keep-alive or one
# connection per request. Reports req/s, daemon CPU (utime+stime) per 1000 requests, and, with
# STRACE=1, system calls per request from `strace -c -f` over a second run.
#
# Usage: reqbench.sh out|fwd ka|close [SECONDS]   (as root or any user with unshare --user)
# Env: SLIRPNS_BIN (default build/src/slirpns), MTU (65520), CONNS (32), STRACE=1 (STRACE_LOG),
# PERF=1 (PERF_REPORT_ARGS: options for perf report, default --no-children).
set -eu
MODE=$1 STYLE=$2 DUR=${3:-5}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SLIRPNS_BIN:-$HERE/build/src/slirpns}
MTU=${MTU:-65520} CONNS=${CONNS:-32} THREADS=${THREADS:-$((CONNS < 2 ? 1 : 2))}
D=$(mktemp -d /tmp/reqbench.XXXXXX)
chmod 755 "$D" # nginx workers may run as another user
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$D/nginx.pid" ] && kill "$(cat "$D/nginx.pid")" 2>/dev/null || true
	[ -f "$D/ns/nginx.pid" ] && kill "$(cat "$D/ns/nginx.pid")" 2>/dev/null || true
	sleep 0.2
	rm -rf "$D"
}
trap cleanup EXIT

# nginx_conf DIR PORT: an unprivileged nginx with its own prefix, serving DIR/1k.
nginx_conf() {
	mkdir -p "$1/logs"
	head -c 1024 /dev/zero | tr '\0' x >"$1/1k"
	cat >"$1/nginx.conf" <<CONF
user root root;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/logs/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1;
	uwsgi_temp_path $1; scgi_temp_path $1;
	keepalive_requests 1000000;
	server { listen $2 reuseport; root $1; location / { } }
}
CONF
}

unshare --user --map-root-user --net sleep infinity &
NSPID=$!
PIDS+=("$NSPID")
for _ in $(seq 100); do
	[ "$(readlink /proc/$NSPID/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
	sleep 0.05
done
in_ns() { nsenter -t "$NSPID" -U --preserve-credentials -n -- "$@"; }

args=(--configure --mtu="$MTU")
[ "$MODE" = fwd ] && args+=(-p 18080:80/tcp)
mkfifo "$D/ready"
"$BIN" "${args[@]}" -r 9 "$NSPID" tap0 9>"$D/ready" >"$D/daemon.log" 2>&1 &
DPID=$!
PIDS+=("$DPID")
read -r -n 1 -t 20 _ <"$D/ready"

if [ "$MODE" = out ]; then
	nginx_conf "$D/host" 8080
	nginx -p "$D/host" -c "$D/host/nginx.conf" -e "$D/host/logs/error.log"
	cp "$D/host/nginx.pid" "$D/nginx.pid"
	URL=http://10.0.2.2:8080/1k
	RUN=(in_ns wrk)
else
	nginx_conf "$D/ns" 80
	in_ns nginx -p "$D/ns" -c "$D/ns/nginx.conf" -e "$D/ns/logs/error.log"
	URL=http://127.0.0.1:18080/1k
	RUN=(wrk)
fi
sleep 0.3
hdr=()
[ "$STYLE" = close ] && hdr=(-H "Connection: close")

cpu() { awk '{print $14 + $15}' "/proc/$DPID/stat"; }
"${RUN[@]}" -t"$THREADS" -c"$CONNS" -d1 "${hdr[@]}" "$URL" >/dev/null # warm up
c0=$(cpu)
out=$("${RUN[@]}" -t"$THREADS" -c"$CONNS" -d"$DUR" "${hdr[@]}" "$URL")
c1=$(cpu)
reqs=$(awk '/requests in/ {print $1}' <<<"$out")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr '\n' ' ' || true)
tck=$(getconf CLK_TCK)
echo "$MODE $STYLE req/s $rps  cpu_ms/1000req $(awk -v c=$((c1 - c0)) -v r="$reqs" -v t="$tck" \
	'BEGIN {printf "%.2f", c * 1000 / t / r * 1000}') $errs"

if [ "${STRACE:-0}" = 1 ]; then
	# STRACE_LOG=FILE: also keep a full trace (of a short run: CONNS=1 and 1 second).
	if [ -n "${STRACE_LOG:-}" ]; then
		strace -f -p "$DPID" -o "$STRACE_LOG" &
	else
		strace -c -f -p "$DPID" -o "$D/strace" &
	fi
	SP=$!
	sleep 0.5
	out=$("${RUN[@]}" -t"$THREADS" -c"$CONNS" -d"$DUR" "${hdr[@]}" "$URL")
	kill -INT "$SP"; wait "$SP" || true
	reqs=$(awk '/requests in/ {print $1}' <<<"$out")
	[ -z "${STRACE_LOG:-}" ] && awk -v r="$reqs" '$NF == "total" {printf "  %-16s %6.2f /req\n", "TOTAL", $4 / r; next}
		$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $4 / r >= 0.005 {
		printf "  %-16s %6.2f /req\n", $NF, $4 / r }' "$D/strace"
fi
if [ "${PERF:-0}" = 1 ]; then
	perf record -g -o "$D/perf.data" -p "$DPID" -- sleep "$DUR" >/dev/null 2>&1 &
	PP=$!
	"${RUN[@]}" -t"$THREADS" -c"$CONNS" -d"$DUR" "${hdr[@]}" "$URL" >/dev/null
	wait "$PP" || true
	perf report -i "$D/perf.data" --stdio ${PERF_REPORT_ARGS:---no-children} 2>/dev/null | grep -v '^$' | head -${PERFLINES:-60}
fi
