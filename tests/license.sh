#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# license.sh - the license is in place: COPYING holds the GPL version 2 text, and every source,
# script and test file carries an "SPDX-License-Identifier: GPL-2.0-or-later" line in its first
# three lines (after a #! line, if any).
#
# The files checked are those git tracks, or, outside a git checkout (a release tarball, make
# distcheck), every file under the tree. Exempt: binary fuzz corpus entries, m4/pkg.m4
# (pkg-config's own file, with its own license header), empty placeholders, COPYING, and
# debian/changelog and debian/source/format, whose formats have no comments (dpkg reads every
# line of them; debian/copyright states their license).
# Exit codes follow automake: 0 pass, 1 fail, 99 hard error.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -f COPYING ] || { echo "FAIL: license: no COPYING file"; exit 1; }
grep -q 'GNU GENERAL PUBLIC LICENSE' COPYING && grep -q 'Version 2, June 1991' COPYING ||
	{ echo "FAIL: license: COPYING is not the GPL version 2 text"; exit 1; }

list_files() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files
	else
		find . -type f ! -path './build*' ! -path './_build/*' ! -path './_inst/*' \
			! -path './autom4te.cache/*' ! -name '*.in' ! -name configure ! -name aclocal.m4 \
			! -name config.h | sed 's|^\./||'
	fi
}

bad=0
while IFS= read -r f; do
	case "$f" in
	COPYING | m4/pkg.m4 | m4/.keep | tests/fuzz/corpus/* | build-aux/* | m4/*.m4) continue ;;
	debian/changelog | debian/source/format) continue ;; # no comment syntax: see above
	esac
	[ -s "$f" ] || continue
	head -n 3 "$f" | grep -q 'SPDX-License-Identifier: GPL-2.0-or-later' || {
		echo "FAIL: license: $f has no SPDX-License-Identifier: GPL-2.0-or-later line"
		bad=1
	}
done < <(list_files)
exit $bad
