# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# measure.sh - the measurements of contrib/bench/run.sh (sourced, not run).
#
# Every function takes the running instance from start_instance (NSPID, DPID, IN_NS) and
# appends its samples to $SAMPLES with record METRIC VALUE (the current ROUND, CONTENDER, MTU).
# Paths measured (host = the bench's private host network namespace):
#   ns->host      client in the namespace -> 10.0.2.2:$PORT_IPERF, which every contender maps
#                 to the host's loopback (pasta through its gateway mapping);
#   host->ns fwd  client bound to 192.0.2.1 (an address on the bench's dummy/ifb interface)
#                 -> 192.0.2.1:$FWD_BASE, the forward to the namespace's $PORT_IPERF;
#   host->ns lo   client on 127.0.0.1 -> 127.0.0.1:$FWD_BASE.
# veth has no forwards (and no loopback path into the namespace): its host->ns paths go
# directly to 10.0.2.100:$PORT_IPERF, "fwd" from a client bound to 192.0.2.1, "lo" from an
# unbound one (source 10.0.2.2). Its ns->host reaches the host's end of the veth, where the
# host's servers listen too (on all addresses).
# UDP (iperf3 -u -l 1400, UDP_ARGS): ns->host and host->ns fwd, over the same TCP+UDP forward.

record() { echo "$ROUND,$CONTENDER,$MTU,$1,$2" >>"$SAMPLES"; }

# run_at ns|host SECONDS CMD...: run CMD in the namespace (as the user) or on the host, killed
# after SECONDS.
run_at() {
	local where=$1 limit=$2
	shift 2
	if [ "$where" = ns ]; then
		timeout -k 5 "$limit" "${IN_NS[@]}" "$@"
	else
		timeout -k 5 "$limit" "$@"
	fi
}

UDP_ARGS=(-u -l 1400) # UDP runs: 1400-byte datagrams (they fit MTU 1500 unfragmented)

# The three iperf3 client invocations, by path and $CONTENDER: iperf3_args PATH -> IPERF_AT,
# IPERF_ARGS.
iperf3_args() {
	case $CONTENDER:$1 in
	*:ns_host) IPERF_AT=ns IPERF_ARGS=(-c 10.0.2.2 -p "$PORT_IPERF") ;;
	veth:host_ns_fwd) IPERF_AT=host IPERF_ARGS=(-c 10.0.2.100 -B 192.0.2.1 -p "$PORT_IPERF") ;;
	veth:host_ns_lo) IPERF_AT=host IPERF_ARGS=(-c 10.0.2.100 -p "$PORT_IPERF") ;;
	*:host_ns_fwd) IPERF_AT=host IPERF_ARGS=(-c 192.0.2.1 -B 192.0.2.1 -p "$FWD_BASE") ;;
	*:host_ns_lo) IPERF_AT=host IPERF_ARGS=(-c 127.0.0.1 -p "$FWD_BASE") ;;
	*:wan) IPERF_AT=ns IPERF_ARGS=(-c 198.51.100.2 -p "$PORT_WAN") ;;
	esac
}

# iperf3_json PATH EXTRA-ARGS...: one iperf3 run, JSON on stdout; 1 when it failed (the
# caller then restarts the iperf3 servers: a client killed mid-test can leave one busy).
iperf3_json() {
	local path=$1 out
	shift
	iperf3_args "$path"
	out=$(run_at "$IPERF_AT" $((BENCH_SECONDS + 120)) iperf3 -J --connect-timeout 5000 \
		"${IPERF_ARGS[@]}" "$@" 2>&1)
	if ! jq -e '.end.sum_received.bytes > 0' <<<"$out" >/dev/null 2>&1; then
		warn "iperf3 $path failed: $(jq -r '.error // empty' <<<"$out" 2>/dev/null || echo "$out" | tail -n 2)"
		return 1
	fi
	echo "$out"
}

# Throughput for BENCH_SECONDS, Gbit/s at the receiver.
measure_tput() { # PATH
	local out
	out=$(iperf3_json "$1" -t "$BENCH_SECONDS") || { restart_iperf_servers; return 0; }
	record "tput_$1" "$(jq -r '.end.sum_received.bits_per_second / 1e9' <<<"$out")"
}

# UDP at an unlimited offered rate (-b 0) for BENCH_SECONDS: Gbit/s received at the receiver
# and the receiver's loss percent.
measure_udp() { # PATH
	local out
	out=$(iperf3_json "$1" "${UDP_ARGS[@]}" -b 0 -t "$BENCH_SECONDS") ||
		{ restart_iperf_servers; return 0; }
	record "udp_$1" "$(jq -r '.end.sum_received.bits_per_second / 1e9' <<<"$out")"
	record "udplost0_$1" "$(jq -r '.end.sum_received.lost_percent' <<<"$out")"
}

# UDP loss percent at the receiver at a fixed offered rate: measure_udp_loss PATH BITS/S.
measure_udp_loss() {
	local out
	out=$(iperf3_json "$1" "${UDP_ARGS[@]}" -b "$2" -t "$BENCH_SECONDS") ||
		{ restart_iperf_servers; return 0; }
	record "udploss_$1" "$(jq -r '.end.sum_received.lost_percent' <<<"$out")"
}

# Daemon CPU time (user + system, all threads) in clock ticks.
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat") || return 1
	stat=${stat##*) } # fields from the 3rd (state) on: utime is the 12th, stime the 13th
	read -r -a f <<<"$stat"
	echo $((f[11] + f[12]))
}

# Daemon CPU seconds per GB (10^9 bytes received) over a transfer of MB megabytes:
# measure_cpu METRIC PATH MB [IPERF3-ARGS...] (cpu PATH: TCP; udpcpu PATH -u ...: UDP).
measure_cpu() {
	local metric=$1 path=$2 mb=$3 before after out bytes
	shift 3
	before=$(cpu_ticks "$DPID") || return 0
	out=$(iperf3_json "$path" "$@" -n "$((mb * 1000000))") ||
		{ restart_iperf_servers; return 0; }
	after=$(cpu_ticks "$DPID") || return 0
	bytes=$(jq -r '.end.sum_received.bytes' <<<"$out")
	record "${metric}_$path" "$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v b="$bytes" \
		'BEGIN { printf "%.4f", t / hz / (b / 1e9) }')"
}

# TCP ping-pong latency, namespace -> host: median and p99 round trip in µs.
measure_latency() {
	local out p50 p99
	if [ "$HAVE_SOCKPERF" = 1 ]; then
		out=$(run_at ns $((BENCH_LAT_SECONDS + 30)) sockperf ping-pong --tcp -i 10.0.2.2 \
			-p "$PORT_PP" -t "$BENCH_LAT_SECONDS" --full-rtt 2>&1)
		p50=$(sed -n 's/.*percentile 50\.000 = *\([0-9.]*\).*/\1/p' <<<"$out")
		p99=$(sed -n 's/.*percentile 99\.000 = *\([0-9.]*\).*/\1/p' <<<"$out")
	else
		out=$(run_at ns $((BENCH_LAT_SECONDS + 30)) "$PY" "$W/bench.py" pp-client 10.0.2.2 \
			"$PORT_PP" "$BENCH_LAT_SECONDS" 2>&1)
		read -r p50 p99 <<<"$out"
	fi
	if [ -z "$p50" ] || [ -z "$p99" ]; then
		warn "latency run failed: $(tail -n 2 <<<"$out")"
		return 0
	fi
	record lat_p50 "$p50"
	record lat_p99 "$p99"
}

# Connection setup through forwards from 127.0.0.1 (veth: directly to the namespace's
# address), connect + first byte in µs, against every contender at once:
# measure_connect CONTENDER:ADDR:PORT...  (one connection to each in turn).
measure_connect() {
	local targets=() who=() arg out line p50 p99 k
	for arg in "$@"; do
		who+=("${arg%%:*}") targets+=("${arg#*:}")
	done
	out=$(run_at host 300 "$PY" "$W/bench.py" conn-pair "$BENCH_CONNS" \
		"$(IFS=,; echo "${targets[*]}")" 2>&1)
	for k in "${!who[@]}"; do
		line=$(grep -F "${targets[k]} " <<<"$out") || line=""
		read -r _ p50 p99 <<<"$line"
		if ! [[ "$p50" =~ ^[0-9.]+$ ]]; then
			warn "connection setup run failed for ${who[k]}: $(tail -n 2 <<<"$out")"
			continue
		fi
		CONTENDER=${who[k]}
		record conn_p50 "$p50"
		record conn_p99 "$p99"
	done
}

# Peak RSS (VmHWM) in MiB.
measure_rss() {
	record rss_peak "$(awk '/^VmHWM:/ { printf "%.2f", $2 / 1024 }' "/proc/$DPID/status")"
}

# Context switches (voluntary + involuntary) of all the daemon's threads so far.
ctxt_switches() {
	cat "/proc/$1"/task/*/status 2>/dev/null |
		awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}

# ---- HTTP (nginx, wrk) and WAN rows ---------------------------------------------------------
# HTTP paths: ns_host, the namespace's wrk -> 10.0.2.2:$PORT_HTTP (the host's nginx on its
# loopback; veth: the host's end of the veth); host_ns, the host's wrk -> 127.0.0.1 forward
# FWD_BASE+2 -> the namespace's nginx (veth: directly to 10.0.2.100:$PORT_HTTP).
http_target() {
	case $CONTENDER:$1 in
	*:ns_host) HTTP_AT=ns HTTP_URL=http://10.0.2.2:$PORT_HTTP/1k ;;
	veth:host_ns) HTTP_AT=host HTTP_URL=http://10.0.2.100:$PORT_HTTP/1k ;;
	*:host_ns) HTTP_AT=host HTTP_URL=http://127.0.0.1:$((FWD_BASE + 2))/1k ;;
	esac
}

# wrk_run PATH SECONDS CONNECTIONS [WRK-ARGS...]: one wrk run; sets WRK_REQS (requests
# completed) and WRK_RPS; 1 when it failed.
wrk_run() {
	local path=$1 secs=$2 conns=$3 out errs
	shift 3
	http_target "$path"
	out=$(run_at "$HTTP_AT" $((secs + 30)) wrk -t2 -c"$conns" -d"${secs}s" "$@" "$HTTP_URL" 2>&1)
	WRK_REQS=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' <<<"$out")
	WRK_RPS=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
	if [ -z "$WRK_REQS" ] || [ -z "$WRK_RPS" ] || [ "$WRK_REQS" = 0 ]; then
		warn "wrk $path failed: $(tail -n 2 <<<"$out")"
		return 1
	fi
	errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out") && warn "wrk $path $*: $errs"
	return 0
}

# measure_http PATH ka|close: requests/s over BENCH_SECONDS (close: one connection per
# request, -H 'Connection: close'), and the daemon's CPU milliseconds per 1,000 requests.
measure_http() {
	local path=$1 mode=$2 metric=http before="" after extra=()
	[ "$mode" = ka ] || metric=httpc extra=(-H 'Connection: close')
	[ -z "$DPID" ] || before=$(cpu_ticks "$DPID")
	wrk_run "$path" "$BENCH_SECONDS" 32 "${extra[@]}" || return 0
	record "${metric}_$path" "$WRK_RPS"
	[ -n "$before" ] || return 0
	after=$(cpu_ticks "$DPID") || return 0
	record "reqcpu_${mode}_$path" "$(awk -v t=$((after - before)) -v hz="$CLK_TCK" \
		-v n="$WRK_REQS" 'BEGIN { printf "%.4f", t / hz * 1000 / (n / 1000) }')"
}

# measure_syscalls PATH: the daemon's syscalls (all threads, strace -c -f) per keep-alive
# request over a 2 s wrk -c8 run. strace slows the daemon down: the rate is not a sample.
measure_syscalls() {
	local path=$1 out=$INST_DIR/strace-$1.txt spid calls ok=0 _
	strace -c -f -p "$DPID" -o "$out" 2>"$INST_DIR/strace-$1.log" &
	spid=$!
	for _ in $(seq 100); do
		grep -q attached "$INST_DIR/strace-$1.log" 2>/dev/null && break
		sleep 0.02
	done
	sleep 0.2 # the other threads
	wrk_run "$path" 2 8 && ok=1
	kill -INT "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	[ "$ok" = 1 ] || return 0
	calls=$(awk '$NF == "total" { print $4 }' "$out")
	[ -n "$calls" ] || { warn "strace $path: no total"; return 0; }
	record "sysc_$path" "$(awk -v c="$calls" -v n="$WRK_REQS" 'BEGIN { printf "%.2f", c / n }')"
}

# measure_wan down|up STREAMS: iperf3 -n BENCH_WAN_MB MiB with -P STREAMS between the
# namespace and the WAN remote (down: -R, the remote sends); Gbit/s at the receiver.
measure_wan() {
	local dir=$1 streams=$2 rev=() out
	[ "$dir" = up ] || rev=(-R)
	out=$(iperf3_json wan -P "$streams" -n "${BENCH_WAN_MB}M" "${rev[@]}") ||
		{ restart_wan_iperf; return 0; }
	record "wan_${dir}$streams" "$(jq -r '.end.sum_received.bits_per_second / 1e9' <<<"$out")"
}
