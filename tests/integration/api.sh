#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The API socket (-a): mode 0600 and owned by the daemon's user, a stale socket file replaced,
# removed on SIGTERM, a too-long path refused at startup. add_hostfwd/list_hostfwd/
# remove_hostfwd with TCP, UDP and ephemeral ports, really forwarding; removal frees the port at
# once; a busy port is "Address already in use". Malformed requests (missing proto, wrong types,
# non-objects, invalid UTF-8, 1 MiB of garbage) each get an error and leave the daemon
# forwarding; 200 clients at once all get answers. A forwarded connection keeps a non-loopback
# client's address (192.0.2.1 on a dummy interface of the private host namespace); loopback
# clients appear as the gateway 10.0.2.2. (IPv6 forwards: api_ipv6.sh.) The daemon runs with
# --port-fast-path=off so that every forwarded connection goes through libslirp, whose
# connection table and gateway source address are checked here; the fast path that loopback
# clients take by default is tested in port_fast_path.sh.
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null || skip "socat is not installed"
command -v jq >/dev/null || skip "jq is not installed"

API_SOCK="$T/api.sock"
OWNER_UID=${TEST_UID:-$(id -u)}

# Check an answer with a jq expression; fail with the answer otherwise.
expect() {
	local what=$1 resp=$2 filter=$3
	jq -e "$filter" >/dev/null 2>&1 <<<"$resp" || fail "$what: unexpected answer: $resp"
}

expect_error() {
	local what=$1 resp=$2 prefix=$3
	expect "$what" "$resp" "(.error.desc | type == \"string\") and (.error.desc | startswith(\"$prefix\"))"
}

add_fwd() {
	api_call '{"execute":"add_hostfwd","arguments":'"$1"'}'
}

# Is host port $1 on 127.0.0.1 refusing connections?
refused() {
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

tcp_roundtrip() {
	local out
	out=$(helper tcp-send "$1" "$2" "$3") || fail "TCP to $1:$2 failed"
	[ "$out" = "$3" ] || fail "TCP to $1:$2 returned '$out'"
}

alive_and_forwarding() {
	kill -0 "$SLIRPNS_PID" 2>/dev/null || fail "daemon died after: $1"
	tcp_roundtrip 127.0.0.1 18080 "still-forwarding"
	expect "list after $1" "$(api_call '{"execute":"list_hostfwd"}')" '.entries | type == "array"'
}

# --- startup: a stale socket file at the path is replaced ---------------------------------
as_user "$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$API_SOCK"
[ -S "$API_SOCK" ] || fail "could not create the stale socket"

start_ns
as_user touch "$T/peers" # the server in the namespace runs as the user and logs its peers here
start_ns_helper tcp-echo 10.0.2.100 80 --log "$T/peers"
start_ns_helper udp-echo 10.0.2.100 81
start_slirpns -c --port-fast-path=off -a "$API_SOCK" "$NSPID" tap0

[ -S "$API_SOCK" ] || fail "no socket at $API_SOCK"
# (bind() would have failed on the stale file, and nobody listened on it.)
expect "stale socket replaced" "$(api_call '{"execute":"list_hostfwd"}')" '.entries == []'
mode_owner=$(stat -c '%a %u' "$API_SOCK")
[ "$mode_owner" = "600 $OWNER_UID" ] || fail "socket mode/owner is '$mode_owner', want '600 $OWNER_UID'"

# --- add, list, use ------------------------------------------------------------------------
resp=$(add_fwd '{"proto":"tcp","host_port":18080,"guest_addr":"10.0.2.100","guest_port":80}')
expect "add tcp" "$resp" '.return.id == 1'
tcp_roundtrip 127.0.0.1 18080 hello-tcp

resp=$(add_fwd '{"proto":"udp","host_addr":"127.0.0.1","host_port":18081,"guest_port":81}')
expect "add udp" "$resp" '.return.id == 2'
out=$(helper udp-send 127.0.0.1 18081 hello-udp) || fail "UDP through the forward failed"
[ "$out" = hello-udp ] || fail "UDP echo returned '$out'"

resp=$(add_fwd '{"proto":"tcp","host_addr":"127.0.0.1","host_port":0,"guest_port":80}')
expect "add ephemeral" "$resp" '.return.id == 3 and .return.host_port > 0 and .return.host_port < 65536'
eph=$(jq -r .return.host_port <<<"$resp")
tcp_roundtrip 127.0.0.1 "$eph" hello-ephemeral
note "ephemeral port $eph"

list=$(api_call '{"execute":"list_hostfwd"}')
expect "list" "$list" '.entries == .return.entries and (.entries | length == 3)'
expect "list" "$list" '.entries[0] == {"id":1,"proto":"tcp","host_addr":"0.0.0.0","host_port":18080,"guest_addr":"10.0.2.100","guest_port":80}'
expect "list" "$list" '.entries[1] == {"id":2,"proto":"udp","host_addr":"127.0.0.1","host_port":18081,"guest_addr":"10.0.2.100","guest_port":81}'
expect "list" "$list" ".entries[2].host_port == $eph and .entries[2].id == 3"

resp=$(add_fwd '{"proto":"udp","host_addr":"127.0.0.1","host_port":0,"guest_port":81}')
expect "add udp ephemeral" "$resp" '.return.id == 4 and .return.host_port > 0'
ueph=$(jq -r .return.host_port <<<"$resp")
out=$(helper udp-send 127.0.0.1 "$ueph" hello-udp-ephemeral) || fail "UDP to ephemeral $ueph failed"
[ "$out" = hello-udp-ephemeral ] || fail "UDP ephemeral echo returned '$out'"
expect "remove 4" "$(api_call '{"execute":"remove_hostfwd","arguments":{"id":4}}')" '. == {"return":{}}'

# The daemon's status: what it is, and libslirp's connection table as it really prints it:
# our listeners, a UDP session from the namespace ("UDP[N sec]"), a forwarded connection.
resp=$(api_call '{"execute":"get_info"}')
expect "get_info" "$resp" '.return.network == "10.0.2.0/24" and .return.gateway == "10.0.2.2" and .return.dns == "10.0.2.3" and .return.mtu == 1500 and (.return.version | type == "string")'
expect "get_info" "$resp" '.return.ipv6.enabled == false and .return.counters.frames_in > 0 and .return.counters.bytes_out > 0 and .return.forwards == 3'
start_helper udp-echo 127.0.0.1 17002
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" udp-send 10.0.2.2 17002 ns-udp) || fail "UDP from the namespace failed"
"$PY" -c 'import socket, time; s = socket.create_connection(("127.0.0.1", 18080)); time.sleep(15)' &
held=$!
for _ in $(seq 50); do
	api_call '{"execute":"list_connections"}' |
		jq -e '[.return.connections[] | select(.state == "ESTABLISHED")] | length > 0' >/dev/null &&
		break
	sleep 0.1
done
resp=$(api_call '{"execute":"list_connections"}')
expect "list_connections" "$resp" '[.return.connections[] | select(.state == "HOST_FORWARD")] | length == 3'
expect "list_connections" "$resp" '[.return.connections[] | select(.proto == "UDP" and .state == "HOST_FORWARD" and .src_port == 18081)] | length == 1'
expect "list_connections" "$resp" '[.return.connections[] | select(.proto == "UDP" and .dst_port == 17002 and .expires_sec > 0 and (.state | endswith(" sec")))] | length == 1'
expect "list_connections" "$resp" '[.return.connections[] | select(.proto == "TCP" and .state == "ESTABLISHED" and .dst_addr == "10.0.2.100" and .dst_port == 80)] | length >= 1'
kill "$held"
wait "$held" 2>/dev/null || true

# --- remove: the port is free at once, ids are not reused -----------------------------------
expect "remove 3" "$(api_call '{"execute":"remove_hostfwd","arguments":{"id":3}}')" '. == {"return":{}}'
refused "$eph" || fail "ephemeral port $eph still open after remove"
expect "remove 1" "$(api_call '{"execute":"remove_hostfwd","arguments":{"id":1}}')" '. == {"return":{}}'
refused 18080 || fail "port 18080 still open after remove"
expect_error "remove 1 again" "$(api_call '{"execute":"remove_hostfwd","arguments":{"id":1}}')" \
	"bad request: remove_hostfwd: slirp_remove_hostfwd failed"
resp=$(add_fwd '{"proto":"tcp","host_port":18080,"guest_port":80}')
expect "re-add 18080" "$resp" '.return.id == 5'
tcp_roundtrip 127.0.0.1 18080 hello-again

# --- a port in use --------------------------------------------------------------------------
for spec in '{"proto":"tcp","host_port":18080,"guest_port":80}' \
	'{"proto":"udp","host_addr":"127.0.0.1","host_port":18081,"guest_port":81}'; do
	resp=$(add_fwd "$spec")
	expect_error "duplicate $spec" "$resp" "bad request: add_hostfwd: slirp_add_hostfwd failed"
	expect "duplicate $spec" "$resp" '.error.desc | contains("Address already in use")'
done
expect "list after duplicates" "$(api_call '{"execute":"list_hostfwd"}')" '[.entries[].id] == [2,5]'

# --- source addresses -----------------------------------------------------------------------
truncate -s 0 "$T/peers"
tcp_roundtrip 127.0.0.1 18080 from-loopback
[ "$(tail -n1 "$T/peers")" = 10.0.2.2 ] || fail "loopback client seen as '$(tail -n1 "$T/peers")'"
add_dummy_if dummy0
ip addr add 192.0.2.1/24 dev dummy0
out=$(printf from-dummy | timeout 10 socat -t 5 - TCP:192.0.2.1:18080,bind=192.0.2.1) ||
	fail "no connection from 192.0.2.1"
[ "$out" = from-dummy ] || fail "echo from 192.0.2.1 returned '$out'"
[ "$(tail -n1 "$T/peers")" = 192.0.2.1 ] ||
	fail "client 192.0.2.1 seen as '$(tail -n1 "$T/peers")' in the namespace"

# --- malformed requests ---------------------------------------------------------------------
check_bad() {
	local what=$1 prefix=$2 resp
	resp=$(api_call "$3")
	expect_error "$what" "$resp" "$prefix"
	alive_and_forwarding "$what"
}
check_bad "missing proto" "bad request: add_hostfwd: bad arguments.proto" \
	'{"execute":"add_hostfwd","arguments":{"host_port":18090,"guest_port":80}}'
check_bad "proto a number" "bad request: add_hostfwd: bad arguments.proto" \
	'{"execute":"add_hostfwd","arguments":{"proto":6,"host_port":18090,"guest_port":80}}'
check_bad "host_port a string" "bad request: add_hostfwd: bad arguments.host_port" \
	'{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":"18090","guest_port":80}}'
check_bad "host_port out of range" "bad request: add_hostfwd: bad arguments.host_port" \
	'{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":65536,"guest_port":80}}'
check_bad "guest_port zero" "bad request: add_hostfwd: bad arguments.guest_port" \
	'{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":18090,"guest_port":0}}'
check_bad "bad host_addr" "bad request: add_hostfwd: bad arguments.host_addr" \
	'{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"example.com","host_port":18090,"guest_port":80}}'
check_bad "bad guest_addr" "bad request: add_hostfwd: bad arguments.guest_addr" \
	'{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":18090,"guest_addr":[],"guest_port":80}}'
check_bad "arguments not an object" "bad request: add_hostfwd: bad arguments" \
	'{"execute":"add_hostfwd","arguments":"tcp"}'
check_bad "id a string" "bad request: remove_hostfwd: bad arguments.id" \
	'{"execute":"remove_hostfwd","arguments":{"id":"2"}}'
check_bad "execute a number" "bad request: no execute found" '{"execute":1}'
check_bad "unknown execute" "bad request: unknown execute" '{"execute":"shutdown"}'
check_bad "array" "bad request: json_object() failed" '[{"execute":"list_hostfwd"}]'
check_bad "number" "bad request: " '42'
check_bad "string" "bad request: " '"list_hostfwd"'
check_bad "empty" "bad request: cannot parse JSON" ''
check_bad "half an object" "bad request: cannot parse JSON" '{"execute":"list_hos'
check_bad "invalid UTF-8" "bad request: cannot parse JSON" $'{"execute":"\xff\xfe"}'
check_bad "invalid UTF-8 at the start" "bad request: cannot parse JSON" $'\xc3\x28{}'
head -c 1048576 /dev/urandom >"$T/garbage"
expect_error "1 MiB random" "$(api_call_file "$T/garbage")" "bad request: "
alive_and_forwarding "1 MiB random"
{
	printf '{"execute":"add_hostfwd","arguments":{"proto":"'
	head -c 1048576 /dev/zero | tr '\0' x
} >"$T/big"
expect_error "1 MiB string" "$(api_call_file "$T/big")" "bad request: too large message"
alive_and_forwarding "1 MiB string"
expect "list after malformed" "$(api_call '{"execute":"list_hostfwd"}')" '[.entries[].id] == [2,5]'

# A complete object is answered without waiting for the client to shut down its side.
start=${EPOCHREALTIME/./}
resp=$(as_user "$PY" - "$API_SOCK" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(4)
s.connect(sys.argv[1])
s.sendall(b'{"execute":"list_hostfwd"}')
print(s.recv(65536).decode())
EOF
) || fail "no answer to a request without EOF"
ms=$(((${EPOCHREALTIME/./} - start) / 1000))
expect "request without EOF" "$resp" '.entries | length == 2'
[ "$ms" -lt 2000 ] || fail "a complete request without EOF took $ms ms"

# --- 200 clients at once --------------------------------------------------------------------
as_user "$PY" - "$API_SOCK" <<'EOF' || fail "concurrent clients failed"
import json, socket, sys
clients = []
for i in range(200):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
    clients.append(s)
for i, s in enumerate(clients):
    s.sendall(b'{"execute":"list_hostfwd"}' if i % 2 else b'{"execute":"get_info"}')
    if i % 3 == 0:
        s.shutdown(socket.SHUT_WR)
for i, s in enumerate(clients):
    out = b""
    while True:
        data = s.recv(65536)
        if not data:
            break
        out += data
    r = json.loads(out)
    ok = "entries" in r if i % 2 else "version" in r.get("return", {})
    if not ok:
        sys.exit("client %d got %r" % (i, out))
print("200 clients answered")
EOF
alive_and_forwarding "200 clients"

# --- shutdown removes the socket; a too-long path is a startup error -----------------------
stop_slirpns
[ -e "$API_SOCK" ] && fail "API socket left behind after SIGTERM"

long="$T/$(printf 'a%.0s' $(seq 120)).sock"
rc=0
out=$(as_user timeout 10 "$SLIRPNS_BIN" -c -a "$long" "$NSPID" tap1 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "too-long socket path: exit $rc, want 1 ($out)"
grep -q "too long" <<<"$out" || fail "too-long socket path: message '$out' does not say so"
[ -e "$long" ] && fail "a socket was created at the too-long path"
note "too-long path: $(tail -n1 <<<"$out")"
exit 0
