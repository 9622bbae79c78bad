#!/usr/bin/env bash
# bench-venv.sh — makes .venv (repo root) with ONNX Runtime from PyPI for `tessera bench`'s
# onnxruntime peer. --system-site-packages keeps Debian's python3-torch / python3-onnx /
# python3-numpy visible, so the one interpreter runs both Python peers. `tessera bench` uses
# .venv/bin/python when it exists (else /usr/bin/python3, and reports onnxruntime absent).
# Safe to run again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$root/.venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$root/.venv"
fi
"$root/.venv/bin/python" -c "import onnxruntime" 2>/dev/null ||
  "$root/.venv/bin/pip" install -q onnxruntime
# onnxruntime.quantization (issue 13: the quantized models of models/make_quant.py) imports
# ml_dtypes' float8 / int4 types; 0.5 removed what this onnxruntime expects.
"$root/.venv/bin/python" -c "import ml_dtypes" 2>/dev/null ||
  "$root/.venv/bin/pip" install -q 'ml_dtypes<0.5'
"$root/.venv/bin/python" -c "import onnxruntime, torch; print('onnxruntime', onnxruntime.__version__, '+ torch', torch.__version__)"
