#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# IPv6 forwards: a "::" host address forwards to the IPv4 guest (relayed, since libslirp 4.7
# cannot cross address families) and is reached over ::1; with -6, an IPv6 guest_addr is
# forwarded natively. Removing the forward frees the port. UDP forwards cross families through
# slirpns's own UDP endpoint; through libslirp (--port-fast-path=off) that is refused.
. "$(dirname "$0")/lib.sh"

sock="$T/api.sock"
call() { printf '%s' "$1" | as_user socat -t 5 - "UNIX-CONNECT:$sock"; }

start_ns
start_slirpns -c -6 -a "$sock" "$NSPID" tap0
# Wait for SLAAC so the namespace has its fd00:: address, past duplicate address detection
# (a tentative address answers no neighbour solicitation, so libslirp could not reach it).
retry in_ns sh -c 'ip -6 addr show dev tap0 scope global | grep fd00:: | grep -qv tentative' ||
	fail "no SLAAC address"
in_ns "$PY" "$TESTS_DIR/helper.py" tcp-echo 10.0.2.100 80 >/dev/null 2>&1 &
in_ns "$PY" "$TESTS_DIR/helper.py" tcp-echo :: 81 >/dev/null 2>&1 &
guest6=$(in_ns ip -6 -o addr show dev tap0 scope global | awk '{print $4}' | cut -d/ -f1 | head -n1)

resp=$(call '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"::","host_port":18080,"guest_port":80}}')
echo "$resp" | jq -e '.return.id == 1' >/dev/null || fail "add [::]:18080: $resp"
retry helper tcp-send ::1 18080 ping6 || fail "no answer through [::]:18080"
out=$(helper tcp-send ::1 18080 "hello over ipv6")
[ "$out" = "hello over ipv6" ] || fail "relay returned '$out'"

# A large transfer both ways through the relay keeps every byte.
head -c 8388608 /dev/urandom >"$T/blob"
sum_in=$(sha256sum <"$T/blob" | cut -d' ' -f1)
sum_out=$(socat -t 10 - TCP6:[::1]:18080 <"$T/blob" | sha256sum | cut -d' ' -f1)
[ "$sum_in" = "$sum_out" ] || fail "8 MiB through the relay came back different"

# Ephemeral port on ::1.
resp=$(call '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"::1","host_port":0,"guest_port":80}}')
port=$(echo "$resp" | jq -e '.return.host_port') || fail "no host_port in $resp"
[ "$port" -gt 0 ] || fail "ephemeral port $port"
out=$(helper tcp-send ::1 "$port" eph)
[ "$out" = eph ] || fail "ephemeral IPv6 forward returned '$out'"

# With -6, an IPv6 guest address is forwarded natively.
resp=$(call '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"::1","host_port":18081,"guest_addr":"'"$guest6"'","guest_port":81}}')
echo "$resp" | jq -e '.return.id == 3' >/dev/null || fail "add IPv6 guest: $resp"
out=$(helper tcp-send ::1 18081 native6)
[ "$out" = native6 ] || fail "IPv6 guest forward returned '$out'"

# The list shows the IPv6 host addresses as given.
call '{"execute":"list_hostfwd"}' | jq -e '[.entries[].host_addr] == ["::","::1","::1"]' >/dev/null ||
	fail "list: $(call '{"execute":"list_hostfwd"}')"

# Remove frees the port at once.
call '{"execute":"remove_hostfwd","arguments":{"id":1}}' | jq -e '.return == {}' >/dev/null ||
	fail "remove failed"
helper tcp-send ::1 18080 x 2>/dev/null && fail "port 18080 still open after remove"
resp=$(call '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"::","host_port":18080,"guest_port":80}}')
echo "$resp" | jq -e '.return.id == 4' >/dev/null || fail "re-add after remove: $resp"

# IPv4 host address to an IPv6 guest: refused (libslirp 4.7 would abort on the first client).
resp=$(call '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":18083,"guest_addr":"'"$guest6"'","guest_port":81}}')
echo "$resp" | jq -e '.error.desc | test("IPv4 host_addr cannot forward to an IPv6 guest_addr")' >/dev/null ||
	fail "IPv4 -> IPv6 guest: $resp"

# UDP forwards across families go through slirpns's own UDP endpoint (udpfwd.c): an IPv6
# host address to the IPv4 guest, and an IPv4 host address to the IPv6 guest.
in_ns "$PY" "$TESTS_DIR/helper.py" udp-echo 0.0.0.0 7053 &
in_ns "$PY" "$TESTS_DIR/helper.py" udp-echo "$guest6" 7053 &
sleep 0.3
resp=$(call '{"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"::","host_port":18082,"guest_port":7053}}')
echo "$resp" | jq -e '.return.host_port == 18082' >/dev/null || fail "UDP [::] -> IPv4 guest: $resp"
out=$(helper udp-check ::1 18082 --sizes "1-16,1400,8000") || fail "UDP [::1] -> IPv4 guest: $out"
resp=$(call '{"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"127.0.0.1","host_port":18084,"guest_addr":"'"$guest6"'","guest_port":7053}}')
echo "$resp" | jq -e '.return.host_port == 18084' >/dev/null || fail "UDP 127.0.0.1 -> IPv6 guest: $resp"
# (up to the MTU: the namespace's IPv6 fragments are not reassembled, as libslirp drops them)
out=$(helper udp-check 127.0.0.1 18084 --sizes "1-16,1400,1452") || fail "UDP 127.0.0.1 -> IPv6 guest: $out"
kill -0 "$SLIRPNS_PID" || fail "daemon died"
stop_slirpns

# Through libslirp (--port-fast-path=off), UDP across families is refused with a reason.
start_ns
start_slirpns -c -6 -a "$sock" --port-fast-path=off "$NSPID" tap0
resp=$(call '{"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"::","host_port":18082,"guest_port":53}}')
echo "$resp" | jq -e '.error.desc | test("IPv6 guest_addr")' >/dev/null || fail "UDP cross: $resp"
kill -0 "$SLIRPNS_PID" || fail "daemon died"
stop_slirpns
