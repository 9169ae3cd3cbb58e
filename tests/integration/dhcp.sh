#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# DHCP: without -c, a client on the bare tap gets libslirp's first lease: 10.0.2.15/24 with
# router 10.0.2.2 and DNS server 10.0.2.3.
. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null || skip "busybox is not installed"
start_ns
start_slirpns "$NSPID" tap0

in_ns ip -o -4 addr show tap0 | grep -q inet && fail "tap0 has an address without -c"
in_ns ip link set tap0 up || fail "cannot bring tap0 up"

# udhcpc runs this script on each event; on "bound" it records the lease as key=value lines.
cat >"$T/udhcpc.sh" <<SCRIPT
#!/bin/sh
[ "\$1" = bound ] || exit 0
printf 'ip=%s\nsubnet=%s\nrouter=%s\ndns=%s\n' "\$ip" "\$subnet" "\$router" "\$dns" >"$T/lease"
SCRIPT
chmod 755 "$T/udhcpc.sh"
in_ns busybox udhcpc -i tap0 -f -q -n -t 5 -T 1 -s "$T/udhcpc.sh" >"$T/udhcpc.log" 2>&1 ||
	fail "udhcpc got no lease: $(cat "$T/udhcpc.log")"
[ -f "$T/lease" ] || fail "udhcpc did not run its script: $(cat "$T/udhcpc.log")"

lease=$(cat "$T/lease")
note "lease: $(tr "\n" " " <"$T/lease")"
grep -qx "ip=10.0.2.15" "$T/lease" || fail "lease address is not 10.0.2.15: $lease"
grep -qx "subnet=255.255.255.0" "$T/lease" || fail "lease netmask is not /24: $lease"
grep -qx "router=10.0.2.2" "$T/lease" || fail "lease router is not 10.0.2.2: $lease"
grep -qx "dns=10.0.2.3" "$T/lease" || fail "lease DNS is not 10.0.2.3: $lease"
stop_slirpns
