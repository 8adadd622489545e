# Sourced by tests/armhf/run.sh and insns.sh: the host tools, the armhf rootfs and the package map.
#
#   host_tools CMD:PKG...  Debian packages for missing commands, with apt-get (needs root).
#   rootfs                 build/armhf/rootfs: `debootstrap --foreign` fetches the packages and their
#                          dependencies, then each .deb is unpacked into it. The second stage would run
#                          their maintainer scripts inside a chroot, which needs binfmt_misc, rarely there
#                          in a container; python3 and its modules need none, except the BLAS/LAPACK
#                          alternatives numpy links against, set here as update-alternatives would.
#   site                   build/armhf/site: codenet/<pkg> -> <dir> for every package pyproject.toml maps,
#                          i.e. what the wheel installs on the board with --no-deps, from the working tree.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$ROOT/build/armhf
ROOTFS=$OUT/rootfs
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3,python3-numpy,python3-pil,python3-pytest
READY="$SUITE $PACKAGES"

die() { echo "armhf: $*" >&2; exit 2; }

host_tools() {
    local missing=() need
    for need in "$@"; do command -v "${need%%:*}" >/dev/null || missing+=("${need#*:}"); done
    [ ${#missing[@]} -eq 0 ] && return
    [ "$(id -u)" = 0 ] || die "needs the Debian packages ${missing[*]}; as root: apt-get install ${missing[*]}"
    command -v apt-get >/dev/null || die "needs ${missing[*]} and has no apt-get to install them (Debian or Ubuntu only)"
    echo "installing ${missing[*]} (apt-get)"
    mkdir -p "$OUT"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
        >"$OUT/apt.log" 2>&1 || die "apt-get install ${missing[*]} failed (no network or Debian mirror?): see $OUT/apt.log"
}

rootfs() {
    [ "$(cat "$ROOTFS/.codenet-ready" 2>/dev/null)" = "$READY" ] && return
    [ "$(id -u)" = 0 ] || die "debootstrap needs root to build $ROOTFS (or copy a built one there)"
    echo "building the armhf rootfs in $ROOTFS (debootstrap $SUITE: $PACKAGES)"
    local new=$ROOTFS.new
    rm -rf "$new" "$ROOTFS"
    mkdir -p "$OUT"
    debootstrap --arch=armhf --foreign --variant=minbase --include="$PACKAGES" "$SUITE" "$new" "$MIRROR" \
        >"$OUT/debootstrap.log" 2>&1 \
        || die "debootstrap failed ($(grep -m1 '^E:' "$OUT/debootstrap.log" || echo 'no network?')): see $OUT/debootstrap.log"
    for deb in "$new"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$new"; done
    local lib=$new/usr/lib/arm-linux-gnueabihf
    ln -sfn blas/libblas.so.3 "$lib/libblas.so.3"
    ln -sfn lapack/liblapack.so.3 "$lib/liblapack.so.3"
    rm -rf "$new/var/cache/apt/archives"/*.deb
    echo "$READY" >"$new/.codenet-ready"
    mv "$new" "$ROOTFS"
}

site() {
    rm -rf "$OUT/site" && mkdir -p "$OUT/site/codenet" "$OUT/tmp"
    "$ROOT/tests/armhf/python" - "$ROOT" "$OUT/site/codenet" <<'EOF'
import os, sys, tomllib
root, codenet = sys.argv[1:]
with open(os.path.join(root, "pyproject.toml"), "rb") as f:
    package_dir = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
for package, folder in package_dir.items():
    os.symlink(os.path.join(root, folder), os.path.join(codenet, package.split(".")[1]))
EOF
}

