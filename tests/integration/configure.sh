#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# -c: lo up; tap up with the MTU and MAC given; network+100/24; default route via network+2.
. "$(dirname "$0")/lib.sh"

start_ns
start_slirpns -c --mtu=65520 --macaddress=02:00:5e:10:00:01 "$NSPID" tap0

link=$(in_ns ip -o link show tap0)
echo "$link" | grep -q "mtu 65520" || fail "MTU not set: $link"
echo "$link" | grep -q "link/ether 02:00:5e:10:00:01" || fail "MAC not set: $link"
echo "$link" | grep -q ",UP" || fail "tap0 not up: $link"
in_ns ip -o link show lo | grep -q ",UP" || fail "lo not up"
in_ns ip -o -4 addr show tap0 | grep -q "inet 10.0.2.100/24" || fail "no 10.0.2.100/24"
in_ns ip route show default | grep -q "default via 10.0.2.2 dev tap0" || fail "no default route"
stop_slirpns
