#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Rootless Docker: Debian's dockerd-rootless.sh (docker.io) with $SLIRPNS as its slirp4netns,
# set up with the variables of contrib/rootlesskit/docker-slirpns.conf (the README's recipe):
#   DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=65520
#   DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS=--slirp4netns-binary=$SLIRPNS dockerd-rootless.sh
#
# Proves:
#   0. the recipe alone (sandbox and seccomp left at the script's "auto") starts dockerd with
#      $SLIRPNS, MTU 65520, sandbox and seccomp on, and a container reaches the host;
# then with ..._SLIRP4NETNS_SANDBOX=true and ..._SLIRP4NETNS_SECCOMP=true, once with each
# DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER (builtin, slirp4netns):
#   1. the process rootlesskit started for the network is $SLIRPNS (not /usr/bin/slirp4netns),
#      with --mtu 65520, --enable-sandbox, --enable-seccomp (Seccomp: 2 in its status) and
#      --disable-host-loopback;
#   2. a container, on docker's bridge and NATed by dockerd's iptables inside rootlesskit's
#      namespace, reaches a service on a non-loopback address of the host (192.0.2.1, a dummy
#      interface of the test's private host namespace), and cannot reach the host's 127.0.0.1
#      through 10.0.2.2 (dockerd-rootless.sh always passes --disable-host-loopback): that
#      service sees nothing; a name resolves through 10.0.2.3 to the host's nameserver; ping
#      to 192.0.2.1 is answered; 8 MiB go each way between a container and the host intact
#      (the bridge has MTU 1500, tap0 65520);
#   3. `docker run -p 8080:80` of busybox httpd serves the container's page to curl on the
#      host, from 127.0.0.1 and from 192.0.2.1, and 8 MiB intact; with the slirp4netns port
#      driver the forward is one of slirpns's (list_hostfwd on its API socket), a client from
#      192.0.2.1 reaches the container with its own address, and `-p 127.0.0.1:8081:80`
#      answers on the host's loopback only; `docker run -p 5353:9999/udp` of a socat echo
#      answers UDP clients on 127.0.0.1 and 192.0.2.1 (with the slirp4netns port driver
#      the loopback one needed a fix in slirpns: udp_forward_loopback.sh); the ports close
#      when the containers are removed;
#   4. stopping dockerd-rootless.sh (SIGTERM to rootlesskit) takes dockerd, containerd, the
#      shims, the proxies, rootlesskit and slirpns with it, and leaves no mount behind.
#
# How Docker is set up: lib.sh has already put us (root) into private network, mount and PID
# namespaces, so the host services, the published ports and the bind-mounted /etc/resolv.conf
# are private to this test and everything dies with it; a root dockerd on the machine, if one
# runs, is not seen (its socket is not used, its docker0 and iptables are in another netns).
# dockerd-rootless.sh runs as $SLIRPNS_TEST_USER (subordinate ids in /etc/subuid and
# /etc/subgid) with a clean environment: HOME, TMPDIR (rootlesskit's state directory), data
# root, exec root and an empty daemon.json in $T, XDG_RUNTIME_DIR (the docker socket) a short
# 0700 directory /tmp/dk.XXXXXX; storage is vfs (overlay may not work in a user namespace) and
# the cgroup driver cgroupfs (no systemd). dockerd manages its own containerd. The only image
# is made with `docker import` of a tarball holding busybox-static; no registry is used. The
# client is Debian's /usr/bin/docker, named explicitly.
# It skips only when dockerd cannot start here at all: then it tries once more with Debian's
# /usr/bin/slirp4netns in place of $SLIRPNS, and fails if dockerd starts with that one.
# The image also holds socat and the libraries it links (busybox's nc has no UDP).
# Needs (Debian): docker.io containerd rootlesskit uidmap busybox-static curl socat jq;
# /dev/net/tun mode 0666.
. "$(dirname "$0")/lib.sh"

[ "$RUN_AS_USER" = 1 ] ||
	skip "rootless Docker needs a real unprivileged user with subordinate ids; run as root (the test drops to $SLIRPNS_TEST_USER)"
DOCKER=/usr/bin/docker # Debian's client (docker.io), not whatever else is in PATH
ROOTLESS_SH=/usr/share/docker.io/contrib/dockerd-rootless.sh
[ -x "$DOCKER" ] && [ -x /usr/sbin/dockerd ] || skip "no $DOCKER or /usr/sbin/dockerd (apt-get install docker.io)"
[ -x "$ROOTLESS_SH" ] || skip "no $ROOTLESS_SH (apt-get install docker.io)"
for cmd in containerd rootlesskit rootlesskit-docker-proxy newuidmap newgidmap curl socat jq; do
	command -v "$cmd" >/dev/null || skip "$cmd is not installed (apt-get install containerd rootlesskit uidmap curl socat jq)"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || skip "no $BUSYBOX (apt-get install busybox-static)"
ldd "$BUSYBOX" >/dev/null 2>&1 && skip "$BUSYBOX is dynamically linked (apt-get install busybox-static)"
applets=$("$BUSYBOX" --list)
for a in httpd nc nslookup ping sha256sum timeout wget sh; do
	grep -qx "$a" <<<"$applets" || skip "$BUSYBOX has no $a applet"
done
for f in /etc/subuid /etc/subgid; do
	grep -q "^$SLIRPNS_TEST_USER:" "$f" || skip "$SLIRPNS_TEST_USER has no entry in $f"
done
# The variables this test sets must be ones the script reads.
for v in NET MTU PORT_DRIVER SLIRP4NETNS_SANDBOX SLIRP4NETNS_SECCOMP FLAGS; do
	grep -q "DOCKERD_ROOTLESS_ROOTLESSKIT_$v" "$ROOTLESS_SH" ||
		fail "$ROOTLESS_SH does not read DOCKERD_ROOTLESS_ROOTLESSKIT_$v"
done

# The recipe: the Environment= lines of the systemd drop-in, with our copy of the binary.
RECIPE="$TESTS_DIR/../../contrib/rootlesskit/docker-slirpns.conf"
[ -f "$RECIPE" ] || fail "no $RECIPE"
RECIPE_ENV=()
while IFS= read -r line; do
	line=${line#Environment=}
	line=${line#\"}
	line=${line%\"}
	RECIPE_ENV+=("${line//\/usr\/local\/bin\/slirpns/$SLIRPNS_BIN}")
done < <(grep '^Environment=' "$RECIPE")
[ ${#RECIPE_ENV[@]} -gt 0 ] || fail "$RECIPE sets no variable"
grep -q -- "--slirp4netns-binary=$SLIRPNS_BIN" <<<"${RECIPE_ENV[*]}" ||
	fail "$RECIPE does not name the binary as /usr/local/bin/slirpns in --slirp4netns-binary"
note "recipe: ${RECIPE_ENV[*]}"

START=${EPOCHREALTIME/./}
LOOP_PORT=17341 # tcp echo on the host's 127.0.0.1 (must stay unreachable)
ECHO_PORT=17342 # tcp echo on 192.0.2.1
WWW_PORT=17343  # busybox httpd on 192.0.2.1 serving the big file
SINK_PORT=17344 # hash sink on 192.0.2.1
BIG=$((8 << 20))
TOKEN="slirpns-docker-$RANDOM$RANDOM"

# --- the host: services on 127.0.0.1 and 192.0.2.1, a nameserver --------------------------------
start_helper tcp-echo 127.0.0.1 "$LOOP_PORT" --log "$T/loop.log"
touch "$T/loop.log"
add_dummy_if dummy0
ip addr add 192.0.2.1/24 dev dummy0
start_helper tcp-echo 192.0.2.1 "$ECHO_PORT" --log "$T/echo.log"
touch "$T/echo.log"
start_helper hash-sink 192.0.2.1 "$SINK_PORT"
mkdir -p "$T/hostwww"
head -c "$BIG" /dev/urandom >"$T/hostwww/big"
BIG_SUM=$(sha256sum <"$T/hostwww/big" | cut -d' ' -f1)
"$BUSYBOX" httpd -f -p "192.0.2.1:$WWW_PORT" -h "$T/hostwww" &
retry curl -fsS --max-time 2 -o /dev/null "http://192.0.2.1:$WWW_PORT/big" || fail "the host's httpd did not start"
# The nameserver, before rootlesskit starts: slirpns reads the host's resolv.conf, and
# rootlesskit writes one naming 10.0.2.3 into the copy of /etc it makes for dockerd.
start_helper dns 127.0.0.1 53 --record docker-dns.slirpns.test=192.0.2.77 --log "$T/dns.log"
use_resolv_conf "nameserver 127.0.0.1"

# --- the image: busybox-static, a page with a token and the big file ----------------------------
mkdir -p "$T/rootfs/bin" "$T/rootfs/www" "$T/rootfs/tmp" "$T/rootfs/etc"
cp "$BUSYBOX" "$T/rootfs/bin/busybox"
for a in sh cat echo httpd nc nslookup ping sha256sum timeout wget sleep true; do
	ln -s busybox "$T/rootfs/bin/$a"
done
echo "$TOKEN" >"$T/rootfs/www/index.html"
cp "$T/hostwww/big" "$T/rootfs/www/big"
# socat (with the libraries it links) for a UDP echo server: busybox's nc has no UDP.
SOCAT=$(command -v socat)
mkdir -p "$T/rootfs/usr/bin"
cp "$SOCAT" "$T/rootfs/usr/bin/socat"
for lib in $(ldd "$SOCAT" | grep -o '/[^ ]*'); do
	mkdir -p "$T/rootfs$(dirname "$lib")"
	cp -L "$lib" "$T/rootfs$lib"
done
echo "root:x:0:0:root:/:/bin/sh" >"$T/rootfs/etc/passwd"
echo "root:x:0:" >"$T/rootfs/etc/group"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
chmod 644 "$T/rootfs.tar"
IMG=slirpns-busybox:test

# --- Docker's private world --------------------------------------------------------------------
DK="$T/docker"
mkdir -p "$DK/home" "$DK/tmp" "$DK/data" "$DK/exec" "$DK/config"
echo '{}' >"$DK/daemon.json"
RUNDIR=$(mktemp -d /tmp/dk.XXXXXX)
chmod 700 "$RUNDIR"
chown -R "$TEST_UID:$TEST_GID" "$DK" "$RUNDIR"
SOCK="$RUNDIR/docker.sock"

# dk ARGS...: the docker client against our dockerd; every call is bounded (DK_TIMEOUT s).
dk() {
	as_user env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$DK/home" DOCKER_CONFIG="$DK/config" \
		DOCKER_HOST="unix://$SOCK" timeout -k 5 "${DK_TIMEOUT:-60}" "$DOCKER" "$@"
}

# Every process of the rootless stack, as "PID EXE", from our private /proc.
stack_pids() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		case "$exe" in
		"$SLIRPNS_BIN" | */dockerd | */containerd | */containerd-shim* | */rootlesskit* | \
			*/docker-proxy | */slirp4netns | */runc | */docker-init)
			echo "${p#/proc/} $exe" ;;
		esac
	done
	return 0
}
exe_pids() { # EXE: the PIDs running it
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
	return 0
}

RK_PID=
dk_cleanup() {
	set +e
	local p
	if [ -n "$RK_PID" ]; then
		kill -TERM "$RK_PID" 2>/dev/null
		wait_exit "$RK_PID" 10
	fi
	for p in $(stack_pids | cut -d' ' -f1); do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$RUNDIR"
	cleanup
}
trap dk_cleanup EXIT
dump_logs() {
	[ -f "$T/dockerd.log" ] || return 0
	echo "--- dockerd-rootless.sh log (last 60 lines, without info lines):"
	grep -v 'level=info' "$T/dockerd.log" | tail -n 60
}

# start_dockerd NAME [VAR=VALUE...]: dockerd-rootless.sh with the recipe's variables and then
# these; waits until the docker socket answers. Sets RK_PID; returns 1 if dockerd does not
# answer within 60 s (its log is $T/dockerd.log, and $T/dockerd.NAME.log once stopped).
start_dockerd() {
	local name=$1 i
	shift
	DK_NAME=$name
	rm -f "$SOCK"
	"${AS_USER[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$DK/home" TMPDIR="$DK/tmp" \
		XDG_RUNTIME_DIR="$RUNDIR" "${RECIPE_ENV[@]}" "$@" \
		"$ROOTLESS_SH" --config-file="$DK/daemon.json" --host="unix://$SOCK" \
		--data-root="$DK/data" --exec-root="$DK/exec" --pidfile="$DK/docker.pid" \
		--storage-driver=vfs --exec-opt native.cgroupdriver=cgroupfs \
		>"$T/dockerd.log" 2>&1 &
	RK_PID=$!
	for i in $(seq 600); do
		kill -0 "$RK_PID" 2>/dev/null || { wait "$RK_PID" || true; RK_PID=; return 1; }
		if [ -S "$SOCK" ] && DK_TIMEOUT=5 dk version >/dev/null 2>&1; then
			note "$name: dockerd up in $((i / 10)).$((i % 10)) s"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# Stop dockerd-rootless.sh as a user would (SIGTERM to rootlesskit, which it exec'd) and check
# that the whole stack is gone, mounts included.
stop_dockerd() {
	local start=${EPOCHREALTIME/./} left
	# rootlesskit does not watch the daemon, and sends its output to /dev/null: a daemon that
	# died (a sanitizer build aborts on any error) shows only here. rootlesskit then kills it
	# with SIGKILL, so it has no exit status of its own to check.
	[ "$(readlink "/proc/$DAEMON_PID/exe" 2>/dev/null)" = "$SLIRPNS_BIN" ] ||
		fail "$DK_NAME: $SLIRPNS_BIN (pid $DAEMON_PID) died while dockerd ran"
	kill -TERM "$RK_PID"
	wait_exit "$RK_PID" 30 || fail "$DK_NAME: rootlesskit did not exit within 30 s of SIGTERM"
	RK_PID=
	for _ in $(seq 100); do
		[ -z "$(stack_pids)" ] && break
		sleep 0.1
	done
	left=$(stack_pids | tr '\n' ' ')
	[ -z "$left" ] || fail "$DK_NAME: left running after rootlesskit exited: $left"
	left=$(findmnt -rn -o TARGET | grep -E "^($T|$RUNDIR|/run/docker|/run/user)" || true)
	[ -z "$left" ] || fail "$DK_NAME: mounts left behind: $left"
	cp "$T/dockerd.log" "$T/dockerd.$DK_NAME.log"
	note "$DK_NAME: stopped in $(ms_since "$start") ms (exit $EXIT_RC); no process or mount left"
}

# check_daemon NAME PORT_DRIVER: the network daemon is our binary, with the flags rootlesskit
# passes for what the recipe asked. Sets DAEMON_PID and API_SOCK (slirp4netns port driver).
check_daemon() {
	local name=$1 driver=$2 p ppid pids= cmdline want
	# The daemon is the $SLIRPNS_BIN process whose parent is not one: the other is its port
	# fast path helper, forked at startup.
	for p in $(exe_pids "$SLIRPNS_BIN"); do
		ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		[ "$(readlink "/proc/$ppid/exe" 2>/dev/null)" = "$SLIRPNS_BIN" ] || pids="$pids $p"
	done
	pids=${pids# }
	[ -n "$pids" ] && [ "$(wc -w <<<"$pids")" = 1 ] ||
		fail "$name: expected one $SLIRPNS_BIN daemon, found '$pids' ($(stack_pids | tr '\n' ' '))"
	[ -z "$(exe_pids /usr/bin/slirp4netns)" ] || fail "$name: /usr/bin/slirp4netns runs"
	DAEMON_PID=$pids
	cmdline=$(tr '\0' ' ' <"/proc/$DAEMON_PID/cmdline")
	local wants=("--mtu 65520" --enable-sandbox --enable-seccomp --disable-host-loopback)
	# rootlesskit gives the daemon an API socket only for its slirp4netns port driver.
	[ "$driver" = slirp4netns ] && wants+=(--api-socket)
	for want in "${wants[@]}"; do
		grep -q -- "$want " <<<"$cmdline" || fail "$name: rootlesskit did not pass $want: $cmdline"
	done
	grep -q '^Seccomp:[[:space:]]*2' "/proc/$DAEMON_PID/status" ||
		fail "$name: $SLIRPNS_BIN runs without its seccomp filter"
	API_SOCK=$(sed -n 's/.*--api-socket \([^ ]*\) .*/\1/p' <<<"$cmdline")
	note "$name: network daemon: $cmdline"
}

# reach_host NAME: a container's echo through 192.0.2.1 comes back, and the service saw it.
reach_host() {
	: >"$T/echo.log"
	out=$(dk run --rm "$IMG" sh -c "echo hello-$1 | nc -w 5 192.0.2.1 $ECHO_PORT" 2>&1) ||
		fail "$1: a container could not reach 192.0.2.1:$ECHO_PORT: $out"
	[ "$out" = "hello-$1" ] || fail "$1: the echo through 192.0.2.1 returned '$out'"
	grep -qx 192.0.2.1 "$T/echo.log" || fail "$1: the host service on 192.0.2.1 saw no connection"
	note "$1: a container reached the host's 192.0.2.1:$ECHO_PORT"
}

fetch() { curl -fsS --max-time 10 "$@"; }
wait_fetch() { # URL [curl args]: until the page with the token comes back (10 s)
	for _ in $(seq 50); do
		out=$(fetch "$@" 2>&1) && [ "$out" = "$TOKEN" ] && return 0
		sleep 0.2
	done
	return 1
}
wait_closed() { # URL: until nothing answers there (5 s)
	for _ in $(seq 50); do
		fetch -o /dev/null "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}
big_sum() { # URL [curl args]: sha256 of the big file fetched from URL
	fetch "$@" | sha256sum | cut -d' ' -f1
}

# --- 0. the recipe alone -------------------------------------------------------------------------
if ! start_dockerd recipe; then
	why=$(grep -Ev '^\+ |level=(info|warning)' "$T/dockerd.log" | tail -n 10)
	cp "$T/dockerd.log" "$T/dockerd.recipe.log"
	for p in $(stack_pids | cut -d' ' -f1); do kill -KILL "$p" 2>/dev/null; done
	sleep 0.5
	if [ -x /usr/bin/slirp4netns ] &&
		start_dockerd slirp4netns DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS=--slirp4netns-binary=/usr/bin/slirp4netns; then
		cp "$T/dockerd.recipe.log" "$T/dockerd.log"
		fail "dockerd starts with /usr/bin/slirp4netns but not with $SLIRPNS_BIN"
	fi
	echo "# dockerd-rootless.sh's output (last 40 lines):"
	tail -n 40 "$T/dockerd.recipe.log" | sed 's/^/#   /'
	skip "dockerd-rootless.sh cannot start dockerd on this machine: $why"
fi
check_daemon recipe builtin
out=$(dk import "$T/rootfs.tar" "$IMG" 2>&1) || fail "docker import failed: $out"
note "imported $IMG"
reach_host recipe
stop_dockerd

# --- 1-4. sandbox and seccomp on, each port driver ------------------------------------------------
for driver in builtin slirp4netns; do
	start_dockerd "$driver" DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER="$driver" \
		DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SANDBOX=true \
		DOCKERD_ROOTLESS_ROOTLESSKIT_SLIRP4NETNS_SECCOMP=true ||
		fail "dockerd did not start with port driver $driver (it did with the recipe alone)"
	check_daemon "$driver" "$driver"
	reach_host "$driver"

	# 2. From a container to the host (the port driver plays no part; once is enough).
	if [ "$driver" = builtin ]; then
		out=$(dk run --rm "$IMG" sh -c "echo hello | nc -w 5 10.0.2.2 $LOOP_PORT" 2>&1) &&
			fail "a container reached the host's 127.0.0.1 via 10.0.2.2 despite --disable-host-loopback: '$out'"
		[ -s "$T/loop.log" ] && fail "the host's loopback service saw a connection despite --disable-host-loopback"
		note "10.0.2.2 does not lead to the host's loopback ($(tail -n1 <<<"$out"))"

		out=$(dk run --rm "$IMG" sh -c 'cat /etc/resolv.conf; echo ---; nslookup docker-dns.slirpns.test' 2>&1) ||
			fail "resolving in a container failed: $out"
		sed -n '/^---$/,$p' <<<"$out" | grep -q '192\.0\.2\.77' ||
			fail "docker-dns.slirpns.test did not resolve to 192.0.2.77: $out"
		grep -qx 127.0.0.1 "$T/dns.log" || fail "the host nameserver saw no query"
		note "DNS: the container's $(grep nameserver <<<"$out" | tr '\n' ' ')reached the host's nameserver"

		out=$(dk run --rm "$IMG" ping -c 2 -W 5 192.0.2.1 2>&1) || fail "ping 192.0.2.1 from a container failed: $out"
		note "ping: $(grep 'packets transmitted' <<<"$out")"

		start=${EPOCHREALTIME/./}
		# (busybox 1.35's wget crashes with -T: timeout bounds it instead)
		out=$(dk run --rm "$IMG" sh -c "set -o pipefail; timeout 30 wget -q -O - http://192.0.2.1:$WWW_PORT/big | sha256sum" 2>&1) ||
			fail "downloading into a container failed: $out"
		[ "${out%% *}" = "$BIG_SUM" ] || fail "the download into a container arrived corrupt: $out"
		note "8 MiB host -> container intact ($(ms_since "$start") ms with the container's start)"
		start=${EPOCHREALTIME/./}
		out=$(dk run --rm "$IMG" sh -c "nc -w 20 192.0.2.1 $SINK_PORT </www/big" 2>&1) ||
			fail "uploading from a container failed: $out"
		[ "$out" = "$BIG_SUM $BIG" ] || fail "the upload from a container arrived as '$out', want '$BIG_SUM $BIG'"
		note "8 MiB container -> host intact ($(ms_since "$start") ms with the container's start)"
	fi

	# 3. docker run -p.
	cid=$(dk run -d -p 8080:80 "$IMG" httpd -f -v -p 80 -h /www 2>&1) ||
		fail "$driver: docker run -d -p 8080:80 failed: $cid"
	wait_fetch http://127.0.0.1:8080/ ||
		fail "$driver: GET http://127.0.0.1:8080/ did not return the page: $out ($(dk logs "$cid" 2>&1))"
	out=$(fetch --interface 192.0.2.1 http://192.0.2.1:8080/ 2>&1) && [ "$out" = "$TOKEN" ] ||
		fail "$driver: GET http://192.0.2.1:8080/ from 192.0.2.1 did not return the page: $out"
	[ "$(big_sum http://127.0.0.1:8080/big)" = "$BIG_SUM" ] ||
		fail "$driver: 8 MiB through 127.0.0.1:8080 arrived corrupt"
	[ "$(big_sum --interface 192.0.2.1 http://192.0.2.1:8080/big)" = "$BIG_SUM" ] ||
		fail "$driver: 8 MiB through 192.0.2.1:8080 arrived corrupt"
	# busybox httpd -v logs each client's address to stderr: "[::ffff:ADDR]:PORT: response:200".
	peers=$(dk logs "$cid" 2>&1 | sed -n 's/^\[\(::ffff:\)\{0,1\}\([^]]*\)\]:.*/\2/p' | sort -u | tr '\n' ' ')
	note "$driver: docker run -p 8080:80 serves 127.0.0.1:8080 and 192.0.2.1:8080; the container saw $peers"
	# What the READMEs say each driver shows the container.
	[ "$driver" = builtin ] && [ "$peers" != "172.17.0.1 " ] &&
		fail "builtin: the container saw clients as $peers, not as dockerd's bridge address 172.17.0.1"
	if [ "$driver" = slirp4netns ]; then
		out=$(api_call '{"execute":"list_hostfwd"}')
		jq -e '.return.entries | any(.proto == "tcp" and .host_addr == "0.0.0.0" and .host_port == 8080)' \
			<<<"$out" >/dev/null || fail "slirpns has no forward of 0.0.0.0:8080: $out"
		[ "$peers" = "10.0.2.100 192.0.2.1 " ] ||
			fail "the clients from 127.0.0.1 and 192.0.2.1 reached the container as $peers, want 10.0.2.100 and 192.0.2.1"

		cid2=$(dk run -d -p 127.0.0.1:8081:80 "$IMG" httpd -f -p 80 -h /www 2>&1) ||
			fail "docker run -d -p 127.0.0.1:8081:80 failed: $cid2"
		wait_fetch http://127.0.0.1:8081/ || fail "GET http://127.0.0.1:8081/ did not return the page: $out"
		fetch -o /dev/null --interface 192.0.2.1 http://192.0.2.1:8081/ 2>/dev/null &&
			fail "-p 127.0.0.1:8081:80 answers on 192.0.2.1 too"
		out=$(api_call '{"execute":"list_hostfwd"}')
		jq -e '.return.entries | any(.host_addr == "127.0.0.1" and .host_port == 8081)' <<<"$out" >/dev/null ||
			fail "slirpns has no forward of 127.0.0.1:8081: $out"
		note "-p 127.0.0.1:8081:80 answers on the host's loopback only"
		dk rm -f "$cid2" >/dev/null 2>&1 || fail "docker rm -f $cid2 failed"
		wait_closed http://127.0.0.1:8081/ || fail "port 8081 still answers after its container was removed"
	fi
	dk rm -f "$cid" >/dev/null 2>&1 || fail "docker rm -f $cid failed"
	wait_closed http://127.0.0.1:8080/ || fail "$driver: port 8080 still answers after the container was removed"
	# UDP: docker run -p 5353:9999/udp of a socat echo, from the host's loopback and from
	# 192.0.2.1. (With the slirp4netns port driver the loopback client's answer needed a fix:
	# see udp_forward_loopback.sh.)
	ucid=$(dk run -d -p 5353:9999/udp "$IMG" socat -d -d UDP4-LISTEN:9999,fork PIPE 2>&1) ||
		fail "$driver: docker run -d -p 5353:9999/udp failed: $ucid"
	for src in 127.0.0.1 192.0.2.1; do
		for _ in $(seq 25); do
			out=$(echo "udp-$driver-$src" | timeout 5 socat -t 1 - "UDP4:$src:5353,bind=$src" 2>&1) &&
				[ "$out" = "udp-$driver-$src" ] && break
			sleep 0.2
		done
		[ "$out" = "udp-$driver-$src" ] ||
			fail "$driver: UDP to $src:5353 got '$out' back, want 'udp-$driver-$src' ($(dk logs "$ucid" 2>&1 | tail -n 5))"
	done
	if [ "$driver" = slirp4netns ]; then
		out=$(api_call '{"execute":"list_hostfwd"}')
		jq -e '.return.entries | any(.proto == "udp" and .host_port == 5353)' <<<"$out" >/dev/null ||
			fail "slirpns has no UDP forward of port 5353: $out"
	fi
	upeers=$(dk logs "$ucid" 2>&1 | sed -n 's/.*accepting UDP connection from AF=2 \([0-9.]*\):.*/\1/p' | sort -u | tr '\n' ' ')
	note "$driver: docker run -p 5353:9999/udp answers 127.0.0.1 and 192.0.2.1; the container saw $upeers"
	dk rm -f "$ucid" >/dev/null 2>&1 || fail "docker rm -f $ucid failed"
	if [ "$driver" = slirp4netns ]; then
		out=$(api_call '{"execute":"list_hostfwd"}')
		jq -e '.return.entries | length == 0' <<<"$out" >/dev/null ||
			fail "slirpns still forwards after the containers were removed: $out"
	fi
	note "$driver: the published ports closed with their containers"

	# 4. Teardown.
	stop_dockerd
done
note "total $(ms_since "$START") ms"
