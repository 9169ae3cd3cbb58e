#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh - `make bench`: slirpns side by side with slirp4netns and, when installed, pasta.
#
# What it measures, for every contender at MTU 1500 and 65520 (contrib/bench/README.md):
#   1-3 TCP throughput (iperf3, Gbit/s at the receiver): namespace -> host (10.0.2.2, the
#       host's loopback); host -> namespace through a port forward from a non-loopback host
#       address (192.0.2.1); and through the same forward from 127.0.0.1;
#   4   UDP throughput (iperf3 -u -b 0 -l 1400, Gbit/s and loss at the receiver):
#       namespace -> host, and host -> namespace through a UDP forward from 192.0.2.1;
#   5   UDP loss at a fixed offered rate, 80% of what slirp4netns received in this round
#       (row 4), on both UDP paths, every contender once more after the others (bench_udp_loss);
#   6   TCP request/response round trip namespace -> host, median and p99 (sockperf
#       ping-pong, or bench.py pp-client when sockperf is missing);
#   7   connection setup through the forward from 127.0.0.1, connect + first byte, every
#       contender side by side, one connection to each in turn;
#   8   daemon CPU seconds per GB: utime+stime from /proc/PID/stat around a fixed-size
#       iperf3 -n transfer on each of the three TCP paths and (-u, at the loss row's offered
#       rate, in bench_udp_loss) the two UDP paths;
#   9   peak RSS: VmHWM after all the runs;
#   10  idle wake-ups per second: context switches of a fresh daemon (forwards set up, no
#       traffic) over BENCH_IDLE_SECONDS;
#   11  exec-to-ready: from just before the daemon is started until its ready fd reads "1"
#       (pasta: until its foreground process exits once initialised), median of BENCH_STARTS;
#   12  HTTP requests/s (wrk -t2 -c32 against nginx serving a 1 KiB file), keep-alive and one
#       connection per request: namespace -> nginx on the host's loopback (10.0.2.2), and
#       host 127.0.0.1 forward -> nginx in the namespace; daemon CPU per 1,000 requests on each
#       of the four, and (strace -c, when installed) daemon syscalls per keep-alive request;
#   13  WAN: iperf3 -n BENCH_WAN_MB MiB up and down (-R), 1 and 8 streams, from the namespace
#       to a "remote" namespace behind a routed veth (198.51.100.0/24, MTU 1500, netem delay
#       20 ms when the kernel has netem); veth reaches it through the host namespace's NAT.
# BENCH_ROWS picks the sets: base (1-11), http (12), wan (13).
# The veth contender is the physical limit: a root-made net namespace joined to the host by a
# veth pair, no daemon and no NAT (contenders.sh); rows 8-11 do not apply to it.
# How: it re-executes itself inside private network, mount and PID namespaces, so traffic only
# ever goes to loopback, to 192.0.2.1 on a dummy (or ifb) interface it makes there, to
# 10.0.2.0/24 inside container namespaces it makes, and to 198.51.100.2 in the WAN remote's
# namespace it makes (setup_wan); every process it starts dies with it.
# Daemons run as an unprivileged user (setpriv), each in a fresh user+net namespace, with
# podman's flags (contenders.sh). Contenders alternate within every round; bench.py takes the
# medians over rounds and writes bench-out/{samples.csv,results.csv,results.md,chart.png}.
#
# Usage: contrib/bench/run.sh [SLIRPNS-BINARY]        (`make bench` passes the built one)
# Environment (defaults): BENCH_ROUNDS=3 BENCH_SECONDS=3 (per iperf3 run) BENCH_CPU_MB=1000
#   BENCH_UDP_CPU_MB=200 (UDP CPU/GB, sent at the loss row's rate; at most 20 s of it)
#   BENCH_LAT_SECONDS=2 BENCH_CONNS=500 BENCH_STARTS=5 BENCH_IDLE_SECONDS=10
#   BENCH_MTUS="1500 65520" BENCH_CONTENDERS="slirpns slirp4netns pasta veth"
#   BENCH_OUT=./bench-out BENCH_ROWS="base http wan" BENCH_WAN_MB=256 (MiB per WAN run)
#   BENCH_USER (as root; default slirpns-test, else nobody) BENCH_SLIRPNS_FLAGS (extra flags
#   for slirpns only, e.g. --port-fast-path=off).
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BENCH_ROUNDS:=3}" "${BENCH_SECONDS:=3}" "${BENCH_CPU_MB:=1000}" "${BENCH_LAT_SECONDS:=2}"
: "${BENCH_UDP_CPU_MB:=200}"
: "${BENCH_CONNS:=500}" "${BENCH_STARTS:=5}" "${BENCH_IDLE_SECONDS:=10}" "${BENCH_IDLE_SETTLE:=3}"
: "${BENCH_MTUS:=1500 65520}" "${BENCH_CONTENDERS:=slirpns slirp4netns pasta veth}"
: "${BENCH_OUT:=$PWD/bench-out}" "${BENCH_ROWS:=base http wan}" "${BENCH_WAN_MB:=256}"
PORT_IPERF=5201     # iperf3 servers, on the host and in the namespace
PORT_CONN=7000      # the namespace's connection-setup server
PORT_PP=11111       # the host's ping-pong server
FWD_BASE=15000      # forwards: 15000 -> ns $PORT_IPERF (TCP+UDP), 15001 -> ns $PORT_CONN
IDLE_FWD_BASE=16000 # the idle instances' forwards, three ports each
CONN_FWD_BASE=17000 # the connection-setup instances' forwards, three ports each
PORT_HTTP=8080      # nginx, on the host and in the namespace (forward FWD_BASE+2 -> ns)
PORT_WAN=5202       # the WAN remote's iperf3 server

say() { echo "bench: $*"; }
warn() { echo "bench: warning: $*" >&2; }
die() {
	echo "bench: $*" >&2
	exit 1
}

# ---- before isolation: arguments and tools ----------------------------------------------

# has_rows SET: whether BENCH_ROWS selects SET (base, http or wan).
has_rows() { [[ " $BENCH_ROWS " == *" $1 "* ]]; }

# Check the tools; drop optional contenders that are not installed. Sets HAVE_SOCKPERF.
check_tools() {
	local missing=() tool
	for tool in iperf3 jq socat ip ss unshare nsenter setpriv timeout awk; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	PY=/usr/bin/python3
	[ -x "$PY" ] || PY=$(command -v python3) || missing+=(python3)
	[ -x "$SLIRPNS" ] || die "no slirpns binary at $SLIRPNS (run make, or pass its path)"
	SLIRP4NETNS_BIN=$(command -v slirp4netns) || missing+=(slirp4netns)
	[ ${#missing[@]} = 0 ] || die "missing: ${missing[*]}. On Debian: apt-get install iperf3 jq \
socat iproute2 util-linux python3 slirp4netns (optional: passt for pasta, sockperf, gnuplot-nox,
wrk nginx-light strace)"
	if ! command -v pasta >/dev/null && [[ " $BENCH_CONTENDERS " == *" pasta "* ]]; then
		say "pasta is not installed (apt-get install passt): benchmarking without it"
		BENCH_CONTENDERS=${BENCH_CONTENDERS//pasta/}
	fi
	HAVE_SOCKPERF=0
	if command -v sockperf >/dev/null; then
		HAVE_SOCKPERF=1
	else
		say "sockperf is not installed (apt-get install sockperf): latency uses bench.py's ping-pong"
	fi
	command -v gnuplot >/dev/null ||
		say "gnuplot is not installed (apt-get install gnuplot-nox): no chart"
	local set
	for set in $BENCH_ROWS; do
		case $set in base | http | wan) ;; *) die "BENCH_ROWS: no row set '$set' (base http wan)" ;; esac
	done
	HAVE_STRACE=0 NGINX_BIN=""
	if has_rows http; then
		NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
		if ! command -v wrk >/dev/null || ! [ -x "$NGINX_BIN" ]; then
			say "wrk or nginx is not installed (apt-get install wrk nginx-light): no HTTP rows"
			BENCH_ROWS=${BENCH_ROWS//http/}
		elif command -v strace >/dev/null; then
			HAVE_STRACE=1
		else
			say "strace is not installed (apt-get install strace): no syscalls-per-request row"
		fi
	fi
}

# Re-execute inside private host namespaces (as lib.sh of the integration tests does).
isolate() {
	export SLIRPNS SLIRP4NETNS_BIN PY HAVE_SOCKPERF BENCH_CONTENDERS BENCH_OUT BENCH_ISOLATED=1
	export BENCH_ROUNDS BENCH_SECONDS BENCH_CPU_MB BENCH_UDP_CPU_MB BENCH_LAT_SECONDS
	export BENCH_CONNS BENCH_STARTS BENCH_IDLE_SECONDS BENCH_IDLE_SETTLE BENCH_MTUS
	export BENCH_ROWS BENCH_WAN_MB HAVE_STRACE NGINX_BIN
	if [ "$(id -u)" = 0 ]; then
		exec unshare --net --mount --pid --fork --mount-proc --propagation private \
			bash "$0" "$@"
	fi
	exec unshare --user --map-root-user --net --mount --pid --fork --mount-proc \
		--propagation private bash "$0" "$@"
}

if [ -z "${BENCH_ISOLATED:-}" ]; then
	SLIRPNS=${1:-${SLIRPNS:-$BENCH_DIR/../../src/slirpns}}
	[ -e "$SLIRPNS" ] && SLIRPNS=$(cd "$(dirname "$SLIRPNS")" && pwd)/$(basename "$SLIRPNS")
	check_tools
	mkdir -p "$BENCH_OUT" || die "cannot create $BENCH_OUT"
	BENCH_OUT=$(cd "$BENCH_OUT" && pwd)
	isolate "$@"
fi

# ---- inside the private host namespaces -------------------------------------------------

# shellcheck source=contenders.sh
. "$BENCH_DIR/contenders.sh"
# shellcheck source=measure.sh
. "$BENCH_DIR/measure.sh"

# The unprivileged user and the scratch directory: sets AS_USER, BENCH_UID/GID, W.
setup_user() {
	W=$(mktemp -d /tmp/slirpns-bench.XXXXXX)
	chmod 755 "$W"
	trap 'rm -rf "$W"' EXIT
	AS_USER=() BENCH_UID="" BENCH_GID=""
	if [ "$(id -u)" = 0 ] && [ "$(awk '{ print $1 $2; exit }' /proc/self/uid_map)" = 00 ]; then
		if [ -z "${BENCH_USER:-}" ]; then
			BENCH_USER=nobody
			id slirpns-test >/dev/null 2>&1 && BENCH_USER=slirpns-test
		fi
		if ! BENCH_UID=$(id -u "$BENCH_USER") || ! BENCH_GID=$(id -g "$BENCH_USER"); then
			die "no user $BENCH_USER"
		fi
		AS_USER=(setpriv --reuid="$BENCH_UID" --regid="$BENCH_GID" --clear-groups)
		"${AS_USER[@]}" test -w /dev/net/tun ||
			die "/dev/net/tun is not usable by $BENCH_USER (chmod 0666 /dev/net/tun)"
	else
		BENCH_USER=$(id -un)
	fi
	# The user gets its own copies: the build tree may be unreadable to it.
	cp "$SLIRPNS" "$W/slirpns" || die "cannot copy $SLIRPNS to $W"
	cp "$BENCH_DIR/bench.py" "$W/bench.py" || die "cannot copy bench.py to $W"
	chmod 755 "$W/slirpns" "$W/bench.py"
	SLIRPNS_BIN=$W/slirpns
}

# The private host network: loopback, and 192.0.2.1/24 on a dummy interface (ifb when this
# kernel has no dummy driver) with a default route through it, from which pasta takes its
# template interface. Nothing is reachable through that route: it ends in this namespace.
setup_host_net() {
	ip link set lo up
	ip link add bench0 type dummy 2>/dev/null || ip link add bench0 type ifb ||
		die "cannot create a dummy or ifb interface"
	ip link set bench0 up
	ip addr add 192.0.2.1/24 dev bench0
	ip route add default via 192.0.2.254 dev bench0
}

# wait_listen ns|host PORT: until something listens on TCP PORT there (~5 s).
wait_listen() {
	local where=$1 port=$2 _
	for _ in $(seq 100); do
		if [ "$where" = ns ]; then
			"${IN_NS[@]}" ss -Hltn "sport = :$port" | grep -q . && return 0
		else
			ss -Hltn "sport = :$port" | grep -q . && return 0
		fi
		sleep 0.05
	done
	warn "nothing listens on $where port $port"
	return 1
}

# The host's servers: iperf3 and the ping-pong server, on all addresses.
start_host_iperf() {
	iperf3 -s -p "$PORT_IPERF" >>"$W/iperf3-host.log" 2>&1 &
	HOST_IPERF_PID=$!
	disown "$HOST_IPERF_PID"
	wait_listen host "$PORT_IPERF"
}
start_host_servers() {
	start_host_iperf || die "the host's iperf3 server did not start"
	if [ "$HAVE_SOCKPERF" = 1 ]; then
		sockperf server --tcp -i 0.0.0.0 -p "$PORT_PP" >"$W/sockperf.log" 2>&1 &
	else
		"$PY" "$W/bench.py" pp-server 0.0.0.0 "$PORT_PP" >"$W/pp.log" 2>&1 &
	fi
	disown $!
	wait_listen host "$PORT_PP" || die "the host's ping-pong server did not start"
}

# The namespace's servers for the current instance: iperf3 and the connection-setup server.
start_ns_iperf() {
	"${IN_NS[@]}" iperf3 -s -p "$PORT_IPERF" >>"$INST_DIR/iperf3-ns.log" 2>&1 &
	NS_IPERF_PID=$!
	disown "$NS_IPERF_PID"
	wait_listen ns "$PORT_IPERF"
}
start_ns_servers() {
	"${IN_NS[@]}" "$PY" "$W/bench.py" conn-server 0.0.0.0 "$PORT_CONN" \
		>"$INST_DIR/conn-server.log" 2>&1 &
	NS_CONN_PID=$!
	disown "$NS_CONN_PID"
	start_ns_iperf && wait_listen ns "$PORT_CONN"
}

# After a failed iperf3 run: fresh servers on both sides.
restart_iperf_servers() {
	local pid
	for pid in "$HOST_IPERF_PID" "$NS_IPERF_PID"; do
		[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null
	done
	wait_gone "$HOST_IPERF_PID"
	wait_gone "$NS_IPERF_PID"
	start_host_iperf
	start_ns_iperf
}

# nginx_prefix DIR: the prefix directory of an unprivileged nginx: a 1 KiB file to serve, the
# configuration, and its temp, pid and log files, all owned by the user (nothing it runs
# reads the source tree). One process (master_process off), so that it never changes user:
# in a container namespace it runs as the namespace's root, whose setgroups() is denied.
nginx_prefix() {
	local d=$1 m temp=""
	mkdir -p "$d/www" "$d/tmp" || return 1
	head -c 1024 /dev/urandom >"$d/www/1k"
	for m in proxy fastcgi uwsgi scgi; do # every compiled-in temp path, else it wants /var/lib
		"$NGINX_BIN" -V 2>&1 | grep -q -- "--without-http_${m}_module" ||
			temp+="	${m}_temp_path $d/tmp/$m;"$'\n'
	done
	cat >"$d/nginx.conf" <<-EOF
		# SPDX-License-Identifier: GPL-2.0-or-later
		# written by contrib/bench/run.sh
		daemon off;
		master_process off;
		user root root;
		worker_processes 1;
		pid $d/nginx.pid;
		error_log $d/error.log;
		events { worker_connections 4096; }
		http {
			access_log off;
			keepalive_requests 1000000;
			client_body_temp_path $d/tmp/body;
		$temp
			server {
				listen $PORT_HTTP;
				root $d/www;
			}
		}
	EOF
	[ -z "$BENCH_UID" ] || chown -R "$BENCH_UID:$BENCH_GID" "$d"
}

# nginx_cmd DIR: the command line of nginx with prefix DIR.
nginx_cmd() { NGINX=("$NGINX_BIN" -p "$1" -e "$1/error.log" -c "$1/nginx.conf"); }

# The host's nginx, as the user, on all addresses (veth's ns->host reaches it on 10.0.2.2).
start_host_nginx() {
	nginx_prefix "$W/nginx-host" || die "cannot stage nginx's files"
	nginx_cmd "$W/nginx-host"
	"${AS_USER[@]}" "${NGINX[@]}" >"$W/nginx-host/stdout.log" 2>&1 &
	disown $!
	wait_listen host "$PORT_HTTP" ||
		die "the host's nginx did not start: $(tail -n 3 "$W/nginx-host/error.log" 2>/dev/null)"
}

# The namespace's nginx for the current instance; sets NS_NGINX_PID.
start_ns_nginx() {
	nginx_prefix "$INST_DIR/nginx" || return 1
	nginx_cmd "$INST_DIR/nginx"
	"${IN_NS[@]}" "${NGINX[@]}" >"$INST_DIR/nginx/stdout.log" 2>&1 &
	NS_NGINX_PID=$!
	disown "$NS_NGINX_PID"
	wait_listen ns "$PORT_HTTP" ||
		{ warn "nginx: $(tail -n 3 "$INST_DIR/nginx/error.log" 2>/dev/null)"; return 1; }
}

# The WAN remote: a root-made net namespace (WAN_NSPID) joined to the bench's host namespace
# by a veth pair, host side vwan0 198.51.100.1/24, remote side wan0 198.51.100.2/24, MTU 1500,
# netem delay 20 ms on the remote's side (RTT 20 ms) when this kernel has netem; iperf3 server
# on $PORT_WAN. The daemons' sockets reach it over the host namespace's connected route; the
# veth contender's namespace through the host namespace, which forwards (while bench_wan
# runs) and masquerades 10.0.2.0/24 (nft, else iptables, else no NAT: a route back on the
# remote). Sets WAN_DELAY and WAN_NAT, which describe_machine reports.
setup_wan() {
	local in_wan
	unshare --net sleep infinity &
	WAN_NSPID=$!
	disown "$WAN_NSPID"
	NSPID=$WAN_NSPID wait_ns || die "the WAN remote's namespace did not come up"
	in_wan=(nsenter -t "$WAN_NSPID" -n --)
	ip link add vwan0 mtu 1500 type veth peer name wan0 mtu 1500 netns "$WAN_NSPID" &&
		ip addr add 198.51.100.1/24 dev vwan0 && ip link set vwan0 up &&
		"${in_wan[@]}" ip link set lo up &&
		"${in_wan[@]}" ip addr add 198.51.100.2/24 dev wan0 &&
		"${in_wan[@]}" ip link set wan0 up &&
		"${in_wan[@]}" ip route add default via 198.51.100.1 dev wan0 ||
		die "cannot make the WAN remote's veth"
	if "${in_wan[@]}" tc qdisc add dev wan0 root netem delay 20ms 2>/dev/null; then
		WAN_DELAY="netem delay 20ms on the remote's side (RTT 20 ms)"
	else
		WAN_DELAY="NO DELAY: this kernel has no netem (sch_netem), the remote is a plain veth"
		warn "tc netem is not available: the WAN remote has no added delay"
	fi
	if command -v nft >/dev/null && nft add table ip slirpnsbench &&
		nft 'add chain ip slirpnsbench post { type nat hook postrouting priority 100 ; }' &&
		nft add rule ip slirpnsbench post ip saddr 10.0.2.0/24 oifname vwan0 masquerade; then
		WAN_NAT="nft masquerade"
	elif command -v iptables >/dev/null &&
		iptables -t nat -A POSTROUTING -s 10.0.2.0/24 -o vwan0 -j MASQUERADE; then
		WAN_NAT="iptables masquerade"
	else
		"${in_wan[@]}" ip route add 10.0.2.0/24 via 198.51.100.1 dev wan0
		WAN_NAT="routing only, no NAT (neither nft nor iptables works here)"
	fi
	start_wan_iperf || die "the WAN remote's iperf3 server did not start"
}

start_wan_iperf() {
	local _
	nsenter -t "$WAN_NSPID" -n -- "${AS_USER[@]}" iperf3 -s -p "$PORT_WAN" \
		>>"$W/iperf3-wan.log" 2>&1 &
	WAN_IPERF_PID=$!
	disown "$WAN_IPERF_PID"
	for _ in $(seq 100); do
		nsenter -t "$WAN_NSPID" -n -- ss -Hltn "sport = :$PORT_WAN" | grep -q . && return 0
		sleep 0.05
	done
	return 1
}

restart_wan_iperf() {
	kill -KILL "$WAN_IPERF_PID" 2>/dev/null
	wait_gone "$WAN_IPERF_PID"
	start_wan_iperf || warn "the WAN remote's iperf3 server did not restart"
}

record_ready() { record exec_ready "$(awk -v us="$READY_US" 'BEGIN { printf "%.2f", us / 1000 }')"; }

# One instance of $CONTENDER at $MTU through all the traffic measurements (veth has no
# daemon: no CPU, RSS or exec-to-ready).
bench_instance() {
	NS_IPERF_PID="" NS_CONN_PID=""
	start_instance "$CONTENDER" "$MTU" "$FWD_BASE" || return 0
	[ "$CONTENDER" = veth ] || record_ready
	if start_ns_servers; then
		local path
		for path in ns_host host_ns_fwd host_ns_lo; do measure_tput "$path"; done
		for path in ns_host host_ns_fwd; do measure_udp "$path"; done
		if [ "$CONTENDER" != veth ]; then
			for path in ns_host host_ns_fwd host_ns_lo; do
				measure_cpu cpu "$path" "$BENCH_CPU_MB"
			done
		fi
		measure_latency
		[ "$CONTENDER" = veth ] || measure_rss
	fi
	stop_instance "$DPID" "$NSPID" "$NS_IPERF_PID" "$NS_CONN_PID"
}

# The HTTP rows of one instance of $CONTENDER at $MTU: requests/s and daemon CPU per 1,000
# requests, keep-alive and one connection per request, both ways; then syscalls per
# keep-alive request (slirpns and slirp4netns, when strace is installed).
bench_http() {
	NS_NGINX_PID=""
	start_instance "$CONTENDER" "$MTU" "$FWD_BASE" || return 0
	if start_ns_nginx; then
		local path
		for path in ns_host host_ns; do
			measure_http "$path" ka
			measure_http "$path" close
		done
		if [ "$HAVE_STRACE" = 1 ] && [[ $CONTENDER == slirp* ]]; then
			for path in ns_host host_ns; do measure_syscalls "$path"; done
		fi
	fi
	stop_instance "$DPID" "$NSPID" "$NS_NGINX_PID"
}

# The WAN rows at $MTU: a fresh instance of every contender in turn, up and down, 1 and 8
# streams, to the remote (setup_wan). The host namespace forwards only meanwhile.
bench_wan() {
	local dir streams
	say "round $ROUND: WAN at MTU $MTU, ${BENCH_WAN_MB} MiB per run"
	echo 1 >/proc/sys/net/ipv4/ip_forward || warn "cannot enable forwarding: no veth WAN row"
	for CONTENDER in $BENCH_CONTENDERS; do
		start_instance "$CONTENDER" "$MTU" "$FWD_BASE" || continue
		for dir in down up; do
			for streams in 1 8; do measure_wan "$dir" "$streams"; done
		done
		stop_instance "$DPID" "$NSPID"
	done
	echo 0 >/proc/sys/net/ipv4/ip_forward
}

# The rest of the BENCH_STARTS exec-to-ready samples (bench_instance took the first).
bench_starts() {
	local i
	[ "$CONTENDER" != veth ] || return 0
	for ((i = 1; i < BENCH_STARTS; i++)); do
		start_instance "$CONTENDER" "$MTU" "$FWD_BASE" || continue
		record_ready
		stop_instance "$DPID" "$NSPID"
	done
}

# s4n_udp_bps PATH: 80% of what slirp4netns received on UDP PATH in this round at $MTU, in
# bit/s; empty when it has no sample.
s4n_udp_bps() {
	awk -F, -v r="$ROUND" -v m="$MTU" -v k="udp_$1" \
		'$1 == r && $2 == "slirp4netns" && $3 == m && $4 == k { v = $5 }
		END { if (v != "") printf "%.0f", v * 0.8e9 }' "$SAMPLES"
}

# UDP loss at 80% of slirp4netns's rate: a fresh instance of every contender in turn, after
# bench_instance has measured slirp4netns's rate in this round. The daemons' CPU per GB of UDP
# is measured here too, at the same offered rate: at -b 0 most datagrams are lost, and CPU per
# GB received would measure the loss more than the work per byte.
bench_udp_loss() {
	local path rate=() mb=() i=0
	for path in ns_host host_ns_fwd; do
		rate[i]=$(s4n_udp_bps "$path")
		[ -n "${rate[i]}" ] || { warn "no slirp4netns UDP $path rate: no loss row"; return 0; }
		# The CPU transfer's size: BENCH_UDP_CPU_MB, or what this rate sends in 20 s if less.
		mb[i]=$(awk -v b="${rate[i]}" -v m="$BENCH_UDP_CPU_MB" \
			'BEGIN { s = int(b * 20 / 8e6); print (s < m ? (s < 1 ? 1 : s) : m) }')
		i=$((i + 1))
	done
	say "round $ROUND: UDP loss at MTU $MTU, offered ${rate[0]} and ${rate[1]} bit/s"
	for CONTENDER in $BENCH_CONTENDERS; do
		NS_IPERF_PID=""
		start_instance "$CONTENDER" "$MTU" "$FWD_BASE" || continue
		if start_ns_iperf; then
			measure_udp_loss ns_host "${rate[0]}"
			measure_udp_loss host_ns_fwd "${rate[1]}"
			if [ "$CONTENDER" != veth ]; then
				measure_cpu udpcpu ns_host "${mb[0]}" "${UDP_ARGS[@]}" -b "${rate[0]}"
				measure_cpu udpcpu host_ns_fwd "${mb[1]}" "${UDP_ARGS[@]}" -b "${rate[1]}"
			fi
		fi
		stop_instance "$DPID" "$NSPID" "$NS_IPERF_PID"
	done
}

# Idle wake-ups: one fresh instance of every contender at every MTU, all idle at once.
bench_idle() {
	local i=0 k t0 t1 dpids=() nspids=() who=() mtus=() before=()
	for MTU in $BENCH_MTUS; do
		for CONTENDER in $BENCH_CONTENDERS; do
			[ "$CONTENDER" != veth ] || continue # no daemon to wake up
			start_instance "$CONTENDER" "$MTU" $((IDLE_FWD_BASE + 3 * i)) || continue
			dpids+=("$DPID") nspids+=("$NSPID") who+=("$CONTENDER") mtus+=("$MTU")
			i=$((i + 1))
		done
	done
	say "round $ROUND: ${#dpids[@]} daemons idle for ${BENCH_IDLE_SECONDS} s"
	sleep "$BENCH_IDLE_SETTLE"
	t0=$(now_us)
	for k in "${!dpids[@]}"; do before[k]=$(ctxt_switches "${dpids[k]}"); done
	sleep "$BENCH_IDLE_SECONDS"
	t1=$(now_us)
	for k in "${!dpids[@]}"; do
		CONTENDER=${who[k]} MTU=${mtus[k]}
		record idle_wakeups "$(awk -v n=$(($(ctxt_switches "${dpids[k]}") - before[k])) \
			-v us=$((t1 - t0)) 'BEGIN { printf "%.2f", n / (us / 1e6) }')"
		stop_instance "${dpids[k]}" "${nspids[k]}"
	done
}

# Connection setup: one fresh instance of every contender at $MTU, side by side, each with
# its connection-setup server; the client takes one connection to each in turn. Measured one
# contender after the other, rounds drifted by up to 30% with the machine's other load (the
# fast path, which does not depend on the MTU, gave 111 and 143 µs in one run), more than the
# difference being measured. veth has no forward: its client connects to 10.0.2.100 directly.
bench_connect() {
	local i=0 k dpids=() nspids=() servers=() targets=() base target
	for CONTENDER in $BENCH_CONTENDERS; do
		base=$((CONN_FWD_BASE + 3 * i))
		start_instance "$CONTENDER" "$MTU" "$base" || continue
		"${IN_NS[@]}" "$PY" "$W/bench.py" conn-server 0.0.0.0 "$PORT_CONN" \
			>"$INST_DIR/conn-server.log" 2>&1 &
		servers+=($!) dpids+=("$DPID") nspids+=("$NSPID")
		disown $!
		target=127.0.0.1:$((base + 1))
		[ "$CONTENDER" != veth ] || target=10.0.2.100:$PORT_CONN
		wait_listen ns "$PORT_CONN" && targets+=("$CONTENDER:$target")
		i=$((i + 1))
	done
	say "round $ROUND: connection setup at MTU $MTU, ${#targets[@]} contenders side by side"
	[ ${#targets[@]} = 0 ] || measure_connect "${targets[@]}"
	for k in "${!dpids[@]}"; do
		stop_instance "${dpids[k]}" "${nspids[k]}" "${servers[k]}"
	done
}

# The latency tool, for the description.
latency_tool() {
	if [ "$HAVE_SOCKPERF" = 1 ]; then
		echo "sockperf $(sockperf --version 2>&1 | sed -n 's/.*version //p' | head -n 1) ping-pong --tcp --full-rtt"
	else
		echo "bench.py ping-pong"
	fi
}

# The machine and the contenders, as markdown lines (also at the top of results.md).
describe_machine() {
	local pasta_version="not benchmarked" cpu
	[[ " $BENCH_CONTENDERS " == *" pasta "* ]] &&
		pasta_version="passt $(dpkg-query -W -f '${Version}' passt 2>/dev/null || echo "(version unknown)")"
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	cat <<-EOF
		- date: $(date -u '+%Y-%m-%d %H:%M UTC')
		- machine: $(nproc) CPUs, $cpu, kernel $(uname -r); load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)
		- slirpns: $("$SLIRPNS_BIN" --version 2>/dev/null | head -n 1) ($SLIRPNS) ${BENCH_SLIRPNS_FLAGS:-}
		- slirp4netns: $("$SLIRP4NETNS_BIN" --version 2>/dev/null | head -n 1), $("$SLIRP4NETNS_BIN" --version 2>/dev/null | grep '^libslirp')
		- pasta: $pasta_version
		- daemons run as user $BENCH_USER, each in a fresh user+net namespace; slirpns and slirp4netns: --configure --enable-sandbox --enable-seccomp --enable-ipv6, forwards through the API socket; pasta: --config-net -t FORWARDS -u FORWARD -T none -U none; veth: a root-made net namespace and a veth pair (MTU as the row's), no daemon, no NAT
		- rows: $BENCH_ROWS; HTTP: nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*nginx\///') (one process, access_log off, 1 KiB file), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2) -t2 -c32 for ${BENCH_SECONDS} s; syscalls: $( [ "$HAVE_STRACE" = 1 ] && strace -V | head -n 1 || echo "no strace") -c -f, wrk -c8 for 2 s
		- WAN: remote 198.51.100.2 behind a veth (MTU 1500), ${WAN_DELAY:-not run}; veth+NAT: ${WAN_NAT:-not run}; iperf3 -n ${BENCH_WAN_MB} MiB, -P 1 and 8, -R for download
		- $BENCH_ROUNDS rounds (contenders alternate within each); iperf3 ${BENCH_SECONDS} s per run (UDP: -u -l 1400, -b 0 or, for the loss row, 80% of slirp4netns's rate in that round); CPU/GB over ${BENCH_CPU_MB} MB transfers (UDP: ${BENCH_UDP_CPU_MB} MB at the loss row's rate; GB = 10^9 bytes received); latency: $(latency_tool), 14-byte messages, ${BENCH_LAT_SECONDS} s; $BENCH_CONNS connections to each contender, side by side; $BENCH_STARTS starts; idle ${BENCH_IDLE_SECONDS} s
	EOF
}

main() {
	setup_user
	setup_host_net
	start_host_servers
	WAN_DELAY="" WAN_NAT=""
	! has_rows http || start_host_nginx
	! has_rows wan || setup_wan
	CLK_TCK=$(getconf CLK_TCK)
	SAMPLES=$BENCH_OUT/samples.csv
	echo "round,contender,mtu,metric,value" >"$SAMPLES"
	describe_machine >"$BENCH_OUT/machine.md"
	cat "$BENCH_OUT/machine.md"
	for ((ROUND = 1; ROUND <= BENCH_ROUNDS; ROUND++)); do
		for MTU in $BENCH_MTUS; do
			for CONTENDER in $BENCH_CONTENDERS; do
				say "round $ROUND/$BENCH_ROUNDS: $CONTENDER at MTU $MTU"
				if has_rows base; then
					bench_instance
					bench_starts
				fi
				! has_rows http || bench_http
			done
			if has_rows base; then
				bench_udp_loss
				bench_connect
			fi
			! has_rows wan || bench_wan
		done
		! has_rows base || bench_idle
	done
	echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the numbers)" >>"$BENCH_OUT/machine.md"
	echo
	"$PY" "$BENCH_DIR/bench.py" summarise "$SAMPLES" "$BENCH_OUT" "$BENCH_OUT/machine.md" ||
		die "summary failed"
	if command -v gnuplot >/dev/null; then
		gnuplot -e "outdir='$BENCH_OUT'" "$BENCH_DIR/chart.gp" || warn "gnuplot failed"
	fi
	echo
	say "wrote $BENCH_OUT/results.md, results.csv, samples.csv$(command -v gnuplot >/dev/null && echo ", chart.png")"
}

main
