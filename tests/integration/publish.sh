#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# -p/--publish: TCP, UDP and ephemeral forwards from the command line are open by the time the
# ready fd is written, are listed by list_hostfwd with ids 1..3 (API forwards continue at 4),
# and can be removed through the API. A bad spec, or one whose port is busy, exits 1 with a
# message naming the spec.
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || skip "socat is not installed"
command -v jq >/dev/null || skip "jq is not installed"

API_SOCK="$T/api.sock"

expect() {
	jq -e "$3" >/dev/null 2>&1 <<<"$2" || fail "$1: unexpected answer: $2"
}

tcp_roundtrip() {
	local out
	out=$(helper tcp-send 127.0.0.1 "$1" "$2") || fail "TCP to 127.0.0.1:$1 failed"
	[ "$out" = "$2" ] || fail "TCP to 127.0.0.1:$1 returned '$out'"
}

# Is TCP port $1 on 127.0.0.1 refusing connections?
tcp_refused() {
	"$PY" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(3)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except ConnectionRefusedError:
    sys.exit(0)
sys.exit("port %s accepted a connection" % sys.argv[1])
EOF
}

# Is UDP port $1 free on every address (nobody bound to it)?
udp_free() {
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("0.0.0.0", int(sys.argv[1])))' "$1"
}

# Start a second daemon in the foreground with a -p spec (on tap1, left unconfigured: the
# namespace's routes belong to the first) and expect a startup error naming the spec.
expect_bad_spec() {
	local spec=$1 rc=0 out
	out=$(as_user timeout 10 "$SLIRPNS_BIN" -p "$spec" "$NSPID" tap1 2>&1) || rc=$?
	[ "$rc" = 1 ] || fail "-p '$spec': exit $rc, want 1 ($out)"
	grep -qF -- "$spec" <<<"$out" || fail "-p '$spec': message does not name the spec: $out"
	note "-p '$spec': $(head -n1 <<<"$out")"
}

start_ns
start_ns_helper tcp-echo 10.0.2.100 80
start_ns_helper udp-echo 10.0.2.100 81
start_ns_helper tcp-echo 10.0.2.100 82
start_slirpns -c -a "$API_SOCK" -p 127.0.0.1:18180:80 -p 18181:81/udp -p 127.0.0.1:0:82 \
	"$NSPID" tap0

# Open as soon as the daemon says it is ready: no retries here.
tcp_roundtrip 18180 right-after-ready
out=$(helper udp-send 127.0.0.1 18181 hello-udp) || fail "UDP through -p 18181:81/udp failed"
[ "$out" = hello-udp ] || fail "UDP echo returned '$out'"

list=$(api_call '{"execute":"list_hostfwd"}')
expect "list" "$list" '.entries == .return.entries and ([.entries[].id] == [1,2,3])'
expect "list" "$list" '.entries[0] == {"id":1,"proto":"tcp","host_addr":"127.0.0.1","host_port":18180,"guest_addr":"10.0.2.100","guest_port":80}'
expect "list" "$list" '.entries[1] == {"id":2,"proto":"udp","host_addr":"0.0.0.0","host_port":18181,"guest_addr":"10.0.2.100","guest_port":81}'
expect "list" "$list" '.entries[2].proto == "tcp" and .entries[2].host_addr == "127.0.0.1" and .entries[2].guest_port == 82 and .entries[2].host_port > 0'
eph=$(jq -r '.entries[2].host_port' <<<"$list")
tcp_roundtrip "$eph" hello-ephemeral
note "-p 127.0.0.1:0:82 got port $eph"

# API forwards share the table: the next id is 4.
resp=$(api_call '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":18183,"guest_port":80}}')
expect "add after -p" "$resp" '.return.id == 4'

# Command-line forwards are removed like any other.
for id in 1 2 3; do
	expect "remove $id" "$(api_call '{"execute":"remove_hostfwd","arguments":{"id":'$id'}}')" \
		'. == {"return":{}}'
done
tcp_refused 18180 || fail "18180 still open after remove"
tcp_refused "$eph" || fail "ephemeral $eph still open after remove"
udp_free 18181 || fail "UDP 18181 still bound after remove"
expect "list after remove" "$(api_call '{"execute":"list_hostfwd"}')" '[.entries[].id] == [4]'
tcp_roundtrip 18183 api-forward-still-works

# Bad specs are startup errors naming the spec.
for spec in 99999:80 abc 80 80:0 80:65536 -1:80 1.2.3.4.5:80:80 80:80/sctp 'host:80:80' ''; do
	expect_bad_spec "$spec"
done
# A spec that parses but cannot be opened: the port is taken on the host.
start_helper tcp-echo 127.0.0.1 18184
expect_bad_spec 127.0.0.1:18184:80
grep -q "Address already in use" <<<"$(as_user timeout 10 "$SLIRPNS_BIN" \
	-p 127.0.0.1:18184:80 "$NSPID" tap1 2>&1)" || fail "busy port: no 'Address already in use'"

kill -0 "$SLIRPNS_PID" || fail "the first daemon died"
stop_slirpns
exit 0
