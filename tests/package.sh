#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# package.sh - the Debian package builds from a clean tree, is lintian clean, and the daemon
# it installs works.
#
#   sudo tests/package.sh          (.ci/run runs it after tests/run-all.sh)
#
# On a fresh Debian 12, as root, it proves:
#   1. debian/changelog's upstream version is configure.ac's AC_INIT version.
#   2. `dpkg-buildpackage -us -uc -b` builds slirpns_VERSION_ARCH.deb from a clean copy of the
#      tree (the files git tracks: nothing a local build left can help), and the unit tests
#      pass in that build (debian/rules runs make check-unit).
#   3. lintian --fail-on error,warning passes on the result (debian/slirpns.lintian-overrides
#      says why each overridden tag does not apply).
#   4. The package installs everything under /usr, among it /usr/bin/slirpns, its manual
#      and its bash completion where bash-completion loads it.
#   5. dpkg -i installs it, and integration tests pass against the installed /usr/bin/slirpns
#      (make check SLIRPNS=/usr/bin/slirpns in the package's build tree; every test logs the
#      daemon it ran, and the script checks each log names /usr/bin/slirpns).
#   6. dpkg --purge removes it again, and `debian/rules clean` returns the copy to exactly the
#      tracked files, so a package build leaves nothing behind that breaks a later build.
# The machine is left as it was: the package is purged on every exit, success or not. It
# refuses to run (exit 99) if slirpns is installed already or /usr/bin/slirpns exists.
#
# The output of every step goes to test-suite-package.log in the tree (.ci/run copies it out).
# Exit codes follow automake: 0 pass, 1 fail, 99 hard error.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
log=$top/test-suite-package.log
: >"$log"

# The integration tests run against the package; these take about a minute together.
INSTALLED_TESTS=(tests/integration/configure.sh tests/integration/tcp_udp.sh
	tests/integration/dns.sh tests/integration/api.sh tests/integration/sandbox.sh)

say() { echo "package: $*" | tee -a "$log"; }
fail() { say "FAIL: $*"; exit 1; }
hard() { say "ERROR: $*"; exit 99; }

[ "$(id -u)" = 0 ] || hard "run as root (sudo): it installs and removes the package"
[ -f debian/control ] || hard "no debian/ in $top"
if ! command -v dpkg-buildpackage >/dev/null || ! command -v lintian >/dev/null ||
	! command -v dh >/dev/null; then
	say "installing what is missing (contrib/install-deps.sh)"
	contrib/install-deps.sh >>"$log" 2>&1 || hard "contrib/install-deps.sh failed"
fi
if ! id slirpns-test >/dev/null 2>&1; then # as tests/run-all.sh
	say "creating the unprivileged test user slirpns-test"
	useradd --create-home --shell /bin/bash slirpns-test
fi
if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
	say "chmod 0666 /dev/net/tun (unprivileged users must open it)"
	chmod 0666 /dev/net/tun
fi
case "$(dpkg-query -W -f '${db:Status-Status}' slirpns 2>/dev/null || true)" in
"" | not-installed) ;;
*) hard "the package slirpns is installed already; remove it first (dpkg --purge slirpns)" ;;
esac
[ ! -e /usr/bin/slirpns ] || hard "/usr/bin/slirpns exists outside the package; remove it first"

# --- 1. versions ---------------------------------------------------------------------------
upstream=$(sed -n 's/^AC_INIT(\[slirpns\], \[\([^]]*\)\].*/\1/p' configure.ac)
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
[ -n "$upstream" ] || hard "no version in configure.ac's AC_INIT"
[ "${version%-*}" = "$upstream" ] ||
	fail "debian/changelog has version $version, configure.ac has $upstream: add a changelog entry (dch -v $upstream-1)"
say "version $version (configure.ac: $upstream)"

# --- 2. build from a clean copy ---------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/slirpns-package.XXXXXX")
src=$work/slirpns
installed=
finish() {
	if [ -n "$installed" ]; then
		dpkg --purge slirpns >>"$log" 2>&1 || echo "package: ERROR: dpkg --purge slirpns failed"
	fi
	rm -rf "$work"
}
trap finish EXIT
mkdir "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$src"
	git ls-files | sort >"$work/tracked"
else
	tar --exclude='./build*' --exclude='./test-suite*.log' -cf - . | tar -xf - -C "$src"
fi
say "dpkg-buildpackage -us -uc -b in a clean copy ($src)"
start=$SECONDS
(cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$work/build.log" 2>&1 || {
	cat "$work/build.log" >>"$log"
	tail -n 40 "$work/build.log"
	fail "dpkg-buildpackage failed (the whole output is in $log)"
}
cat "$work/build.log" >>"$log"
say "built in $((SECONDS - start)) s; unit tests: $(grep -E '^# (PASS|FAIL|ERROR): ' "$work/build.log" | tr -s ' \n' ' ')"
grep -q '^# PASS: ' "$work/build.log" || fail "the package build ran no unit tests"
arch=$(dpkg --print-architecture)
deb=$work/slirpns_${version}_$arch.deb
changes=$work/slirpns_${version}_$arch.changes
for f in "$deb" "$changes"; do
	[ -f "$f" ] || fail "dpkg-buildpackage made no $(basename "$f")"
done

# --- 3. lintian --------------------------------------------------------------------------------
# --allow-root: CI runs as root (without it, lintian counts its root warning as a warning).
say "lintian --fail-on error,warning $(basename "$changes")"
lintian --allow-root --fail-on error,warning --display-info "$changes" 2>&1 | tee -a "$log" ||
	fail "lintian reports errors or warnings"

# --- 4. contents ---------------------------------------------------------------------------------
dpkg -c "$deb" | tee -a "$log" | awk '{print $6}' >"$work/contents"
for f in ./usr/bin/slirpns ./usr/share/man/man1/slirpns.1.gz \
	./usr/share/bash-completion/completions/slirpns ./usr/share/doc/slirpns/copyright; do
	grep -qxF "$f" "$work/contents" || fail "$(basename "$deb") has no $f"
done
outside=$(grep -v -e '^\./$' -e '^\./usr/' "$work/contents" || true)
[ -z "$outside" ] || fail "$(basename "$deb") installs outside /usr: $outside"
say "contents: $(grep -vc '/$' "$work/contents") files, all under /usr"

# --- 5. install and test the installed daemon ------------------------------------------------
say "dpkg -i $(basename "$deb")"
installed=yes
dpkg -i "$deb" >>"$log" 2>&1 || fail "dpkg -i failed"
[ "$(dpkg-query -W -f '${Version}' slirpns)" = "$version" ] || fail "dpkg does not list slirpns $version"
say "installed: $(/usr/bin/slirpns --version 2>&1 | head -n1)"
tests=${INSTALLED_TESTS[*]}
say "make check SLIRPNS=/usr/bin/slirpns TESTS=\"$tests\""
status=0
make -C "$src/debian/build" check TESTS="$tests" SLIRPNS=/usr/bin/slirpns >"$work/check.log" 2>&1 ||
	status=1
cat "$work/check.log" >>"$log"
grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS): ' "$work/check.log" | tee -a "$log" || true
cat "$src/debian/build/test-suite.log" >>"$log" 2>/dev/null || true
[ "$status" = 0 ] || fail "integration tests failed against /usr/bin/slirpns (logs in $log)"
for t in $tests; do
	tlog=$src/debian/build/${t%.sh}.log
	grep -qxF '# daemon under test: /usr/bin/slirpns' "$tlog" ||
		fail "$t did not run /usr/bin/slirpns: $(grep '# daemon under test' "$tlog" || echo 'no daemon line in its log')"
	grep -q '^:test-result: PASS' "$src/debian/build/${t%.sh}.trs" || fail "$t did not pass (skipped?)"
	say "$t: $(grep -m1 '^# daemon under test: ' "$tlog")"
done
say "every test ran /usr/bin/slirpns and passed"

# --- 6. remove, clean --------------------------------------------------------------------------
dpkg --purge slirpns >>"$log" 2>&1 || fail "dpkg --purge slirpns failed"
installed=
[ ! -e /usr/bin/slirpns ] || fail "/usr/bin/slirpns is still there after dpkg --purge"
say "dpkg --purge slirpns: removed"
if [ -f "$work/tracked" ]; then
	(cd "$src" && debian/rules clean) >>"$log" 2>&1 || fail "debian/rules clean failed"
	left=$(cd "$src" && find . -type f | sed 's|^\./||' | sort | comm -13 "$work/tracked" -)
	[ -z "$left" ] || fail "debian/rules clean leaves files git does not track: $left"
	say "debian/rules clean: back to exactly the tracked files"
fi
say "PASS"
