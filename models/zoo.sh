#!/usr/bin/env bash
# zoo.sh [zoo.py options] — exports real transformers and torchvision architectures with
# torch.onnx at opsets 13..17 and checks `build/bin/tessera run` against ONNX Runtime on cpu and
# opencl:0 (relative L2 error per model x opset x device x shape; models/zoo.py says what and
# where). Needs the project's .venv (torch, torchvision, transformers, onnxruntime; no network:
# weights are random from configs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$root/.venv/bin/python" "$root/models/zoo.py" "$@"
