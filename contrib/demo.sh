#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# demo.sh - watch slirpns give an unprivileged network namespace a network, step by step.
#
#   sudo contrib/demo.sh
#
# From a fresh Debian 12 clone, as root:
#   1. installs what is missing (contrib/install-deps.sh, only when something is missing),
#   2. builds slirpns in build-demo/ (autogen.sh, configure --disable-tests, make),
#   3. creates the unprivileged user slirpns-test if it does not exist, and makes /dev/net/tun
#      usable by it (mode 0666), saying so - the same preparation as tests/run-all.sh,
# then, with everything running as slirpns-test the way rootless podman runs it:
#   4. creates a user+network namespace and starts `slirpns --configure --api-socket ...` for it,
#   5. shows `ip addr` and `ip route` inside,
#   6. fetches a page from a web server on the host's 127.0.0.1 through the gateway 10.0.2.2,
#   7. serves a page inside the namespace, adds a port forward through the API socket and fetches
#      that page from the host with curl,
#   8. prints get_info, stops the daemon and cleans up.
#
# Steps 4-8 run inside private "host" namespaces (network, mount, PID), as the test suite does
# (tests/integration/lib.sh): the machine's real network, ports and resolv.conf are never
# touched, nothing leaves the machine, and every process ends with the demo.
set -euo pipefail

DEMO_USER=${SLIRPNS_TEST_USER:-slirpns-test}
PY=/usr/bin/python3

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
say() { printf '    %s\n' "$*"; }
# The command a reader would type. On stderr, so that it stays out of pipes.
show() { printf '\033[2m$ %s\033[0m\n' "$*" >&2; }

# ---- outside: install, build, prepare ------------------------------------------------------
if [ -z "${SLIRPNS_DEMO_INNER:-}" ]; then
	cd "$(dirname "$0")/.."
	top=$(pwd)
	if [ "$(id -u)" != 0 ]; then
		echo "demo.sh: run as root (sudo contrib/demo.sh): it installs packages, creates the" >&2
		echo "user $DEMO_USER and uses private network namespaces" >&2
		exit 1
	fi

	step "1. Installing what is missing"
	missing=()
	for cmd in autoreconf make gcc pkg-config curl socat unshare nsenter setpriv ip; do
		command -v "$cmd" >/dev/null || missing+=("$cmd")
	done
	[ -x "$PY" ] || missing+=(python3)
	command -v pkg-config >/dev/null &&
		! pkg-config --exists slirp glib-2.0 libseccomp jansson && missing+=(libraries)
	if [ ${#missing[@]} -gt 0 ]; then
		say "missing: ${missing[*]} - running contrib/install-deps.sh"
		contrib/install-deps.sh
	else
		say "everything is installed"
	fi

	step "2. Building slirpns in build-demo/"
	[ -x configure ] || ./autogen.sh >/dev/null
	mkdir -p build-demo
	(
		cd build-demo
		[ -f Makefile ] || "$top/configure" -q --disable-tests
		make -j"$(nproc)" >/dev/null
	)
	say "built $top/build-demo/src/slirpns"
	build-demo/src/slirpns --version | sed 's/^/    /'

	step "3. Preparing the unprivileged user"
	if ! id "$DEMO_USER" >/dev/null 2>&1; then
		say "creating the unprivileged user $DEMO_USER (as tests/run-all.sh does)"
		useradd --create-home --shell /bin/bash "$DEMO_USER"
	else
		say "using the existing unprivileged user $DEMO_USER"
	fi
	if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
		say "chmod 0666 /dev/net/tun (unprivileged users must open it; Debian ships 0666)"
		chmod 0666 /dev/net/tun
	fi

	say "entering private network, mount and PID namespaces for the rest of the demo"
	export SLIRPNS_DEMO_INNER=1 SLIRPNS_DEMO_BIN="$top/build-demo/src/slirpns"
	exec unshare --net --mount --pid --fork --mount-proc --propagation private bash "$0" "$@"
fi

# ---- inside the private host namespaces ----------------------------------------------------
ip link set lo up
# Let the user's ping sockets work (the daemon relays ICMP echo with them).
echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range 2>/dev/null || true

T=$(mktemp -d /tmp/slirpns-demo.XXXXXX)
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
# The user gets its own copy of the binary (the clone may be unreadable to it, e.g. in /root).
install -m 755 "$SLIRPNS_DEMO_BIN" "$T/slirpns"
chown "$DEMO_USER:" "$T"
# Run a command as the user. An array, not a function, so that a background command's $! is
# the command itself (a backgrounded function would be a subshell of ours).
AS_USER=(setpriv --reuid="$DEMO_USER" --regid="$DEMO_USER" --init-groups env HOME="$T")
as_user() { "${AS_USER[@]}" "$@"; }
in_ns() { as_user nsenter -t "$NSPID" -U --preserve-credentials -n -- "$@"; }
api() {
	show "echo '$1' | socat - UNIX-CONNECT:\$SOCK"
	printf '%s' "$1" | as_user socat -t 5 - "UNIX-CONNECT:$T/api.sock"
	echo
}
pretty() { "$PY" -m json.tool; }

step "4. A namespace, and slirpns for it (as $DEMO_USER)"
show "unshare --user --map-root-user --net sleep infinity &"
"${AS_USER[@]}" unshare --user --map-root-user --net sleep infinity &
NSPID=$!
# Ready once the user can enter it (unshare has written the namespace's uid map).
for _ in $(seq 100); do
	in_ns true 2>/dev/null && break
	sleep 0.05
done
say "the namespace's process is $NSPID; inside it there is only a loopback interface, down:"
in_ns ip -brief link | sed 's/^/    /'

show "SOCK=$T/api.sock"
show "slirpns --configure --mtu=65520 --api-socket=\$SOCK --ready-fd=3 $NSPID tap0 3>ready &"
# shellcheck disable=SC2016 # the inner shell expands them
"${AS_USER[@]}" bash -c 'exec "$0" --configure --mtu=65520 --api-socket="$1" --ready-fd=3 "$2" tap0 \
	3>"$3" >"$4" 2>&1' "$T/slirpns" "$T/api.sock" "$NSPID" "$T/ready" "$T/slirpns.log" &
SLIRPNS_PID=$!
for _ in $(seq 200); do
	[ "$(cat "$T/ready" 2>/dev/null)" = 1 ] && break
	kill -0 "$SLIRPNS_PID" 2>/dev/null || { cat "$T/slirpns.log"; exit 1; }
	sleep 0.05
done
[ "$(cat "$T/ready" 2>/dev/null)" = 1 ] || { cat "$T/slirpns.log"; exit 1; }
say "ready (it wrote \"1\" to its ready fd); what it printed:"
sed 's/^/    /' "$T/slirpns.log"

step "5. Inside the namespace"
show "nsenter -t $NSPID -U --preserve-credentials -n ip addr"
in_ns ip addr
show "nsenter -t $NSPID -U --preserve-credentials -n ip route"
in_ns ip route

step "6. A service on the host's 127.0.0.1, reached from inside through 10.0.2.2"
mkdir -p "$T/host-www" "$T/ns-www"
echo "Hello from the host's 127.0.0.1:8000" >"$T/host-www/index.html"
show "python3 -m http.server --bind 127.0.0.1 8000 &       # on the host"
"$PY" -m http.server --bind 127.0.0.1 8000 --directory "$T/host-www" >/dev/null 2>&1 &
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:8000/ && break; sleep 0.05; done
show "nsenter -t $NSPID -U --preserve-credentials -n curl http://10.0.2.2:8000/"
in_ns curl -sS --max-time 5 http://10.0.2.2:8000/ | sed 's/^/    /'
say "(the namespace reaches the host's loopback through the gateway; --disable-host-loopback"
say " forbids that, and podman passes it unless allow_host_loopback=true)"

step "7. A page served inside the namespace, published on the host through the API socket"
echo "Hello from inside the namespace (10.0.2.100:80)" >"$T/ns-www/index.html"
show "nsenter ... python3 -m http.server --bind 10.0.2.100 80 &   # inside"
in_ns "$PY" -m http.server --bind 10.0.2.100 80 --directory "$T/ns-www" >/dev/null 2>&1 &
for _ in $(seq 100); do in_ns curl -s -o /dev/null http://10.0.2.100/ && break; sleep 0.05; done
api '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":8080,"guest_addr":"10.0.2.100","guest_port":80}}'
api '{"execute":"list_hostfwd"}'
show "curl http://127.0.0.1:8080/                      # on the host"
curl -sS --max-time 5 http://127.0.0.1:8080/ | sed 's/^/    /'
say "(a client on the host's loopback takes the port fast path: slirpns spliced it to a socket"
say " it made inside the namespace; get_info's port_forwarding counts it below)"

step "8. get_info, then stop"
api '{"execute":"get_info"}' | pretty | sed 's/^/    /'
show "kill -TERM $SLIRPNS_PID"
kill -TERM "$SLIRPNS_PID"
rc=0
wait "$SLIRPNS_PID" || rc=$?
say "slirpns exited with status $rc; its API socket is gone: $(test -e "$T/api.sock" && echo no || echo yes)"
kill "$NSPID" 2>/dev/null || true

step "Done"
say "Everything ran in private namespaces that end now. Next: man -l man/slirpns.1,"
say "README.md for podman and rootlesskit, and sudo tests/run-all.sh for the test suite."
