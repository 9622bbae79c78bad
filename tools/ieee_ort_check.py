#!/usr/bin/env python3
"""NaN / +-inf semantics of tessera against ONNX Runtime, one single-op model per case.

Each case is run by ONNX Runtime (CPU provider) and by `tessera run` on every CPU ISA tier
(TSR_CPU_ISA=scalar|avx2|avx512, those the machine has) and on OpenCL when present; outputs are
compared element by element: NaN must meet NaN, an infinity the same infinity, finite values
within 1e-5 relative. Where tessera follows NumPy instead of ONNX Runtime on purpose (MaxPool,
GlobalMaxPool, ReduceMax / ReduceMin: NaN propagates), the row is marked "numpy" and compared
with NumPy's result instead; both results are printed (docs/RELIABILITY.md, "IEEE semantics").

usage: tools/ieee_ort_check.py [path/to/tessera]   (default build/bin/tessera; needs onnx,
onnxruntime and numpy, e.g. the project's .venv)
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as T
from onnx import helper as h

TESSERA = sys.argv[1] if len(sys.argv) > 1 else "build/bin/tessera"
nan, inf = np.nan, np.inf
X = np.array([[nan, inf, -inf, -1.0, 0.0, 2.0, -0.0, 7.0]] * 2, np.float32)
X[1] = [1.0, -3.0, nan, 0.5, -inf, 4.0, inf, -2.0]
Y = np.array([[1.0, 1.0, 1.0, nan, nan, 3.0, 0.0, -inf]] * 2, np.float32)
P = np.array([[1, nan, 3, 4], [1, 2, inf, 4], [-inf, -inf, -inf, -inf], [nan, -inf, inf, 0]],
             np.float32).reshape(1, 1, 4, 4)


def model(nodes, inputs, inits=(), opset=17):
    ins = [h.make_tensor_value_info(f"x{i}", T.FLOAT, a.shape) for i, a in enumerate(inputs)]
    g = h.make_graph(nodes, "g", ins, [h.make_tensor_value_info("y", T.FLOAT, None)],
                     initializer=list(inits))
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)])


def const(name, dims, vals):
    return h.make_tensor(name, T.FLOAT, dims, vals)


def one(op, n_in=1, **attrs):
    return [h.make_node(op, [f"x{i}" for i in range(n_in)], ["y"], **attrs)]


def chain(first, first_inputs, act, act_inputs=(), **act_attrs):
    return [h.make_node(first, first_inputs, ["t"]),
            h.make_node(act, ["t", *act_inputs], ["y"], **act_attrs)]


lo, hi = const("lo", [], [0.0]), const("hi", [], [6.0])
W = const("w", [8, 3], [1.0, -1.0, 0.5] * 8)
B = const("b", [3], [0.0, 0.1, -0.1])
CW, CB = const("cw", [1, 1, 1, 1], [1.0]), const("cb", [1], [0.0])
ax1 = h.make_tensor("ax", T.INT64, [1], [1])
CASES = [  # name, nodes, inputs, initializers, numpy reference (None: ONNX Runtime's)
    ("Relu", one("Relu"), [X], [], None),
    ("LeakyRelu", one("LeakyRelu", alpha=0.1), [X], [], None),
    ("HardSigmoid", one("HardSigmoid"), [X], [], None),
    ("HardSwish", one("HardSwish"), [X], [], None),
    ("Sigmoid", one("Sigmoid"), [X], [], None),
    ("Tanh", one("Tanh"), [X], [], None),
    ("Elu", one("Elu"), [X], [], None),
    ("Selu", one("Selu"), [X], [], None),
    ("Softplus", one("Softplus"), [X], [], None),
    ("ThresholdedRelu", one("ThresholdedRelu"), [X], [], None),
    ("Clip(0,6)", [h.make_node("Clip", ["x0", "lo", "hi"], ["y"])], [X], [lo, hi], None),
    ("Max", one("Max", 2), [X, Y], [], None),
    ("Min", one("Min", 2), [X, Y], [], None),
    ("Max(Y,X)", one("Max", 2), [Y, X], [], None),
    ("Softmax", one("Softmax", axis=1), [X], [], None),
    ("Gemm+Relu", chain("Gemm", ["x0", "w", "b"], "Relu"), [X], [W, B], None),
    ("Gemm+Clip", chain("Gemm", ["x0", "w", "b"], "Clip", ["lo", "hi"]), [X], [W, B, lo, hi],
     None),
    ("Conv+Relu", chain("Conv", ["x0", "cw", "cb"], "Relu"), [P], [CW, CB], None),
    ("Conv+LeakyRelu", chain("Conv", ["x0", "cw", "cb"], "LeakyRelu"), [P], [CW, CB], None),
    ("Conv+Clip", chain("Conv", ["x0", "cw", "cb"], "Clip", ["lo", "hi"]), [P], [CW, CB, lo, hi],
     None),
    ("AveragePool", one("AveragePool", kernel_shape=[2, 2], strides=[2, 2]), [P], [], None),
    ("MaxPool", one("MaxPool", kernel_shape=[2, 2], strides=[2, 2]), [P], [],
     lambda p: p.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4).max(axis=1)),
    ("GlobalMaxPool", one("GlobalMaxPool"), [P], [], lambda p: np.max(p).reshape(1, 1, 1, 1)),
    ("ReduceMax", [h.make_node("ReduceMax", ["x0"], ["y"], axes=[1], keepdims=0)], [X], [],
     lambda x: np.max(x, axis=1)),
    ("ReduceMin", [h.make_node("ReduceMin", ["x0"], ["y"], axes=[1], keepdims=0)], [X], [],
     lambda x: np.min(x, axis=1)),
]


def same(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        return False
    for u, v in zip(a, b):
        if np.isnan(v) or np.isnan(u):
            if not (np.isnan(u) and np.isnan(v)):
                return False
        elif np.isinf(v) or np.isinf(u):
            if u != v:
                return False
        elif abs(u - v) > 1e-5 * max(1.0, abs(v)):
            return False
    return True


def tiers():
    out = []
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    out.append(("cpu/scalar", {"TSR_CPU_ISA": "scalar"}, "cpu"))
    if " avx2" in flags:
        out.append(("cpu/avx2", {"TSR_CPU_ISA": "avx2"}, "cpu"))
    if " avx512f" in flags and " avx512dq" in flags:
        out.append(("cpu/avx512", {"TSR_CPU_ISA": "avx512"}, "cpu"))
    out.append(("opencl", {}, "opencl"))
    return out


def main():
    bad = 0
    with tempfile.TemporaryDirectory() as d:
        for name, nodes, inputs, inits, np_ref in CASES:
            m = model(nodes, inputs, inits)
            path = os.path.join(d, "m.onnx")
            onnx.save(m, path)
            sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            want_ort = sess.run(None, {f"x{i}": a for i, a in enumerate(inputs)})[0]
            want = np_ref(inputs[0]) if np_ref else want_ort
            args = []
            for i, a in enumerate(inputs):
                np.save(os.path.join(d, f"x{i}.npy"), a)
                args += ["--input", f"x{i}={os.path.join(d, f'x{i}.npy')}"]
            row = []
            for label, env, dev in tiers():
                out = os.path.join(d, "y.npy")
                if os.path.exists(out):
                    os.remove(out)
                r = subprocess.run([TESSERA, "run", path, "--device", dev, "--repeat", "1",
                                    "--output", f"y={out}", *args],
                                   env={**os.environ, **env}, capture_output=True, text=True)
                if r.returncode != 0 or not os.path.exists(out):
                    if dev == "opencl":
                        continue  # no OpenCL device here
                    row.append(f"{label}: exit {r.returncode} {r.stderr.strip()[:80]}")
                    bad += 1
                    continue
                got = np.load(out)
                ok = same(got, want)
                bad += not ok
                row.append(f"{label}: {'ok' if ok else 'DIFFERS ' + str(got.ravel())}")
            note = ("" if np_ref is None else
                    f"   [numpy {np.asarray(want).ravel()}; ORT {np.asarray(want_ort).ravel()}"
                    f"{' (same)' if same(want, want_ort) else ''}]")
            print(f"{name:16s} {'; '.join(row)}{note}")
    print(f"{bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
