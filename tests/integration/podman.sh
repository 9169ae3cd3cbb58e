#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Rootless podman with $SLIRPNS as its slirp4netns (network_cmd_path in containers.conf).
#
# Checks, with containers started by podman 4.x as the unprivileged test user:
#   (a) with --network slirp4netns:allow_host_loopback=true the container reaches a service on
#       the host's 127.0.0.1 through 10.0.2.2; by default (podman then passes
#       --disable-host-loopback) it cannot, and the service sees no connection;
#   (b) a page served by busybox httpd in the container and published with
#       port_handler=slirp4netns (podman drives the daemon's API socket) and with podman's
#       default rootlessport handler is fetched from the host; the port closes with the
#       container; the process serving the network really is $SLIRPNS;
#   (c) the cidr=10.9.0.0/24 and mtu=9000 network options reach the container's tap0 (address,
#       route, MTU) and the host is reachable through 10.9.0.2;
#   (d) DNS: podman writes 10.0.2.3 into the container's resolv.conf and a name resolves
#       through it to the host's nameserver (a test server on 127.0.0.1:53, named by a private
#       /etc/resolv.conf);
#   (e) with --userns=keep-id podman configures the network after the container started and
#       passes its PID (pid mode, no --netns-type); the container still gets its network;
#   (0) first, that podman takes network_cmd_path from contrib/podman/containers.conf and
#       reads the binary's --version (podman info), and that --help lists what podman greps for.
#
# How podman is set up: lib.sh has already put us (root) into private network, mount and PID
# namespaces, so the host services, the published ports and the bind-mounted /etc/resolv.conf
# are private to this test, and every process podman leaves behind (its rootless pause
# process, conmon, the network daemon) dies with the PID namespace. Podman runs as
# $SLIRPNS_TEST_USER (subordinate ids in /etc/subuid and /etc/subgid) with a clean
# environment: XDG_CONFIG_HOME, HOME and TMPDIR are directories in $T and XDG_RUNTIME_DIR a
# short-named 0700 directory /tmp/pm.XXXXXX (the API socket path must fit in sun_path), a
# containers.conf selects runc, cgroupfs, file events and network_cmd_path=<copy of $SLIRPNS>
# (the same settings are also given as flags), and storage is the vfs driver under $T
# (--root/--runroot). The only image is made here with `podman import` from a tarball holding
# busybox-static; no registry is used. On exit the containers are removed, the pause process
# is killed and the directories are deleted.
# Needs (Debian): podman runc uidmap busybox-static curl; /dev/net/tun mode 0666.
. "$(dirname "$0")/lib.sh"

[ "$RUN_AS_USER" = 1 ] ||
	skip "rootless podman needs a real unprivileged user with subordinate ids; run as root (the test drops to $SLIRPNS_TEST_USER)"
for cmd in podman runc newuidmap newgidmap curl; do
	command -v "$cmd" >/dev/null || skip "$cmd is not installed (apt-get install podman runc uidmap curl)"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || skip "no $BUSYBOX (apt-get install busybox-static)"
# The image has no libc: a dynamically linked busybox (Debian's "busybox") cannot run there.
ldd "$BUSYBOX" >/dev/null 2>&1 && skip "$BUSYBOX is dynamically linked (apt-get install busybox-static)"
grep -qx httpd <<<"$("$BUSYBOX" --list)" || skip "$BUSYBOX has no httpd applet (install busybox-static)"
for f in /etc/subuid /etc/subgid; do
	grep -q "^$SLIRPNS_TEST_USER:" "$f" || skip "$SLIRPNS_TEST_USER has no entry in $f"
done

# The host's nameserver for (d). This must precede the first podman command: podman's rootless
# pause process keeps the mount namespace it was started in, and every later podman command
# (and the network daemon it spawns) sees /etc/resolv.conf from there.
start_helper dns 127.0.0.1 53 --record podman-dns.slirpns.test=192.0.2.55 --log "$T/dns.log"
use_resolv_conf "nameserver 127.0.0.1"

# --- podman's private world in $T --------------------------------------------------------------
PM="$T/podman"
mkdir -p "$PM/config/containers" "$PM/home" "$PM/tmp" "$PM/root" "$PM/runroot"
# XDG_RUNTIME_DIR must be short: podman puts the API socket at
# $XDG_RUNTIME_DIR/libpod/tmp/<64 hex>.net and sun_path holds 107 bytes.
RUNDIR=$(mktemp -d /tmp/pm.XXXXXX)
chmod 700 "$RUNDIR"
chown "$TEST_UID:$TEST_GID" "$RUNDIR"
cat >"$PM/config/containers/containers.conf" <<EOF
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
network_cmd_path = "$SLIRPNS_BIN"
EOF
cat >"$PM/config/containers/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$PM/root"
runroot = "$PM/runroot"
EOF
chown -R "$TEST_UID:$TEST_GID" "$PM"

# The flags repeat containers.conf on purpose: a stray system containers.conf cannot override
# a command-line flag.
pm() {
	as_user env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$PM/home" TMPDIR="$PM/tmp" \
		XDG_RUNTIME_DIR="$RUNDIR" XDG_CONFIG_HOME="$PM/config" \
		podman --root "$PM/root" --runroot "$PM/runroot" --storage-driver vfs \
		--runtime runc --cgroup-manager=cgroupfs --events-backend=file \
		--network-cmd-path="$SLIRPNS_BIN" "$@"
}

podman_cleanup() {
	set +e
	pm rm -af -t 0 >/dev/null 2>&1
	local pid
	pid=$(cat "$RUNDIR/libpod/tmp/pause.pid" 2>/dev/null)
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$RUNDIR"
	cleanup
}
trap podman_cleanup EXIT

# Podman unlinks the daemon's log file once it is up (its content is in podman's error message
# when the start fails); a daemon still running has it open as its stderr.
dump_logs() {
	local p
	for p in $(daemon_pids); do
		echo "--- output of $SLIRPNS_BIN (pid $p):"
		cat "/proc/$p/fd/2" 2>/dev/null
	done
	return 0
}

# --- the image: busybox-static and a page with a token -------------------------------------------
TOKEN="slirpns-podman-$RANDOM$RANDOM"
mkdir -p "$T/rootfs/bin" "$T/rootfs/www" "$T/rootfs/tmp" "$T/rootfs/etc"
cp "$BUSYBOX" "$T/rootfs/bin/busybox"
for a in sh cat echo grep ip httpd nc nslookup wget sleep ls ping true; do
	ln -s busybox "$T/rootfs/bin/$a"
done
echo "$TOKEN" >"$T/rootfs/www/index.html"
echo "root:x:0:0:root:/:/bin/sh" >"$T/rootfs/etc/passwd"
echo "root:x:0:" >"$T/rootfs/etc/group"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
chmod 644 "$T/rootfs.tar"
IMG=localhost/slirpns-busybox:test
out=$(pm import "$T/rootfs.tar" "$IMG" 2>&1) || fail "podman import failed: $out"

# The binary podman probes with --help must advertise what podman looks for.
help=$("$SLIRPNS_BIN" --help 2>&1) || true
for flag in --disable-host-loopback --mtu --enable-sandbox --enable-seccomp --cidr \
	--enable-ipv6 --outbound-addr; do
	grep -q -- "$flag" <<<"$help" || fail "--help does not mention $flag (podman greps for it)"
done

# run NETWORK CMD...: a throwaway container on the given --network.
run() { pm run --rm --network "$1" "$IMG" "${@:2}"; }

# --- (0) the contrib/podman/containers.conf recipe ------------------------------------------------
# Podman reads the snippet (alone, via CONTAINERS_CONF) and takes network_cmd_path from it.
RECIPE="$TESTS_DIR/../../contrib/podman/containers.conf"
if [ -f "$RECIPE" ]; then
	sed "s|^network_cmd_path = .*|network_cmd_path = \"$SLIRPNS_BIN\"|" "$RECIPE" >"$PM/recipe.conf"
	chmod 644 "$PM/recipe.conf"
	out=$(as_user env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$PM/home" TMPDIR="$PM/tmp" \
		XDG_RUNTIME_DIR="$RUNDIR" CONTAINERS_CONF="$PM/recipe.conf" \
		podman --root "$PM/root" --runroot "$PM/runroot" --storage-driver vfs \
		info --format '{{.Host.Slirp4NetNS.Executable}}|{{.Host.Slirp4NetNS.Version}}' 2>&1) ||
		fail "(0) podman info with $RECIPE failed: $out"
	[ "${out%%|*}" = "$SLIRPNS_BIN" ] ||
		fail "(0) podman did not take network_cmd_path from $RECIPE: $out"
	grep -q 'version [0-9]' <<<"${out#*|}" || fail "(0) podman read no version from the binary: $out"
	note "(0) podman takes network_cmd_path from the contrib recipe; it reports: $(head -n1 <<<"${out#*|}")"
else
	note "(0) skipped: no $RECIPE (not in a source tree)"
fi

# Host services (root, in our private network namespace).
HOST_PORT=17311
start_helper tcp-echo 127.0.0.1 "$HOST_PORT" --log "$T/echo.log"
touch "$T/echo.log"

# --- (a) host loopback through 10.0.2.2 ----------------------------------------------------------
out=$(run slirp4netns:allow_host_loopback=true \
	sh -c "echo hello-loopback | nc -w 5 10.0.2.2 $HOST_PORT" 2>&1) ||
	fail "(a) container could not reach 127.0.0.1:$HOST_PORT via 10.0.2.2 with allow_host_loopback=true: $out"
[ "$out" = hello-loopback ] || fail "(a) echo through 10.0.2.2 returned '$out'"
grep -qx 127.0.0.1 "$T/echo.log" || fail "(a) the host service logged no connection"
note "(a) allow_host_loopback=true: reached the host's 127.0.0.1 via 10.0.2.2"

: >"$T/echo.log"
out=$(run slirp4netns sh -c \
	"ip -4 addr show tap0 | grep -q 'inet 10.0.2.100/' || { echo NO-NETWORK; exit 3; }
	 echo hello | nc -w 5 10.0.2.2 $HOST_PORT" 2>&1) &&
	fail "(a) container reached the host's 127.0.0.1 via 10.0.2.2 without allow_host_loopback: '$out'"
grep -q NO-NETWORK <<<"$out" && fail "(a) the container's tap0 is not configured: $out"
[ -s "$T/echo.log" ] && fail "(a) the host service saw a connection without allow_host_loopback"
note "(a) default: host loopback refused ($(tail -n1 <<<"$out"))"

# --- (b) published ports -------------------------------------------------------------------------
fetch() { curl -fsS --max-time 5 "http://127.0.0.1:$1/"; }
wait_fetch() {
	for _ in $(seq 50); do
		out=$(fetch "$1" 2>&1) && [ "$out" = "$TOKEN" ] && return 0
		sleep 0.2
	done
	return 1
}
# The process whose executable is our copy of the binary (we own a private /proc).
daemon_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$SLIRPNS_BIN" ] && echo "${p#/proc/}"
	done
	return 0
}

publish_test() { # handler hostport
	local handler=$1 port=$2 cid
	cid=$(pm run -d --network "slirp4netns:port_handler=$handler" -p "$port:80" "$IMG" \
		httpd -f -p 80 -h /www 2>&1) || fail "(b) podman run -d ($handler) failed: $cid"
	wait_fetch "$port" ||
		fail "(b) $handler: GET http://127.0.0.1:$port/ did not return the page: $out ($(pm logs "$cid" 2>&1))"
	[ -n "$(daemon_pids)" ] || fail "(b) no process runs $SLIRPNS_BIN while the container runs"
	note "(b) port_handler=$handler: fetched the container's page from 127.0.0.1:$port"
	out=$(pm port "$cid" 2>&1)
	grep -q "80/tcp -> 0.0.0.0:$port" <<<"$out" || fail "(b) podman port says '$out'"
	pm rm -f -t 0 "$cid" >/dev/null 2>&1 || fail "(b) podman rm -f failed"
	for _ in $(seq 50); do
		fetch "$port" >/dev/null 2>&1 || break
		sleep 0.2
	done
	fetch "$port" >/dev/null 2>&1 && fail "(b) $handler: port $port still answers after the container was removed"
	for _ in $(seq 50); do
		[ -z "$(daemon_pids)" ] && break
		sleep 0.1
	done
	[ -z "$(daemon_pids)" ] || fail "(b) $SLIRPNS_BIN still runs after the container was removed"
}
publish_test slirp4netns 17312
publish_test rootlesskit 17313

# --- (c) cidr and mtu ----------------------------------------------------------------------------
: >"$T/echo.log"
out=$(run slirp4netns:cidr=10.9.0.0/24,mtu=9000,allow_host_loopback=true sh -c \
	"ip -4 addr show tap0; ip link show tap0; ip route; echo hello-cidr | nc -w 5 10.9.0.2 $HOST_PORT" 2>&1) ||
	fail "(c) container with cidr=10.9.0.0/24,mtu=9000 failed: $out"
grep -q 'inet 10\.9\.0\.100/24' <<<"$out" || fail "(c) tap0 has no 10.9.0.100/24: $out"
grep -q 'tap0:.* mtu 9000 ' <<<"$out" || fail "(c) tap0 MTU is not 9000: $out"
grep -q '^default via 10\.9\.0\.2 ' <<<"$out" || fail "(c) no default route via 10.9.0.2: $out"
grep -qx hello-cidr <<<"$out" || fail "(c) the host was not reachable via 10.9.0.2: $out"
note "(c) cidr=10.9.0.0/24 and mtu=9000 took effect"

# --- (d) DNS through 10.0.2.3 --------------------------------------------------------------------
out=$(run slirp4netns sh -c \
	'cat /etc/resolv.conf; echo ---; nslookup podman-dns.slirpns.test' 2>&1) ||
	fail "(d) resolving in the container failed: $out"
grep -q '^nameserver 10\.0\.2\.3$' <<<"$out" || fail "(d) podman did not put 10.0.2.3 in resolv.conf: $out"
sed -n '/^---$/,$p' <<<"$out" | grep -q '192\.0\.2\.55' ||
	fail "(d) podman-dns.slirpns.test did not resolve to 192.0.2.55: $out"
grep -qx 127.0.0.1 "$T/dns.log" || fail "(d) the host nameserver saw no query"
out=$(run slirp4netns nslookup missing.slirpns.test 10.0.2.3 2>&1) &&
	fail "(d) an unknown name resolved: $out"
note "(d) DNS through 10.0.2.3 reached the host's nameserver"

# --- (e) --userns=keep-id: podman passes the container's PID instead of a netns path -----------
out=$(pm run --rm --network slirp4netns:allow_host_loopback=true --userns=keep-id "$IMG" sh -c \
	"ip -4 addr show tap0; echo hello-keepid | nc -w 5 10.0.2.2 $HOST_PORT" 2>&1) ||
	fail "(e) container with --userns=keep-id failed: $out"
grep -q 'inet 10\.0\.2\.100/24' <<<"$out" || fail "(e) tap0 has no 10.0.2.100/24: $out"
grep -qx hello-keepid <<<"$out" || fail "(e) the host was not reachable via 10.0.2.2: $out"
note "(e) --userns=keep-id (PID mode) works"
