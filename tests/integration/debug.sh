#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --debug: timestamped lines on stderr for connection setup/teardown, forwards, API requests,
# the port fast path, DHCP leases and DNS decisions - and never a payload. Without it, the
# same traffic leaves nothing but the startup summary.
#   1. With --debug (sandbox and seccomp on, so logging works under the filter): a DHCP lease
#      (busybox udhcpc), TCP and UDP to the host, a DNS query, a -p forward used by a loopback
#      client (fast path), API add/list/remove and a malformed request. Each event has its
#      line, every debug line starts "slirpns: YYYY-MM-DDTHH:MM:SS.uuuuuuZ debug: ", and none
#      of the recognisable payloads sent appears anywhere in the log.
#   2. --disable-dns with --debug: the query is logged as not answered.
#   3. Without --debug, the same traffic: the log holds the startup summary only.
. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null || skip "busybox is not installed"

MARK=PAYLOAD-d3bug-MARKER
start_helper tcp-echo 127.0.0.1 7001
start_helper udp-echo 127.0.0.1 7002
start_helper dns 127.0.0.1 53 --record visible-name.test=192.0.2.7
use_resolv_conf "nameserver 127.0.0.1"

cat >"$T/udhcpc.sh" <<SCRIPT
#!/bin/sh
[ "\$1" = bound ] && echo "ip=\$ip" >"$T/lease"
exit 0
SCRIPT
chmod 755 "$T/udhcpc.sh"

ns_py() { in_ns "$PY" "$TESTS_DIR/helper.py" "$@"; }

# The traffic of each case: DHCP, then a static address, TCP, UDP, a forward.
traffic() {
	rm -f "$T/lease"
	in_ns ip link set tap0 up
	in_ns busybox udhcpc -i tap0 -f -q -n -t 5 -T 1 -s "$T/udhcpc.sh" >"$T/udhcpc.log" 2>&1 ||
		fail "udhcpc got no lease: $(cat "$T/udhcpc.log")"
	grep -qx ip=10.0.2.15 "$T/lease" || fail "unexpected lease: $(cat "$T/lease")"
	in_ns ip addr add 10.0.2.100/24 dev tap0
	in_ns ip route add default via 10.0.2.2
	in_ns ip link set lo up # the fast path connects to 10.0.2.100 from inside: over lo
	start_ns_helper tcp-echo 10.0.2.100 7007
	[ "$(ns_py tcp-send 10.0.2.2 7001 "$MARK-tcp")" = "$MARK-tcp" ] || fail "TCP echo failed"
	[ "$(ns_py udp-send 10.0.2.2 7002 "$MARK-udp")" = "$MARK-udp" ] || fail "UDP echo failed"
	[ "$(helper tcp-send 127.0.0.1 8080 "$MARK-fwd")" = "$MARK-fwd" ] || fail "forward failed"
}

# --- 1. --debug -----------------------------------------------------------------------------
start_ns
API_SOCK="$T/api.sock"
start_slirpns --debug --enable-sandbox --enable-seccomp -a "$API_SOCK" -p 8080:7007 \
	"$NSPID" tap0
traffic
out=$(ns_py resolve 10.0.2.3 visible-name.test) || fail "DNS through 10.0.2.3 failed"
[ "$out" = 192.0.2.7 ] || fail "DNS answered '$out'"
api_call '{"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"127.0.0.1","host_port":9090,"guest_port":7007}}' |
	grep -q '"return"' || fail "add_hostfwd failed"
api_call '{"execute":"list_hostfwd"}' | grep -q entries || fail "list_hostfwd failed"
api_call '{"execute":"remove_hostfwd","arguments":{"id":2}}' | grep -q '"return"' ||
	fail "remove_hostfwd failed"
api_call "{\"execute\":\"$MARK\"}" | grep -q '"error"' || fail "a bad command was accepted"
stop_slirpns

LOG="$T/slirpns.log"
ts='slirpns: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z debug: '
expect() { # WHAT REGEX (after the timestamp)
	grep -qE "^$ts$2" "$LOG" || fail "--debug: no line for $1 (/$2/)"
}
expect "the -p forward" 'forward tcp 0\.0\.0\.0:8080 -> 10\.0\.2\.100:7007: added$'
expect "the DHCP lease" 'dhcp: lease 10\.0\.2\.15 to ([0-9a-f]{2}:){5}[0-9a-f]{2} for [0-9]+ s$'
expect "TCP setup" 'tcp 10\.0\.2\.100:[0-9]+ -> 10\.0\.2\.2:7001: connection request from the guest$'
expect "TCP teardown (guest)" 'tcp 10\.0\.2\.100:[0-9]+ -> 10\.0\.2\.2:7001: closed \(FIN\)$'
expect "TCP teardown (host)" 'tcp 10\.0\.2\.2:7001 -> 10\.0\.2\.100:[0-9]+: closed \(FIN\)$'
expect "the DNS query" "dns: query visible-name\.test A from 10\.0\.2\.100:[0-9]+: forwarded to the host's nameserver$"
expect "the DNS answer" 'dns: answer to 10\.0\.2\.100:[0-9]+ for visible-name\.test A: NOERROR, 1 record\(s\)$'
# (Under valgrind the fast path's helper cannot run: lib.sh says why.)
[ "${UNDER_VALGRIND:-0}" = 1 ] ||
	expect "the fast path" 'fast path: loopback client spliced to 10\.0\.2\.100 port 7007 in the namespace$'
expect "API add" 'api: request add_hostfwd: ok$'
expect "API list" 'api: request list_hostfwd: ok$'
expect "API remove" 'api: request remove_hostfwd: ok$'
expect "a bad API request" 'api: request \(no command name\): error$'
expect "the API forward" 'forward udp 127\.0\.0\.1:9090 -> 10\.0\.2\.100:7007: added$'
expect "its removal" 'forward udp 127\.0\.0\.1:9090 -> 10\.0\.2\.100:7007: removed$'
bad=$(grep ' debug: ' "$LOG" | grep -vE "^$ts" || true)
[ -z "$bad" ] || fail "debug lines without the timestamp prefix: $bad"
grep -qF "$MARK" "$LOG" && fail "a payload is in the log: $(grep -F "$MARK" "$LOG")"
note "$(grep -c ' debug: ' "$LOG") debug lines, no payload"

# --- 2. --disable-dns -------------------------------------------------------------------------
start_ns
start_slirpns --debug --disable-dns -c "$NSPID" tap0
ns_py resolve 10.0.2.3 visible-name.test --tries 1 --timeout 0.5 >/dev/null 2>&1 &&
	fail "10.0.2.3 answered with --disable-dns"
stop_slirpns
expect "the dropped DNS query" 'dns: query visible-name\.test A from 10\.0\.2\.100:[0-9]+: not answered \(--disable-dns\)$'

# --- 3. without --debug -----------------------------------------------------------------------
start_ns
start_slirpns -a "$API_SOCK" -p 8080:7007 "$NSPID" tap0
traffic
ns_py resolve 10.0.2.3 visible-name.test >/dev/null || fail "DNS failed"
api_call '{"execute":"list_hostfwd"}' | grep -q entries || fail "list_hostfwd failed"
stop_slirpns
extra=$(grep -vE '^(Starting slirpns |\* [A-Za-z ]+: |WARNING: 127\.0\.0\.1:\* on the host)' \
	"$T/slirpns.log" || true)
[ "${UNDER_VALGRIND:-0}" = 0 ] || extra=$(grep -v 'port fast path unavailable' <<<"$extra" || true)
[ -z "$extra" ] || fail "without --debug the log has more than the summary: $extra"
note "without --debug: the summary only"
