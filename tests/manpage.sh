#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# manpage.sh - the manual pages are well-formed and document every option that --help lists.
#
#   1. Every long option in `slirpns --help` (deprecated aliases included) and every short
#      option is described in man/slirpns.1 under OPTIONS, and every option described there is
#      in --help: the two cannot drift apart. The same for slirpnsctl and man/slirpnsctl.1.
#   2. `mandoc -T lint` reports nothing (all levels, style included) on either page. Skipped,
#      after check 1, when mandoc is not installed (apt-get install mandoc).
#
# Runs from `make check` (SLIRPNS and SLIRPNSCTL are set there) or by hand:
# bash tests/manpage.sh
# Exit codes follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
: "${SLIRPNS:=$top/src/slirpns}"
: "${SLIRPNSCTL:=$(dirname "$SLIRPNS")/slirpnsctl}"

fail() { echo "FAIL: manpage: $*" >&2; exit 1; }

# Option names in a text: --long and -x (a dash, a letter or digit, then no word character).
long_opts() { grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u; }
short_opts() { grep -oE -- '(^|[ ,])-[a-zA-Z0-9]([^a-zA-Z0-9-]|$)' | grep -oE -- '-[a-zA-Z0-9]' | sort -u; }

# check_options MAN BINARY: the manual's OPTIONS and BINARY --help name the same options.
check_options() {
	local MAN=$1 BIN=$2 help tags opts_section aliases missing extra o
	[ -f "$MAN" ] || { echo "ERROR: no manual page at $MAN"; exit 99; }
	[ -x "$BIN" ] || { echo "ERROR: no binary at $BIN (run make)"; exit 99; }

	help=$("$BIN" --help) || fail "$BIN --help failed"

	# The tags of the OPTIONS section (the lines after .TP), with roff escapes and fonts removed,
	# e.g. "-p, --publish=[ADDR:]HOSTPORT:GUESTPORT[/tcp|/udp]".
	tags=$(awk '
		/^\.SH / { in_opts = ($0 == ".SH OPTIONS") }
		in_opts && tp { print; tp = 0; next }
		in_opts && /^\.TP/ { tp = 1 }
	' "$MAN" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/^\.[A-Z]* //' -e 's/"//g')
	[ -n "$tags" ] || fail "found no option tags under .SH OPTIONS in $MAN"

	# A deprecated alias is named in the help text of the option it stands for ("deprecated alias:
	# --no-host-loopback"); the manual names it in that option's description, so it only has to
	# appear somewhere under OPTIONS. Every other long option needs a tag of its own.
	opts_section=$(awk '/^\.SH / { in_opts = ($0 == ".SH OPTIONS") } in_opts' "$MAN" | sed 's/\\-/-/g')
	aliases=$(grep -F 'deprecated alias' <<<"$help" | long_opts || true)

	missing=()
	for o in $(long_opts <<<"$help"); do
		if grep -qx -- "$o" <<<"$aliases"; then
			long_opts <<<"$opts_section" | grep -qx -- "$o" || missing+=("$o")
		else
			long_opts <<<"$tags" | grep -qx -- "$o" || missing+=("$o")
		fi
	done
	for o in $(short_opts <<<"$(grep -E '^-[a-zA-Z0-9],' <<<"$help")"); do
		short_opts <<<"$tags" | grep -qx -- "$o" || missing+=("$o")
	done
	[ ${#missing[@]} = 0 ] || fail "in --help but not under OPTIONS in $MAN: ${missing[*]}"

	extra=()
	for o in $(long_opts <<<"$tags") $(short_opts <<<"$tags"); do
		grep -qE -- "(^|[ ,(])$o([=, ]|$)" <<<"$help" || extra+=("$o")
	done
	[ ${#extra[@]} = 0 ] || fail "described under OPTIONS in $MAN but not in --help: ${extra[*]}"
	echo "# every option of $(basename "$BIN") --help is in its manual ($(long_opts <<<"$help" | wc -l) long options)"
}
check_options "$top/man/slirpns.1" "$SLIRPNS"
check_options "$top/man/slirpnsctl.1" "$SLIRPNSCTL"

if ! command -v mandoc >/dev/null; then
	echo "SKIP: manpage: mandoc is not installed (apt-get install mandoc); the option check passed"
	exit 77
fi
for MAN in "$top/man/slirpns.1" "$top/man/slirpnsctl.1"; do
	out=$(mandoc -T lint -W style "$MAN" 2>&1) || true
	[ -z "$out" ] || fail "mandoc -T lint $MAN:
$out"
	echo "# mandoc -T lint $(basename "$MAN"): clean"
done
