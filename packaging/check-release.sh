#!/usr/bin/env bash
# check-release.sh DIST VERSION SOURCE_DATE_EPOCH checks a release that
# `make release` built into DIST, as its users would see it (run by `make
# release-check`):
#
#   - SHA256SUMS lists every file of DIST, and every sum matches;
#   - every binary is for its platform, static (file), built with
#     CGO_ENABLED=0 and -trimpath, and holds no path of the machine that
#     built it;
#   - the binaries this machine can run (amd64 and 386 on x86-64, more
#     under qemu-user where installed) print their version, answer as
#     bmaptool 3.9.0 through a bmaptool link, and flash the sample image
#     (README's first command);
#   - each .deb has the right control fields, no maintainer scripts, and
#     the binary, man page and completions; this machine's own is installed
#     with dpkg into a scratch root (as root), over a bmap-tools that
#     bmap-bmaptool then replaces, and removed without leftovers;
#   - the same source, copied to another directory without .git, builds
#     the same bytes (skipped with CHECK_REBUILD=0).
#
# It ends with "release-check: N passed, N failed" and exits non-zero on
# any failure.
set -uo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 DIST VERSION SOURCE_DATE_EPOCH" >&2
	exit 2
fi
dist=$(cd "$1" && pwd) version=$2 sde=$3
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# check DESCRIPTION COMMAND...: passes if the command succeeds.
check() {
	local what=$1
	shift
	if out=$("$@" 2>&1); then pass "$what"; else fail "$what: $out"; fi
}
# same DESCRIPTION GOT WANT
same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}
skip() { echo "skip $*"; }

platforms="linux_amd64 linux_386 linux_armv6 linux_armv7 linux_arm64 linux_riscv64 darwin_amd64 darwin_arm64"
declare -A debbin=([amd64]=linux_amd64 [i386]=linux_386 [armhf]=linux_armv6 [arm64]=linux_arm64)
# What file(1) says of each platform's binary.
declare -A magic=(
	[linux_amd64]="ELF 64-bit LSB executable, x86-64, .* statically linked"
	[linux_386]="ELF 32-bit LSB executable, Intel 80386, .* statically linked"
	[linux_armv6]="ELF 32-bit LSB executable, ARM, EABI5 .* statically linked"
	[linux_armv7]="ELF 32-bit LSB executable, ARM, EABI5 .* statically linked"
	[linux_arm64]="ELF 64-bit LSB executable, ARM aarch64, .* statically linked"
	[linux_riscv64]="ELF 64-bit LSB executable, UCB RISC-V, .* statically linked"
	[darwin_amd64]="Mach-O 64-bit x86_64 executable"
	[darwin_arm64]="Mach-O 64-bit arm64 executable"
)
# The go environment each was built with, as go version -m prints it.
declare -A goenv=([linux_amd64]="GOARCH=amd64" [linux_386]="GOARCH=386" [linux_armv6]="GOARM=6"
	[linux_armv7]="GOARM=7" [linux_arm64]="GOARCH=arm64" [linux_riscv64]="GOARCH=riscv64"
	[darwin_amd64]="GOOS=darwin" [darwin_arm64]="GOOS=darwin")
# qemu-user runners for the binaries this machine cannot run itself.
declare -A qemu=([linux_armv6]="qemu-arm -cpu arm1176" [linux_armv7]="qemu-arm -cpu cortex-a7"
	[linux_arm64]="qemu-aarch64" [linux_riscv64]="qemu-riscv64")

# 1. The files and their checksums.
want_files=$(
	for p in $platforms; do echo "bmap_${version}_$p"; done
	for a in "${!debbin[@]}"; do echo "bmap_${version}_$a.deb"; done
	echo "bmap-bmaptool_${version}_all.deb"
)
same "SHA256SUMS lists the release's files" "$(awk '{print $2}' "$dist/SHA256SUMS" | sort)" "$(sort <<<"$want_files")"
same "dist holds the listed files and SHA256SUMS alone" "$(cd "$dist" && ls | grep -vx SHA256SUMS | sort)" "$(sort <<<"$want_files")"
check "sha256sum -c SHA256SUMS" bash -c "cd '$dist' && sha256sum --strict -c SHA256SUMS"

# 2. Each binary: platform, static, how it was built, no build paths.
gover=$(go version "$dist/bmap_${version}_linux_amd64" | awk '{print $2}')
for p in $platforms; do
	bin=$dist/bmap_${version}_$p
	desc=$(file -b "$bin")
	if grep -Eq "^${magic[$p]}" <<<"$desc"; then pass "$p: $desc"; else fail "$p: file says '$desc', want '${magic[$p]}'"; fi
	info=$(go version -m "$bin")
	for setting in "-trimpath=true" "CGO_ENABLED=0" "${goenv[$p]}"; do
		if grep -q -- "build	$setting\$" <<<"$info"; then pass "$p: built with $setting"; else fail "$p: not built with $setting:"$'\n'"$info"; fi
	done
	same "$p: built with -buildvcs=false (VERSION names the commit)" "$(grep "build	vcs" <<<"$info")" ""
	leaks=
	# Each as a directory ("/root/"): "/root" alone is also in the
	# standard library's crypto/x509/root.go.
	for path in "$src" "$(go env GOROOT)" "$(go env GOMODCACHE)" "$(go env GOCACHE)" "$HOME"; do
		if grep -qF -- "${path%/}/" "$bin"; then leaks="$leaks $path"; fi
	done
	same "$p: no path of this machine inside" "${leaks# }" ""
done

# 3. The binaries this machine can run.
can_run() { # can_run PLATFORM: the command that runs its binary here, if any
	case "$(uname -s)_$(uname -m)_$1" in
	Linux_x86_64_linux_amd64 | Linux_x86_64_linux_386 | Linux_aarch64_linux_arm64 | Linux_aarch64_linux_armv* | Linux_armv7l_linux_armv*) echo "" ;;
	Linux_*_linux_*)
		[ -n "${qemu[$1]:-}" ] && command -v "${qemu[$1]%% *}" >/dev/null && echo "${qemu[$1]}" || return 1 ;;
	*) return 1 ;;
	esac
}
for p in $platforms; do
	if ! runner=$(can_run "$p"); then
		case $p in
		linux_*) skip "$p: this machine cannot run it (it would under qemu-user: apt-get install qemu-user)" ;;
		*) skip "$p: this machine cannot run it" ;;
		esac
		continue
	fi
	bin=$tmp/run/$p/bmap
	mkdir -p "$(dirname "$bin")"
	cp "$dist/bmap_${version}_$p" "$bin"
	ln -s bmap "$(dirname "$bin")/bmaptool"
	arch=${p#linux_}
	case $arch in armv*) arch=arm ;; esac
	same "$p: bmap --version" "$($runner "$bin" --version 2>&1)" "bmap $version ($gover, linux/$arch)"
	same "$p: bmaptool --version" "$($runner "$(dirname "$bin")/bmaptool" --version 2>&1)" "bmaptool 3.9.0"
	out=$tmp/run/$p/sample.img
	check "$p: flashes the sample image and makes its bmap" bash -c "cd '$src' && $runner '$bin' -q copy testdata/sample.img.gz '$out' && $runner '$bin' create '$out' -o '$out.bmap' && cmp '$out.bmap' testdata/sample.img.bmap.v2.0"
done

# 4. The packages.
field() { dpkg-deb --field "$1" "$2"; }
for a in amd64 i386 armhf arm64; do
	deb=$dist/bmap_${version}_$a.deb
	same "$a.deb: Package, Version, Architecture" "$(field "$deb" Package) $(field "$deb" Version) $(field "$deb" Architecture)" "bmap $version $a"
	same "$a.deb: no maintainer scripts" "$(dpkg-deb --ctrl-tarfile "$deb" | tar -t | sort | tr '\n' ' ')" "./control ./md5sums "
	contents=$(dpkg-deb --contents "$deb")
	for f in /usr/bin/bmap /usr/share/man/man1/bmap.1.gz /usr/share/bash-completion/completions/bmap \
		/usr/share/zsh/vendor-completions/_bmap /usr/share/fish/vendor_completions.d/bmap.fish; do
		if grep -q " \.$f\$" <<<"$contents"; then pass "$a.deb: carries $f"; else fail "$a.deb: no $f in"$'\n'"$contents"; fi
	done
	x=$tmp/x/$a
	mkdir -p "$x"
	dpkg-deb -x "$deb" "$x"
	check "$a.deb: /usr/bin/bmap is bmap_${version}_${debbin[$a]}" cmp "$x/usr/bin/bmap" "$dist/bmap_${version}_${debbin[$a]}"
	check "$a.deb: the man page is docs/bmap.1" cmp <(gzip -dc "$x/usr/share/man/man1/bmap.1.gz") "$src/docs/bmap.1"
	check "$a.deb: the bash completion completes bmap" grep -q "complete .*-F _bmap_complete bmap$" "$x/usr/share/bash-completion/completions/bmap"
	check "$a.deb: the zsh completion is for bmap" grep -q "^#compdef bmap$" "$x/usr/share/zsh/vendor-completions/_bmap"
	check "$a.deb: the fish completion is for bmap" grep -q "^complete -c bmap " "$x/usr/share/fish/vendor_completions.d/bmap.fish"
done
deb=$dist/bmap-bmaptool_${version}_all.deb
same "bmap-bmaptool: control" "$(dpkg-deb --field "$deb" Package Version Architecture Depends Provides Conflicts Replaces)" "Package: bmap-bmaptool
Version: $version
Architecture: all
Depends: bmap (= $version)
Provides: bmap-tools (= 3.9.0)
Conflicts: bmap-tools
Replaces: bmap-tools"
contents=$(dpkg-deb --contents "$deb")
for f in "/usr/bin/bmaptool -> bmap" "/usr/share/man/man1/bmaptool.1.gz -> bmap.1.gz" /usr/share/bash-completion/completions/bmaptool \
	/usr/share/zsh/vendor-completions/_bmaptool /usr/share/fish/vendor_completions.d/bmaptool.fish; do
	if grep -q " \.$f\$" <<<"$contents"; then pass "bmap-bmaptool: carries $f"; else fail "bmap-bmaptool: no $f in"$'\n'"$contents"; fi
done

# 5. This machine's package, installed with dpkg into a scratch root: over
# a bmap-tools (Debian's own where apt can download it, with its
# maintainer scripts and dependencies taken out, as they need a Python in
# the root), which bmap-bmaptool replaces; then removed.
host=$(dpkg --print-architecture 2>/dev/null || true)
if [ "$(id -u)" != 0 ]; then
	skip "install into a scratch root: dpkg --root needs root"
elif [ -z "${debbin[$host]:-}" ]; then
	skip "install into a scratch root: no package for this machine's architecture ($host)"
else
	root=$tmp/root
	mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
	touch "$root/var/lib/dpkg/status"
	dpkg_root() { dpkg --root="$root" --log="$tmp/dpkg.log" "$@"; }
	dpkg_root_query() { dpkg-query --admindir="$root/var/lib/dpkg" "$@"; }

	standin=$tmp/standin
	mkdir -p "$standin"
	if (cd "$tmp" && apt-get download -q bmap-tools >/dev/null 2>&1) && dpkg-deb -R "$tmp"/bmap-tools_*.deb "$standin"; then
		rm -f "$standin"/DEBIAN/{preinst,postinst,prerm,postrm}
		sed -i '/^Depends:/d; /^Pre-Depends:/d' "$standin/DEBIAN/control"
		echo "     bmap-tools: Debian's $(field "$tmp"/bmap-tools_*.deb Version), without its maintainer scripts and dependencies"
	else
		mkdir -p "$standin/DEBIAN" "$standin/usr/bin" "$standin/usr/share/man/man1"
		printf 'Package: bmap-tools\nVersion: 3.6-1\nArchitecture: all\nMaintainer: stand-in <none>\nDescription: stand-in for bmap-tools\n' >"$standin/DEBIAN/control"
		printf '#!/bin/sh\necho bmaptool 3.6\n' >"$standin/usr/bin/bmaptool"
		chmod 755 "$standin/usr/bin/bmaptool"
		echo bmaptool | gzip -9n >"$standin/usr/share/man/man1/bmaptool.1.gz"
		echo "     bmap-tools: a stand-in (apt-get download bmap-tools failed)"
	fi
	check "dpkg-deb -b bmap-tools" dpkg-deb -b "$standin" "$tmp/bmap-tools.deb"
	check "dpkg --root -i bmap-tools" dpkg_root -i "$tmp/bmap-tools.deb"
	check "bmap-tools installed /usr/bin/bmaptool, a plain file" test -f "$root/usr/bin/bmaptool" -a ! -L "$root/usr/bin/bmaptool"

	check "dpkg --root -i bmap_${version}_$host.deb" dpkg_root -i "$dist/bmap_${version}_$host.deb"
	same "bmap installed beside bmap-tools" "$(dpkg_root_query -W -f '${Package} ${Status}\n' 2>&1 | sort)" "bmap install ok installed
bmap-tools install ok installed"
	same "installed bmap --version" "$("$root/usr/bin/bmap" --version)" "bmap $version ($gover, linux/${debbin[$host]#linux_})"
	for f in /usr/share/man/man1/bmap.1.gz /usr/share/bash-completion/completions/bmap /usr/share/zsh/vendor-completions/_bmap /usr/share/fish/vendor_completions.d/bmap.fish; do
		check "installed $f" test -s "$root$f"
	done
	check "bmaptool is still bmap-tools'" test -f "$root/usr/bin/bmaptool" -a ! -L "$root/usr/bin/bmaptool"

	check "dpkg --root -i bmap-bmaptool (removes bmap-tools)" dpkg_root -i "$dist/bmap-bmaptool_${version}_all.deb"
	same "bmap-bmaptool replaced bmap-tools" "$(dpkg_root_query -W -f '${Package} ${Status}\n' 2>&1 | sort)" "bmap install ok installed
bmap-bmaptool install ok installed"
	same "installed bmaptool is a link to bmap" "$(readlink "$root/usr/bin/bmaptool")" "bmap"
	same "installed bmaptool --version" "$("$root/usr/bin/bmaptool" --version)" "bmaptool 3.9.0"
	check "installed bmaptool man page is bmap's" cmp <(gzip -dc "$root/usr/share/man/man1/bmaptool.1.gz") "$src/docs/bmap.1"
	check "installed bmaptool bash completion" grep -q "complete .*-F _bmaptool_complete bmaptool$" "$root/usr/share/bash-completion/completions/bmaptool"

	check "dpkg --root --purge bmap-bmaptool bmap" dpkg_root --purge bmap-bmaptool bmap
	same "nothing left after purging" "$(cd "$root" && find . -path ./var -prune -o -not -type d -print)" ""
fi

# 6. Reproducible: the source, copied to another directory without .git,
# builds the same bytes.
if [ "${CHECK_REBUILD:-1}" = 0 ]; then
	skip "rebuild: CHECK_REBUILD=0"
else
	copy=$tmp/elsewhere/bmap
	mkdir -p "$copy"
	(cd "$src" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$copy"
	if out=$(make -C "$copy" release VERSION="$version" SOURCE_DATE_EPOCH="$sde" DIST="$tmp/dist2" 2>&1); then
		same "a rebuild elsewhere, without .git, gives the same bytes" "$(cat "$tmp/dist2/SHA256SUMS")" "$(cat "$dist/SHA256SUMS")"
	else
		fail "rebuild in $copy: $out"
	fi
fi

echo "release-check: $passed passed, $failed failed"
[ "$failed" = 0 ]
