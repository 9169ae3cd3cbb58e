#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh - run the libFuzzer targets for a while each (make fuzz calls this).
#
#   tests/fuzz/run.sh SECONDS BUILD-DIR SEED-DIR [TARGET...]
#
# BUILD-DIR holds the fuzzer binaries (tests/fuzz/fuzz_api, tests/fuzz/fuzz_frame of the build
# tree) and gets the working corpus (BUILD-DIR/corpus-NAME, seeded from SEED-DIR/NAME and kept
# between runs) and any crash reproducer (BUILD-DIR/crash-NAME-*). The seed directory is only
# read. Each target runs inside a private network namespace: the frame target drives a real
# libslirp, which opens host sockets for what the frames ask, and there they reach nothing
# but an empty loopback. Without root, an unprivileged user namespace provides it.
#
# A crash stops that target and fails the run; fix it, then copy the reproducer into
# SEED-DIR/NAME/ as crash-<what> so that make check replays it (tests/unit/test_fuzz_corpus).
# The last lines of each run (executions, coverage, time) are printed as a summary.
set -euo pipefail
seconds=$1 build=$2 seeds=$3
shift 3
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(api frame)

if [ "$(id -u)" = 0 ]; then
	netns=(unshare --net)
else
	netns=(unshare --user --map-root-user --net)
fi
"${netns[@]}" true 2>/dev/null || {
	echo "fuzz: cannot make a private network namespace (${netns[*]}); refusing to run" >&2
	exit 1
}

status=0
for name in "${targets[@]}"; do
	bin="$build/fuzz_$name"
	work="$build/corpus-$name"
	log="$build/fuzz-$name.log"
	mkdir -p "$work"
	echo "fuzz: $name for ${seconds}s (log: $log)"
	start=$(date +%s)
	rc=0
	# libslirp leaks queued packets when an instance is torn down (fuzz_frame.c says more):
	# no leak checks for the frame target, neither per input nor at exit.
	leaks=1
	[ "$name" != frame ] || leaks=0
	"${netns[@]}" env ASAN_OPTIONS="detect_leaks=$leaks${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
		sh -c 'ip link set lo up 2>/dev/null; exec "$@"' sh \
		"$bin" -detect_leaks=$leaks -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$build/crash-$name-" "$work" "$seeds/$name" >"$log" 2>&1 || rc=$?
	elapsed=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1)
	echo "fuzz: $name: ${execs:-?} executions in ${elapsed}s, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) files, exit $rc"
	if [ "$rc" != 0 ]; then
		tail -n 40 "$log"
		status=1
	fi
done
exit $status
