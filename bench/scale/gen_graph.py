#!/usr/bin/env python3
"""gen_graph.py KIND N OUT.onnx — a large ONNX graph for the scale measurements (issue 12).

KIND chain: x -> Add(c) -> Relu -> Add(c) -> Relu ... (N nodes, one shared constant).
KIND dag:   a DAG with fan-out and fan-in: every node reads the previous value and one of the
            last 16 values (Add), or applies Relu/Neg to the previous one, so values have many
            readers and liveness intervals overlap.
KIND cycle: a 3-node chain whose first node reads the last node's output (not a DAG).
Inputs and outputs are float32 [1, 16]. Needs onnx and numpy (the project venv).
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper


def build(kind, n):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])
    c = helper.make_tensor("c", TensorProto.FLOAT, [1, 16],
                           np.full(16, 0.001, dtype=np.float32).tolist())
    nodes = []
    if kind == "chain":
        prev = "x"
        for i in range(n):
            out = "y" if i == n - 1 else f"v{i}"
            if i % 2 == 0:
                nodes.append(helper.make_node("Add", [prev, "c"], [out], name=f"n{i}"))
            else:
                nodes.append(helper.make_node("Relu", [prev], [out], name=f"n{i}"))
            prev = out
    elif kind == "dag":
        vals = ["x"]
        for i in range(n):
            out = "y" if i == n - 1 else f"v{i}"
            prev = vals[-1]
            r = i % 4
            if r == 0 or r == 2:
                other = vals[max(0, len(vals) - 1 - (i * 7919) % 16)]
                nodes.append(helper.make_node("Add", [prev, other], [out], name=f"n{i}"))
            elif r == 1:
                nodes.append(helper.make_node("Relu", [prev], [out], name=f"n{i}"))
            else:
                nodes.append(helper.make_node("Mul", [prev, "c"], [out], name=f"n{i}"))
            vals.append(out)
    elif kind == "cycle":
        nodes.append(helper.make_node("Add", ["x", "v2"], ["v0"], name="a"))
        nodes.append(helper.make_node("Relu", ["v0"], ["v1"], name="b"))
        nodes.append(helper.make_node("Neg", ["v1"], ["v2"], name="c_node"))
        nodes.append(helper.make_node("Relu", ["v2"], ["y"], name="d"))
    else:
        raise SystemExit(f"unknown kind {kind!r}: chain, dag or cycle")
    g = helper.make_graph(nodes, f"{kind}{n}", [x], [y], [c])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    onnx.save(build(kind, n), out)


if __name__ == "__main__":
    main()
