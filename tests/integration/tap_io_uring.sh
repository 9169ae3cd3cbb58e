#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# How the daemon reads and writes its tap (src/tapring.c): through an io_uring multishot read and
# a ring of queued writes where the kernel has them (Linux 6.7+, kernel.io_uring_disabled 0),
# else read(2) and writev(2); --io-uring=off always those. get_info's tap_io says which. The
# echo and the flood make small frames for the namespace, which must go through the write ring
# in fewer submissions than frames. Under --enable-sandbox --enable-seccomp (the
# filter allows io_uring_enter(2) only, after the ring is set up and restricted):
#  - 32 MiB of TCP from the namespace and an echo of 32 MiB both ways arrive intact;
#  - a UDP flood (iperf3 -u -b 0) fills every ring buffer, so the read ends and is submitted
#    again (out_of_buffers, submits > 1), and afterwards frames still flow (echo, datagrams of
#    every size up to 65507 bytes, checked byte for byte);
#  - the tap goes away with the daemon, at once (the ring's hold on it is released first), and
#    another daemon opens it again in the same namespace;
# and --io-uring with a bad value is a usage error.
. "$(dirname "$0")/lib.sh"

# The kernel has the multishot read from 6.7 on.
expect=read
read -r kmaj kmin _ <<<"$(uname -r | tr '.-' '  ')"
if [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ] &&
	{ [ "$kmaj" -gt 6 ] || { [ "$kmaj" = 6 ] && [ "$kmin" -ge 7 ]; }; }; then
	expect=io_uring
fi
note "kernel $(uname -r): expecting tap reads via $expect"

head -c $((32 << 20)) /dev/urandom >"$T/data"
chmod 644 "$T/data"
SHA=$(sha256sum <"$T/data" | cut -d' ' -f1)
start_helper hash-sink 127.0.0.1 7001
start_helper tcp-echo 127.0.0.1 7003
start_helper udp-echo 127.0.0.1 7002
iperf3 -s -B 127.0.0.1 -p 7004 -D --logfile "$T/iperf3.log" || fail "iperf3 server"

via() { api_call '{"execute":"get_info"}' "$T/api.sock" | jq -r ".return.tap_io.$1"; }
py() { in_ns timeout 120 "$PY" "$TESTS_DIR/helper.py" "$@"; }

start_ns
start_slirpns -c --enable-sandbox --enable-seccomp --api-socket "$T/api.sock" "$NSPID" tap0
[ "$(via via)" = "$expect" ] || fail "tap_io.via is '$(via via)', expected $expect"

got=$(py hash-put 10.0.2.2 7001 "$T/data") || fail "hash-put failed"
[ "${got%% *}" = "$SHA" ] || fail "32 MiB namespace -> host arrived as '$got'"
got=$(py hash-echo 10.0.2.2 7003 "$T/data") || fail "hash-echo failed"
[ "${got%% *}" = "$SHA" ] || fail "32 MiB echoed came back as '$got'"

in_ns iperf3 -c 10.0.2.2 -p 7004 -u -b 0 -l 1400 -t 2 >"$T/flood.log" 2>&1 ||
	fail "iperf3 UDP flood failed: $(tail -n 3 "$T/flood.log")"
if [ "$expect" = io_uring ]; then
	ends=$(via out_of_buffers) submits=$(via read_submits)
	note "after the flood: $submits submits, $ends ends for want of buffers"
	[ "$ends" -gt 0 ] && [ "$submits" -gt "$ends" ] ||
		fail "the flood never ran the ring out of buffers (submits $submits, ends $ends)"
fi
queued=$(via queued_writes) batches=$(via write_batches) werr=$(via write_errors)
note "frames written through the ring: $queued in $batches submissions, $werr refused"
if [ "$expect" = io_uring ]; then
	[ "$queued" -gt 0 ] && [ "$batches" -lt "$queued" ] ||
		fail "small frames were not queued and batched (queued $queued, batches $batches)"
fi
py udp-check 10.0.2.2 7002 --sizes 1-64,1400-1500,8000,65507 >"$T/check.log" ||
	fail "datagrams after the flood: $(cat "$T/check.log")"
got=$(py hash-put 10.0.2.2 7001 "$T/data") || fail "hash-put after the flood failed"
[ "${got%% *}" = "$SHA" ] || fail "32 MiB after the flood arrived as '$got'"
stop_slirpns
# The ring's hold on the tap goes with the daemon (seccomp let it cancel and unregister), so
# the tap is gone at once and a new daemon can make it again in the same namespace.
in_ns ip link show tap0 >/dev/null 2>&1 && fail "tap0 outlived the daemon"

start_slirpns -c --io-uring=off --api-socket "$T/api.sock" "$NSPID" tap0
[ "$(via via)" = read ] || fail "--io-uring=off: tap_io.via is '$(via via)'"
[ "$(via read_submits)" = 0 ] && [ "$(via queued_writes)" = 0 ] ||
	fail "--io-uring=off: the ring was used"
out=$(py udp-send 10.0.2.2 7002 hello) && [ "$out" = hello ] || fail "--io-uring=off: no echo"
stop_slirpns

out=$("$SLIRPNS" --io-uring=sometimes 1 tap0 2>&1) && fail "--io-uring=sometimes accepted"
grep -q "io-uring: 'sometimes' is not auto or off" <<<"$out" || fail "bad value: '$out'"
