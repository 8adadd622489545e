#!/usr/bin/env bash
# `make test-armhf`: the host tests on 32-bit ARM (Debian bookworm armhf: python3, numpy, pillow,
# pytest) under qemu-user, so that what differs on the PYNQ-Z2's armv7l (32-bit intp, older numpy and
# pillow) shows here first. Arguments go to pytest (default: tests/host and tests/armhf/parity.py, the
# shipped bundle's results against the build machine's, which .venv writes first). The rootfs and the
# package map are tests/armhf/setup.sh's; tests/armhf/plugin.py says which tests cannot run there.
set -euo pipefail
source "$(dirname "$0")/setup.sh"

host_tools qemu-arm-static:qemu-user-static debootstrap:debootstrap
rootfs
site
cd "$ROOT"
rm -f "$OUT/reference.npz"
if [ -x .venv/bin/python ]; then
    .venv/bin/python tests/armhf/parity.py "$OUT/reference.npz" || echo "armhf: no x86 reference (see above): parity skips"
fi
[ $# -gt 0 ] || set -- tests/host tests/armhf/parity.py
start=$SECONDS
status=0
tests/armhf/python -m pytest -p tests.armhf.plugin -p no:cacheprovider -q "$@" || status=$?
echo "armhf: pytest under qemu-user took $((SECONDS - start)) s"
exit $status
