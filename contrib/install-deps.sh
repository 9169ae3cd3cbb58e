#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# install-deps.sh - install what slirpns needs to build, test and demo on Debian 12.
#
#   sudo contrib/install-deps.sh          build, test and packaging dependencies
#
# Only Debian packages; safe to run again (apt-get skips what is installed).
set -euo pipefail

BUILD=(build-essential autoconf automake pkg-config
	libslirp-dev libglib2.0-dev libseccomp-dev libjansson-dev libcriterion-dev)
# Programs the integration tests drive: namespaces, peers, real clients of slirp4netns.
TEST=(iproute2 util-linux procps busybox-static ncat socat jq curl python3 iperf3 mandoc ethtool tcpdump
	podman runc uidmap rootlesskit slirp4netns docker.io containerd)
# What `make bench` drives besides the above (contrib/bench/README.md); not run by CI.
BENCH=(wrk nginx-light strace)

# Building and checking the Debian package (debian/, tests/package.sh).
PKG=(debhelper dpkg-dev lintian fakeroot)

if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: run as root (sudo)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${BUILD[@]}" "${TEST[@]}" "${BENCH[@]}" "${PKG[@]}"
