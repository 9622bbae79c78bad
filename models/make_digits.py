#!/usr/bin/python3
"""Trains the bundled digits MLP and exports it to ONNX with PyTorch reference outputs.

Run with Debian's interpreter (python3-torch, python3-sklearn, python3-onnx, python3-numpy):

    /usr/bin/python3 models/make_digits.py

Data: sklearn.datasets.load_digits — the UCI "Optical Recognition of Handwritten Digits" test
set, 1797 real 8x8 images with 16 grey levels (CC BY 4.0). Pixels are scaled to [0, 1] (/16).

Outputs (next to this script):
  digits.onnx              MLP 64 -> 64 ReLU -> 32 ReLU -> 10 (Gemm/Relu), batch axis "batch"
  digits_test_x.npy        float32 [N, 64] test images (stratified 20 % split, seed 0)
  digits_test_y.npy        int64 [N] test labels
  digits_test_logits.npy   float32 [N, 10] PyTorch logits of the test images

Fully deterministic: fixed seeds, one thread, full-batch-free shuffles drawn from a seeded
generator.
"""
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
OPSET = 13
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=0.2, random_state=SEED, stratify=y)

    model = torch.nn.Sequential(
        torch.nn.Linear(64, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(60):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x_te)).numpy().astype(np.float32)
    acc = float((logits.argmax(axis=1) == y_te).mean())
    print(f"digits: train {len(x_tr)}, test {len(x_te)}, test accuracy {acc * 100:.2f} %")
    if acc < 0.95:
        print("accuracy below 95 %", file=sys.stderr)
        return 1

    torch.onnx.export(
        model, torch.from_numpy(x_te[:1]), os.path.join(HERE, "digits.onnx"),
        input_names=["x"], output_names=["logits"],
        dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=OPSET, do_constant_folding=True)
    np.save(os.path.join(HERE, "digits_test_x.npy"), x_te)
    np.save(os.path.join(HERE, "digits_test_y.npy"), y_te)
    np.save(os.path.join(HERE, "digits_test_logits.npy"), logits)

    import onnx
    m = onnx.load(os.path.join(HERE, "digits.onnx"))
    onnx.checker.check_model(m)
    print("ops:", [n.op_type for n in m.graph.node])
    return 0


if __name__ == "__main__":
    sys.exit(main())
