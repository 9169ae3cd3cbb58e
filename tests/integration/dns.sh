#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# DNS: queries to 10.0.2.3 are forwarded to the nameserver in the host's /etc/resolv.conf, and
# a changed resolv.conf is picked up while the daemon runs (libslirp re-reads it).
. "$(dirname "$0")/lib.sh"

start_helper dns 127.0.0.1 53 --record example.test=192.0.2.7 --log "$T/dns1.log"
use_resolv_conf "nameserver 127.0.0.1"
start_ns
start_slirpns -c "$NSPID" tap0

out=$(in_ns "$PY" "$TESTS_DIR/helper.py" resolve 10.0.2.3 example.test 2>&1) ||
	fail "resolving through 10.0.2.3 failed: $out"
[ "$out" = 192.0.2.7 ] || fail "10.0.2.3 answered '$out', expected 192.0.2.7"
[ -s "$T/dns1.log" ] || fail "the host DNS server saw no query"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" resolve 10.0.2.3 missing.test 2>&1) &&
	fail "an unknown name resolved to '$out'"

# Point resolv.conf at a second server with a different answer. The file is rewritten in place
# (it is bind-mounted over /etc/resolv.conf). libslirp notices a change by size/mtime at most
# once a second, so the new content differs in size and we retry for a few seconds.
start_helper dns 127.0.0.2 53 --record example.test=192.0.2.8 --log "$T/dns2.log"
printf '# rewritten by %s\nnameserver 127.0.0.2\n' "$TEST_NAME" >"$T/resolv.conf"
new_answer() {
	[ "$(in_ns "$PY" "$TESTS_DIR/helper.py" resolve 10.0.2.3 example.test --tries 1)" = 192.0.2.8 ]
}
for _ in $(seq 10); do
	new_answer && break
	sleep 0.5
done
new_answer || fail "the changed resolv.conf was not picked up"
[ -s "$T/dns2.log" ] || fail "the second DNS server saw no query"
stop_slirpns
