#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# rootlesskit with $SLIRPNS as its slirp4netns:
#   rootlesskit --net=slirp4netns --slirp4netns-binary=$SLIRPNS --port-driver=slirp4netns
#               --slirp4netns-sandbox=true --slirp4netns-seccomp=true ...
#
# Checks:
#   1. with --disable-host-loopback (what dockerd-rootless.sh passes; rootlesskit's own default
#      is off): a port published with --publish and one added later with `rootlessctl
#      add-ports` (both through the daemon's API socket) serve the page of a busybox httpd in
#      the child to curl on the host; a removed port stops answering; the child has tap0 at
#      10.0.2.100 with rootlesskit's MTU 65520, resolves a name through 10.0.2.3, and cannot
#      reach the host's 127.0.0.1 through 10.0.2.2 (the host service sees nothing); the daemon
#      process is $SLIRPNS; it goes away when rootlesskit is stopped;
#   2. without --disable-host-loopback the same child reaches the host's 127.0.0.1 via 10.0.2.2.
#
# How rootlesskit is set up: lib.sh has already put us (root) into private network, mount and
# PID namespaces, so the host services, the published ports and the bind-mounted
# /etc/resolv.conf are private to this test and everything started dies with it. rootlesskit
# runs as $SLIRPNS_TEST_USER (subordinate ids in /etc/subuid and /etc/subgid) with a clean
# environment and --state-dir in $T; its child runs busybox from the host's filesystem.
# Needs (Debian): rootlesskit uidmap busybox (or busybox-static) curl; /dev/net/tun mode 0666.
. "$(dirname "$0")/lib.sh"

[ "$RUN_AS_USER" = 1 ] ||
	skip "rootlesskit needs a real unprivileged user with subordinate ids; run as root (the test drops to $SLIRPNS_TEST_USER)"
for cmd in rootlesskit rootlessctl newuidmap newgidmap curl; do
	command -v "$cmd" >/dev/null || skip "$cmd is not installed (apt-get install rootlesskit uidmap curl)"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || skip "no $BUSYBOX (apt-get install busybox-static)"
applets=$("$BUSYBOX" --list)
for a in httpd nc nslookup ip sh; do
	grep -qx "$a" <<<"$applets" || skip "$BUSYBOX has no $a applet"
done
for f in /etc/subuid /etc/subgid; do
	grep -q "^$SLIRPNS_TEST_USER:" "$f" || skip "$SLIRPNS_TEST_USER has no entry in $f"
done
# Check the flag names this test relies on (they changed over rootlesskit's history).
rkhelp=$(rootlesskit --help 2>&1)
for flag in --slirp4netns-binary --slirp4netns-sandbox --slirp4netns-seccomp --port-driver \
	--disable-host-loopback --state-dir --publish; do
	grep -q -- "$flag" <<<"$rkhelp" || skip "this rootlesskit has no $flag"
done

HOST_PORT=17331  # host loopback service (tcp echo)
PUB_PORT=17332   # --publish 0.0.0.0:17332:80/tcp
CTL_PORT=17333   # rootlessctl add-ports 127.0.0.1:17333:81/tcp
TOKEN="slirpns-rootlesskit-$RANDOM$RANDOM"
mkdir -p "$T/www"
echo "$TOKEN" >"$T/www/index.html"
chmod -R a+rX "$T/www"

start_helper tcp-echo 127.0.0.1 "$HOST_PORT" --log "$T/echo.log"
touch "$T/echo.log"
start_helper dns 127.0.0.1 53 --record rootlesskit-dns.slirpns.test=192.0.2.66 --log "$T/dns.log"
use_resolv_conf "nameserver 127.0.0.1"

RK="$T/rk"
RK_PID=
rk_cleanup() {
	set +e
	[ -n "$RK_PID" ] && kill -KILL "$RK_PID" 2>/dev/null
	cleanup
}
trap rk_cleanup EXIT
dump_logs() {
	[ -f "$T/rootlesskit.log" ] && { echo "--- rootlesskit log:"; cat "$T/rootlesskit.log"; }
	return 0
}

# start_rootlesskit [extra rootlesskit flags...]: the child runs httpd on 81 (background) and
# on 80 (foreground), serving $T/www. Sets RK_PID and NSPID (the child, for lib.sh's in_ns).
start_rootlesskit() {
	rm -rf "$RK"
	"${AS_USER[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$T" \
		rootlesskit --debug --state-dir="$RK" --net=slirp4netns --slirp4netns-binary="$SLIRPNS_BIN" \
		--slirp4netns-sandbox=true --slirp4netns-seccomp=true "$@" \
		"$BUSYBOX" sh -c "'$BUSYBOX' httpd -p 81 -h '$T/www' && exec '$BUSYBOX' httpd -f -p 80 -h '$T/www'" \
		>"$T/rootlesskit.log" 2>&1 &
	RK_PID=$!
	for _ in $(seq 200); do
		kill -0 "$RK_PID" 2>/dev/null || fail "rootlesskit exited early"
		NSPID=$(cat "$RK/child_pid" 2>/dev/null) || NSPID=
		[ -n "$NSPID" ] && [ -S "$RK/api.sock" ] &&
			in_ns "$BUSYBOX" ip -4 addr show tap0 2>/dev/null | grep -q 'inet ' && return 0
		sleep 0.05
	done
	fail "rootlesskit's child did not get a configured tap0 within 10 s"
}

stop_rootlesskit() {
	kill -TERM "$RK_PID"
	for _ in $(seq 100); do
		kill -0 "$RK_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$RK_PID" 2>/dev/null && fail "rootlesskit did not exit on SIGTERM"
	wait "$RK_PID" || true
	RK_PID=
}

# Processes whose executable is our copy of the binary (we own a private /proc).
daemon_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$SLIRPNS_BIN" ] && echo "${p#/proc/}"
	done
	return 0
}

fetch() { curl -fsS --max-time 5 "http://127.0.0.1:$1/"; }
wait_fetch() {
	for _ in $(seq 50); do
		out=$(fetch "$1" 2>&1) && [ "$out" = "$TOKEN" ] && return 0
		sleep 0.2
	done
	return 1
}

# --- 1. dockerd-rootless-like: --disable-host-loopback, port driver slirp4netns ------------------
start_rootlesskit --disable-host-loopback --port-driver=slirp4netns \
	--publish "0.0.0.0:$PUB_PORT:80/tcp"
[ -n "$(daemon_pids)" ] || fail "no process runs $SLIRPNS_BIN under rootlesskit"

out=$(in_ns "$BUSYBOX" ip addr show tap0 2>&1)
grep -q 'inet 10\.0\.2\.100/24' <<<"$out" || fail "tap0 in the child has no 10.0.2.100/24: $out"
grep -q 'mtu 65520 ' <<<"$out" || fail "tap0 in the child does not have rootlesskit's MTU 65520: $out"

wait_fetch "$PUB_PORT" || fail "--publish: GET http://127.0.0.1:$PUB_PORT/ did not return the page: $out"
note "--publish 0.0.0.0:$PUB_PORT:80/tcp serves the child's page"

out=$(as_user rootlessctl --socket="$RK/api.sock" add-ports "127.0.0.1:$CTL_PORT:81/tcp" 2>&1) ||
	fail "rootlessctl add-ports failed: $out"
id=$(tr -d '[:space:]' <<<"$out")
[[ "$id" =~ ^[0-9]+$ ]] || fail "rootlessctl add-ports printed '$out', expected an id"
wait_fetch "$CTL_PORT" || fail "add-ports: GET http://127.0.0.1:$CTL_PORT/ did not return the page: $out"
out=$(as_user rootlessctl --socket="$RK/api.sock" list-ports 2>&1) || fail "list-ports failed: $out"
grep -Eq "^${id}[[:space:]]+tcp[[:space:]]+127\.0\.0\.1[[:space:]]+${CTL_PORT}[[:space:]]+81" <<<"$out" ||
	fail "list-ports does not show port $id: $out"
out=$(as_user rootlessctl --socket="$RK/api.sock" remove-ports "$id" 2>&1) ||
	fail "rootlessctl remove-ports $id failed: $out"
for _ in $(seq 50); do
	fetch "$CTL_PORT" >/dev/null 2>&1 || break
	sleep 0.1
done
fetch "$CTL_PORT" >/dev/null 2>&1 && fail "port $CTL_PORT still answers after remove-ports"
fetch "$PUB_PORT" >/dev/null || fail "port $PUB_PORT stopped answering after removing another port"
note "rootlessctl add-ports/list-ports/remove-ports work"

out=$(in_ns "$BUSYBOX" nslookup rootlesskit-dns.slirpns.test 10.0.2.3 2>&1) ||
	fail "resolving through 10.0.2.3 failed: $out"
grep -q '192\.0\.2\.66' <<<"$out" || fail "10.0.2.3 did not answer 192.0.2.66: $out"
grep -qx 127.0.0.1 "$T/dns.log" || fail "the host nameserver saw no query"

out=$(in_ns "$BUSYBOX" sh -c "echo hello | '$BUSYBOX' nc -w 5 10.0.2.2 $HOST_PORT" 2>&1) &&
	fail "the child reached the host's 127.0.0.1 via 10.0.2.2 despite --disable-host-loopback: '$out'"
[ -s "$T/echo.log" ] && fail "the host loopback service saw a connection despite --disable-host-loopback"
note "--disable-host-loopback: 10.0.2.2 refused ($(tail -n1 <<<"$out"))"

stop_rootlesskit
for _ in $(seq 50); do
	[ -z "$(daemon_pids)" ] && break
	sleep 0.1
done
[ -z "$(daemon_pids)" ] || fail "$SLIRPNS_BIN still runs after rootlesskit exited"
fetch "$PUB_PORT" >/dev/null 2>&1 && fail "port $PUB_PORT still answers after rootlesskit exited"

# --- 2. without --disable-host-loopback ------------------------------------------------------------
start_rootlesskit --port-driver=slirp4netns
out=$(in_ns "$BUSYBOX" sh -c "echo hello-loopback | '$BUSYBOX' nc -w 5 10.0.2.2 $HOST_PORT" 2>&1) ||
	fail "the child could not reach the host's 127.0.0.1 via 10.0.2.2: $out"
[ "$out" = hello-loopback ] || fail "echo through 10.0.2.2 returned '$out'"
grep -qx 127.0.0.1 "$T/echo.log" || fail "the host loopback service logged no connection"
note "without --disable-host-loopback: 10.0.2.2 reaches the host's 127.0.0.1"
stop_rootlesskit
