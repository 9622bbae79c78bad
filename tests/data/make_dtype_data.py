#!/usr/bin/env python3
"""make_dtype_data.py — small .npy files of every dtype tessera supports, written by NumPy, for
tests/check_dtypes.c: dt_<descr>.npy holds np.array(VALUES).astype(dtype) with shape [2, 3]."""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
VALUES = [0.0, 1.0, -2.0, 3.5, 100.0, -0.25]

for name, dt in [("u1", np.uint8), ("i1", np.int8), ("i4", np.int32), ("i8", np.int64),
                 ("b1", np.bool_), ("f2", np.float16), ("f4", np.float32), ("f8", np.float64)]:
    a = np.array(VALUES)
    if dt == np.uint8:
        a = np.abs(a)
    np.save(os.path.join(HERE, f"dt_{name}.npy"), a.astype(dt).reshape(2, 3))
