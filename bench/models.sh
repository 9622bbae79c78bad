#!/usr/bin/env bash
# models.sh [--force] [--only a,b,...] [--run] [--quick] [-- BENCH_OPTIONS...]
#
# Exports the standard model set of `tessera bench --suite model` with bench/models.py (in the
# project venv, <repo>/.venv, made by tools/bench-venv.sh) into build/models/bench/ (random
# weights, opset 17, dynamic batch; files that exist are kept unless --force). With --run it then
# runs, over all of them (or the --only subset):
#   build/bin/tessera bench --suite model --device cpu --dim sequence=128 --model M1.onnx ...
#     --json build/bench/models.json --csv build/bench/models.csv [BENCH_OPTIONS...]
# Each model is timed at batch 1 and 8 interleaved with ONNX Runtime (same inputs, same thread
# count; docs/PERFORMANCE.md, "How to measure"). --quick passes --quick to tessera bench.
# Env: TSR_BUILD (default <repo>/build), PYTHON (default <repo>/.venv/bin/python).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TSR_BUILD:-$root/build}"
python="${PYTHON:-$root/.venv/bin/python}"
export_args=() run=0 bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --force) export_args+=(--force) ;;
    --only) export_args+=(--only "$2"); shift ;;
    --run) run=1 ;;
    --quick) bench_args+=(--quick) ;;
    --) shift; bench_args+=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "models.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ ! -x "$python" ]; then
  echo "models.sh: no interpreter at $python (run tools/bench-venv.sh or set PYTHON)" >&2
  exit 1
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
"$python" "$root/bench/models.py" --out "$build/models/bench" "${export_args[@]}" | tee "$log"
read -r -a models <<<"$(sed -n 's/^MODELS //p' "$log")"
[ "$run" = 1 ] || exit 0
if [ "${#models[@]}" = 0 ]; then
  echo "models.sh: no model to run" >&2
  exit 1
fi
margs=()
for m in "${models[@]}"; do margs+=(--model "$m"); done
mkdir -p "$build/bench"
exec "$build/bin/tessera" bench --suite model --device cpu --python "$python" --dim sequence=128 \
  "${margs[@]}" \
  --json "$build/bench/models.json" --csv "$build/bench/models.csv" "${bench_args[@]}"
