#!/usr/bin/env bash
# Everything sere-torch needs on Debian 12: LibTorch (CPU) with
# Gloo and OpenBLAS, the Fashion-MNIST demo data, a C++ toolchain, then the npm
# dependencies and the native build (`npm install`). Run from the project root.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

packages=(
  libtorch-dev        # LibTorch 1.13 (C++ headers, libraries, CMake package)
  libgloo-dev         # c10d's CPU collectives (data-parallel training)
  libopenblas0-openmp # fast BLAS; without it torch falls back to reference BLAS (~28x slower)
  dataset-fashion-mnist
  python3-torch       # the tests check that Python's torch.load reads the .pth files we write
  chromium            # the tests open `sere report`'s page in a headless browser and screenshot it
  clang-format        # native/'s style (.clang-format), checked by the tests
  cmake ninja-build g++ make python3
)
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"

npm install
