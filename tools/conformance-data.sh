#!/usr/bin/env bash
# conformance-data.sh — makes or updates .venv (repo root) with the packages pinned in
# tools/requirements-test.txt (onnx from PyPI) and prints the folder of ONNX's backend node tests
# (onnx/backend/test/data/node) on stdout. Everything else goes to stderr. Safe to run again, and
# concurrently (a lock). Fails loudly (exit 1) when the pinned onnx cannot be installed, e.g.
# PyPI unreachable: the conformance suite must not be skipped silently.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="$root/tools/requirements-test.txt"
pin="$(sed -n 's/^onnx==\([^ ;#]*\).*/\1/p' "$req")"
exec 9<"$req"
flock 9
py="$root/.venv/bin/python"
if [ ! -x "$py" ]; then
  # as tools/bench-venv.sh: Debian's numpy (and torch for the bench) stay visible
  /usr/bin/python3 -m venv --system-site-packages "$root/.venv" >&2
fi
have() {
  "$py" -c "import sys, onnx; sys.exit(onnx.__version__ != '$pin')" 2>/dev/null
}
if ! have; then
  echo "tessera: installing onnx==$pin into .venv (tools/requirements-test.txt)" >&2
  if ! "$py" -m pip install -q --disable-pip-version-check -r "$req" >&2 || ! have; then
    echo "tessera: ERROR: cannot install onnx==$pin from PyPI into $root/.venv;" \
      "ONNX's node tests (the conformance suite) are unavailable." >&2
    exit 1
  fi
fi
"$py" -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "backend/test/data/node"))'
