#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# slirpnsctl, the API client: usage errors exit 2; add/list/remove with TCP, UDP, an ephemeral
# port, a /udp suffix, a port range (and its roll-back when one port of it is taken), an IPv6
# host address ([::1]) and an IPv6 guest address, each really forwarding (ncat, helper.py);
# daemon errors exit 1 with the daemon's text; --json prints answers that jq parses; info and
# connections are readable; a daemon that never answers is given up on after --timeout, one
# that hangs up is reported. Then add/list/remove against a real slirp4netns --api-socket
# (skipped without slirp4netns), whose answers lack fields.
# (get_info's "target" and its nsenter command: nsenter_hint.sh.)
. "$(dirname "$0")/lib.sh"

[ -n "$SLIRPNSCTL_BIN" ] || { echo "ERROR: no slirpnsctl binary (make src/slirpnsctl)"; exit 99; }
command -v jq >/dev/null || skip "jq is not installed"
command -v ncat >/dev/null || skip "ncat is not installed (apt-get install ncat)"

API_SOCK="$T/api.sock"
ctl() { as_user "$SLIRPNSCTL_BIN" -a "$API_SOCK" "$@"; }

# run WHAT WANT-RC COMMAND...: run it, check its exit status; its stdout/stderr are in
# $OUT/$ERR.
run() {
	local what=$1 want=$2 rc=0
	shift 2
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	OUT=$(cat "$T/out") ERR=$(cat "$T/err")
	[ "$rc" = "$want" ] || fail "$what: exit $rc, want $want (stdout: $OUT; stderr: $ERR)"
}
# The stderr of the last run contains TEXT.
err_has() {
	grep -qF -- "$2" <<<"$ERR" || fail "$1: stderr '$ERR' lacks '$2'"
}

tcp_via() { # HOST PORT TEXT: the text comes back through ncat
	local out
	out=$(printf '%s' "$3" | timeout 10 ncat "$1" "$2" 2>&1) || fail "ncat $1 $2 failed: $out"
	[ "$out" = "$3" ] || fail "ncat $1 $2 returned '$out', want '$3'"
}
udp_via() {
	local out
	out=$(helper udp-send "$1" "$2" "$3") || fail "UDP to $1:$2 failed"
	[ "$out" = "$3" ] || fail "UDP to $1:$2 returned '$out'"
}
refused() {
	! timeout 5 ncat -z "$1" "$2" 2>/dev/null || fail "$1:$2 still accepts connections"
}
# The row of `list` for forward id $1 (without the header).
list_row() { ctl list | awk -v id="$1" 'NR > 1 && $1 == id'; }

# --- usage ----------------------------------------------------------------------------------
run "--help" 0 as_user "$SLIRPNSCTL_BIN" --help
grep -q "^Usage: slirpnsctl" <<<"$OUT" || fail "--help: $OUT"
run "--version" 0 as_user "$SLIRPNSCTL_BIN" --version
grep -q "^slirpnsctl version " <<<"$OUT" || fail "--version: $OUT"
run "no command" 2 ctl
err_has "no command" "slirpnsctl: no command given"
run "no socket" 2 as_user "$SLIRPNSCTL_BIN" list
err_has "no socket" "no API socket given"
run "unknown command" 2 ctl frobnicate
run "bad range" 2 ctl add 8000-8010:8000
err_has "bad range" 'slirpnsctl: add: bad forward "8000-8010:8000": the host and guest port ranges differ in length (11 and 1)'
run "bare IPv6" 2 ctl add ::1:8080:80
err_has "bare IPv6" "in brackets"
run "bad proto" 2 ctl add sctp 8080:80
run "bad id" 2 ctl remove x
run "missing socket" 1 ctl list
err_has "missing socket" "slirpnsctl: connect $API_SOCK: No such file or directory"

# --- the daemon -----------------------------------------------------------------------------
start_ns
for p in 80 90 91 92; do
	start_ns_helper tcp-echo 10.0.2.100 "$p"
done
start_ns_helper udp-echo 10.0.2.100 81
start_slirpns -c -6 --port-fast-path=off -a "$API_SOCK" "$NSPID" tap0

# TCP, default proto, all addresses.
run "add tcp" 0 ctl add 18080:80
[ "$OUT" = $'ID    PORT\n1     18080' ] || fail "add tcp printed '$OUT'"
tcp_via 127.0.0.1 18080 hello-tcp
[ "$(list_row 1)" = "1   tcp    0.0.0.0:18080  10.0.2.100:80" ] || fail "list row 1: '$(list_row 1)'"

# UDP on 127.0.0.1.
run "add udp" 0 ctl add udp 127.0.0.1:18081:81
[ "$(awk 'NR == 2 { print $1, $2 }' <<<"$OUT")" = "2 18081" ] || fail "add udp printed '$OUT'"
udp_via 127.0.0.1 18081 hello-udp
list_row 2 | grep -q "^2 *udp *127.0.0.1:18081 *10.0.2.100:81$" || fail "list row 2: '$(list_row 2)'"

# Ephemeral: the daemon's port is printed.
run "add ephemeral" 0 ctl add tcp 127.0.0.1:0:80
eph=$(awk 'NR == 2 && $1 == 3 { print $2 }' <<<"$OUT")
[ -n "$eph" ] && [ "$eph" -gt 0 ] || fail "add ephemeral printed '$OUT'"
tcp_via 127.0.0.1 "$eph" hello-ephemeral
note "ephemeral port $eph"

# A range: one forward per port, each to its own guest port.
run "add range" 0 ctl add 127.0.0.1:18090-18092:90-92
[ "$(awk 'NR > 1 { printf "%s=%s ", $1, $2 }' <<<"$OUT")" = "4=18090 5=18091 6=18092 " ] ||
	fail "add range printed '$OUT'"
for p in 18090 18091 18092; do
	tcp_via 127.0.0.1 "$p" "range-$p"
done
list_row 6 | grep -q "127.0.0.1:18092 *10.0.2.100:92$" || fail "list row 6: '$(list_row 6)'"

# A range with a taken port is rolled back: 18101 is forward 7, so 18100 (8) goes again.
run "add 18101" 0 ctl add 127.0.0.1:18101:80
run "add range over 18101" 1 ctl add 127.0.0.1:18100-18102:90-92
err_has "add range over 18101" "slirpnsctl: add: bad request: add_hostfwd: slirp_add_hostfwd failed"
err_has "add range over 18101" "Address already in use"
err_has "add range over 18101" "removed the 1 forward of the range added so far"
[ -z "$(list_row 8)" ] || fail "forward 8 (port 18100) left after the roll-back"
refused 127.0.0.1 18100
tcp_via 127.0.0.1 18101 still-forward-7

# IPv6 host address, forwarded to the IPv4 guest.
run "add [::1]" 0 ctl add tcp '[::1]:18200:80'
v6id=$(awk 'NR == 2 { print $1 }' <<<"$OUT")
retry ncat -z ::1 18200 || fail "[::1]:18200 does not accept"
tcp_via ::1 18200 hello-ipv6
list_row "$v6id" | grep -qF "[::1]:18200" || fail "list row $v6id: '$(list_row "$v6id")'"

# An IPv6 guest address (the daemon runs with -6), once SLAAC has given the namespace one.
retry in_ns sh -c 'ip -6 addr show dev tap0 scope global | grep fd00:: | grep -qv tentative' ||
	fail "no SLAAC address"
guest6=$(in_ns ip -6 -o addr show dev tap0 scope global | awk '{print $4}' | cut -d/ -f1 | head -n1)
start_ns_helper tcp-echo :: 83
run "add v6 guest" 0 ctl add "[::1]:18201:83/$guest6"
v6gid=$(awk 'NR == 2 { print $1 }' <<<"$OUT")
tcp_via ::1 18201 hello-ipv6-guest
list_row "$v6gid" | grep -qE "^$v6gid +tcp +\[::1\]:18201 +\[$guest6\]:83$" ||
	fail "list row $v6gid: '$(list_row "$v6gid")'"
run "remove v6 guest" 0 ctl remove "$v6gid"

# --- errors carry the daemon's text ---------------------------------------------------------
run "duplicate" 1 ctl add 18080:80
err_has "duplicate" "slirpnsctl: add: bad request: add_hostfwd: slirp_add_hostfwd failed: "
err_has "duplicate" "Address already in use"
run "remove unknown" 1 ctl remove 99
err_has "remove unknown" "slirpnsctl: remove: bad request: remove_hostfwd: slirp_remove_hostfwd failed: no forward with id 99"
run "foreign host address" 1 ctl add 192.0.2.1:18300:80
err_has "foreign host address" "slirpnsctl: add: bad request: add_hostfwd: slirp_add_hostfwd failed: "
err_has "foreign host address" "Cannot assign requested address"

# --- --json -----------------------------------------------------------------------------------
run "json list" 0 ctl list --json
jq -e '[.entries[].id] == [1,2,3,4,5,6,7,'"$v6id"']' <<<"$OUT" >/dev/null || fail "json list: $OUT"
run "json add" 0 ctl --json add udp 127.0.0.1:0:81
jq -e '.return.id > 0 and .return.host_port > 0' <<<"$OUT" >/dev/null || fail "json add: $OUT"
uid=$(jq -r .return.id <<<"$OUT")
udp_via 127.0.0.1 "$(jq -r .return.host_port <<<"$OUT")" hello-json
run "json add range" 0 ctl --json add 127.0.0.1:18400-18401:90-91
[ "$(jq -s 'map(.return.host_port)' -c <<<"$OUT")" = "[18400,18401]" ] || fail "json range: $OUT"
run "json error" 1 ctl --json remove 99
jq -e '.error.desc | startswith("bad request: remove_hostfwd")' <<<"$OUT" >/dev/null ||
	fail "json error: $OUT"

# --- remove ---------------------------------------------------------------------------------
run "remove" 0 ctl remove 1 "$uid"
[ -z "$OUT" ] || fail "remove printed '$OUT'"
refused 127.0.0.1 18080
[ -z "$(list_row 1)" ] || fail "forward 1 still listed"

# The protocol as a suffix, as slirpns -p and podman -p write it.
run "add /udp" 0 ctl add 127.0.0.1:18083:81/udp
sid=$(awk 'NR == 2 { print $1 }' <<<"$OUT")
udp_via 127.0.0.1 18083 hello-suffix
list_row "$sid" | grep -qE "^$sid +udp +127\.0\.0\.1:18083 " ||
	fail "list row $sid: '$(list_row "$sid")'"
run "remove /udp" 0 ctl remove "$sid"
run "protocol twice" 2 ctl add tcp 18084:80/udp
err_has "protocol twice" "the protocol is given twice"

# --- info and connections -------------------------------------------------------------------
run "info" 0 ctl info
for want in "network: 10.0.2.0/24" "gateway: 10.0.2.2" "mtu: 1500" "ipv6:" "  enabled: true" \
	"counters:" "target:" "  pid: $NSPID"; do
	grep -qxF -- "$want" <<<"$OUT" || fail "info lacks the line '$want': $OUT"
done
run "info json" 0 ctl info --json
jq -e '.return.network == "10.0.2.0/24" and (.return.forwards | type == "number")' <<<"$OUT" \
	>/dev/null || fail "info json: $OUT"

"$PY" -c 'import socket, time; s = socket.create_connection(("127.0.0.1", 18101)); time.sleep(15)' &
held=$!
retry as_user sh -c "'$SLIRPNSCTL_BIN' -a '$API_SOCK' connections | grep -q ESTABLISHED" ||
	fail "no ESTABLISHED connection listed"
run "connections" 0 ctl connections
head -n1 <<<"$OUT" | grep -qE '^PROTO +STATE +SRC +DST +RECV-Q +SEND-Q +PATH$' ||
	fail "connections header: $OUT"
grep -qE '^TCP +HOST_FORWARD +127\.0\.0\.1:18101 +10\.0\.2\.100:80 +0 +0 +slirp$' <<<"$OUT" ||
	fail "no listener row for 18101: $OUT"
grep -qE '^TCP +ESTABLISHED +.* 10\.0\.2\.100:80 ' <<<"$OUT" || fail "no established row: $OUT"
run "connections json" 0 ctl --json connections
jq -e '[.return.connections[] | select(.state == "ESTABLISHED")] | length >= 1' <<<"$OUT" \
	>/dev/null || fail "connections json: $OUT"
kill "$held"
wait "$held" 2>/dev/null || true
note "connections:"$'\n'"$(ctl connections)"

# --- a daemon that never answers ------------------------------------------------------------
as_user "$PY" - "$T/silent.sock" >/dev/null <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
print("ready", flush=True)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)  # read nothing, answer nothing
EOF
silent=$!
retry test -S "$T/silent.sock" || fail "the silent server did not start"
start=${EPOCHREALTIME/./}
run "silent daemon" 1 as_user "$SLIRPNSCTL_BIN" -a "$T/silent.sock" -t 1 list
ms=$(ms_since "$start")
err_has "silent daemon" "slirpnsctl: $T/silent.sock: no answer within 1 s"
[ "$ms" -lt 5000 ] || fail "giving up on a silent daemon took $ms ms"
note "silent daemon: given up after $ms ms"
kill "$silent"
# One that hangs up without a word.
as_user "$PY" - "$T/closer.sock" >/dev/null <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
while True:
    s.accept()[0].close()
EOF
closer=$!
retry test -S "$T/closer.sock" || fail "the closing server did not start"
run "closing daemon" 1 as_user "$SLIRPNSCTL_BIN" -a "$T/closer.sock" info
err_has "closing daemon" "slirpnsctl: $T/closer.sock: closed without an answer"
kill "$closer"
stop_slirpns

# --- against slirp4netns --------------------------------------------------------------------
if ! command -v slirp4netns >/dev/null; then
	note "slirp4netns is not installed: its part is skipped (apt-get install slirp4netns)"
	exit 0
fi
S4_SOCK="$T/s4.sock"
start_ns
start_ns_helper tcp-echo 10.0.2.100 80
start_ns_helper udp-echo 10.0.2.100 81
rm -f "$T/s4ready"
"${AS_USER[@]}" bash -c 'exec slirp4netns -r 9 -c --api-socket "$0" "$1" tap0 9>"$2"' \
	"$S4_SOCK" "$NSPID" "$T/s4ready" >"$T/s4.log" 2>&1 &
s4=$!
retry grep -q 1 "$T/s4ready" || { cat "$T/s4.log" >&2; fail "slirp4netns did not start"; }
note "$(slirp4netns --version | head -n1)"
s4ctl() { as_user "$SLIRPNSCTL_BIN" -a "$S4_SOCK" "$@"; }
run "slirp4netns add" 0 s4ctl add 18500:80
[ "$OUT" = $'ID    PORT\n1     18500' ] || fail "slirp4netns add printed '$OUT'"
tcp_via 127.0.0.1 18500 hello-slirp4netns
# slirp4netns has no ephemeral ports: its refusal comes through.
run "slirp4netns add ephemeral" 1 s4ctl add udp 127.0.0.1:0:81
err_has "slirp4netns add ephemeral" "slirpnsctl: add: bad request: add_hostfwd: bad arguments.host_port"
run "slirp4netns add udp" 0 s4ctl add udp 127.0.0.1:18501:81
udp_via 127.0.0.1 18501 hello-slirp4netns-udp
run "slirp4netns add range" 0 s4ctl add 127.0.0.1:18510-18511:80-81
run "slirp4netns list" 0 s4ctl list
note "slirp4netns list:"$'\n'"$OUT"
grep -qE '^1 +tcp +0\.0\.0\.0:18500 +10\.0\.2\.100:80$' <<<"$OUT" || fail "slirp4netns list: $OUT"
[ "$(awk 'NR > 1' <<<"$OUT" | wc -l)" = 4 ] || fail "slirp4netns list has not 4 rows: $OUT"
run "slirp4netns json list" 0 s4ctl --json list
jq -e '[.entries[].id] == [1,2,3,4] and (.return.entries == null)' <<<"$OUT" >/dev/null || fail "slirp4netns json list: $OUT"
run "slirp4netns duplicate" 1 s4ctl add 18500:80
err_has "slirp4netns duplicate" "slirpnsctl: add: "
note "slirp4netns duplicate: $ERR"
run "slirp4netns range rollback" 1 s4ctl add 127.0.0.1:18499-18500:80-81
[ "$(s4ctl list | awk 'NR > 1' | wc -l)" = 4 ] || fail "slirp4netns range not rolled back: $(s4ctl list)"
run "slirp4netns remove" 0 s4ctl remove 1
refused 127.0.0.1 18500
run "slirp4netns remove again" 1 s4ctl remove 1
err_has "slirp4netns remove again" "slirpnsctl: remove: "
run "slirp4netns info" 1 s4ctl info
err_has "slirp4netns info" "slirpnsctl: info: "
note "slirp4netns info: $ERR"
kill "$s4"
wait "$s4" 2>/dev/null || true
exit 0
