#!/bin/sh
# version.sh prints the release version of the checkout it runs in, from
# git, in a form that is also a valid Debian version (it starts with a
# digit, and sorts in the order the commits were made):
#
#   on the tag v1.2.0:                      1.2.0
#   3 commits after it:                     1.2.0+3.g74cd3be1c0de
#   on the tag v1.3.0-rc1:                  1.3.0~rc1 (before 1.3.0)
#   before any tag, 120 commits from root:  0.0.0+120.g74cd3be1c0de
#   tracked files modified:                 1.2.0+dirty, 1.2.0+3.g74cd3be1c0de.dirty
#
# Untracked files do not make a version dirty. `make release VERSION=...`
# overrides it (to build from a tree without .git).
set -eu
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "version.sh: $(pwd) is not a git checkout: give the version, as in make release VERSION=1.2.0" >&2
	exit 1
fi
if d=$(git describe --tags --match 'v[0-9]*' --abbrev=12 --dirty 2>/dev/null); then
	:
else
	d="v0.0.0-$(git rev-list --count HEAD)-g$(git describe --always --abbrev=12 --dirty)"
fi
dirty=
case $d in *-dirty) dirty=1 d=${d%-dirty} ;; esac
# d is TAG or TAG-N-gHASH; a tag's own "-" (v1.3.0-rc1) becomes "~".
after=$(printf '%s\n' "$d" | sed -n 's/.*-\([0-9][0-9]*\)-g\([0-9a-f]*\)$/\1.g\2/p')
tag=$(printf '%s\n' "$d" | sed 's/-[0-9][0-9]*-g[0-9a-f]*$//; s/^v//; s/-/~/g')
v=$tag
[ -z "$after" ] || v=$v+$after
if [ -n "$dirty" ]; then
	case $v in *+*) v=$v.dirty ;; *) v=$v+dirty ;; esac
fi
printf '%s\n' "$v"
