#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --disable-dns: 10.0.2.3 stops answering DNS queries and nothing reaches the host's
# nameserver; the same setup without the option resolves (control).
. "$(dirname "$0")/lib.sh"

start_helper dns 127.0.0.1 53 --record example.test=192.0.2.7 --log "$T/dns.log"
touch "$T/dns.log"
use_resolv_conf "nameserver 127.0.0.1"
resolve() { in_ns "$PY" "$TESTS_DIR/helper.py" resolve 10.0.2.3 example.test "$@"; }

start_ns
start_slirpns -c --disable-dns "$NSPID" tap0
out=$(resolve --timeout 1 --tries 2 2>&1) && fail "10.0.2.3 answered with --disable-dns: $out"
echo "$out" | grep -q "no DNS reply" || fail "unexpected resolver error: $out"
[ -s "$T/dns.log" ] && fail "the host DNS server received queries: $(cat "$T/dns.log")"
stop_slirpns

start_ns
start_slirpns -c "$NSPID" tap0
out=$(resolve 2>&1) || fail "control without --disable-dns failed: $out"
[ "$out" = 192.0.2.7 ] || fail "control answered '$out'"
stop_slirpns
