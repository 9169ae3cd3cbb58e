# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034,SC2153 # globals shared with run.sh and measure.sh
# contenders.sh - start and stop the contenders for contrib/bench/run.sh (sourced, not run).
#
# Each instance is a fresh container namespace (a user+net namespace holding `sleep`, created
# by the unprivileged user) plus one daemon running as that user, configured the way podman
# runs it:
#   slirpns, slirp4netns: --configure --mtu=MTU --enable-sandbox --enable-seccomp
#                         --enable-ipv6 -r FD --api-socket PATH PID tap0
#                         then four forwards through the API socket (add_hostfwd);
#   pasta:                --config-net -m MTU -a 10.0.2.100 -n 24 -g 10.0.2.2 -I tap0
#                         -t FORWARDS -u FORWARD -T none -U none PID (it daemonizes when
#                         ready).
# Forwards: host port BASE -> namespace $PORT_IPERF (TCP and UDP: iperf3 -u sends its data over
# UDP to the port of its TCP control connection), BASE+1 -> namespace $PORT_CONN (TCP), BASE+2
# -> namespace $PORT_HTTP (TCP, the namespace's nginx). Instances side by side take bases 3 apart.
#
# veth, the physical limit (what rootful bridge networking gives a container): no user
# namespace and no daemon; a net namespace made by root, joined to the host namespace by a veth
# pair (host side vbench0 10.0.2.2/24, namespace side tap0 10.0.2.100/24, MTU as the row's,
# default route via 10.0.2.2). It has no forwards: the host reaches 10.0.2.100 directly, no
# NAT. Only one veth instance may exist at a time (the host's 10.0.2.0/24 route).
#
# launch_* time exec-to-ready: from just before the daemon is started until its ready fd
# reads "1" (slirpns, slirp4netns), or until the foreground pasta process exits after
# initialisation (what podman waits for).

# Make a container namespace; sets NSPID.
new_ns() {
	"${AS_USER[@]}" unshare --user --map-root-user --net sleep infinity &
	NSPID=$!
	disown "$NSPID" # no "Killed" notices when it is ended; bash still reaps it
	wait_ns
}

# The command prefix that runs as the user inside the container namespace $NSPID. The veth
# namespace belongs to root's user namespace: enter it as root, then drop to the user.
in_ns_prefix() {
	if [ "$1" = veth ]; then
		IN_NS=(nsenter -t "$NSPID" -n -- "${AS_USER[@]}")
	else
		IN_NS=("${AS_USER[@]}" nsenter -t "$NSPID" -U --preserve-credentials -n --)
	fi
}

# Make the veth contender's namespace (as root, no user namespace); sets NSPID.
new_root_ns() {
	unshare --net sleep infinity &
	NSPID=$!
	disown "$NSPID"
	wait_ns
}

# wait_ns: until $NSPID has entered its own network namespace (~2 s).
wait_ns() {
	local _
	for _ in $(seq 200); do
		[ "$(readlink "/proc/$NSPID/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] &&
			return 0
		sleep 0.01
	done
	warn "container namespace did not come up"
	return 1
}

# launch_veth MTU: the veth pair into $NSPID, addressed and routed like the daemons' tap0.
launch_veth() {
	local mtu=$1 in_ns=(nsenter -t "$NSPID" -n --)
	ip link add vbench0 mtu "$mtu" type veth peer name tap0 mtu "$mtu" netns "$NSPID" ||
		return 1
	ip addr add 10.0.2.2/24 dev vbench0 && ip link set vbench0 up &&
		"${in_ns[@]}" ip link set lo up &&
		"${in_ns[@]}" ip addr add 10.0.2.100/24 dev tap0 &&
		"${in_ns[@]}" ip link set tap0 up &&
		"${in_ns[@]}" ip route add default via 10.0.2.2 dev tap0
}

now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }

# launch_slirp BINARY MTU EXTRA-FLAGS...: sets DPID and READY_US.
launch_slirp() {
	local bin=$1 mtu=$2 fifo="$INST_DIR/ready" ready="" t0
	shift 2
	mkfifo "$fifo"
	t0=$(now_us)
	"${AS_USER[@]}" "$bin" --configure --mtu="$mtu" --enable-sandbox --enable-seccomp \
		--enable-ipv6 "$@" -r 9 --api-socket "$INST_DIR/api.sock" "$NSPID" tap0 \
		9>"$fifo" >"$INST_DIR/daemon.log" 2>&1 &
	DPID=$!
	disown "$DPID"
	# The signal is the byte "1", not EOF: a helper process may still hold the fd open.
	read -r -n 1 -t 20 ready <"$fifo"
	READY_US=$(($(now_us) - t0))
	[ "$ready" = 1 ] || { warn "$bin did not report ready"; return 1; }
}

# launch_pasta MTU FORWARD-BASE: sets DPID and READY_US.
launch_pasta() {
	local mtu=$1 base=$2 t0 rc=0
	t0=$(now_us)
	"${AS_USER[@]}" pasta --config-net -q -P "$INST_DIR/pasta.pid" -m "$mtu" \
		-a 10.0.2.100 -n 24 -g 10.0.2.2 -I tap0 \
		-t "$base:$PORT_IPERF,$((base + 1)):$PORT_CONN,$((base + 2)):$PORT_HTTP" -u "$base:$PORT_IPERF" -T none -U none \
		"$NSPID" >"$INST_DIR/daemon.log" 2>&1 || rc=$?
	READY_US=$(($(now_us) - t0))
	DPID=$(cat "$INST_DIR/pasta.pid" 2>/dev/null)
	if [ "$rc" != 0 ] || [ -z "$DPID" ]; then
		warn "pasta failed to start (exit $rc)"
		return 1
	fi
}

# api_add_fwd PROTO HOST-PORT GUEST-PORT: slirp4netns's add_hostfwd on $INST_DIR/api.sock.
api_add_fwd() {
	local req='{"execute":"add_hostfwd","arguments":{"proto":"'$1'","host_addr":"0.0.0.0",'
	req+='"host_port":'$2',"guest_addr":"10.0.2.100","guest_port":'$3'}}'
	printf '%s' "$req" | "${AS_USER[@]}" socat -t 5 - "UNIX-CONNECT:$INST_DIR/api.sock" |
		grep -q '"return"' || { warn "add_hostfwd $1 $2 -> $3 failed"; return 1; }
}

# api_add_fwds BASE: the forwards of one instance (see the top of this file).
api_add_fwds() {
	api_add_fwd tcp "$1" "$PORT_IPERF" && api_add_fwd udp "$1" "$PORT_IPERF" &&
		api_add_fwd tcp "$(($1 + 1))" "$PORT_CONN" && api_add_fwd tcp "$(($1 + 2))" "$PORT_HTTP"
}

# start_instance CONTENDER MTU FORWARD-BASE: namespace + daemon + forwards. Sets NSPID, DPID,
# READY_US and INST_DIR (a fresh directory owned by the user). Returns 1 on failure (anything
# started is stopped again).
start_instance() {
	local contender=$1 mtu=$2 base=$3
	INST_DIR=$(mktemp -d "$W/inst.XXXXXX")
	chmod 755 "$INST_DIR"
	[ -z "$BENCH_UID" ] || chown "$BENCH_UID:$BENCH_GID" "$INST_DIR"
	DPID="" READY_US=""
	if [ "$contender" = veth ]; then
		new_root_ns || return 1
	else
		new_ns || return 1
	fi
	in_ns_prefix "$contender"
	local ok=1 extra=()
	read -r -a extra <<<"${BENCH_SLIRPNS_FLAGS:-}"
	case $contender in
	slirpns) launch_slirp "$SLIRPNS_BIN" "$mtu" "${extra[@]}" || ok=0 ;;
	slirp4netns) launch_slirp "$SLIRP4NETNS_BIN" "$mtu" || ok=0 ;;
	pasta) launch_pasta "$mtu" "$base" || ok=0 ;;
	veth) launch_veth "$mtu" || ok=0 ;;
	esac
	if [ "$ok" = 1 ] && { [ "$contender" = slirpns ] || [ "$contender" = slirp4netns ]; }; then
		api_add_fwds "$base" || ok=0
	fi
	if [ "$ok" = 0 ]; then
		sed 's/^/  daemon: /' "$INST_DIR/daemon.log" >&2 2>/dev/null
		stop_instance "$DPID" "$NSPID"
		return 1
	fi
}

# wait_gone PID [SECONDS]: wait for a process to exit (or become a zombie: the shell reaps its
# disowned children itself, as it does pasta's, which is re-parented to us, PID 1).
wait_gone() {
	local pid=$1 limit=$((${2:-5} * 100)) stat i
	[ -n "$pid" ] || return 0
	for ((i = 0; i < limit; i++)); do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || break
		stat=${stat##*) }
		[ "${stat:0:1}" = Z ] && break
		sleep 0.01
	done
	[ "$i" -lt "$limit" ]
}

# stop_instance DPID NSPID [OTHER-PIDS...]: SIGTERM the daemon (SIGKILL after 5 s), then end
# the namespace's processes. A veth pair goes with its namespace, but asynchronously: without a
# daemon (veth), vbench0 is deleted here, so that the next veth instance can be made at once.
stop_instance() {
	local dpid=$1 pid
	shift
	[ -n "$dpid" ] || ip link del vbench0 2>/dev/null
	if [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null; then
		wait_gone "$dpid" 5 || { warn "daemon $dpid ignored SIGTERM"; kill -KILL "$dpid"; wait_gone "$dpid"; }
	fi
	for pid in "$@"; do
		[ -n "$pid" ] || continue
		kill -KILL "$pid" 2>/dev/null && wait_gone "$pid" 5
	done
	return 0
}
