#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A UDP port forward answers clients on the host's loopback with --disable-host-loopback too
# (what rootlesskit's slirp4netns port driver runs under dockerd-rootless.sh, which always
# passes it: `docker run -p 5353:53/udp` must answer `dig @127.0.0.1 -p 5353`), and still
# does after answering a client elsewhere, while the namespace still cannot send to the
# host's loopback on its own:
#   1. a client on 127.0.0.1 (which the guest sees as the gateway 10.0.2.2) gets its echo
#      through -p 18191:81/udp; so does a client on 192.0.2.1 (seen as itself); and then the
#      loopback client again, also a connected one (the answer comes from 127.0.0.1:18191);
#   2. the guest, sending from a forward's guest port to 10.0.2.2:P for a port P that no
#      client of that forward used, reaches nothing on the host's 127.0.0.1:P;
#   3. nor from a port that is not a forward's guest port;
#   4. the same for UDP forwards added through the API, removed and added again;
#   5. without --disable-host-loopback: loopback, other, loopback client answered, and the
#      guest sees the loopback client as 10.0.2.2 each time.
# The first daemon runs with --enable-sandbox --enable-seccomp, as rootlesskit starts it.
# libslirp 4.7 (and so slirp4netns 1.2) fails 1. (it drops the answer to 10.0.2.2 as a new
# flow to the host's loopback) and the second loopback client of 1. and 5. (once the forward
# has answered 192.0.2.1, it hands loopback datagrams to the guest from 127.0.0.1).
. "$(dirname "$0")/lib.sh"

add_dummy_if dummy0
ip addr add 192.0.2.1/24 dev dummy0
start_helper udp-echo 127.0.0.1 7011 --log "$T/loop.log"
touch "$T/loop.log"

# guest_send SRC_PORT DST_PORT: a datagram from 10.0.2.100:SRC_PORT to 10.0.2.2:DST_PORT.
guest_send() {
	in_ns "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.0.2.100", int(sys.argv[1])))
s.sendto(b"from-guest", ("10.0.2.2", int(sys.argv[2])))' "$1" "$2"
}

start_ns
start_ns_helper udp-echo 10.0.2.100 81
start_ns_helper udp-echo 10.0.2.100 83
API_SOCK="$T/api.sock"
start_slirpns -c --disable-host-loopback --enable-sandbox --enable-seccomp -a "$API_SOCK" \
	-p 18191:81/udp -p 18192:82/udp "$NSPID" tap0

# 1.
out=$(helper udp-send 127.0.0.1 18191 hello-loopback --timeout 1 --tries 3 2>&1) ||
	fail "a client on 127.0.0.1 got no answer through -p 18191:81/udp with --disable-host-loopback: $out"
[ "$out" = hello-loopback ] || fail "UDP echo to 127.0.0.1 returned '$out'"
out=$(helper udp-send 192.0.2.1 18191 hello-other --timeout 1 --tries 3 2>&1) ||
	fail "a client on 192.0.2.1 got no answer through -p 18191:81/udp: $out"
[ "$out" = hello-other ] || fail "UDP echo to 192.0.2.1 returned '$out'"
out=$(helper udp-send 127.0.0.1 18191 hello-again --timeout 1 --tries 3 2>&1) ||
	fail "a client on 127.0.0.1 got no answer after the forward answered 192.0.2.1: $out"
[ "$out" = hello-again ] || fail "UDP echo to 127.0.0.1 returned '$out'"
# A connected client (socat) takes only an answer from 127.0.0.1:18191 itself.
out=$(echo hello-connected | timeout 10 socat -t 2 - UDP4:127.0.0.1:18191 2>&1) ||
	fail "socat on 127.0.0.1 got no answer through -p 18191:81/udp: $out"
[ "$out" = hello-connected ] || fail "socat's UDP echo returned '$out'"
note "UDP forward answers 127.0.0.1 and 192.0.2.1 clients with --disable-host-loopback"

# 2. and 3.: nothing reaches the host's 127.0.0.1:7011. A loopback client writes to the
# second forward first (nobody answers in the namespace), so that forward has a client port.
helper udp-send 127.0.0.1 18192 knock --timeout 0.3 --tries 1 >/dev/null 2>&1 || true
guest_send 82 7011
guest_send 84 7011
sleep 0.5
[ -s "$T/loop.log" ] && fail "the guest reached the host's 127.0.0.1:7011: $(cat "$T/loop.log")"
note "the guest still cannot send to the host's loopback"

# 4. A UDP forward added through the API, removed, and added again on the same port.
add='{"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"127.0.0.1","host_port":18193,"guest_port":83}}'
for round in 1 2; do
	id=$(api_call "$add" | jq -er '.return.id') || fail "add_hostfwd udp 18193 failed (round $round)"
	out=$(helper udp-send 127.0.0.1 18193 "hello-api-$round" --timeout 1 --tries 3 2>&1) ||
		fail "no answer through the API's UDP forward 18193 (round $round): $out"
	[ "$out" = "hello-api-$round" ] || fail "UDP echo through 18193 returned '$out'"
	api_call '{"execute":"remove_hostfwd","arguments":{"id":'"$id"'}}' | jq -e '.return == {}' >/dev/null ||
		fail "remove_hostfwd $id failed"
done
out=$(helper udp-send 127.0.0.1 18191 still-there --timeout 1 --tries 3 2>&1) ||
	fail "-p 18191:81/udp stopped answering after another UDP forward was removed: $out"
note "API UDP forwards answer loopback clients, also after remove and add"
stop_slirpns

# 5.
start_ns
start_ns_helper udp-echo 10.0.2.100 81 --log "$T/guest.log"
start_slirpns -c -p 18191:81/udp "$NSPID" tap0
for c in 127.0.0.1 192.0.2.1 127.0.0.1; do
	out=$(helper udp-send "$c" 18191 "hello-default-$c" --timeout 1 --tries 3 2>&1) ||
		fail "without --disable-host-loopback a client on $c got no answer through -p 18191:81/udp: $out"
	[ "$out" = "hello-default-$c" ] || fail "UDP echo to $c returned '$out'"
done
seen=$(tr '\n' ' ' <"$T/guest.log")
[ "$seen" = "10.0.2.2 192.0.2.1 10.0.2.2 " ] ||
	fail "the guest saw the clients 127.0.0.1, 192.0.2.1, 127.0.0.1 as $seen, want 10.0.2.2 192.0.2.1 10.0.2.2"
note "without --disable-host-loopback: the guest saw $seen"
stop_slirpns
