#!/usr/bin/env bash
# run.sh [BUILD_DIR] — `tessera serve` under load over loopback (issue 14), the digits MLP with
# batch-1 JSON requests, one line of tessera-loadgen output per case:
#   1. adaptive mode: --max-batch 32 --max-wait-us 2000 --target-p99-us T, offered R then 2R
#      requests/s (closed loop, 32 connections, paced), with the batch cap and wait /metrics
#      shows after each load (the controller's state);
#   2. a soak: SOAK_S seconds (default 60) at twice the rate batching on sustains, from 128
#      connections (twice --max-queue, so some get 503), then the
#      server's RSS before and after, the status counts and the SIGTERM exit status.
# Environment: TARGET_US (default 3000), RATE (default 4000), SOAK_S (60), SOAK_RATE (default:
# twice the closed-loop req/s measured first). A measurement for a quiet machine, not a test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
target="${TARGET_US:-3000}" rate="${RATE:-4000}" soak="${SOAK_S:-60}"
dir="$(mktemp -d)"
srv_pid=""
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
/usr/bin/python3 - "$root/models/digits_test_x.npy" "$dir/digits1.json" <<'PY'
import json, sys
import numpy as np
x = np.load(sys.argv[1])[:1].astype(np.float32)
body = {"inputs": [{"name": "x", "shape": [1, 64], "datatype": "FP32", "data": x.flatten().tolist()}]}
open(sys.argv[2], "w").write(json.dumps(body))
PY

start() { # start ARGS...: starts the server, sets srv_pid and port
    "$build/bin/tessera" serve "$root/models/digits.onnx" --port 0 --device cpu "$@" \
        > "$dir/srv.out" 2> "$dir/srv.err" &
    srv_pid=$!
    for _ in $(seq 200); do
        port="$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/srv.out")"
        [ -n "$port" ] && return 0
        sleep 0.1
    done
    echo "run.sh: the server did not start:" >&2; cat "$dir/srv.err" >&2; exit 1
}
stop() { kill -TERM "$srv_pid"; local rc=0; wait "$srv_pid" || rc=$?; srv_pid=""; echo "  server exit status $rc"; }
load() { "$build/bin/tessera-loadgen" --port "$port" --path /v2/models/digits/infer \
    --body "$dir/digits1.json" "$@" || true; }
gauges() { /usr/bin/python3 -c "import urllib.request as u, sys; sys.stdout.write(u.urlopen(sys.argv[1]).read().decode())" "http://127.0.0.1:$port/metrics" |
    grep -E '^tessera_batcher_(max_batch|wait_seconds) |^tessera_batch_size_(sum|count) |^tessera_rejected_total ' |
    tr '\n' ' '; echo; }
rss() { awk '/VmRSS/ {print $2 " KiB"}' "/proc/$srv_pid/status"; }

echo "== adaptive: target p99 $target us, offered $rate then $((2 * rate)) req/s"
start --max-batch 32 --max-wait-us 2000 --target-p99-us "$target"
for r in "$rate" "$((2 * rate))"; do
    load --concurrency 32 --duration 2 --rate "$r" > /dev/null # the controller settles
    load --concurrency 32 --duration 5 --rate "$r"
    echo "  $(gauges)"
done
stop

echo "== soak: ${soak} s at twice the sustainable rate (batching on, --max-batch 32)"
start --max-batch 32 --max-wait-us 500
best="$(load --concurrency 32 --duration 3 | sed -n 's/.* \([0-9.]*\) req\/s.*/\1/p')"
soak_rate="${SOAK_RATE:-$(awk -v b="$best" 'BEGIN { printf "%.0f", 2 * b }')}"
echo "  closed loop: $best req/s; soak at $soak_rate req/s; RSS before $(rss)"
load --concurrency 128 --duration "$soak" --rate "$soak_rate" # > --max-queue 64: some 503
echo "  RSS after $(rss); $(gauges)"
stop
