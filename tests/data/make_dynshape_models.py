#!/usr/bin/env python3
"""make_dynshape_models.py — models with dynamic batch and sequence axes and PyTorch outputs at
several shapes, for tests/check_dynshape.c (issue 9, dynamic shapes: one plan re-specialised per
input shape).

Writes into tests/data/dynshape/:
  attn_x_<b>x<s>.npy, attn_y_<b>x<s>.npy   inputs / PyTorch outputs of tests/data/shape_attn_op13.onnx
                                            (the seeded attention block of make_shape_model.py,
                                            rebuilt here; checked against shape_attn_out0.npy)
  block.onnx                               a pre-LN transformer block (LayerNorm, QKV, heads by
                                            view/transpose from x.size(), softmax, GELU MLP,
                                            residuals) exported by torch.onnx at opset 13 with
                                            dynamic_axes {0: batch, 1: sequence}
  block_x_<b>x<s>.npy, block_y_<b>x<s>.npy inputs / PyTorch outputs at each shape
  two_inputs.onnx                          onnx.helper: y = a * b + a with a [batch, 4] and
                                            b [batch, ?] (the second dim unnamed), so two inputs
                                            share the symbolic dim `batch` (the test computes the
                                            expected values itself)
  value_inputs.onnx                        onnx.helper: y = Slice(Reshape(x, shape), starts,
                                            ends = [1000], axes = [0]) with x [2, 3, 4] float32 and
                                            the *value inputs* shape (int64 [2]) and starts
                                            (int64 [1]) as graph inputs (the test computes the
                                            expected values itself)

Run with /usr/bin/python3 (Debian's torch 1.13, numpy); deterministic (seeded).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper
import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dynshape")
sys.path.insert(0, HERE)
from make_shape_model import Attention  # noqa: E402

ATTN_SHAPES = [(2, 5), (1, 7), (3, 16)]
BLOCK_SHAPES = [(2, 8), (1, 5), (3, 16), (4, 9)]


class DynBlock(nn.Module):
    """Pre-LN attention block whose head split reads the batch and sequence from x.size()."""

    def __init__(self, d=16, heads=2):
        super().__init__()
        self.d, self.h = d, heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)
        with torch.no_grad():
            for ln in (self.ln1, self.ln2):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.uniform_(-0.3, 0.3)

    def forward(self, x):
        b, s = x.size(0), x.size(1)
        d, h = self.d, self.h
        t = self.ln1(x)

        def heads(z):
            return z.view(b, s, h, d // h).transpose(1, 2)

        q, k, v = heads(self.q(t)), heads(self.k(t)), heads(self.v(t))
        att = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / float(np.sqrt(d // h)), -1)
        ctx = torch.matmul(att, v).transpose(1, 2).reshape(b, s, d)
        x = x + self.o(ctx)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


def save(name, a):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(a, dtype=np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    # The attention block of shape_attn_op13.onnx: same seed, same construction order.
    torch.manual_seed(0)
    attn = Attention().eval()
    x0 = torch.randn(2, 5, 8)
    with torch.no_grad():
        ref0 = np.load(os.path.join(HERE, "shape_attn_out0.npy"))
        assert np.allclose(attn(x0).numpy(), ref0, atol=1e-6), "weights differ from the export"
        gen = torch.Generator().manual_seed(1)
        for b, s in ATTN_SHAPES:
            x = torch.randn(b, s, 8, generator=gen)
            save(f"attn_x_{b}x{s}.npy", x.numpy())
            save(f"attn_y_{b}x{s}.npy", attn(x).numpy())

    torch.manual_seed(2)
    block = DynBlock().eval()
    gen = torch.Generator().manual_seed(3)
    xs = [torch.rand(b, s, 16, generator=gen) * 4 - 2 for b, s in BLOCK_SHAPES]
    with torch.no_grad():
        torch.onnx.export(block, (xs[0],), os.path.join(OUT, "block.onnx"), input_names=["x"],
                          output_names=["y"], opset_version=13,
                          dynamic_axes={"x": {0: "batch", 1: "sequence"},
                                        "y": {0: "batch", 1: "sequence"}})
        for (b, s), x in zip(BLOCK_SHAPES, xs):
            save(f"block_x_{b}x{s}.npy", x.numpy())
            save(f"block_y_{b}x{s}.npy", block(x).numpy())


def two_inputs():
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", None])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    nodes = [helper.make_node("Mul", ["a", "b"], ["ab"], name="mul"),
             helper.make_node("Add", ["ab", "a"], ["y"], name="add")]
    g = helper.make_graph(nodes, "two_inputs", [a, b], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "two_inputs.onnx"))


def value_inputs():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])
    shape = helper.make_tensor_value_info("shape", TensorProto.INT64, [2])
    starts = helper.make_tensor_value_info("starts", TensorProto.INT64, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [1000])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [0])
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
             helper.make_node("Slice", ["r", "starts", "ends", "axes"], ["y"], name="slice")]
    g = helper.make_graph(nodes, "value_inputs", [x, shape, starts], [y], [ends, axes])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "value_inputs.onnx"))


if __name__ == "__main__":
    two_inputs()
    value_inputs()
    main()
