#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --pcap=FILE: every frame crossing the tap, both ways, in a file tcpdump reads.
#   1. With the sandbox and the seccomp filter on (the file is opened before them and only
#      written after): the file is mode 0600 and in the startup summary; tcpdump -r reads it
#      cleanly; it holds the TCP handshake in both directions, ARP, UDP, and the payload of
#      frames whole (not cut at a snapshot length).
#   2. --pcap-max-size bounds it: a 4 MiB transfer with a 1M limit leaves a file of at most
#      1 MiB, and no less than one 64 KiB offload frame below that, that tcpdump still reads
#      without complaint; one warning; the transfer itself intact.
#   3. A file that cannot be created is an error at startup (exit 1, one line).
#   4. A FIFO with a live tcpdump -r on the other end gets the frames as they pass.
#   5. Files another process of the user could aim the capture at are refused, untouched: a
#      symbolic link (even to a file of ours), a file another uid owns but we may write, a
#      directory. An existing file of ours is emptied and made 0600.
# Needs tcpdump (apt-get install tcpdump).
. "$(dirname "$0")/lib.sh"

command -v tcpdump >/dev/null || skip "tcpdump is not installed (apt-get install tcpdump)"

# tcpdump -r FILE, printing frames with link-level headers; fails on any complaint.
read_pcap() {
	tcpdump -r "$1" -nn -e -A >"$T/dump" 2>"$T/dump.err" ||
		fail "tcpdump -r $1 failed: $(cat "$T/dump.err")"
	grep -vE '^reading from file .*, link-type EN10MB' "$T/dump.err" | grep -q . &&
		fail "tcpdump -r $1 complained: $(cat "$T/dump.err")"
	return 0
}

start_helper tcp-echo 127.0.0.1 7001
start_helper udp-echo 127.0.0.1 7002
start_helper hash-sink 127.0.0.1 7003
start_ns

# --- 1. a whole capture, sandboxed ----------------------------------------------------------
start_slirpns -c --enable-sandbox --enable-seccomp --pcap="$T/all.pcap" "$NSPID" tap0
[ "$(stat -c %a "$T/all.pcap")" = 600 ] || fail "capture mode is $(stat -c %a "$T/all.pcap")"
grep -qE "^\* Capture: +$T/all.pcap \(pcap, at most 67108864 bytes\)" "$T/slirpns.log" ||
	fail "no capture line in the summary"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.0.2.2 7001 pcap-tcp-marker) ||
	fail "TCP failed"
[ "$out" = pcap-tcp-marker ] || fail "TCP echo returned '$out'"
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" udp-send 10.0.2.2 7002 pcap-udp-marker) ||
	fail "UDP failed"
[ "$out" = pcap-udp-marker ] || fail "UDP echo returned '$out'"
stop_slirpns

read_pcap "$T/all.pcap"
note "$(grep -c . "$T/dump") lines of tcpdump output, $(stat -c %s "$T/all.pcap") bytes"
grep -qE '10\.0\.2\.100\.[0-9]+ > 10\.0\.2\.2\.7001: Flags \[S\]' "$T/dump" ||
	fail "no SYN from the namespace in the capture"
grep -qE '10\.0\.2\.2\.7001 > 10\.0\.2\.100\.[0-9]+: Flags \[S\.\]' "$T/dump" ||
	fail "no SYN-ACK to the namespace in the capture"
grep -q 'Request who-has 10.0.2.2 tell 10.0.2.100' "$T/dump" || fail "no ARP request in the capture"
grep -q 'Reply 10.0.2.2 is-at 52:55:0a:00:02:02' "$T/dump" || fail "no ARP reply in the capture"
# (tcpdump names no protocol for UDP to port 7002: it decodes it as AFS.)
grep -qE '10\.0\.2\.100\.[0-9]+ > 10\.0\.2\.2\.7002: ' "$T/dump" || fail "no UDP in the capture"
[ "$(grep -c pcap-tcp-marker "$T/dump")" -ge 2 ] ||
	fail "the TCP payload is not in the capture both ways"
[ "$(grep -c pcap-udp-marker "$T/dump")" -ge 2 ] ||
	fail "the UDP payload is not in the capture both ways"

# --- 2. the size limit ------------------------------------------------------------------------
start_slirpns -c --pcap="$T/small.pcap" --pcap-max-size=1M "$NSPID" tap0
head -c $((4 << 20)) /dev/urandom >"$T/data"
chmod 644 "$T/data"
want="$(sha256sum <"$T/data" | cut -d' ' -f1) $((4 << 20))"
got=$(in_ns "$PY" "$TESTS_DIR/helper.py" hash-put 10.0.2.2 7003 "$T/data") || fail "upload failed"
[ "$got" = "$want" ] || fail "upload with a full capture: sink saw '$got', expected '$want'"
size=$(stat -c %s "$T/small.pcap")
[ "$size" -le $((1 << 20)) ] || fail "capture is $size bytes, over --pcap-max-size=1M"
[ "$size" -gt $(((1 << 20) - 65536 - 512)) ] ||
	fail "capture is only $size bytes: it stopped before the limit"
[ "$(grep -c "capture stopped" "$T/slirpns.log")" = 1 ] ||
	fail "expected one 'capture stopped' warning: $(cat "$T/slirpns.log")"
grep -q "warning: --pcap $T/small.pcap: capture stopped after [0-9]* frames.*--pcap-max-size 1048576 reached" \
	"$T/slirpns.log" || fail "the warning does not say why: $(grep stopped "$T/slirpns.log")"
stop_slirpns
read_pcap "$T/small.pcap"
note "capture limited to 1M: $size bytes, $(grep -cE '^[0-9]{2}:' "$T/dump") frames"

# --- 3. a file that cannot be created -------------------------------------------------------
rc=0
as_user "$SLIRPNS_BIN" -c --pcap="$T/missing/x.pcap" "$NSPID" tap0 >"$T/err" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "an uncreatable capture file: exit $rc, expected 1"
grep -q "^slirpns: --pcap $T/missing/x.pcap: No such file or directory" "$T/err" ||
	fail "unclear error for an uncreatable capture file: $(cat "$T/err")"

# --- 4. a FIFO, read live ---------------------------------------------------------------------
as_user mkfifo "$T/live.pcap"
tcpdump -l -r "$T/live.pcap" -nn >"$T/live.dump" 2>"$T/live.err" &
DUMP_PID=$!
start_slirpns -c --pcap="$T/live.pcap" "$NSPID" tap0
out=$(in_ns "$PY" "$TESTS_DIR/helper.py" tcp-send 10.0.2.2 7001 live) || fail "TCP failed"
[ "$out" = live ] || fail "TCP echo returned '$out'"
# The host's FIN: on its own or, when tcpout reads the echo and the FIN together, on the data.
retry grep -qE '10\.0\.2\.2\.7001 > 10\.0\.2\.100\.[0-9]+: Flags \[FP?\.\]' "$T/live.dump" ||
	fail "the live tcpdump did not see the connection: $(cat "$T/live.dump" "$T/live.err")"
stop_slirpns
wait_exit "$DUMP_PID" 5 || fail "tcpdump did not see the end of the FIFO"
[ "$EXIT_RC" = 0 ] || fail "tcpdump on the FIFO exited $EXIT_RC: $(cat "$T/live.err")"
note "live capture through a FIFO: $(wc -l <"$T/live.dump") frames"

# --- 5. files that are not ours are refused, and left as they were ----------------------------
refused() { # NAME PHRASE: --pcap=$T/NAME must fail with PHRASE
	local rc=0
	as_user "$SLIRPNS_BIN" -c --pcap="$T/$1" "$NSPID" tap0 >"$T/err" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "--pcap=$1: exit $rc, expected 1 (refused)"
	grep -q "^slirpns: --pcap $T/$1: $2" "$T/err" || fail "--pcap=$1: unclear error: $(cat "$T/err")"
}
as_user sh -c "echo precious >'$T/target.txt' && ln -s '$T/target.txt' '$T/link.pcap'"
refused link.pcap "is a symbolic link (refused)"
[ "$(cat "$T/target.txt")" = precious ] || fail "the symlink's target was written to"
as_user mkdir "$T/dir.pcap"
refused dir.pcap "Is a directory"
if [ "$RUN_AS_USER" = 1 ]; then
	echo not-yours >"$T/root.pcap" # owned by root, writable by anyone
	chmod 666 "$T/root.pcap"
	refused root.pcap "owned by uid 0, not by us"
	[ "$(cat "$T/root.pcap")" = not-yours ] || fail "another uid's file was emptied or written"
fi
as_user sh -c "head -c 100000 /dev/zero >'$T/old.pcap' && chmod 644 '$T/old.pcap'"
start_slirpns -c --pcap="$T/old.pcap" "$NSPID" tap0
[ "$(stat -c %a "$T/old.pcap")" = 600 ] || fail "an existing capture file kept mode $(stat -c %a "$T/old.pcap")"
[ "$(stat -c %s "$T/old.pcap")" -lt 100000 ] || fail "an existing capture file was not emptied"
stop_slirpns
read_pcap "$T/old.pcap"
note "refused: a symlink, a directory$([ "$RUN_AS_USER" = 1 ] && echo ", another uid's file"); an old file of ours emptied, mode 600"
