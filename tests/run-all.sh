#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run-all.sh - from a fresh Debian 12 clone: install what is missing, build, run every test.
#
#   sudo tests/run-all.sh
#
# As root it also prepares what the integration tests need and says so: an unprivileged user
# "slirpns-test" (the daemon runs as that user, as it would under rootless podman) and
# /dev/net/tun mode 0666 (Debian ships 0666; some machines have 0600, which no rootless
# network tool can use). It builds twice, normally with -Werror and with ASan+UBSan, and runs
# `make check` in both. Set SLIRPNS_SKIP_SANITIZERS=1 to skip the second pass.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

if [ "$(id -u)" = 0 ]; then
	contrib/install-deps.sh
	if ! id slirpns-test >/dev/null 2>&1; then
		echo "run-all: creating the unprivileged test user slirpns-test"
		useradd --create-home --shell /bin/bash slirpns-test
	fi
	if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
		echo "run-all: chmod 0666 /dev/net/tun (unprivileged users must open it)"
		chmod 0666 /dev/net/tun
	fi
fi

./autogen.sh >/dev/null
status=0
run_suite() { # NAME CONFIGURE-ARGS...
	local name=$1
	shift
	local dir="$top/build-$name"
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@" && make -j"$(nproc)" >/dev/null &&
		make -j"$(nproc)" check) || status=1
	cat "$dir"/test-suite.log >"$top/test-suite-$name.log" 2>/dev/null || true
}

run_suite release --enable-werror
if [ -z "${SLIRPNS_SKIP_SANITIZERS:-}" ]; then
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		run_suite sanitizers --enable-werror --enable-sanitizers
fi

# One closing line for every pass together.
pass=0 fail=0 skip=0
while IFS= read -r log; do
	case "$(sed -n 's/^:test-result: //p' "$log" | head -n1)" in
	PASS) pass=$((pass + 1)) ;;
	SKIP) skip=$((skip + 1)) ;;
	*) fail=$((fail + 1)) ;;
	esac
done < <(find "$top"/build-release "$top"/build-sanitizers -name '*.trs' 2>/dev/null)
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ] || status=1
exit $status
