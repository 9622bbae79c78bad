#!/usr/bin/env bash
# install-deps.sh — installs the Debian 12 packages tessera needs to build, test and demo, and
# nothing when they are already there (safe to run again). Used by tools/test.sh and tools/demo.sh.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  ocl-icd-opencl-dev ocl-icd-libopencl1 opencl-headers pocl-opencl-icd clinfo  # OpenCL + PoCL
  libclblast-dev                                                              # GEMM on OpenCL
  libhwloc-dev                                                                # topology
  libopenblas-dev                                                             # CBLAS GEMM
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev                           # ONNX import
  libjson-c-dev                                                               # JSON output
  libmicrohttpd-dev                                                           # tessera serve
  libssl-dev                                                                  # SHA-256 cache keys
  check libsubunit-dev                                                        # tests
  clang libclang-rt-14-dev                       # tools/fuzz.sh: libFuzzer, ASan + UBSan
  gnuplot-nox                                                                 # tessera bench --plot
  python3-venv python3-pip                # .venv: onnx from PyPI (tools/conformance-data.sh)
  python3-dev                             # the Python module (pip install ., tools/python-test.sh)
)
# The test suite's ONNX node tests come from PyPI (onnx, pinned in tools/requirements-test.txt)
# into .venv: tools/conformance-data.sh.
# Only to regenerate models/ and tests/data (not needed to build or test):
#   python3-torch python3-torchvision python3-onnx python3-numpy python3-sklearn (models/zoo.py)
# Optional, for `tessera bench`'s Python peers (PyTorch; ONNX models): pass --with-bench.
# ONNX Runtime (another peer) comes from PyPI into .venv: tools/bench-venv.sh.
if [ "${1:-}" = "--with-bench" ]; then
  PACKAGES+=(python3-torch python3-torchvision python3-onnx python3-numpy python3-venv)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "tessera: installing missing Debian packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "tessera: error: need root (or sudo) to apt-get install: ${missing[*]}" >&2
    exit 2
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
