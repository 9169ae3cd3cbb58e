#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --enable-sandbox --enable-seccomp, unprivileged: the daemon runs with a seccomp filter, no new
# privileges, only CAP_NET_BIND_SERVICE (bounding set included), and a root that holds nothing
# but what DNS needs (checked through /proc/PID/status and /proc/PID/root). Everything still
# works: TCP/UDP to the host via 10.0.2.2, ping (answered by libslirp, and relayed through a
# ping socket), IPv6 to the host's ::1 via fd00::2, DNS over IPv4 and IPv6, DNS after
# resolv.conf changes (replaced by rename, rewritten in place, a symlink re-pointed) with a
# resolv.conf that is a chain of symlinks leaving /etc (as on NixOS and with systemd-resolved),
# API forwards added after the sandbox (port 80 where the host lets users bind it, UDP, IPv6,
# IPv6-to-IPv4 through the relay) with traffic, list and remove, a SIGSTOP/SIGCONT. Through
# all of it the daemon is not killed (by SIGSYS); it exits 0 on SIGTERM and, as a second
# instance with a plain bind-mounted resolv.conf, on exit-fd hang-up.
. "$(dirname "$0")/lib.sh"

for tool in socat jq; do
	command -v "$tool" >/dev/null || skip "$tool is not installed"
done
[ -e /proc/sys/net/ipv6 ] || skip "the kernel has no IPv6"

sock="$T/api.sock"
call() { printf '%s' "$1" | as_user socat -t 5 - "UNIX-CONNECT:$sock"; }
ns_helper() { in_ns "$PY" "$TESTS_DIR/helper.py" "$@"; }

# The daemon must be alive, and not a zombie (killed but not yet reaped).
alive() {
	local stat
	stat=$(cat "/proc/$SLIRPNS_PID/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat:0:1}" != Z ]
}
check_alive() { alive || fail "the daemon died $*"; }

# On any failure, say whether the filter killed the daemon (exit status 128 + SIGSYS = 159).
eval "lib_$(declare -f fail)"
fail() {
	local rc=0
	if [ -n "${SLIRPNS_PID:-}" ] && ! alive; then
		wait "$SLIRPNS_PID" 2>/dev/null || rc=$?
		[ "$rc" != 159 ] ||
			set -- "$* - the daemon was killed by SIGSYS: it made a call the filter does not allow"
	fi
	lib_fail "$@"
}

# Exit code 159 = 128 + SIGSYS: the seccomp filter killed the daemon.
check_exit() {
	[ "$EXIT_RC" != 159 ] ||
		fail "$1: the daemon was killed by SIGSYS (a system call the filter does not allow)"
	[ "$EXIT_RC" = 0 ] || fail "$1: the daemon exited with $EXIT_RC, expected 0"
}

# ---- a resolv.conf that is a chain of symlinks out of /etc ------------------------------------
# /etc/resolv.conf -> /etc/static/resolv.conf; /etc/static -> $T/store/aaa-etc/etc (a directory
# link, as on NixOS); $T/store/aaa-etc/etc/resolv.conf -> ../../bbb-resolv/resolv.conf (relative,
# with "..", as systemd-resolved's ../run/systemd/resolve/stub-resolv.conf). /etc becomes an
# overlay in our private mount namespace so that the real one is untouched.
store="$T/store"
mkdir -p "$store/aaa-etc/etc" "$store/bbb-resolv" "$T/etc-upper" "$T/etc-work"
printf 'nameserver 127.0.0.1\nnameserver ::1\n' >"$store/bbb-resolv/resolv.conf"
printf 'nameserver 127.0.0.2\nnameserver ::1\n' >"$store/bbb-resolv/other.conf"
ln -s ../../bbb-resolv/resolv.conf "$store/aaa-etc/etc/resolv.conf"
chmod -R a+rX "$store"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$T/etc-upper,workdir=$T/etc-work" /etc ||
	skip "cannot mount an overlay over /etc"
rm -f /etc/resolv.conf
ln -s /etc/static/resolv.conf /etc/resolv.conf
ln -s "$store/aaa-etc/etc" /etc/static
[ "$(cat /etc/resolv.conf)" = "$(cat "$store/bbb-resolv/resolv.conf")" ] ||
	fail "the symlink chain does not resolve"

# ---- the host side ------------------------------------------------------------------------------
start_helper tcp-echo 127.0.0.1 7001
start_helper udp-echo 127.0.0.1 7002
start_helper tcp-echo ::1 7003
start_helper dns 127.0.0.1 53 --record example.test=192.0.2.1
start_helper dns 127.0.0.2 53 --record example.test=192.0.2.2
start_helper dns ::1 53 --record v6.test=2001:db8::6
add_dummy_if slirpns-dummy
ip addr add 198.51.100.1/32 dev slirpns-dummy
# Let unprivileged users bind ports from 80 up (the daemon must keep being able to).
echo 80 >/proc/sys/net/ipv4/ip_unprivileged_port_start

start_ns
start_slirpns -c -6 --enable-sandbox --enable-seccomp -a "$sock" "$NSPID" tap0

# ---- what the daemon is allowed -----------------------------------------------------------------
status=$(cat "/proc/$SLIRPNS_PID/status")
field() { echo "$status" | awk -v k="$1:" '$1 == k { print $2 }'; }
[ "${UNDER_VALGRIND:-0}" = 1 ] || [ "$(field Seccomp)" = 2 ] || fail "Seccomp: $(field Seccomp), expected 2 (filter mode)"
[ "$(field NoNewPrivs)" = 1 ] || fail "NoNewPrivs: $(field NoNewPrivs), expected 1"
for c in CapEff CapPrm CapBnd; do
	[ "$(field $c)" = 0000000000000400 ] ||
		fail "$c: $(field $c), expected 0000000000000400 (CAP_NET_BIND_SERVICE only)"
done
for c in CapInh CapAmb; do
	[ "$(field $c)" = 0000000000000000 ] || fail "$c: $(field $c), expected none"
done

# ---- what the daemon sees -----------------------------------------------------------------------
# Only the directories of the resolv.conf chain: /etc (resolv.conf and static are links there),
# $store/aaa-etc/etc (a link) and $store/bbb-resolv (the file), all read-only, and an empty /run
# (always there, as in slirp4netns's sandbox; sandbox_root.sh checks that shape).
root="/proc/$SLIRPNS_PID/root"
top=$(ls -A "$root" | tr '\n' ' ')
[ "$top" = "etc run tmp " ] || fail "the sandbox's root holds '$top', expected 'etc run tmp '"
for p in "$T/api.sock" "$T/slirpns" /proc/self /dev/null /usr /home "$store/aaa-etc/other"; do
	[ ! -e "$root$p" ] || fail "$p is visible in the sandbox"
done
[ -d "$root$store/aaa-etc/etc" ] && [ -f "$root$store/bbb-resolv/other.conf" ] ||
	fail "the resolv.conf chain's directories are missing from the sandbox"
[ "$(cat "$root/etc/resolv.conf")" = "$(cat /etc/resolv.conf)" ] ||
	fail "/etc/resolv.conf does not resolve inside the sandbox"
rw=$(awk '{ split($6, o, ","); if (o[1] != "ro") print $5 }' "/proc/$SLIRPNS_PID/mountinfo")
[ -z "$rw" ] || fail "writable mounts in the sandbox: $rw"
note "sandbox root: $(awk '{ print $5 }' "/proc/$SLIRPNS_PID/mountinfo" | tr '\n' ' ')"

# ---- traffic -------------------------------------------------------------------------------------
out=$(ns_helper tcp-send 10.0.2.2 7001 hello-tcp 2>&1) || fail "TCP failed: $out"
[ "$out" = hello-tcp ] || fail "TCP echo returned '$out'"
out=$(ns_helper udp-send 10.0.2.2 7002 hello-udp 2>&1) || fail "UDP failed: $out"
[ "$out" = hello-udp ] || fail "UDP echo returned '$out'"
# libslirp answers 10.0.2.2 itself; another host address goes through a ping socket, which
# needs the daemon's group in ping_group_range (lib.sh opens it to every group; inside a user
# namespace only mapped groups can be named, so open it to ours).
ping_dsts=10.0.2.2
gid=$(as_user id -g)
read -r lo hi </proc/sys/net/ipv4/ping_group_range
if [ "$gid" -lt "$lo" ] || [ "$gid" -gt "$hi" ]; then
	echo "$gid $gid" >/proc/sys/net/ipv4/ping_group_range 2>/dev/null || true
	read -r lo hi </proc/sys/net/ipv4/ping_group_range
fi
if [ "$gid" -ge "$lo" ] && [ "$gid" -le "$hi" ]; then
	ping_dsts="$ping_dsts 198.51.100.1"
else
	note "ping sockets are not allowed for group $gid here: relayed ping not tested"
fi
if command -v busybox >/dev/null; then
	for dst in $ping_dsts; do
		out=$(in_ns busybox ping -c 2 -W 3 "$dst" 2>&1) || fail "ping $dst failed: $out"
		echo "$out" | grep -q "2 packets received" || fail "unexpected ping output: $out"
	done
else
	note "busybox is not installed: ping not tested"
fi
check_alive "after TCP, UDP and ICMP"

resolve() { ns_helper resolve "$@" --tries 1 2>/dev/null; }
out=$(ns_helper resolve 10.0.2.3 example.test 2>&1) || fail "DNS through 10.0.2.3 failed: $out"
[ "$out" = 192.0.2.1 ] || fail "10.0.2.3 answered '$out', expected 192.0.2.1"
ns_helper resolve 10.0.2.3 missing.test >/dev/null 2>&1 && fail "an unknown name resolved"

# DNS changes. libslirp re-reads resolv.conf when stat() shows a new inode, size or mtime, at
# most once a second, so each check retries for a few seconds.
expect_dns() { # WHAT ANSWER
	for _ in $(seq 20); do
		[ "$(resolve 10.0.2.3 example.test)" = "$2" ] && return 0
		sleep 0.5
	done
	fail "DNS did not follow $1 (expected $2, got '$(resolve 10.0.2.3 example.test)')"
}
# Replaced by rename, as resolvconf, NetworkManager and systemd-resolved do.
printf 'nameserver 127.0.0.2\nnameserver ::1\n' >"$store/bbb-resolv/resolv.conf.new"
chmod 644 "$store/bbb-resolv/resolv.conf.new"
mv "$store/bbb-resolv/resolv.conf.new" "$store/bbb-resolv/resolv.conf"
expect_dns "a resolv.conf replaced by rename" 192.0.2.2
# Rewritten in place (same inode, different size).
printf '# in place\nnameserver 127.0.0.1\nnameserver ::1\n' >"$store/bbb-resolv/resolv.conf"
expect_dns "a resolv.conf rewritten in place" 192.0.2.1
# A link of the chain pointed elsewhere.
ln -sfn ../../bbb-resolv/other.conf "$store/aaa-etc/etc/resolv.conf"
expect_dns "a re-pointed symlink" 192.0.2.2
check_alive "after the DNS changes"

# IPv6: SLAAC, then TCP to the host's ::1 through fd00::2 and DNS through fd00::3.
retry in_ns sh -c 'ip -6 -o addr show dev tap0 scope global | grep -v tentative | grep -q fd00::' ||
	fail "no SLAAC address in fd00::/64"
out=$(ns_helper tcp-send fd00::2 7003 hello-ipv6 2>&1) || fail "TCP to [fd00::2]:7003 failed: $out"
[ "$out" = hello-ipv6 ] || fail "IPv6 TCP echo returned '$out'"
out=$(ns_helper resolve fd00::3 v6.test --aaaa 2>&1) || fail "DNS through fd00::3 failed: $out"
[ "$out" = 2001:db8::6 ] || fail "fd00::3 answered '$out', expected 2001:db8::6"
check_alive "after IPv6"

# ---- API forwards, created after the sandbox -----------------------------------------------------
guest6=$(in_ns ip -6 -o addr show dev tap0 scope global | awk '{print $4}' | cut -d/ -f1 | head -n1)
in_ns "$PY" "$TESTS_DIR/helper.py" tcp-echo 0.0.0.0 8080 >/dev/null 2>&1 &
in_ns "$PY" "$TESTS_DIR/helper.py" udp-echo 0.0.0.0 8081 >/dev/null 2>&1 &
in_ns "$PY" "$TESTS_DIR/helper.py" tcp-echo :: 8082 >/dev/null 2>&1 &
add() { # JSON-ARGUMENTS: print the new forward's id
	local resp
	resp=$(call '{"execute":"add_hostfwd","arguments":'"$1"'}') || fail "API call failed"
	echo "$resp" | jq -e '.return.id' || fail "add_hostfwd $1: $resp"
}
id_low=$(add '{"proto":"tcp","host_addr":"0.0.0.0","host_port":80,"guest_port":8080}')
id_udp=$(add '{"proto":"udp","host_addr":"127.0.0.1","host_port":5353,"guest_port":8081}')
id_v6=$(add '{"proto":"tcp","host_addr":"::1","host_port":8082,"guest_addr":"'"$guest6"'","guest_port":8082}')
id_x=$(add '{"proto":"tcp","host_addr":"::","host_port":8083,"guest_port":8080}')

retry helper tcp-send 127.0.0.1 80 probe || fail "no answer through the forward on port 80"
out=$(helper tcp-send 127.0.0.1 80 through-80)
[ "$out" = through-80 ] || fail "forward on port 80 returned '$out'"
out=$(helper udp-send 127.0.0.1 5353 through-udp 2>&1) || fail "UDP forward failed: $out"
[ "$out" = through-udp ] || fail "UDP forward returned '$out'"
retry helper tcp-send ::1 8082 probe || fail "no answer through the forward on [::1]:8082"
out=$(helper tcp-send ::1 8082 through-v6)
[ "$out" = through-v6 ] || fail "IPv6 forward returned '$out'"
retry helper tcp-send ::1 8083 probe || fail "no answer through the forward on [::]:8083"
out=$(helper tcp-send ::1 8083 through-v6-to-v4)
[ "$out" = through-v6-to-v4 ] || fail "IPv6-to-IPv4 forward returned '$out'"

list=$(call '{"execute":"list_hostfwd"}')
n=$(echo "$list" | jq '[.entries[] | select(.id == '"$id_low"' and .host_port == 80)] | length')
[ "$n" = 1 ] || fail "list_hostfwd does not show the port-80 forward: $list"
[ "$(echo "$list" | jq '.entries | length')" = 4 ] || fail "list_hostfwd: $list"
for id in "$id_low" "$id_udp" "$id_v6" "$id_x"; do
	resp=$(call '{"execute":"remove_hostfwd","arguments":{"id":'"$id"'}}')
	[ "$(echo "$resp" | jq -c .)" = '{"return":{}}' ] || fail "remove_hostfwd $id: $resp"
done
helper tcp-send 127.0.0.1 80 gone >/dev/null 2>&1 && fail "port 80 still forwards after remove"
[ "$(call '{"execute":"list_hostfwd"}' | jq '.entries | length')" = 0 ] || fail "forwards left"
# The port is free again for a new forward.
id_low=$(add '{"proto":"tcp","host_addr":"0.0.0.0","host_port":80,"guest_port":8080}')
out=$(helper tcp-send 127.0.0.1 80 again)
[ "$out" = again ] || fail "re-added forward on port 80 returned '$out'"
check_alive "after the API calls"

# Stopped and continued (a debugger, SIGSTOP, podman pause's freezer), the daemon resumes its
# interrupted poll() through restart_syscall.
kill -STOP "$SLIRPNS_PID"
sleep 0.3
kill -CONT "$SLIRPNS_PID"
out=$(helper tcp-send 127.0.0.1 80 after-stop 2>&1) || fail "forward after SIGSTOP/SIGCONT: $out"
[ "$out" = after-stop ] || fail "forward after SIGSTOP/SIGCONT returned '$out'"
check_alive "after SIGSTOP/SIGCONT"

# ---- SIGTERM ----------------------------------------------------------------------------------
kill -TERM "$SLIRPNS_PID"
wait_exit "$SLIRPNS_PID" 5 || fail "the daemon did not exit on SIGTERM"
check_exit SIGTERM
[ ! -e "$sock" ] || fail "the API socket was not removed at exit"

# ---- a plain resolv.conf file (bind-mounted, as in containers), then exit-fd -------------------
umount /etc
use_resolv_conf "nameserver 127.0.0.1"
start_ns
mkfifo "$T/exit.fifo"
exec 7<>"$T/exit.fifo"
start_slirpns -c --enable-sandbox --enable-seccomp -e 8 "$NSPID" tap0 8<"$T/exit.fifo" 7>&-
top=$(ls -A "/proc/$SLIRPNS_PID/root" | tr '\n' ' ')
[ "$top" = "etc run " ] ||
	fail "plain resolv.conf: the sandbox's root holds '$top', expected 'etc run '"
expect_dns "a plain resolv.conf" 192.0.2.1
printf '# rewritten\nnameserver 127.0.0.2\n' >"$T/resolv.conf"
expect_dns "a plain resolv.conf rewritten in place" 192.0.2.2
check_alive "with a plain resolv.conf"
exec 7>&-
wait_exit "$SLIRPNS_PID" 5 || fail "the daemon did not exit when the exit fd hung up"
check_exit "exit fd"
