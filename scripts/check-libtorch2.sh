#!/usr/bin/env bash
# Builds sere-torch against LibTorch 2.x and runs the whole test suite with it, on the CPU:
# Debian 13 (trixie), whose libtorch-dev is PyTorch 2.6, in a chroot made by debootstrap.
# What it checks: the 2.x forms of the native code (c10d's ProcessGroup and TCPStore, the
# optimiser's state keys, autocast) and files that PyTorch 2.x reads (weights-only torch.load).
#
#   sudo scripts/check-libtorch2.sh [CHROOT]      (default /var/tmp/sere-trixie; kept for reruns)
#
# Needs root and Debian's mirror and the npm registry; about 15 minutes the first time on
# 2 cores. The committed tree (HEAD) is tested, not uncommitted changes.
set -euo pipefail

chroot_dir=${1:-/var/tmp/sere-trixie}
repo=$(cd "$(dirname "$0")/.." && pwd)
packages=(libtorch-dev libgloo-dev libopenblas0-openmp nodejs npm libnode-dev cmake ninja-build g++ make git
  ca-certificates python3 python3-torch python3-torchvision dataset-fashion-mnist chromium clang-format)

if [ "$(id -u)" -ne 0 ]; then
  echo "check-libtorch2.sh: run as root (it makes a chroot)" >&2
  exit 1
fi
if [ ! -x "$chroot_dir/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  debootstrap --variant=minbase trixie "$chroot_dir" http://deb.debian.org/debian
fi
mountpoint -q "$chroot_dir/proc" || mount -t proc proc "$chroot_dir/proc"
mountpoint -q "$chroot_dir/dev" || mount --bind /dev "$chroot_dir/dev"
trap 'umount "$chroot_dir/dev" "$chroot_dir/proc"' EXIT
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
chroot "$chroot_dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
# This machine's certificate authorities (a proxy's, where there is one) and npm settings.
cp /etc/ssl/certs/ca-certificates.crt "$chroot_dir/etc/ssl/certs/ca-certificates.crt"
if [ -f "$HOME/.npmrc" ]; then cp "$HOME/.npmrc" "$chroot_dir/root/.npmrc"; fi

rm -rf "$chroot_dir/root/sere-torch"
git clone -q "$repo" "$chroot_dir/root/sere-torch"
# The style test is left out: Debian 13's clang-format (19) lays out code differently from
# Debian 12's (14), which native/ follows.
chroot "$chroot_dir" env CI=true NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt sh -c \
  'cd /root/sere-torch && npm ci && npx vitest run --exclude test/style.test.ts'
