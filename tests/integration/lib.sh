# SPDX-License-Identifier: GPL-2.0-or-later
# lib.sh - shared setup for the integration tests (sourced by every tests/integration/*.sh).
#
# Each test re-executes itself inside private "host" namespaces (network, mount, PID) so that
# tests cannot collide on ports, cannot touch the machine's real network or resolv.conf, and
# leave nothing behind: when the test ends, its PID namespace dies and takes every process
# with it. Inside, the test plays the host: it runs servers on 127.0.0.1 as root, while the
# daemon and the container namespace run as an unprivileged user, the way podman runs them.
#
#   as root:      unshare --net --mount --pid --fork; the daemon runs as $SLIRPNS_TEST_USER
#                 (default slirpns-test, created by .ci/run) via setpriv; /dev/net/tun must
#                 be usable by that user (.ci/run does chmod 0666 /dev/net/tun).
#   as non-root:  unshare --user --map-root-user ... as well; the daemon runs as you.
#
# Exit codes follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.

set -euo pipefail

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)
: "${SLIRPNS_TEST_USER:=slirpns-test}"

skip() { echo "SKIP: $TEST_NAME: $*"; exit 77; }
fail() { echo "FAIL: $TEST_NAME: $*" >&2; dump_logs >&2; exit 1; }
note() { echo "# $*"; }

# Re-exec inside the private host namespaces (once).
if [ -z "${SLIRPNS_TEST_ISOLATED:-}" ]; then
	[ -n "${SLIRPNS:-}" ] || SLIRPNS="$TESTS_DIR/../../src/slirpns"
	[ -x "$SLIRPNS" ] || { echo "ERROR: no slirpns binary at $SLIRPNS (run make)"; exit 99; }
	SLIRPNS=$(cd "$(dirname "$SLIRPNS")" && pwd)/$(basename "$SLIRPNS")
	# The API client, if built (make check sets SLIRPNSCTL; by hand, next to the daemon).
	[ -n "${SLIRPNSCTL:-}" ] || SLIRPNSCTL="$(dirname "$SLIRPNS")/slirpnsctl"
	[ -x "$SLIRPNSCTL" ] && SLIRPNSCTL=$(cd "$(dirname "$SLIRPNSCTL")" && pwd)/$(basename "$SLIRPNSCTL")
	export SLIRPNS SLIRPNSCTL SLIRPNS_TEST_ISOLATED=1
	if [ "$(id -u)" = 0 ]; then
		id "$SLIRPNS_TEST_USER" >/dev/null 2>&1 ||
			skip "running as root but user $SLIRPNS_TEST_USER does not exist (.ci/run creates it)"
		exec unshare --net --mount --pid --fork --mount-proc --propagation private \
			bash "$0" "$@"
	fi
	exec unshare --user --map-root-user --net --mount --pid --fork --mount-proc \
		--propagation private bash "$0" "$@"
fi

# --- inside the private host namespaces from here on ---

# Which daemon this test runs (a copy of it, below): tests/package.sh checks that the line
# names the installed /usr/bin/slirpns.
note "daemon under test: $SLIRPNS"
ip link set lo up
# Let unprivileged ping sockets work (the daemon relays ICMP echo with them).
echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range 2>/dev/null || true

T=$(mktemp -d /tmp/slirpns-test.XXXXXX)
chmod 755 "$T"
# The unprivileged user needs its own copy of the binary: the build tree may be unreadable
# (a clone under /root).
cp "$SLIRPNS" "$T/slirpns"
chmod 755 "$T/slirpns"
SLIRPNS_BIN="$T/slirpns"
# slirpnsctl likewise, as $SLIRPNSCTL_BIN (empty when it was not built).
SLIRPNSCTL_BIN=
if [ -x "${SLIRPNSCTL:-}" ]; then
	cp "$SLIRPNSCTL" "$T/slirpnsctl"
	chmod 755 "$T/slirpnsctl"
	SLIRPNSCTL_BIN="$T/slirpnsctl"
fi
cleanup() { rm -rf "$T"; }
trap cleanup EXIT

# Nothing the unprivileged user runs or reads may come from the source or build tree: a clone
# in a 0700 home (/root, Debian's /home/USER) is unreadable to it. So the files tests hand to
# it (helper.py, peers, tests/stress, contrib) are staged under $T, and TESTS_DIR points at
# the staged copy from here on, with the same layout ($TESTS_DIR/../stress,
# $TESTS_DIR/../../contrib). Built helpers (tapfd-helper) are copied by the tests that use them.
# The test itself runs in $T, so no process inherits an unreadable working directory.
stage_tree() {
	local src=$TESTS_DIR/../..
	mkdir -p "$T/tree/tests"
	cp -r "$src/tests/integration" "$src/tests/stress" "$T/tree/tests/"
	cp -r "$src/contrib" "$T/tree/"
	chmod -R a+rX,go-w "$T/tree"
	TESTS_DIR=$T/tree/tests/integration
}
stage_tree
cd "$T"

# --- the daemon under a wrapper: SLIRPNS_WRAPPER (make check-valgrind) ---
# SLIRPNS_WRAPPER="valgrind --error-exitcode=99 ..." runs every daemon that start_slirpns starts
# under that command (split into words). For valgrind, each daemon writes its report to
# $T/valgrind.PID.log (forked helpers stay silent), and when the test ends, every daemon still
# running is stopped with SIGTERM first, so that valgrind's leak check runs; then the test
# fails if any report shows an error or a definite leak (wrapper_verdict). Daemons that a test
# runs itself, not through start_slirpns, are not wrapped. Under a wrapper the daemon starts
# and runs slower: wait_ready waits up to 60 s, and $SLIRPNS_SLOW is 1 for tests that time it.
# Under valgrind ($UNDER_VALGRIND is 1) start_slirpns leaves --enable-seccomp out: the filter
# would kill valgrind's own system calls. For the same reason the port fast path's helper
# (always under a filter of its own) dies, so the daemon runs without the fast path; and
# valgrind 3.19 does not know pidfd_open(), so the daemon cannot watch its target process.
# Tests that need any of these skip those parts under valgrind.
SLIRPNS_WRAP=()
SLIRPNS_SLOW=0
UNDER_VALGRIND=0
if [ -n "${SLIRPNS_WRAPPER:-}" ]; then
	read -ra SLIRPNS_WRAP <<<"$SLIRPNS_WRAPPER"
	if [ "$(basename "${SLIRPNS_WRAP[0]}")" = valgrind ]; then
		SLIRPNS_WRAP+=(--log-file="$T/valgrind.%p.log" --child-silent-after-fork=yes)
		UNDER_VALGRIND=1
	fi
	SLIRPNS_SLOW=1
	: "${SLIRPNS_READY_TRIES:=1200}"
fi
WRAPPED_PIDS=()
wrapper_verdict() {
	local rc=$? pid bad=0 f
	for pid in "${WRAPPED_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 300); do
			kill -0 "$pid" 2>/dev/null || break
			[ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ] || break
			sleep 0.1
		done
	done
	for f in "$T"/valgrind.*.log; do
		[ -f "$f" ] || continue
		if grep -Eq 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]|^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched)' "$f"; then
			echo "FAIL: $TEST_NAME: valgrind found errors in the daemon ($f):" >&2
			cat "$f" >&2
			bad=1
		fi
	done
	cleanup
	[ "$bad" = 0 ] || exit 1
	exit "$rc"
}
[ ${#SLIRPNS_WRAP[@]} -eq 0 ] || trap wrapper_verdict EXIT

RUN_AS_USER=0
if [ "$(cat /proc/self/uid_map | awk '{print $1" "$2}' | head -n1)" = "0 0" ] && [ "$(id -u)" = 0 ]; then
	RUN_AS_USER=1
	TEST_UID=$(id -u "$SLIRPNS_TEST_USER")
	TEST_GID=$(id -g "$SLIRPNS_TEST_USER")
	chown "$TEST_UID:$TEST_GID" "$T"
	[ -r /dev/net/tun ] && setpriv --reuid="$TEST_UID" --regid="$TEST_GID" --clear-groups \
		test -w /dev/net/tun ||
		skip "/dev/net/tun is not usable by $SLIRPNS_TEST_USER (chmod 0666 /dev/net/tun)"
fi

# The prefix that runs a command as the unprivileged user. Used as "${AS_USER[@]}" cmd so
# that a background command's $! is the command itself (no wrapper shell in between).
AS_USER=()
if [ "$RUN_AS_USER" = 1 ]; then
	AS_USER=(setpriv --reuid="$TEST_UID" --regid="$TEST_GID" --clear-groups env HOME="$T")
fi
as_user() { "${AS_USER[@]}" "$@"; }

# Start the container namespace (a user+net namespace holding a sleeping process); sets NSPID.
start_ns() {
	"${AS_USER[@]}" unshare --user --map-root-user --net sleep infinity &
	NSPID=$!
	# Ready once unshare has exec'd sleep: only then are its uid/gid maps written (before
	# that, nsenter would enter as an unmapped user, without capabilities in there).
	for _ in $(seq 100); do
		[ "$(cat /proc/$NSPID/comm 2>/dev/null)" = sleep ] &&
			[ "$(readlink /proc/$NSPID/ns/net)" != "$(readlink /proc/self/ns/net)" ] &&
			[ "$(readlink /proc/$NSPID/ns/user)" != "$(readlink /proc/$$/ns/user)" ] && return 0
		sleep 0.05
	done
	fail "namespace did not come up"
}

# Run a command inside the container namespace.
in_ns() {
	as_user nsenter -t "$NSPID" -U --preserve-credentials -n -- "$@"
}

# Start the daemon in the background with the given arguments; waits for its ready fd.
# Sets SLIRPNS_PID. The log goes to $T/slirpns.log.
start_slirpns() {
	rm -f "$T/ready"
	if [ ${#SLIRPNS_WRAP[@]} -gt 0 ]; then
		local a args=()
		for a in "$@"; do
			[ "$UNDER_VALGRIND" = 1 ] && [ "$a" = --enable-seccomp ] && continue
			args+=("$a")
		done
		[ ${#args[@]} = $# ] || note "under valgrind: --enable-seccomp left out"
		"${AS_USER[@]}" bash -c 'exec "$@" 9>"'"$T"'/ready"' bash "${SLIRPNS_WRAP[@]}" \
			"$SLIRPNS_BIN" -r 9 "${args[@]}" >"$T/slirpns.log" 2>&1 &
		SLIRPNS_PID=$!
		WRAPPED_PIDS+=("$SLIRPNS_PID")
		wait_ready "$SLIRPNS_PID"
		return
	fi
	"${AS_USER[@]}" bash -c 'exec "$0" -r 9 "$@" 9>"'"$T"'/ready"' "$SLIRPNS_BIN" "$@" \
		>"$T/slirpns.log" 2>&1 &
	SLIRPNS_PID=$!
	wait_ready "$SLIRPNS_PID"
}

wait_ready() {
	for _ in $(seq "${SLIRPNS_READY_TRIES:-200}"); do
		[ "$(cat "$T/ready" 2>/dev/null)" = 1 ] && return 0
		kill -0 "$1" 2>/dev/null || fail "slirpns exited before it was ready"
		sleep 0.05
	done
	fail "slirpns did not become ready within 10 s"
}

# Stop the daemon with SIGTERM and check it exits 0.
stop_slirpns() {
	kill -TERM "$SLIRPNS_PID"
	local rc=0
	wait "$SLIRPNS_PID" || rc=$?
	[ "$rc" = 0 ] || fail "slirpns exited with $rc on SIGTERM"
}

dump_logs() {
	[ -f "$T/slirpns.log" ] && { echo "--- slirpns log:"; cat "$T/slirpns.log"; } || true
}

# Wait until a command succeeds (up to ~10 s).
retry() {
	for _ in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
helper() { "$PY" "$TESTS_DIR/helper.py" "$@"; }

# A private resolv.conf for the daemon (we are in our own mount namespace).
use_resolv_conf() {
	printf '%s\n' "$@" >"$T/resolv.conf"
	chmod 644 "$T/resolv.conf"
	mount --bind "$T/resolv.conf" /etc/resolv.conf
}

# start_server WHAT COMMAND...: run a server in the background until it prints "ready";
# sets SERVER_PID.
start_server() {
	local what=$1 out="$T/server.$RANDOM"
	shift
	"$@" >"$out" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		grep -q ready "$out" 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$out" >&2
	fail "$what did not start"
}

# Start a helper.py server in the background and wait for it to listen; sets HELPER_PID.
start_helper() {
	start_server "helper $1" helper "$@"
	HELPER_PID=$SERVER_PID
}

# Wait up to $2 seconds (default 5, fractions allowed) for process $1, a child of this shell,
# to exit. On exit, reap it and set EXIT_RC to its status and EXIT_MS to how long the wait took
# (milliseconds); on timeout return 1 and leave it running. (kill -0 cannot tell: it succeeds on
# an exited child that is not reaped yet.)
wait_exit() {
	local pid=$1 start=${EPOCHREALTIME//[!0-9]/} limit_us stat
	limit_us=$(awk -v s="${2:-5}" 'BEGIN { printf "%d", s * 1000000 }')
	while stat=$(cat "/proc/$pid/stat" 2>/dev/null); do
		stat=${stat##*) } # the state letter follows "(comm) "
		[ "${stat:0:1}" = Z ] && break
		[ $((${EPOCHREALTIME//[!0-9]/} - start)) -lt "$limit_us" ] || return 1
		sleep 0.01
	done
	EXIT_MS=$(((${EPOCHREALTIME//[!0-9]/} - start) / 1000))
	EXIT_RC=0
	wait "$pid" || EXIT_RC=$?
}

# Several namespace+daemon pairs side by side (e.g. so that their SLAAC waits overlap):
# after start_ns and start_slirpns, `save_case NAME` remembers NSPID and SLIRPNS_PID as case NAME
# and moves the daemon's log to $T/slirpns.NAME.log (the next start_slirpns starts a fresh log);
# `use_case NAME` later points in_ns, stop_slirpns and dump_logs back at that case.
save_case() {
	mv "$T/slirpns.log" "$T/slirpns.$1.log"
	printf -v "CASE_NSPID_$1" %s "$NSPID"
	printf -v "CASE_PID_$1" %s "$SLIRPNS_PID"
}
use_case() {
	local ns="CASE_NSPID_$1" pid="CASE_PID_$1"
	[ -n "${!ns:-}" ] || fail "use_case: no case named $1"
	NSPID=${!ns} SLIRPNS_PID=${!pid}
	cp "$T/slirpns.$1.log" "$T/slirpns.log"
}

# Create an up interface NAME in the private host namespace to hold test addresses: a dummy
# interface, or an ifb device when the kernel has no dummy driver (both just deliver locally).
add_dummy_if() {
	ip link add "$1" type dummy 2>/dev/null || ip link add "$1" type ifb ||
		skip "cannot create a dummy (or ifb) interface"
	ip link set "$1" up
}

# --- API socket clients (the socket is mode 0600, so they run as the daemon's user) ---
# api_call JSON [SOCKET]: send one request to $API_SOCK (or SOCKET), print the answer and a
# newline. Example: api_call '{"execute":"list_hostfwd"}' | jq -e '.entries | length == 0'
api_call() {
	printf '%s' "$1" | as_user socat -t 5 - "UNIX-CONNECT:${2:-$API_SOCK}"
	echo
}

# api_call_file FILE [SOCKET]: send FILE's bytes as one request and print the answer. Unlike
# socat, it still reads the answer when the daemon stops reading early (an oversize request).
api_call_file() {
	as_user "$PY" - "$1" "${2:-$API_SOCK}" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[2])
try:
    s.sendall(open(sys.argv[1], "rb").read())
    s.shutdown(socket.SHUT_WR)
except (BrokenPipeError, ConnectionResetError):
    pass
out = b""
while True:
    try:
        data = s.recv(65536)
    except ConnectionResetError:
        break
    if not data:
        break
    out += data
sys.stdout.write(out.decode("utf-8", "replace") + "\n")
PYEOF
}

# start_ns_helper ARGS...: run helper.py ARGS inside the container namespace in the background,
# wait until it listens; sets NS_HELPER_PID. A --log file must be writable by the user.
start_ns_helper() {
	local out="$T/ns_helper.$RANDOM"
	in_ns "$PY" "$TESTS_DIR/helper.py" "$@" >"$out" 2>&1 &
	NS_HELPER_PID=$!
	for _ in $(seq 100); do
		grep -q ready "$out" 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$out" >&2
	fail "helper $1 in the namespace did not start"
}

# Milliseconds since START (a ${EPOCHREALTIME/./} value).
ms_since() { echo $(((${EPOCHREALTIME/./} - $1) / 1000)); }

# run_step NAME WANT COMMAND...: COMMAND prints "<sha256> <bytes>", compared with WANT.
run_step() {
	local what=$1 want=$2 out rc=0 start ms
	shift 2
	start=${EPOCHREALTIME/./}
	out=$("$@" 2>&1) || rc=$?
	ms=$(ms_since "$start")
	[ "$rc" = 0 ] || fail "$what: exit $rc after $ms ms ($([ "$rc" = 124 ] && echo "stalled, ")$out)"
	[ "$out" = "$want" ] || fail "$what: received '$out', want '$want'"
	note "$what: ok in $ms ms ($((${want#* } * 1000 / (ms + 1) / 1048576)) MiB/s)"
}
