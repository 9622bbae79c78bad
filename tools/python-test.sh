#!/usr/bin/env bash
# python-test.sh [VENV_DIR] — tests the Python module `tessera` as a user installs it: makes a
# clean virtual environment (default build/python-test-venv, recreated every time;
# --system-site-packages so Debian's python3-numpy / python3-torch stay visible), installs
# onnxruntime and pytest (pinned: tools/requirements-python-test.txt), runs `pip install .` from
# the repo root (scikit-build-core drives the CMake build, in build/pip/ so a rerun is
# incremental) and runs pytest on python/tests from outside the source tree. Bounded: each step
# under `timeout` (TSR_PYTEST_TIMEOUT seconds in all for pytest, default 600). Exit status:
# pytest's (0 all passed), or the failing step's.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$root/build/python-test-venv}"
py="${PYTHON:-/usr/bin/python3}"
rm -rf "$venv"
"$py" -m venv --system-site-packages "$venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1
timeout 600 "$venv/bin/pip" install -q -r "$root/tools/requirements-python-test.txt"
start=$(date +%s)
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
  timeout 1200 "$venv/bin/pip" install -q "$root"
echo "python-test: pip install . took $(( $(date +%s) - start )) s" >&2
cd "$venv" # not the repo root: the tests must import the installed module
"$venv/bin/python" -c "import tessera; print('tessera', tessera.__version__, 'from', tessera.__file__)"
timeout "${TSR_PYTEST_TIMEOUT:-600}" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
  "$root/python/tests"
