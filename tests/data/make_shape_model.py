#!/usr/bin/env python3
"""make_shape_model.py — a BERT-style attention block exported by torch.onnx, whose shapes are
computed at run time (Shape → Gather → Unsqueeze → Concat → Reshape, ConstantOfShape, Range,
Expand, a mask from `(ids != 0)` through Cast), for tests/check_dtypes.c: with the input shape
known, tessera folds all of it and the plan keeps only float kernels.

Writes shape_attn_op{11,13}.onnx (opset 11: Unsqueeze axes attribute; 13: axes input),
shape_attn_in0.npy (x, float32 [2, 5, 8]) and shape_attn_out0.npy (PyTorch's output).
Run with /usr/bin/python3 (torch); deterministic (seeded).
"""
import os

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Attention(nn.Module):
    def __init__(self, dim=8, heads=2):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)

    def split(self, t, x):
        # x.view(x.size(0), x.size(1), heads, -1).transpose(1, 2)
        return t.view(x.size(0), x.size(1), self.heads, -1).transpose(1, 2)

    def forward(self, x):
        b, s = x.size(0), x.size(1)
        q, k, v = self.split(self.q(x), x), self.split(self.k(x), x), self.split(self.v(x), x)
        # token ids as a BERT without an attention_mask input makes them: arange, expanded
        ids = torch.arange(s, dtype=torch.long).unsqueeze(0).expand(b, s)
        ones = torch.ones(x.size(0), x.size(1))  # ConstantOfShape
        mask = (ids != 0).to(torch.float32) * ones  # Equal / Not / Cast
        ext = (1.0 - mask[:, None, None, :]) * -10000.0
        scores = q @ k.transpose(-1, -2) / (q.size(-1) ** 0.5) + ext
        ctx = torch.softmax(scores, dim=-1) @ v
        return ctx.transpose(1, 2).reshape(b, s, -1)


def main():
    torch.manual_seed(0)
    m = Attention().eval()
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        y = m(x)
    for opset in (11, 13):
        torch.onnx.export(m, (x,), os.path.join(HERE, f"shape_attn_op{opset}.onnx"),
                          input_names=["x"], output_names=["y"], opset_version=opset,
                          dynamic_axes={"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}})
    np.save(os.path.join(HERE, "shape_attn_in0.npy"), x.numpy())
    np.save(os.path.join(HERE, "shape_attn_out0.npy"), y.numpy())


if __name__ == "__main__":
    main()
