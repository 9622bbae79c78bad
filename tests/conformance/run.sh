#!/usr/bin/env bash
# run.sh BUILD_DIR DEVICE [runner options] — runs ONNX's node tests on DEVICE (cpu, opencl:0)
# with BUILD_DIR/bin/conformance and gates on this folder's lists; the ctest entry
# (check_conformance_cpu / _opencl). Finds the data with tools/conformance-data.sh (which makes
# or updates .venv). Reports: BUILD_DIR/conformance/<backend>.json, worker stderr in <backend>.log.
#   tests/conformance/run.sh build cpu --update-lists   rewrite expected_cpu.txt
#   tests/conformance/run.sh build cpu --only test_abs --verbose
# TSR_CONFORMANCE=off skips it explicitly (exit 77, ctest: skipped); nothing else does.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "$1" && pwd)"
dev="$2"
shift 2
if [ "${TSR_CONFORMANCE:-}" = "off" ]; then
  echo "conformance $dev: skipped: TSR_CONFORMANCE=off"
  exit 77
fi
if ! data="$("$root/tools/conformance-data.sh")"; then
  echo "conformance $dev: ERROR: no ONNX node-test data (tools/conformance-data.sh failed above)." >&2
  echo "conformance $dev: the suite cannot run; set TSR_CONFORMANCE=off to skip it explicitly." >&2
  exit 1
fi
backend="${dev%%:*}"
mkdir -p "$build/conformance"
exec "$build/bin/conformance" --data "$data" --device "$dev" --lists "$here" \
  --report "$build/conformance/$backend.json" --log "$build/conformance/$backend.log" "$@"
