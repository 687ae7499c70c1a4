#!/bin/sh
# Makes the sparse images in this directory, the fuzz seeds of package simg,
# with img2simg from Debian's android-sdk-libsparse-utils. Run from anywhere.
set -eu
cd "$(dirname "$0")"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

# 20000 bytes (not a multiple of the block size): text, a hole, a run of
# de ad be ef, a hole, text, a hole to the end.
truncate -s 20000 "$t/a.img"
seq 1 1000 | head -c 2100 | dd of="$t/a.img" conv=notrunc status=none
i=0
while [ $i -lt 1024 ]; do printf '\336\255\276\357'; i=$((i + 1)); done |
	dd of="$t/a.img" bs=1024 seek=6 conv=notrunc status=none
seq 5000 9000 | head -c 3000 | dd of="$t/a.img" bs=1024 seek=12 conv=notrunc status=none

img2simg "$t/a.img" img2simg-1k.simg 1024   # RAW, FILL of zeros and of deadbeef, a padded last block

# 1 byte: one partial block.
printf 'x' >"$t/b.img"
img2simg "$t/b.img" img2simg-1byte.simg 1024
