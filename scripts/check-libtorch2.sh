#!/usr/bin/env bash
# Builds sere-torch against LibTorch 2.x and runs the whole test suite with it, on the CPU:
# Debian 13 (trixie), whose libtorch-dev is PyTorch 2.6, in a chroot made by debootstrap.
# What it checks: the 2.x forms of the native code (c10d's ProcessGroup and TCPStore, the
# optimiser's state keys, autocast) and files that PyTorch 2.x reads (weights-only torch.load).
#
#   sudo scripts/check-libtorch2.sh [--cuda] [CHROOT]   (default /var/tmp/sere-trixie; kept for reruns)
#
# --cuda also compiles every native source as a CUDA build does (NCCL included), syntax only,
# against CUDA 12.4's headers from Debian's non-free section (about 1 GB to download): what
# can be checked of the CUDA code without a GPU.
#
# Needs root and Debian's mirror and the npm registry; on 2 cores about 7 minutes to make the
# chroot, then about 7 for the build and the suite. The committed tree (HEAD) is tested, not uncommitted changes.
set -euo pipefail

cuda=0
if [ "${1:-}" = "--cuda" ]; then
  cuda=1
  shift
fi
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

if [ "$cuda" = 1 ]; then
  echo "deb http://deb.debian.org/debian trixie contrib non-free" >"$chroot_dir/etc/apt/sources.list.d/sere-cuda.list"
  chroot "$chroot_dir" sh -c 'apt-get update -qq && rm -rf /tmp/cuda-debs /opt/cuda-headers && mkdir -p /tmp/cuda-debs /opt/cuda-headers &&
    cd /tmp/cuda-debs && apt-get download -qq nvidia-cuda-dev libnccl-dev libcu++-dev libcub-dev libthrust-dev &&
    for d in *.deb; do dpkg-deb --fsys-tarfile "$d" | tar -x -C /opt/cuda-headers --wildcards "./usr/include/*"; done'
  # What a CUDA build of LibTorch generates beside its headers (a CPU build has none).
  mkdir -p "$chroot_dir/opt/cuda-headers/usr/include/c10/cuda/impl"
  echo "#define C10_CUDA_BUILD_SHARED_LIBS" >"$chroot_dir/opt/cuda-headers/usr/include/c10/cuda/impl/cuda_cmake_macros.h"
  # The definitions CMakeLists.txt gives a CUDA build with data parallelism, and no precompiled
  # header, so that every file includes what it uses.
  chroot "$chroot_dir" sh -c 'cd /root/sere-torch && find native -name "*.cc" | sort | xargs -P"$(nproc)" -I{} \
    c++ -fsyntax-only -std=gnu++17 -Wall -Wno-unused-parameter -D_GLIBCXX_USE_CXX11_ABI=1 \
      -DNAPI_CPP_EXCEPTIONS -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED \
      -DSERE_BUILD_SYSTEM=\"cmake-js\" -DSERE_TORCH_DIR=\"\" -DSERE_WITH_CUDA=1 -DSERE_DATA_PARALLEL=1 \
      -DUSE_CUDA -DUSE_DISTRIBUTED -DUSE_C10D_GLOO -DUSE_C10D_NCCL -DSERE_C10D_GLOO=1 -DSERE_C10D_NCCL=1 \
      -Inode_modules/node-api-headers/include -Inode_modules/node-addon-api -Inative \
      -isystem /usr/include/torch/csrc/api/include -isystem /opt/cuda-headers/usr/include {}'
  echo "check-libtorch2: every native source compiles as a CUDA build (LibTorch 2.6, CUDA 12.4 headers)"
fi
