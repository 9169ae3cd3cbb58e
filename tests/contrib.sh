#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# contrib.sh - what contrib/ ships stays in step with the daemon.
#
#   1. The bash completion (contrib/completion/slirpns.bash) offers exactly the long options of
#      `slirpns --help`, and completes --netns-type values, option values after "=", file
#      names for --api-socket, and the positional argument that --netns-type selects.
#   2. The AppArmor profile (contrib/apparmor/usr.bin.slirpns) compiles with apparmor_parser,
#      when that is installed (nothing is loaded into the kernel).
#   3. The shell scripts in contrib/ parse (bash -n).
#
# Runs from `make check` (SLIRPNS is set there) or by hand: bash tests/contrib.sh
# Exit codes follow automake: 0 pass, 1 fail, 99 hard error.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
: "${SLIRPNS:=$top/src/slirpns}"
COMPLETION="$top/contrib/completion/slirpns.bash"
PROFILE="$top/contrib/apparmor/usr.bin.slirpns"

fail() { echo "FAIL: contrib: $*" >&2; exit 1; }
[ -x "$SLIRPNS" ] || { echo "ERROR: no slirpns binary at $SLIRPNS (run make)"; exit 99; }
for f in "$COMPLETION" "$PROFILE"; do
	[ -f "$f" ] || { echo "ERROR: missing $f"; exit 99; }
done

# --- 1. completion ---------------------------------------------------------------------------
# complete WORD...: run the completion function on the words (the last is the one being
# completed, as bash splits them: "--opt=val" arrives as "--opt" "=" "val") in a clean bash
# and print the candidates, one per line.
complete_words() {
	bash --norc --noprofile -c '
		source "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_slirpns slirpns
		printf "%s\n" "${COMPREPLY[@]}"
	' complete "$COMPLETION" slirpns "$@"
}

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
expect "--port-fast-path values" $'auto\noff' --port-fast-path ""
expect "a long option prefix" "--enable-sandbox" --enable-sa
expect "an --api-socket file" "$COMPLETION" --api-socket "${COMPLETION%.bash}"
expect "a --userns-path file" "$COMPLETION" --userns-path = "${COMPLETION%.bash}"
expect "a path-mode namespace file" "$COMPLETION" --netns-type=path "${COMPLETION%.bash}"
expect "a tapfd argument" "" --netns-type tapfd 3
expect "TAPNAME" "tap0" -c 1234 ""
expect "a BESS socket path" "$COMPLETION" --target-type = bess "${COMPLETION%.bash}"
expect "nothing after the BESS socket path" "" --target-type=bess /tmp/bess.sock ""
pid_reply=$(complete_words -c "$$")
grep -qx "$$" <<<"$pid_reply" || fail "completion of a PID: $$ not offered"
echo "# completion: $(wc -l <<<"$comp_opts") long options, as in --help; values complete"

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
for f in "$COMPLETION" "$top"/contrib/*.sh; do
	[ -f "$f" ] || continue
	bash -n "$f" || fail "$f does not parse"
done
echo "# contrib scripts parse"
