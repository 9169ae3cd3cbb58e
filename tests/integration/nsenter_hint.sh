#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# get_info's "target" answers "how do I get into the namespace this daemon serves?": the
# daemon lives in the host's namespaces, so `nsenter -t <daemon pid>` does not get there. For a
# PID target, with --enable-sandbox, and for a path target with --userns-path, the printed
# nsenter command is run as the daemon's user and must show the tap (ip link show tap0); so
# must it, run as root, for the targets without a user namespace of their own (a namespace
# file made by root, and a PID in the daemon's user namespace), where nsenter must not join
# one. `slirpnsctl info` shows the same command.
. "$(dirname "$0")/lib.sh"

[ -n "$SLIRPNSCTL_BIN" ] || { echo "ERROR: no slirpnsctl binary (make src/slirpnsctl)"; exit 99; }
command -v jq >/dev/null || skip "jq is not installed"

API_SOCK="$T/api.sock"
target() { as_user "$SLIRPNSCTL_BIN" -a "$API_SOCK" --json info | jq -c .return.target; }

# check WHAT WANT-COMMAND [RUNNER...]: get_info's command is WANT; RUNNER (as_user by
# default) runs it and sees tap0 configured; slirpnsctl info prints it.
check() {
	local what=$1 want=$2 cmd out
	shift 2
	[ $# -gt 0 ] || set -- as_user
	cmd=$(as_user "$SLIRPNSCTL_BIN" -a "$API_SOCK" --json info | jq -r .return.target.nsenter)
	[ "$cmd" = "$want" ] || fail "$what: nsenter is '$cmd', want '$want' (target: $(target))"
	# The command is one line of shell words, as a user would paste it.
	out=$("$@" bash -c "$cmd ip -o -4 addr show tap0" 2>&1) ||
		fail "$what: '$cmd ip addr show tap0' failed: $out"
	grep -q "inet 10.0.2.100/24" <<<"$out" || fail "$what: no configured tap0 via '$cmd': $out"
	as_user "$SLIRPNSCTL_BIN" -a "$API_SOCK" info | grep -qxF "  nsenter: $cmd" ||
		fail "$what: slirpnsctl info does not show the command"
	note "$what: $cmd"
}

start_ns

# --- a PID target: the usual rootless case -----------------------------------------------------
start_slirpns -c -a "$API_SOCK" "$NSPID" tap0
t=$(target)
want_t="{\"type\":\"pid\",\"pid\":$NSPID,\"netns_path\":\"/proc/$NSPID/ns/net\",\"userns_path\":\"/proc/$NSPID/ns/user\",\"nsenter\":\"nsenter --preserve-credentials -U -n -t $NSPID\"}"
[ "$t" = "$want_t" ] || fail "pid target: $t, want $want_t"
check "pid target" "nsenter --preserve-credentials -U -n -t $NSPID"
# What people try first: the daemon's own namespaces hold no tap0.
as_user nsenter --preserve-credentials -U -n -t "$SLIRPNS_PID" ip link show tap0 >/dev/null 2>&1 &&
	fail "tap0 is visible in the daemon's own namespaces?"
stop_slirpns

# --- the sandbox joins the target's user namespace: the command still joins it --------------------
start_slirpns -c --enable-sandbox -a "$API_SOCK" "$NSPID" tap0
check "pid target, sandbox" "nsenter --preserve-credentials -U -n -t $NSPID"
stop_slirpns

# --- a path target with --userns-path ---------------------------------------------------------
start_slirpns -c -a "$API_SOCK" --netns-type=path --userns-path="/proc/$NSPID/ns/user" \
	"/proc/$NSPID/ns/net" tap0
[ "$(target | jq -r .type)" = path ] && [ "$(target | jq .pid)" = null ] ||
	fail "path target: $(target)"
check "path target" \
	"nsenter --preserve-credentials --user=/proc/$NSPID/ns/user --net=/proc/$NSPID/ns/net"
stop_slirpns

# --- no user namespace to join --------------------------------------------------------------
# An unprivileged daemon needs one, so from here on the daemon, slirpnsctl and nsenter run as
# root (as the test, in non-root mode: root of the test's own user namespace).
user_prefix=("${AS_USER[@]}")
AS_USER=()

# A network namespace file made by root, as `ip netns add` does.
touch "$T/netns"
unshare --net="$T/netns" true || fail "cannot create a persistent network namespace"
start_slirpns -c -a "$API_SOCK" --netns-type=path "$T/netns" tap0
[ "$(target | jq .userns_path)" = null ] || fail "root's path target: $(target)"
check "root's path target" "nsenter --net=$T/netns" env
stop_slirpns
umount "$T/netns"

# A PID in the daemon's own user namespace: joining it would fail (EINVAL), so no -U.
unshare --net sleep infinity &
rootns=$!
netns_up() { [ "$(readlink "/proc/$1/ns/net")" != "$(readlink /proc/self/ns/net)" ]; }
retry netns_up "$rootns" || fail "the root-owned namespace did not come up"
start_slirpns -c -a "$API_SOCK" "$rootns" tap0
check "root's pid target" "nsenter -n -t $rootns" env
stop_slirpns
kill "$rootns"
AS_USER=("${user_prefix[@]}")
exit 0
