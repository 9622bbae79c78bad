#!/usr/bin/python3
"""Writes tests/data/external/: ONNX models whose initializers are external data
(https://github.com/onnx/onnx/blob/main/docs/ExternalData.md), for tests/check_onnx.c.

Run with Debian's interpreter (python3-onnx, python3-numpy), after make_test_models.py:

    /usr/bin/python3 tests/data/make_external_models.py

From gemm_init_transb.onnx (initializers w [7, 8] and bias [7], reference outputs from PyTorch in
gemm_init_transb_out0.npy):
  gemm_ext.onnx + gemm_ext.weights  both initializers in one file (w at offset 0, bias after it)
  gemm_ext_dyn.onnx                 the same with input a's dim 0 symbolic ("batch"), so that a
                                    run at batch 6 re-imports the model from the plan's source
  bad_abs.onnx, bad_dotdot.onnx     location "/etc/passwd", "../../../../../../etc/passwd"
  bad_length.onnx                   w with length 12 (it needs 224 bytes)
  bad_offset.onnx                   w at offset 4096 of gemm_ext.weights (a 252-byte file)
  bad_missing.onnx                  location "no_such.weights"
  bad_huge.onnx                     w declared [2^28, 8] (8 GiB, under TSR_MAX_TENSOR_SIZE) in
                                    gemm_ext.weights: refused from the file size, no allocation
Deterministic: no random data (the tensors come from the committed model).
"""
import copy
import os

import onnx
from onnx import TensorProto, external_data_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "external")


def with_location(model, dims=None, **where):
    """A copy of model whose initializer 'w' points at external data `where` (no raw_data),
    with its dims replaced by `dims` when given."""
    m = copy.deepcopy(model)
    for t in m.graph.initializer:
        if t.name == "w":
            if dims:
                del t.dims[:]
                t.dims.extend(dims)
            del t.external_data[:]
            t.ClearField("raw_data")
            t.ClearField("float_data")
            t.data_location = TensorProto.EXTERNAL
            for k, v in where.items():
                e = t.external_data.add()
                e.key, e.value = k, str(v)
    return m


def main():
    os.makedirs(OUT, exist_ok=True)
    weights = os.path.join(OUT, "gemm_ext.weights")
    if os.path.exists(weights):  # onnx.save_model appends to an existing data file
        os.remove(weights)
    base = onnx.load(os.path.join(HERE, "gemm_init_transb.onnx"))
    ext = copy.deepcopy(base)
    external_data_helper.convert_model_to_external_data(
        ext, all_tensors_to_one_file=True, location="gemm_ext.weights", size_threshold=0)
    onnx.save_model(ext, os.path.join(OUT, "gemm_ext.onnx"))  # also writes gemm_ext.weights
    ext = onnx.load(os.path.join(OUT, "gemm_ext.onnx"), load_external_data=False)
    dyn = copy.deepcopy(ext)
    dim = dyn.graph.input[0].type.tensor_type.shape.dim[0]
    dim.ClearField("dim_value")
    dim.dim_param = "batch"
    dyn.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.save_model(dyn, os.path.join(OUT, "gemm_ext_dyn.onnx"))
    cases = {
        "bad_abs": dict(location="/etc/passwd"),
        "bad_dotdot": dict(location="../../../../../../etc/passwd"),
        "bad_length": dict(location="gemm_ext.weights", offset=0, length=12),
        "bad_offset": dict(location="gemm_ext.weights", offset=4096),
        "bad_missing": dict(location="no_such.weights"),
        "bad_huge": dict(dims=[1 << 28, 8], location="gemm_ext.weights"),
    }
    for name, where in cases.items():
        onnx.save_model(with_location(ext, **where), os.path.join(OUT, name + ".onnx"))
    print(f"{2 + len(cases)} models and gemm_ext.weights written to {OUT}")


if __name__ == "__main__":
    main()
