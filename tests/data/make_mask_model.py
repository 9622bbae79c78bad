#!/usr/bin/env python3
"""make_mask_model.py — a small transformer block exported by torch.onnx whose data, not only
its shapes, flows through the integer and mask ops (issue 9, group "tkern"), for
tests/check_kernels.c (test_mask_model):

  * an embedding lookup Gather(weight, input_ids) from an int64 graph input `input_ids`;
  * an `attention_mask` int64 input cast to float into BERT's additive mask
    `(1.0 - mask[:, None, None, :].float()) * -10000.0`;
  * a GPT-2 style causal mask: `torch.where(causal, scores, -inf)` on a torch.tril-built bool
    tensor, sliced to the sequence;
  * one fused projection split into q, k, v by `qkv.split(D, dim=-1)` (ONNX Split).

Writes mask_model_op{13,17}.onnx, mask_model_ids.npy, mask_model_mask.npy (int64 [2, 6]) and
mask_model_out.npy (PyTorch's float32 output [2, 6, 16]). Run with /usr/bin/python3 (torch
1.13); deterministic (seeded).
"""
import os

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB, D, HEADS, MAXLEN = 40, 16, 2, 8


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D)
        self.qkv = nn.Linear(D, 3 * D)
        self.out = nn.Linear(D, D)
        self.register_buffer("causal", torch.tril(torch.ones(MAXLEN, MAXLEN, dtype=torch.bool)))

    def heads(self, t, b, s):
        return t.view(b, s, HEADS, D // HEADS).transpose(1, 2)

    def forward(self, input_ids, attention_mask):
        b, s = input_ids.size(0), input_ids.size(1)
        x = self.emb(input_ids)
        q, k, v = self.qkv(x).split(D, dim=-1)
        q, k, v = self.heads(q, b, s), self.heads(k, b, s), self.heads(v, b, s)
        scores = q @ k.transpose(-1, -2) / (D // HEADS) ** 0.5
        ext = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        causal = self.causal[:s, :s]
        scores = torch.where(causal, scores + ext, torch.tensor(float("-inf")))
        ctx = torch.softmax(scores, dim=-1) @ v
        return self.out(ctx.transpose(1, 2).reshape(b, s, D))


def main():
    torch.manual_seed(0)
    m = Block().eval()
    ids = torch.tensor([[3, 17, 0, 39, 5, 11], [25, 1, 1, 8, 30, 2]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.long)
    with torch.no_grad():
        y = m(ids, mask)
    for opset in (13, 17):
        torch.onnx.export(m, (ids, mask), os.path.join(HERE, f"mask_model_op{opset}.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["y"],
                          opset_version=opset,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"},
                                        "y": {0: "batch", 1: "seq"}})
    np.save(os.path.join(HERE, "mask_model_ids.npy"), ids.numpy())
    np.save(os.path.join(HERE, "mask_model_mask.npy"), mask.numpy())
    np.save(os.path.join(HERE, "mask_model_out.npy"), y.numpy())


if __name__ == "__main__":
    main()
