#!/usr/bin/env bash
# minilm.sh — `tessera serve` on MiniLM-L6 (build/models/minilm/minilm_op17.onnx, made by
# models/make_minilm.sh) with batch-1 requests of sequence 16 (JSON, three INT64 inputs), batching
# off (--max-batch 1) against on (--max-batch 16 --max-wait-us 2000 --dim sequence=16), at 1, 8
# and 32 connections (tessera-loadgen, 2 s warm-up then 5 s), with the mean batch from /metrics.
# A measurement for a quiet machine, not a test (issue 14).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
/usr/bin/python3 - > /tmp/minilm16b.json <<'PY'
import json, random
random.seed(0)
ids = [101] + [random.randrange(1000, 29000) for _ in range(14)] + [102]
print(json.dumps({"inputs": [
    {"name": "input_ids", "shape": [1, 16], "datatype": "INT64", "data": ids},
    {"name": "attention_mask", "shape": [1, 16], "datatype": "INT64", "data": [1] * 16},
    {"name": "token_type_ids", "shape": [1, 16], "datatype": "INT64", "data": [0] * 16}]}))
PY
run() { # label, serve args...
  label=$1; shift
  build/bin/tessera serve build/models/minilm/minilm_op17.onnx --name minilm --port 0 --device cpu "$@" > /tmp/ms.out 2>/tmp/ms.err &
  pid=$!
  for _ in $(seq 300); do port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' /tmp/ms.out | head -1); [ -n "$port" ] && break; sleep 0.1; done
  for c in 1 8 32; do
    echo -n "$label c=$c: "
    build/bin/tessera-loadgen --port $port --path /v2/models/minilm/infer --body /tmp/minilm16b.json --concurrency $c --duration 2 > /dev/null
    build/bin/tessera-loadgen --port $port --path /v2/models/minilm/infer --body /tmp/minilm16b.json --concurrency $c --duration 5
  done
  /usr/bin/python3 -c "import urllib.request as u,sys; t=u.urlopen(sys.argv[1]).read().decode(); print(' '.join(l for l in t.splitlines() if l.startswith(('tessera_batch_size_sum','tessera_batch_size_count'))))" "http://127.0.0.1:$port/metrics"
  kill -TERM $pid; wait $pid
}
run off --max-batch 1
run on --max-batch 16 --max-wait-us 2000 --dim sequence=16
