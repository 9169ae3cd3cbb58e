#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# contrib.sh - what contrib/ ships stays in step with the daemon.
#
#   1. The bash completion (contrib/completion/slirpns.bash) offers exactly the long options of
#      `slirpns --help`, and completes --netns-type values, option values after "=", file
#      names for --api-socket, and the positional argument that --netns-type selects.
#      Likewise contrib/completion/slirpnsctl.bash offers exactly the long options of
#      `slirpnsctl --help`, its commands, tcp/udp after "add", socket files for -a, and the
#      forward ids after "remove".
#   2. The AppArmor profile (contrib/apparmor/usr.bin.slirpns) compiles with apparmor_parser,
#      when that is installed (nothing is loaded into the kernel).
#   3. The shell scripts in contrib/ parse (bash -n).
#
# Runs from `make check` (SLIRPNS and SLIRPNSCTL are set there) or by hand:
# bash tests/contrib.sh
# Exit codes follow automake: 0 pass, 1 fail, 99 hard error.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
: "${SLIRPNS:=$top/src/slirpns}"
: "${SLIRPNSCTL:=$(dirname "$SLIRPNS")/slirpnsctl}"
COMPLETION="$top/contrib/completion/slirpns.bash"
CTL_COMPLETION="$top/contrib/completion/slirpnsctl.bash"
PROFILE="$top/contrib/apparmor/usr.bin.slirpns"

fail() { echo "FAIL: contrib: $*" >&2; exit 1; }
[ -x "$SLIRPNS" ] || { echo "ERROR: no slirpns binary at $SLIRPNS (run make)"; exit 99; }
[ -x "$SLIRPNSCTL" ] || { echo "ERROR: no slirpnsctl binary at $SLIRPNSCTL (run make)"; exit 99; }
for f in "$COMPLETION" "$CTL_COMPLETION" "$PROFILE"; do
	[ -f "$f" ] || { echo "ERROR: missing $f"; exit 99; }
done

# --- 1. completion ---------------------------------------------------------------------------
# complete WORD...: run the completion function on the words (the last is the one being
# completed, as bash splits them: "--opt=val" arrives as "--opt" "=" "val") in a clean bash
# and print the candidates, one per line.
# (complete_with FILE COMMAND WORD... does the same for another completion file.)
complete_with() {
	bash --norc --noprofile -c '
		source "$1" || exit 1
		fn=_$2
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		"$fn" "$1"
		printf "%s\n" "${COMPREPLY[@]}"
	' complete "$@"
}
complete_words() { complete_with "$COMPLETION" slirpns "$@"; }

help_opts=$("$SLIRPNS" --help | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u)
comp_opts=$(complete_words -- | grep -E -- '^--' | sed 's/=$//' | sort -u) ||
	fail "the completion did not load"
[ "$help_opts" = "$comp_opts" ] ||
	fail "completion options differ from --help:
$(diff <(echo "$help_opts") <(echo "$comp_opts") | grep '^[<>]' | sed 's/^</  only in --help:/; s/^>/  only in the completion:/')"

expect() { # WHAT EXPECTED-LINES WORD...
	local what=$1 want=$2 got
	shift 2
	got=$(complete_words "$@" | sort)
	[ "$got" = "$(sort <<<"$want")" ] || fail "completion of $what: expected '$want', got '$got'"
}
expect "--netns-type values" $'pid\npath\ntapfd' --netns-type ""
expect "--netns-type=pa" "path" --netns-type = pa
expect "--target-type values" $'netns\nbess' --target-type = ""
expect "--target-type=ne in one word" "--target-type=netns" --target-type=ne
expect "--port-fast-path values" $'auto\ntcp\noff' --port-fast-path ""
expect "--outbound-fast-path values" $'auto\noff' --outbound-fast-path ""
expect "a long option prefix" "--enable-sandbox" --enable-sa
expect "an --api-socket file" "$COMPLETION" --api-socket "${COMPLETION%bash}"
expect "a --userns-path file" "$COMPLETION" --userns-path = "${COMPLETION%bash}"
expect "a path-mode namespace file" "$COMPLETION" --netns-type=path "${COMPLETION%bash}"
expect "a tapfd argument" "" --netns-type tapfd 3
expect "TAPNAME" "tap0" -c 1234 ""
expect "a BESS socket path" "$COMPLETION" --target-type = bess "${COMPLETION%bash}"
expect "nothing after the BESS socket path" "" --target-type=bess /tmp/bess.sock ""
pid_reply=$(complete_words -c "$$")
grep -qx "$$" <<<"$pid_reply" || fail "completion of a PID: $$ not offered"
echo "# completion: $(wc -l <<<"$comp_opts") long options, as in --help; values complete"

ctl_help_opts=$("$SLIRPNSCTL" --help | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u)
ctl_comp_opts=$(complete_with "$CTL_COMPLETION" slirpnsctl -- | grep -E -- '^--' | sed 's/=$//' |
	sort -u) || fail "the slirpnsctl completion did not load"
[ "$ctl_help_opts" = "$ctl_comp_opts" ] ||
	fail "slirpnsctl completion options differ from --help:
$(diff <(echo "$ctl_help_opts") <(echo "$ctl_comp_opts") | grep '^[<>]')"
ctl_expect() { # WHAT EXPECTED-LINES WORD...
	local what=$1 want=$2 got
	shift 2
	got=$(complete_with "$CTL_COMPLETION" slirpnsctl "$@" | sort)
	[ "$got" = "$(sort <<<"$want")" ] ||
		fail "slirpnsctl completion of $what: expected '$want', got '$got'"
}
ctl_expect "the commands" $'add\nconnections\ninfo\nlist\nremove' -a /tmp/s ""
ctl_expect "a command prefix" "list" -a /tmp/s li
ctl_expect "add's protocol" $'tcp\nudp' -a /tmp/s add ""
ctl_expect "nothing after add's spec" "" -a /tmp/s add tcp 8080:80 ""
ctl_expect "an -a socket file" "$CTL_COMPLETION" -a "${CTL_COMPLETION%bash}"
ctl_expect "an --api-socket= socket file" "$CTL_COMPLETION" --api-socket = "${CTL_COMPLETION%bash}"
ctl_expect "a long option prefix" "--json" --js
# After "remove", the ids that `slirpnsctl -a SOCKET list` shows (a stand-in slirpnsctl here).
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
printf '#!/bin/sh\nprintf "ID  PROTO  HOST  GUEST\\n3   tcp    -     -\\n12  udp    -     -\\n"\n' \
	>"$fake/slirpnsctl"
chmod +x "$fake/slirpnsctl"
PATH="$fake:$PATH" ctl_expect "remove's ids" $'3\n12' -a /tmp/s remove ""
PATH="$fake:$PATH" ctl_expect "remove's ids after the socket" "12" remove -a /tmp/s 1
ctl_expect "remove's ids without a socket" "" remove ""
echo "# slirpnsctl completion: $(wc -l <<<"$ctl_comp_opts") long options, as in --help; commands complete"

# --- 2. AppArmor profile ---------------------------------------------------------------------
if command -v apparmor_parser >/dev/null; then
	# -Q: compile only, never load; -K: no cache. It chats about the missing kernel interface.
	out=$(apparmor_parser -Q -K "$PROFILE" 2>&1) ||
		fail "apparmor_parser does not accept $PROFILE:
$out"
	echo "# apparmor: the profile compiles"
else
	echo "# apparmor: apparmor_parser is not installed, profile not compiled (apt-get install apparmor)"
fi

# --- 3. scripts ------------------------------------------------------------------------------
for f in "$COMPLETION" "$CTL_COMPLETION" "$top"/contrib/*.sh; do
	[ -f "$f" ] || continue
	bash -n "$f" || fail "$f does not parse"
done
echo "# contrib scripts parse"
