#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The sandbox's root keeps slirp4netns's top-level shape, as tools see it from /proc/PID/root:
# /etc and /run always exist and are directories, holding only what the daemon needs (empty,
# mode 0755, when nothing needs binding there), and /home, /root, /var and anything else do not.
# Checked, as the host (root), for --enable-sandbox and --enable-sandbox --enable-seccomp with a
# plain resolv.conf (/etc bound, /run empty), with --disable-dns (both empty), and with a
# resolv.conf that links into /run as systemd-resolved's does (/run holds only that directory).
# The root is read-only: not even root on the host can add an entry to it or to the empty /run.
. "$(dirname "$0")/lib.sh"

# check_root WHAT TOP: the daemon's root holds exactly the entries TOP (sorted, one space after
# each), /etc and /run among them as directories, and nothing writable.
check_root() {
	local what=$1 want=$2 root="/proc/$SLIRPNS_PID/root" top d rw
	top=$(ls -A "$root" | tr '\n' ' ')
	[ "$top" = "$want" ] || fail "$what: the sandbox's root holds '$top', expected '$want'"
	for d in /etc /run; do
		[ -d "$root$d" ] && [ ! -L "$root$d" ] || fail "$what: $d is not a directory in the sandbox"
	done
	for d in /home /root /var /proc /dev /tmp /usr; do
		[ ! -e "$root$d" ] && [ ! -L "$root$d" ] || fail "$what: $d exists in the sandbox"
	done
	! touch "$root/new" 2>/dev/null || fail "$what: the sandbox's root is writable"
	! mkdir "$root/run/new" 2>/dev/null || fail "$what: the sandbox's /run is writable"
	rw=$(awk '{ split($6, o, ","); if (o[1] != "ro") print $5 }' "/proc/$SLIRPNS_PID/mountinfo")
	[ -z "$rw" ] || fail "$what: writable mounts in the sandbox: $rw"
	note "$what: / holds $top; mounts: $(awk '{ print $5 }' "/proc/$SLIRPNS_PID/mountinfo" |
		tr '\n' ' ')"
}

# check_empty WHAT DIR: DIR is an empty directory of mode 0755 in the daemon's root.
check_empty() {
	local d="/proc/$SLIRPNS_PID/root$2" left mode
	left=$(ls -A "$d" | tr '\n' ' ')
	[ -z "$left" ] || fail "$1: $2 should be empty in the sandbox, holds '$left'"
	mode=$(stat -c %a "$d")
	[ "$mode" = 755 ] || fail "$1: $2 has mode $mode in the sandbox, expected 755"
}

# check_resolv WHAT: /etc/resolv.conf reads the same inside the sandbox as outside.
check_resolv() {
	[ "$(cat "/proc/$SLIRPNS_PID/root/etc/resolv.conf")" = "$(cat /etc/resolv.conf)" ] ||
		fail "$1: /etc/resolv.conf does not resolve inside the sandbox"
}

use_resolv_conf "nameserver 127.0.0.1"

# ---- a plain resolv.conf: /etc is bound from the host, /run is there and empty ------------------
for flags in "--enable-sandbox" "--enable-sandbox --enable-seccomp"; do
	start_ns
	# shellcheck disable=SC2086 # two words on purpose
	start_slirpns -c $flags "$NSPID" tap0
	check_root "$flags" "etc run "
	check_empty "$flags" /run
	check_resolv "$flags"
	[ -f "/proc/$SLIRPNS_PID/root/etc/passwd" ] || fail "$flags: /etc is not the host's /etc"
	stop_slirpns
done

# ---- --disable-dns: nothing to bind, /etc and /run are empty directories -------------------------
start_ns
start_slirpns -c --disable-dns --enable-sandbox --enable-seccomp "$NSPID" tap0
check_root "--disable-dns" "etc run "
check_empty "--disable-dns" /etc
check_empty "--disable-dns" /run
stop_slirpns

# ---- resolv.conf -> ../run/systemd/resolve/stub-resolv.conf: /run holds that directory only -----
# /run is a fresh tmpfs and /etc an overlay with the link, in our private mount namespace only;
# they go before $T is removed at exit.
eval "lib_$(declare -f cleanup)"
cleanup() {
	[ -z "${MOUNTED:-}" ] || umount -l /run /etc "$T/ovl" || true
	lib_cleanup
}
MOUNTED=1
umount /etc/resolv.conf
mkdir -p "$T/ovl"
mount -t tmpfs tmpfs "$T/ovl"
mkdir -p "$T/ovl/upper" "$T/ovl/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$T/ovl/upper,workdir=$T/ovl/work" /etc ||
	skip "cannot mount an overlay over /etc"
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/systemd/resolve /run/other
printf 'nameserver 127.0.0.1\n' >/run/systemd/resolve/stub-resolv.conf
chmod 644 /run/systemd/resolve/stub-resolv.conf
rm -f /etc/resolv.conf
ln -s ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
start_ns
start_slirpns -c --enable-sandbox --enable-seccomp "$NSPID" tap0
check_root "systemd-resolved" "etc run "
left=$(ls -A "/proc/$SLIRPNS_PID/root/run" | tr '\n' ' ')
[ "$left" = "systemd " ] || fail "systemd-resolved: /run holds '$left', expected 'systemd '"
left=$(ls -A "/proc/$SLIRPNS_PID/root/run/systemd" | tr '\n' ' ')
[ "$left" = "resolve " ] || fail "systemd-resolved: /run/systemd holds '$left', expected 'resolve '"
check_resolv "systemd-resolved"
stop_slirpns
