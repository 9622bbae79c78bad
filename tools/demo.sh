#!/usr/bin/env bash
# demo.sh — installs what is missing, builds, and runs the bundled digits model (real UCI
# handwritten digits, an MLP trained with PyTorch) on every device of this machine, printing one
# comparison table: device, accuracy, max error against PyTorch, median ms per run.
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
