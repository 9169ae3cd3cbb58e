#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Faults around the daemon, each of which it must survive or end cleanly:
#  - every process of the namespace exits: the daemon exits within 1 s (non-zero), says why
#    on stderr and removes its API socket (tap_gone.sh checks the exit without -a);
#  - the host's DNS server goes down: queries through 10.0.2.3 fail (no answer), nothing
#    else does, and they work again once the server is back;
#  - the host's resolv.conf is replaced by rename at run time (as resolvconf, NetworkManager
#    and systemd-resolved do): the new server is used (dns.sh covers a rewrite in place);
#  - a forward to a host port that is already taken: the request fails with a clear error,
#    and the forwards, the API and the traffic stay as they were;
#  - API abuse (tests/stress/load.py api-abuse, small): concurrent clients, silent clients,
#    1 MiB of garbage, deep nesting, bad UTF-8, wrong types: all answered or closed, and the
#    daemon lives.
# SIGTERM/SIGINT (sigterm.sh) and the exit fd (exit_fd.sh) are tested there.
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || skip "socat is not installed"
command -v jq >/dev/null || skip "jq is not installed"
API_SOCK="$T/api.sock"
check_alive() { kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "the daemon died $1"; }
resolve() { in_ns "$PY" "$TESTS_DIR/helper.py" resolve 10.0.2.3 example.test --tries 1; }
expect_dns() { # WHAT ANSWER: DNS follows within ~10 s
	for _ in $(seq 20); do
		[ "$(resolve 2>/dev/null)" = "$2" ] && return 0
		sleep 0.5
	done
	fail "DNS: $1: expected $2, got '$(resolve 2>&1)'"
}

# /etc is an overlay in our private mount namespace, so that /etc/resolv.conf can be
# replaced by rename without touching the real one.
mkdir -p "$T/etc-upper" "$T/etc-work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$T/etc-upper,workdir=$T/etc-work" /etc ||
	skip "cannot mount an overlay over /etc"
rm -f /etc/resolv.conf
printf 'nameserver 127.0.0.1\n' >/etc/resolv.conf
chmod 644 /etc/resolv.conf

# A DNS server whose pid is its own (start_helper's is a subshell's), so it can be stopped.
start_dns() { # ADDR ANSWER
	local out="$T/dns.$1.out"
	"$PY" "$TESTS_DIR/helper.py" dns "$1" 53 --record "example.test=$2" >"$out" 2>&1 &
	DNS_PID=$!
	retry grep -q ready "$out" || fail "the DNS server on $1 did not start"
}
start_dns 127.0.0.1 192.0.2.1
start_helper tcp-echo 127.0.0.1 7001
start_ns
start_slirpns -c -a "$API_SOCK" "$NSPID" tap0

# ---- the DNS server goes down, and comes back ---------------------------------------------
expect_dns "at start" 192.0.2.1
kill "$DNS_PID"
wait "$DNS_PID" 2>/dev/null || true
start=${EPOCHREALTIME/./}
out=$(resolve 2>&1) && fail "DNS answered '$out' with the server down"
note "server down: the query fails after $(((${EPOCHREALTIME/./} - start) / 1000)) ms: $out"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.0.2.2 7001 still-working 2>&1) ||
	fail "TCP failed while DNS was down: $out"
check_alive "while the DNS server was down"
start_dns 127.0.0.1 192.0.2.1
expect_dns "the server back" 192.0.2.1
note "server back: DNS answers again"

# ---- resolv.conf replaced by rename ------------------------------------------------------
start_dns 127.0.0.2 192.0.2.2
printf '# replaced by %s\nnameserver 127.0.0.2\n' "$TEST_NAME" >/etc/resolv.conf.new
chmod 644 /etc/resolv.conf.new
mv /etc/resolv.conf.new /etc/resolv.conf
expect_dns "resolv.conf replaced by rename" 192.0.2.2
note "resolv.conf replaced by rename: the new server answers"

# ---- a host port already taken -----------------------------------------------------------
api_call '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":18001,"guest_port":9}}' |
	jq -e '.return.id == 1' >/dev/null || fail "the first forward failed"
before=$(api_call '{"execute":"list_hostfwd"}')
"$PY" -c 'import socket,time
s = socket.socket(); s.bind(("127.0.0.1", 18002)); s.listen(1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 18003))
print("ready", flush=True); time.sleep(60)' >"$T/taken.out" &
TAKEN_PID=$!
retry grep -q ready "$T/taken.out" || fail "could not take the ports"
for spec in tcp:18002 udp:18003 tcp:18001; do
	resp=$(api_call "{\"execute\":\"add_hostfwd\",\"arguments\":{\"proto\":\"${spec%:*}\",\"host_addr\":\"127.0.0.1\",\"host_port\":${spec#*:},\"guest_port\":9}}")
	desc=$(jq -r '.error.desc // empty' <<<"$resp")
	[ -n "$desc" ] || fail "a forward on taken port $spec did not fail: $resp"
	grep -q "Address already in use" <<<"$desc" || fail "unclear error for taken port $spec: $desc"
	note "taken $spec: $desc"
done
[ "$(api_call '{"execute":"list_hostfwd"}')" = "$before" ] ||
	fail "the forward table changed: $(api_call '{"execute":"list_hostfwd"}')"
kill "$TAKEN_PID"
# Nothing else changed: the next forward gets the next id and works.
resp=$(api_call '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":18004,"guest_addr":"10.0.2.100","guest_port":7}}')
jq -e '.return.id == 2' >/dev/null <<<"$resp" || fail "the next forward: $resp"
start_ns_helper tcp-echo 10.0.2.100 7
out=$(helper tcp-send 127.0.0.1 18004 through-the-forward 2>&1) || fail "the new forward: $out"
[ "$out" = through-the-forward ] || fail "the new forward echoed '$out'"
check_alive "after the failed forwards"

# ---- API abuse (make stress runs the big version) ----------------------------------------
cp "$TESTS_DIR/../stress/load.py" "$T/load.py"
chmod 644 "$T/load.py"
out=$(as_user "$PY" "$T/load.py" api-abuse "$API_SOCK" --clients 50 --silent 10 --silent-wait 12) ||
	fail "API abuse: $out"
note "$out"
check_alive "after the API abuse"

# ---- the namespace's last process exits --------------------------------------------------
# valgrind 3.19 does not know pidfd_open(): under it the daemon cannot watch its target.
if [ "${UNDER_VALGRIND:-0}" = 1 ]; then
	note "namespace gone: not tested under valgrind (no pidfd_open)"
	exit 0
fi
[ -S "$API_SOCK" ] || fail "no API socket before the namespace exits"
kill -KILL "$NSPID"
wait "$NSPID" 2>/dev/null || true
wait_exit "$SLIRPNS_PID" 1 || fail "the daemon still runs 1 s after its namespace's last process exited"
[ "$EXIT_RC" != 0 ] || fail "the daemon exited 0 although its namespace went away"
msg=$(sed -n '/^slirpns:/p' "$T/slirpns.log" | tail -n1)
grep -q "exited\|gone" <<<"$msg" || fail "no clear message on stderr: '$msg'"
[ ! -e "$API_SOCK" ] || fail "the API socket was left behind"
note "namespace gone: exit $EXIT_RC after ${EXIT_MS} ms, API socket removed: $msg"
