#!/usr/bin/env bash
# `make bench-armhf`: instructions per frame of the host's work on armhf (tests/armhf/host_insns.py),
# counted by QEMU's plugin interface: Debian's dynamic qemu-arm (package qemu-user; the static one
# cannot load plugins) with tests/armhf/insn_count.c, built here with gcc. The build machine's times
# for the same steps come first, for the slowdown factor. Report: build/armhf/host_insns.json.
set -euo pipefail
source "$(dirname "$0")/setup.sh"

host_tools qemu-arm-static:qemu-user-static debootstrap:debootstrap qemu-arm:qemu-user gcc:gcc
rootfs
site
cd "$ROOT"
qemu-arm --version | grep -q "version 7\." \
    || die "insn_count.c is written to QEMU 7.2's plugin API (Debian bookworm); this qemu-arm is $(qemu-arm --version | head -1)"
[ -x .venv/bin/python ] || die "needs .venv for the build machine's times: make test creates it"
gcc -O2 -Wall -Wextra -Wno-unused-parameter -shared -fPIC -fvisibility=hidden \
    -o "$OUT/insn_count.so" tests/armhf/insn_count.c
.venv/bin/python tests/armhf/host_insns.py --out "$OUT/host_x86.json" >/dev/null
rm -f "$OUT/marks.txt"
CODENET_QEMU=qemu-arm QEMU_PLUGIN="file=$OUT/insn_count.so,out=$OUT/marks.txt" \
    tests/armhf/python tests/armhf/host_insns.py --marks "$OUT/marks.txt" --x86 "$OUT/host_x86.json" \
    --out "$OUT/host_insns.json"
