#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon and its port fast-path helper are not dumpable, so another process of the same uid
# (another container of the user sharing the host's PID namespace, any compromised process of
# the user) can neither ptrace-attach them nor read their /proc/PID/mem or environ; and they
# stay so after the sandbox and seccomp steps, which re-enter user namespaces (a credential
# change resets the flag). A same-uid `sleep` is probed the same way first: the control shows
# the probe can succeed, so a failure to attach means the daemon's flag, not a kernel policy.
. "$(dirname "$0")/lib.sh"

[ "$RUN_AS_USER" = 1 ] ||
	skip "needs root to run the daemon as $SLIRPNS_TEST_USER (as the namespace's root, ptrace is allowed by capability)"

# probe PID: as the test user, try PTRACE_ATTACH and reading mem and environ; print one word
# per attempt: ok, or the errno name.
cat >"$T/probe.py" <<'PYEOF'
import ctypes, errno, os, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
out = []
if libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
    os.waitpid(pid, 0)
    libc.ptrace(PTRACE_DETACH, pid, None, None)
    out.append("ok")
else:
    out.append(errno.errorcode[ctypes.get_errno()])
for name in ("mem", "environ"):
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            if name == "mem":
                f.read(1)  # open alone may pass; any read of the daemon's memory is a leak
            else:
                f.read()
        out.append("ok")
    except OSError as e:
        out.append(errno.errorcode[e.errno])
    except ValueError:
        out.append("ok")
print(" ".join(out))
PYEOF
chmod 644 "$T/probe.py"
probe() { as_user "$PY" "$T/probe.py" "$1" 2>&1; }

"${AS_USER[@]}" sleep 60 &
control=$!
sleep 0.2
got=$(probe "$control")
kill "$control" 2>/dev/null || true
# mem can fail with EIO at address 0 even when readable; ptrace and environ are the control.
case "$got" in
ok\ *\ ok) ;;
*) skip "a same-uid process cannot be probed even when dumpable ($got): a kernel policy (Yama?) already stops it" ;;
esac

expect_denied() { # WHAT PID
	local got
	got=$(probe "$2")
	set -- "$1" "$2" $got
	[ "$3" = EPERM ] || fail "$1 (pid $2): PTRACE_ATTACH by the same uid gave $3, expected EPERM"
	[ "$4" != ok ] || fail "$1 (pid $2): /proc/$2/mem is readable by the same uid"
	[ "$5" != ok ] || fail "$1 (pid $2): /proc/$2/environ is readable by the same uid"
	note "$1: ptrace $3, mem $4, environ $5"
}

for mode in plain sandbox; do
	API_SOCK="$T/api.$mode.sock"
	args=(-c -a "$API_SOCK")
	[ "$mode" = plain ] || args+=(--enable-sandbox --enable-seccomp)
	start_ns
	start_slirpns "${args[@]}" "$NSPID" tap0
	expect_denied "daemon ($mode)" "$SLIRPNS_PID"
	helpers=$(pgrep -P "$SLIRPNS_PID" || true)
	[ -n "$helpers" ] || [ "$UNDER_VALGRIND" = 1 ] ||
		fail "$mode: no fast-path helper process under the daemon"
	for h in $helpers; do
		expect_denied "fast-path helper ($mode)" "$h"
	done
	# And it still works: not dumpable changes nothing the daemon does.
	api_call '{"execute":"get_info"}' | jq -e '.return' >/dev/null ||
		fail "$mode: get_info failed"
	stop_slirpns
	kill "$NSPID"
done
