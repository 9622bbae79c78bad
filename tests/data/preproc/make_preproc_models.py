#!/usr/bin/env python3
"""Writes the ONNX models of tessera's preprocessing ops (domain "ai.tessera", docs/PREPROC.md)
with expected outputs computed here with numpy, independently of tessera's C reference:

    .venv/bin/python tests/data/preproc/make_preproc_models.py

For every case <name> it writes <name>.onnx, <name>_in0.npy and <name>_out0.npy (float32) into
this folder and lists "preproc/<name> 1 1" in cases.txt, which tests/check_models.c runs on every
device (max abs error 1e-4, NaN where numpy has NaN). The numpy formulas are those of pandas:
rolling(window, min_periods).mean() / .std(ddof) (NaN where the window holds fewer than
min_periods values, or no more than ddof for the std), ewm(alpha, adjust=False).mean(); ZScore is
scipy.stats.zscore (population variance) with epsilon; RGBToGray the ITU-R BT.601 weights.
Deterministic (fixed seed).
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = np.random.default_rng(2026)
CASES = []


def model(op, x_shape, y_shape, **attrs):
    node = helper.make_node(op, ["x"], ["y"], domain="ai.tessera", **attrs)
    g = helper.make_graph([node], op.lower(),
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("ai.tessera", 1)])
    return m.SerializeToString()


def save(name, op, x, y, **attrs):
    with open(os.path.join(HERE, name + ".onnx"), "wb") as f:
        f.write(model(op, list(x.shape), list(y.shape), **attrs))
    np.save(os.path.join(HERE, name + "_in0.npy"), x.astype(np.float32))
    np.save(os.path.join(HERE, name + "_out0.npy"), y.astype(np.float32))
    CASES.append("preproc/" + name)


def rolling(x, axis, window, min_periods, kind, ddof=1):
    """pandas rolling(window, min_periods=min_periods).mean() / .std(ddof) along axis."""
    x = np.moveaxis(x.astype(np.float64), axis, -1)
    y = np.full(x.shape, np.nan)
    n = x.shape[-1]
    for j in range(n):
        w = x[..., max(0, j - window + 1):j + 1]
        c = w.shape[-1]
        if c < min_periods:
            continue
        if kind == "mean":
            y[..., j] = w.mean(axis=-1)
        elif c > ddof:
            y[..., j] = w.std(axis=-1, ddof=ddof)
    return np.moveaxis(y, -1, axis)


def ema(x, axis, alpha):
    """pandas ewm(alpha=alpha, adjust=False).mean() along axis."""
    x = np.moveaxis(x.astype(np.float64), axis, -1)
    y = np.empty_like(x)
    y[..., 0] = x[..., 0]
    for j in range(1, x.shape[-1]):
        y[..., j] = alpha * x[..., j] + (1 - alpha) * y[..., j - 1]
    return np.moveaxis(y, -1, axis)


def main():
    x = RNG.uniform(-1, 1, size=(3, 40)).astype(np.float32)
    save("rolling_mean_w5", "RollingMean", x, rolling(x, -1, 5, 5, "mean"), window=5)
    save("rolling_mean_w4_mp1", "RollingMean", x, rolling(x, -1, 4, 1, "mean"), window=4,
         min_periods=1)
    x = RNG.uniform(-1, 1, size=(2, 30, 6)).astype(np.float32)
    save("rolling_mean_axis1", "RollingMean", x, rolling(x, 1, 7, 7, "mean"), window=7, axis=1)
    save("rolling_std_w6", "RollingStd", x, rolling(x, 1, 6, 6, "std"), window=6, axis=1)
    x = RNG.uniform(-1, 1, size=(4, 25)).astype(np.float32)
    save("rolling_std_ddof0_mp1", "RollingStd", x, rolling(x, -1, 5, 1, "std", ddof=0),
         window=5, min_periods=1, ddof=0)
    save("rolling_std_mp1", "RollingStd", x, rolling(x, -1, 3, 1, "std"), window=3,
         min_periods=1)
    save("ema_a03", "EMA", x, ema(x, -1, 0.3), alpha=0.3)
    x = RNG.uniform(-1, 1, size=(2, 20, 5)).astype(np.float32)
    save("ema_axis1", "EMA", x, ema(x, 1, 0.75), alpha=0.75, axis=1)
    x = RNG.uniform(-2, 5, size=(3, 4, 10)).astype(np.float32)
    m = x.astype(np.float64).mean(axis=-1, keepdims=True)
    v = x.astype(np.float64).var(axis=-1, keepdims=True)
    save("zscore_last", "ZScore", x, (x - m) / np.sqrt(v), )
    m = x.astype(np.float64).mean(axis=(1, 2), keepdims=True)
    v = x.astype(np.float64).var(axis=(1, 2), keepdims=True)
    save("zscore_axis1_eps", "ZScore", x, (x - m) / np.sqrt(v + 0.01), axis=1, epsilon=0.01)
    x = RNG.uniform(0, 255, size=(2, 3, 6, 7)).astype(np.float32)
    g = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    save("rgb_to_gray", "RGBToGray", x / 255.0, g / 255.0)
    x = np.ascontiguousarray(np.moveaxis(x, 1, -1))  # channels last [N, H, W, 3]
    save("rgb_to_gray_nhwc", "RGBToGray", x / 255.0, np.moveaxis(g, 1, -1) / 255.0, axis=-1)
    x = RNG.uniform(-1, 1, size=(5, 17)).astype(np.float32)
    save("threshold_tozero", "Threshold", x, np.where(x > 0.25, x, 0), threshold=0.25)
    save("threshold_binary", "Threshold", x, np.where(x > -0.1, 3.0, 0), threshold=-0.1,
         binary=1, high=3.0)
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        for c in CASES:
            f.write(f"{c} 1 1\n")


if __name__ == "__main__":
    main()
