#!/usr/bin/env bash
# Checks a GPU machine in one command and writes one JSON (scripts/check-gpu.ts says what it runs):
#
#   scripts/check-gpu.sh OUT.json            (or: npm run check:gpu -- OUT.json)
#   SERE_CHECK_GPU_DEVICE=cpu scripts/check-gpu.sh OUT.json   (the same stages on the CPU, tiny sizes)
#
# Needs python3 with a CUDA build of PyTorch and the CUDA toolkit. On a machine without
# Node.js, Node, npm and node_modules come from .device/ (its on-device.sh puts them in place).
# Exit status: 0 when every stage passed, 1 when one failed (the JSON says which and why).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 1 ]; then
  echo "usage: scripts/check-gpu.sh OUT.json" >&2
  exit 2
fi
if ! command -v node >/dev/null 2>&1; then
  if [ -f .device/on-device.sh ]; then
    # shellcheck disable=SC1091
    source .device/on-device.sh
  else
    echo "check-gpu: no Node.js on PATH and no .device/on-device.sh: install Node.js >= 20, or stage Node, npm and node_modules into .device/ with its on-device.sh" >&2
    exit 2
  fi
fi
# The whole check keeps within 8 minutes; this outer limit only catches a hang outside any stage.
exec timeout --kill-after=5 490 node --import tsx scripts/check-gpu.ts "$1"
