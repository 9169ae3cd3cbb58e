#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# startup.sh - exec-to-ready of slirpns and slirp4netns, started alternately, many times.
#
# Usage: contrib/bench/startup.sh [SLIRPNS-BINARY]       (default: ./src/slirpns)
# Environment (defaults): STARTUP_N=200 (starts of each), STARTUP_MODE=pid (or path: podman's
#   --netns-type=path with --userns-path), STARTUP_USER (as root; default slirpns-test, else
#   nobody), STARTUP_NICE=-19 (as root: both daemons at this nice level, which keeps other
#   load on the machine from drowning the difference; 0 to leave it), STARTUP_SAMPLES (a CSV
#   of every start), STARTUP_EXTRA ("NAME=BINARY ..." more contenders, e.g. an older build).
#
# startup.c does the work: a fresh user+net namespace per start, the daemon started with
# podman's flags (-c -e 3 -r 4 --mtu=65520 --enable-sandbox --enable-seccomp -6
# --disable-host-loopback --api-socket), CLOCK_MONOTONIC from just before posix_spawn() until
# the ready fd yields "1". It prints median, p10, p90, mean and minimum in ms, and each
# median over slirpns's. As root the daemons run as STARTUP_USER (as podman runs them), which
# needs a usable /dev/net/tun (chmod 0666); otherwise as you, with unprivileged user
# namespaces.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
slirpns=${1:-./src/slirpns}
: "${STARTUP_N:=200}" "${STARTUP_MODE:=pid}" "${STARTUP_NICE:=-19}" "${STARTUP_EXTRA:=}"
die() {
	echo "startup: $*" >&2
	exit 1
}
[ -x "$slirpns" ] || die "no slirpns binary at $slirpns (run make, or pass its path)"
slirp4netns=$(command -v slirp4netns) || die "slirp4netns is not installed"
cc=${CC:-cc}
command -v "$cc" >/dev/null || die "no C compiler ($cc)"

W=$(mktemp -d /tmp/slirpns-startup.XXXXXX)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"
"$cc" -O2 -o "$W/startup" "$here/startup.c"
# The user may not read the build tree (a clone under /root): run copies.
cp "$slirpns" "$W/slirpns"
contenders=("slirpns=$W/slirpns" "slirp4netns=$slirp4netns")
for extra in $STARTUP_EXTRA; do
	cp "${extra#*=}" "$W/${extra%%=*}"
	contenders+=("${extra%%=*}=$W/${extra%%=*}")
done
chmod 755 "$W"/*

args=(-n "$STARTUP_N" -m "$STARTUP_MODE" -d "$W/run")
[ -z "${STARTUP_SAMPLES:-}" ] || args+=(-o "$STARTUP_SAMPLES")
prefix=()
mkdir "$W/run"
if [ "$(id -u)" = 0 ]; then
	user=${STARTUP_USER:-slirpns-test}
	id "$user" >/dev/null 2>&1 || user=nobody
	uid=$(id -u "$user") gid=$(id -g "$user")
	chown "$uid:$gid" "$W/run"
	setpriv --reuid="$uid" --regid="$gid" --clear-groups test -w /dev/net/tun ||
		die "/dev/net/tun is not usable by $user (chmod 0666 /dev/net/tun)"
	args+=(-u "$uid:$gid")
	[ "$STARTUP_NICE" = 0 ] || prefix=(nice -n "$STARTUP_NICE")
	echo "startup: daemons run as $user (uid $uid), nice $STARTUP_NICE"
fi
echo "startup: $STARTUP_N starts each, alternating, --netns-type=$STARTUP_MODE; $(nproc) CPUs," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
"${prefix[@]}" "$W/startup" "${args[@]}" "${contenders[@]}"
