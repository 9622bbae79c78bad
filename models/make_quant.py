#!/usr/bin/env python3
"""make_quant.py OUT_DIR — issue 13's end-to-end check data: the bundled digits MLP
(models/digits.onnx) quantized by ONNX Runtime (onnxruntime.quantization, .venv; needs
ml_dtypes<0.5, tools/bench-venv.sh) both ways:
  digits_dyn.onnx   quantize_dynamic (DynamicQuantizeLinear + MatMulInteger), uint8 weights
  digits_qdq.onnx   quantize_static, QDQ format, per-channel int8 weights, uint8 activations,
                    min-max calibration on the first 64 test images
and ONNX Runtime's own outputs for them on the bundled test images: <model>_ort.npy (float
logits). Compare with `tessera run OUT/digits_dyn.onnx --input models/digits_test_x.npy
--expect logits=OUT/digits_dyn_ort.npy`.
"""
import os
import sys

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_dynamic, quantize_static)

here = os.path.dirname(os.path.abspath(__file__))
out = sys.argv[1] if len(sys.argv) > 1 else "build/quant"
os.makedirs(out, exist_ok=True)
src = os.path.join(here, "digits.onnx")
x = np.load(os.path.join(here, "digits_test_x.npy")).astype(np.float32)
in_name = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).get_inputs()[0].name


class Reader(CalibrationDataReader):
    def __init__(self):
        self.it = iter([{in_name: x[i:i + 1]} for i in range(min(64, len(x)))])

    def get_next(self):
        return next(self.it, None)


dyn = os.path.join(out, "digits_dyn.onnx")
qdq = os.path.join(out, "digits_qdq.onnx")
quantize_dynamic(src, dyn, weight_type=QuantType.QUInt8)
quantize_static(src, qdq, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
for m in (dyn, qdq):
    s = ort.InferenceSession(m, providers=["CPUExecutionProvider"])
    y = s.run(None, {in_name: x})[0]
    np.save(m[:-5] + "_ort.npy", y)
    print(m, s.get_outputs()[0].name, y.shape)
