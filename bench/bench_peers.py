#!/usr/bin/python3
"""bench_peers.py - the Python peers of `tessera bench`: PyTorch (CPU, eager) and ONNX Runtime.

Usage: bench_peers.py CASES.json OUT.json      (batch mode: every case, after tessera's suites)
       bench_peers.py --serve                    (co-process mode: the interleaved model timing)

CASES.json: {"config": {"warmup", "min_iters", "min_time_s", "max_iters", "max_time_s"},
             "cases": [{"id": int, "spec": str}, ...]}
spec is one of (the same cases tessera measured, see bench/suite_*.c):
  "gemm M N K"          C[M,N] = A[M,K] @ B[K,N]
  "ew OP N"             OP in add, mul, relu, chain5 = (relu((a + b) * a) - b) * 0.5, N floats
  "red OP R C"          OP in sum, mean, max (last axis, keepdims) or softmax (last axis), [R, C]
  "model BATCH PATH"    an ONNX model, dim 0 of every input = BATCH
OUT.json: {"peers": {name: {"available": bool, "detail": str}},
           "results": [{"id", "impl", "status": "ok"|"unsupported"|"failed", "note",
                        "samples_ms": [...]}]}
Timing follows the C harness (bench/harness.h): `warmup` untimed calls, then timed calls until
both min_iters and min_time_s are reached, capped by max_iters / max_time_s (after 3 samples).
The C side computes the statistics from the raw samples, so both use the same median/CV code.
config may also hold "threads": ONNX Runtime's intra-op thread count (default: the CPU count).
A case may hold "skip": [impl, ...] (the implementations already measured interleaved).

--serve: one JSON command per line on stdin, one JSON reply per line on stdout (flushed):
  {"cmd": "hello"}  ->  {"ok": true, "peers": {"onnxruntime": {"available", "detail"}}}
  {"cmd": "load", "model": PATH, "inputs": {NAME: NPY_PATH, ...}, "threads": T}
      -> {"ok": true, "detail": str}: an ONNX Runtime session of the model with the session options
         of ort_session_options(T), fed the arrays tessera wrote (the exact inputs it times)
  {"cmd": "run", "reps": K}  ->  {"ok": true, "samples_ms": [K wall-clock times of sess.run]}
  {"cmd": "quit"}  ->  {"ok": true}, then exit (end of input also exits)
Errors: {"ok": false, "error": str}; the loop goes on. bench/peer_serve.c is the client.
ONNX Runtime is used when `import onnxruntime` works in this interpreter: install it with
tools/bench-venv.sh (a venv at .venv with --system-site-packages, so Debian's torch stays visible).
"""
import json
import os
import sys
import time


def measure(cfg, fn):
    for _ in range(int(cfg["warmup"])):
        fn()
    samples, elapsed = [], 0.0
    while True:
        n = len(samples)
        if cfg["max_iters"] > 0 and n >= cfg["max_iters"]:
            break
        if cfg["max_time_s"] > 0 and elapsed >= cfg["max_time_s"] and n >= 3:
            break
        if n >= cfg["min_iters"] and elapsed >= cfg["min_time_s"]:
            break
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        elapsed += dt
        samples.append(dt * 1e3)
    return samples


# ---- PyTorch ------------------------------------------------------------------------------------

def torch_case(torch, spec, threads=None):
    """Returns a zero-argument callable running the case eagerly, or raises NotImplementedError."""
    p = spec.split(" ", 2)
    g = torch.Generator().manual_seed(0)

    def rnd(*shape):
        return torch.rand(*shape, generator=g) * 2 - 1

    if p[0] == "gemm":
        M, N, K = map(int, spec.split()[1:4])
        a, b, c = rnd(M, K), rnd(K, N), torch.empty(M, N)
        return lambda: torch.mm(a, b, out=c)
    if p[0] == "ew":
        op, n = spec.split()[1], int(spec.split()[2])
        a, b, c = rnd(n), rnd(n), torch.empty(n)
        if op == "add":
            return lambda: torch.add(a, b, out=c)
        if op == "mul":
            return lambda: torch.mul(a, b, out=c)
        if op == "relu":
            return lambda: torch.clamp_min(a, 0.0, out=c)
        if op == "chain5":
            return lambda: (torch.relu((a + b) * a) - b) * 0.5
    if p[0] == "red":
        op, r, cols = spec.split()[1], int(spec.split()[2]), int(spec.split()[3])
        x = rnd(r, cols)
        if op == "sum":
            return lambda: torch.sum(x, dim=-1, keepdim=True)
        if op == "mean":
            return lambda: torch.mean(x, dim=-1, keepdim=True)
        if op == "max":
            return lambda: torch.amax(x, dim=-1, keepdim=True)
        if op == "softmax":
            return lambda: torch.softmax(x, dim=-1)
    if p[0] == "fchain":
        r, cols = int(spec.split()[1]), int(spec.split()[2])
        x, b, s = rnd(r, cols), rnd(cols), rnd(cols) * 0.5 + 1.0
        return lambda: (torch.relu((x + b) * s) - b) * 0.5
    if p[0] == "flinear":
        M, K, N = map(int, spec.split()[1:4])
        x, w, b = rnd(M, K), rnd(K, N) * 0.1, rnd(N)
        return lambda: torch.relu(torch.addmm(b, x, w))
    if p[0] == "model":
        return torch_model(torch, int(p[1]), p[2], rnd)
    raise NotImplementedError("case '%s' has no PyTorch version" % spec)


def torch_model(torch, batch, path, rnd):
    """A tiny eager interpreter of an ONNX graph with PyTorch ops (Gemm, MatMul, Add, Sub, Mul,
    Relu, Sigmoid, Tanh, Softmax, Flatten, Identity): PyTorch cannot execute ONNX files itself."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
    ok = {"Gemm", "MatMul", "Add", "Sub", "Mul", "Relu", "Sigmoid", "Tanh", "Softmax", "Flatten",
          "Identity"}
    bad = sorted({n.op_type for n in m.graph.node} - ok)
    if bad:
        raise NotImplementedError("ops %s not in the PyTorch mini-interpreter" % ",".join(bad))
    feeds = {}
    for i in m.graph.input:
        if i.name in inits:
            continue
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in i.type.tensor_type.shape.dim]
        dims[0] = batch
        feeds[i.name] = rnd(*dims)
    nodes = list(m.graph.node)
    outs = [o.name for o in m.graph.output]

    def attr(n, name, default):
        for a in n.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def run():
        env = dict(inits)
        env.update(feeds)
        for n in nodes:
            x = [env[i] for i in n.input if i]
            t = n.op_type
            if t == "Gemm":
                a = x[0].t() if attr(n, "transA", 0) else x[0]
                b = x[1].t() if attr(n, "transB", 0) else x[1]
                y = torch.mm(a, b) * attr(n, "alpha", 1.0)
                if len(x) > 2:
                    y = y + x[2] * attr(n, "beta", 1.0)
            elif t == "MatMul":
                y = torch.matmul(x[0], x[1])
            elif t in ("Add", "Sub", "Mul"):
                y = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul}[t](x[0], x[1])
            elif t in ("Relu", "Sigmoid", "Tanh"):
                y = {"Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh}[t](x[0])
            elif t == "Softmax":
                y = torch.softmax(x[0], dim=attr(n, "axis", -1))
            elif t == "Flatten":
                y = torch.flatten(x[0], attr(n, "axis", 1))
            else:
                y = x[0]
            env[n.output[0]] = y
        return [env[o] for o in outs]
    return run


# ---- ONNX Runtime -------------------------------------------------------------------------------

ONNX_NP = {}  # ONNX Runtime type string -> numpy dtype (filled on first use of numpy)


def ort_session_options(ort, threads):
    """The session options of every ONNX Runtime session here: `threads` intra-op threads (the
    count tessera's CPU backend uses), one inter-op thread, sequential execution, every graph
    optimisation (ORT_ENABLE_ALL)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return so


def ort_case(ort, spec, threads=None):
    """An ONNX Runtime session (CPU execution provider) for the case; the same graph tessera ran."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper
    ONNX_NP.update({"tensor(int64)": np.int64, "tensor(int32)": np.int32,
                    "tensor(bool)": np.bool_, "tensor(float16)": np.float16})
    p = spec.split(" ", 2)
    rng = np.random.default_rng(0)
    so = ort_session_options(ort, threads or os.cpu_count() or 1)

    def rnd(*shape):
        return (rng.random(shape, dtype=np.float32) * 2 - 1).astype(np.float32)

    def vi(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))

    if p[0] == "model":
        batch, path = int(p[1]), p[2]
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feeds = {}
        for i in sess.get_inputs():
            dims = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
            dims[0] = batch
            if i.type == "tensor(float)":
                feeds[i.name] = rnd(*dims)
            else:  # token ids, masks: zeros (as tessera feeds them)
                feeds[i.name] = np.zeros(dims, dtype=ONNX_NP.get(i.type, np.int64))
        return lambda: sess.run(None, feeds)
    nodes, inits = [], []
    if p[0] == "gemm":
        M, N, K = map(int, spec.split()[1:4])
        ins, feeds = [vi("a", (M, K))], {"a": rnd(M, K)}
        inits.append(helper.make_tensor("b", TensorProto.FLOAT, (K, N), rnd(K, N).ravel()))
        nodes.append(helper.make_node("MatMul", ["a", "b"], ["y"]))
        out = vi("y", (M, N))
    elif p[0] == "ew":
        op, n = spec.split()[1], int(spec.split()[2])
        ins, feeds = [vi("a", (n,)), vi("b", (n,))], {"a": rnd(n), "b": rnd(n)}
        if op in ("add", "mul"):
            nodes.append(helper.make_node(op.capitalize(), ["a", "b"], ["y"]))
        elif op == "relu":
            ins, feeds = ins[:1], {"a": feeds["a"]}
            nodes.append(helper.make_node("Relu", ["a"], ["y"]))
        else:
            inits.append(helper.make_tensor("h", TensorProto.FLOAT, (1,), [0.5]))
            nodes += [helper.make_node("Add", ["a", "b"], ["t1"]),
                      helper.make_node("Mul", ["t1", "a"], ["t2"]),
                      helper.make_node("Relu", ["t2"], ["t3"]),
                      helper.make_node("Sub", ["t3", "b"], ["t4"]),
                      helper.make_node("Mul", ["t4", "h"], ["y"])]
        out = vi("y", (n,))
    elif p[0] == "fchain":
        r, cols = int(spec.split()[1]), int(spec.split()[2])
        ins, feeds = [vi("x", (r, cols))], {"x": rnd(r, cols)}
        inits += [helper.make_tensor("b", TensorProto.FLOAT, (cols,), rnd(cols)),
                  helper.make_tensor("s", TensorProto.FLOAT, (cols,), rnd(cols) * 0.5 + 1.0),
                  helper.make_tensor("h", TensorProto.FLOAT, (1,), [0.5])]
        nodes += [helper.make_node("Add", ["x", "b"], ["t1"]),
                  helper.make_node("Mul", ["t1", "s"], ["t2"]),
                  helper.make_node("Relu", ["t2"], ["t3"]),
                  helper.make_node("Sub", ["t3", "b"], ["t4"]),
                  helper.make_node("Mul", ["t4", "h"], ["y"])]
        out = vi("y", (r, cols))
    elif p[0] == "flinear":
        M, K, N = map(int, spec.split()[1:4])
        ins, feeds = [vi("x", (M, K))], {"x": rnd(M, K)}
        inits += [helper.make_tensor("w", TensorProto.FLOAT, (K, N), (rnd(K, N) * 0.1).ravel()),
                  helper.make_tensor("b", TensorProto.FLOAT, (N,), rnd(N))]
        nodes += [helper.make_node("MatMul", ["x", "w"], ["t1"]),
                  helper.make_node("Add", ["t1", "b"], ["t2"]),
                  helper.make_node("Relu", ["t2"], ["y"])]
        out = vi("y", (M, N))
    elif p[0] == "red":
        op, r, cols = spec.split()[1], int(spec.split()[2]), int(spec.split()[3])
        ins, feeds = [vi("x", (r, cols))], {"x": rnd(r, cols)}
        if op == "softmax":
            nodes.append(helper.make_node("Softmax", ["x"], ["y"], axis=-1))
            out = vi("y", (r, cols))
        else:
            kind = {"sum": "ReduceSum", "mean": "ReduceMean", "max": "ReduceMax"}[op]
            if kind == "ReduceSum":  # opset 13: ReduceSum takes axes as an input
                inits.append(helper.make_tensor("ax", TensorProto.INT64, (1,), [-1]))
                nodes.append(helper.make_node(kind, ["x", "ax"], ["y"], keepdims=1))
            else:
                nodes.append(helper.make_node(kind, ["x"], ["y"], axes=[-1], keepdims=1))
            out = vi("y", (r, 1))
    else:
        raise NotImplementedError("case '%s' has no ONNX Runtime version" % spec)
    g = helper.make_graph(nodes, "bench", ins, [out], initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    return lambda: sess.run(None, feeds)


def serve():
    """The co-process loop (see the module doc): ONNX Runtime only."""
    state = {"sess": None, "feeds": None}
    try:
        import numpy as np
        import onnxruntime as ort
        ort.set_default_logger_severity(3)
        peer = {"available": True, "detail": "onnxruntime %s (CPUExecutionProvider)"
                                              % ort.__version__}
    except Exception as e:  # noqa: BLE001 - any import failure means absent
        ort = None
        peer = {"available": False,
                "detail": "import onnxruntime failed in %s: %s (run tools/bench-venv.sh)"
                          % (sys.executable, e)}

    def handle(c):
        cmd = c.get("cmd")
        if cmd == "hello":
            return {"ok": True, "peers": {"onnxruntime": peer}}
        if cmd == "quit":
            return {"ok": True}
        if ort is None:
            return {"ok": False, "error": peer["detail"]}
        if cmd == "load":
            state["sess"] = state["feeds"] = None
            threads = int(c.get("threads") or os.cpu_count() or 1)
            so = ort_session_options(ort, threads)
            sess = ort.InferenceSession(c["model"], so, providers=["CPUExecutionProvider"])
            feeds = {}
            given = c.get("inputs", {})
            for i in sess.get_inputs():
                if i.name not in given:
                    return {"ok": False, "error": "no array for input '%s'" % i.name}
                feeds[i.name] = np.load(given[i.name])
            state["sess"], state["feeds"] = sess, feeds
            return {"ok": True,
                    "detail": "onnxruntime %s: intra_op %d, inter_op 1, sequential, ORT_ENABLE_ALL"
                              % (ort.__version__, threads)}
        if cmd == "run":
            if state["sess"] is None:
                return {"ok": False, "error": "run before a successful load"}
            sess, feeds, out = state["sess"], state["feeds"], []
            for _ in range(int(c.get("reps", 1))):
                t0 = time.perf_counter()
                sess.run(None, feeds)
                out.append((time.perf_counter() - t0) * 1e3)
            return {"ok": True, "samples_ms": out}
        return {"ok": False, "error": "unknown command '%s'" % cmd}

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            c = json.loads(line)
            r = handle(c)
        except Exception as e:  # noqa: BLE001 - report, keep serving
            c, r = {}, {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(r) + "\n")
        sys.stdout.flush()
        if c.get("cmd") == "quit":
            break


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve()
        return
    with open(sys.argv[1]) as f:
        job = json.load(f)
    cfg, cases = job["config"], job["cases"]
    peers, results = {}, []
    impls = []
    try:
        import torch
        torch.set_num_threads(int(cfg.get("threads") or os.cpu_count() or 1))
        peers["pytorch"] = {"available": True,
                            "detail": "torch %s (CPU, eager, %d threads)"
                                      % (torch.__version__, torch.get_num_threads())}
        impls.append(("pytorch", torch, torch_case))
    except Exception as e:  # noqa: BLE001 - any import failure means absent
        peers["pytorch"] = {"available": False,
                            "detail": "import torch failed in %s: %s (apt install python3-torch)"
                                      % (sys.executable, e)}
    try:
        import onnxruntime as ort
        ort.set_default_logger_severity(3)
        peers["onnxruntime"] = {"available": True,
                                "detail": "onnxruntime %s (CPUExecutionProvider, %d intra-op "
                                          "threads)" % (ort.__version__,
                                                        int(cfg.get("threads") or os.cpu_count()
                                                            or 1))}
        impls.append(("onnxruntime", ort, ort_case))
    except Exception as e:  # noqa: BLE001
        peers["onnxruntime"] = {"available": False,
                                "detail": "import onnxruntime failed in %s: %s "
                                          "(run tools/bench-venv.sh)" % (sys.executable, e)}
    for k, c in enumerate(cases):
        for name, mod, make in impls:
            if name in c.get("skip", []):
                continue
            sys.stderr.write("\r  python peers: %3d/%-3d %-40.40s" % (k + 1, len(cases), c["spec"]))
            sys.stderr.flush()
            r = {"id": c["id"], "impl": name, "status": "ok", "note": "", "samples_ms": []}
            try:
                fn = make(mod, c["spec"], cfg.get("threads"))
                r["samples_ms"] = measure(cfg, fn)
            except NotImplementedError as e:
                r["status"], r["note"] = "unsupported", str(e)
            except Exception as e:  # noqa: BLE001 - report, never stop the run
                r["status"], r["note"] = "failed", "%s: %s" % (type(e).__name__, e)
            results.append(r)
    sys.stderr.write("\n")
    with open(sys.argv[2], "w") as f:
        json.dump({"peers": peers, "results": results}, f)


if __name__ == "__main__":
    main()
