#!/usr/bin/env bash
# run.sh [BUILD_DIR] — import / compile time by stage for 1k, 10k and 100k-node graphs (issue 12:
# "import and compile linear in the node count, 100,000 nodes in under 2 s").
# Makes a chain (Add/Relu) and a DAG with fan-out (gen_graph.py, onnx from the project venv) in a
# temporary directory, then runs build/bin/tsr-scale-probe on each: one line per model with the ms
# of the import, each compile stage on a clone (passes, lowering + memory plan), the whole
# tsr_compile for the CPU, and one run. A measurement to run on a quiet machine, not a test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
py="${PYTHON:-$root/.venv/bin/python}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
for n in 1000 10000 100000; do
    for kind in chain dag; do
        "$py" "$root/bench/scale/gen_graph.py" "$kind" "$n" "$dir/$kind$n.onnx"
    done
done
cd "$dir"
for n in 1000 10000 100000; do
    for kind in chain dag; do
        /usr/bin/time -f "  peak RSS %M KiB, wall %e s" "$build/bin/tsr-scale-probe" "$kind$n.onnx"
    done
done
