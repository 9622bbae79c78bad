#!/usr/bin/python3
"""Writes the small ONNX test models of tests/data with PyTorch reference outputs.

Run with Debian's interpreter (python3-torch, python3-onnx, python3-numpy):

    /usr/bin/python3 tests/data/make_test_models.py

For every case <name> it writes <name>.onnx, <name>_in<i>.npy (random inputs, float32) and
<name>_out<i>.npy (reference outputs computed by PyTorch: either the exported torch module itself
or the same formula written with torch ops for models built with onnx.helper). cases.txt lists
"<name> <n_inputs> <n_outputs>" one per line for the C tests (tests/check_onnx.c,
tests/check_models.c).

Malformed / unsupported models are listed in bad_cases.txt as
"<file> <expected tsr_status name> <substring expected in the error message>".

It also writes a few .npy files with numpy itself (np_*.npy) for tests/check_npy.c.
Deterministic: fixed seeds, one torch thread.
"""
import io
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = np.random.default_rng(1234)
CASES = []


def rand(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def save_case(name, model_bytes, inputs, outputs):
    with open(os.path.join(HERE, name + ".onnx"), "wb") as f:
        f.write(model_bytes)
    for i, x in enumerate(inputs):
        np.save(os.path.join(HERE, f"{name}_in{i}.npy"), np.asarray(x, np.float32, order="C"))
    for i, y in enumerate(outputs):
        y = y.detach().numpy() if isinstance(y, torch.Tensor) else y
        np.save(os.path.join(HERE, f"{name}_out{i}.npy"), np.asarray(y, np.float32, order="C"))
    CASES.append((name, len(inputs), len(outputs)))


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def helper_model(nodes, inputs, outputs, inits=(), opset=13, graph_inputs_extra=()):
    g = helper.make_graph(nodes, "g", [vi(n, s) for n, s in inputs] + list(graph_inputs_extra),
                          [vi(n, s) for n, s in outputs],
                          initializer=[numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="tessera-tests")
    m.ir_version = 7  # onnx 1.12 / ORT-compatible
    onnx.checker.check_model(m)
    return m.SerializeToString()


def T(x):
    return torch.from_numpy(np.asarray(x, np.float32))


def export(module, args, input_names, output_names, opset=13, dynamic_axes=None):
    f = io.BytesIO()
    torch.onnx.export(module, tuple(args), f, input_names=input_names,
                      output_names=output_names, opset_version=opset,
                      dynamic_axes=dynamic_axes, do_constant_folding=True)
    return f.getvalue()


# ------------------------------------------------------------------------------------------------
# Gemm


def gemm_ref(a, b, c, alpha=1.0, beta=1.0, ta=0, tb=0):
    A = T(a).t() if ta else T(a)
    B = T(b).t() if tb else T(b)
    y = alpha * (A @ B)
    if c is not None:
        y = y + beta * T(c)
    return y


def cases_gemm():
    a, b, c = rand(4, 5), rand(5, 3), rand(3)
    nodes = [helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="gemm0")]
    save_case("gemm_bias_n", helper_model(nodes, [("a", [4, 5]), ("b", [5, 3]), ("c", [3])],
                                          [("y", [4, 3])]), [a, b, c], [gemm_ref(a, b, c)])

    # transA, transB, alpha, beta, C of shape [M, N]
    a, b, c = rand(5, 4), rand(3, 5), rand(4, 3)
    nodes = [helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="gemm_t", alpha=0.5,
                              beta=2.0, transA=1, transB=1)]
    save_case("gemm_trans_mn", helper_model(nodes, [("a", [5, 4]), ("b", [3, 5]), ("c", [4, 3])],
                                            [("y", [4, 3])]),
              [a, b, c], [gemm_ref(a, b, c, 0.5, 2.0, 1, 1)])

    # transB only, weights and [N] bias as initializers, alpha/beta != 1
    a, w, c = rand(6, 8), rand(7, 8), rand(7)
    nodes = [helper.make_node("Gemm", ["a", "w", "bias"], ["y"], name="gemm_init", alpha=1.5,
                              beta=-0.75, transB=1)]
    save_case("gemm_init_transb", helper_model(nodes, [("a", [6, 8])], [("y", [6, 7])],
                                               inits=[("w", w), ("bias", c)]),
              [a], [gemm_ref(a, w, c, 1.5, -0.75, 0, 1)])

    # no C; C of shape [M, 1] (unidirectional broadcast)
    a, b = rand(3, 4), rand(4, 2)
    nodes = [helper.make_node("Gemm", ["a", "b"], ["y"], name="gemm_noc", transA=0)]
    save_case("gemm_no_c", helper_model(nodes, [("a", [3, 4]), ("b", [4, 2])], [("y", [3, 2])]),
              [a, b], [gemm_ref(a, b, None)])
    a, b, c = rand(3, 4), rand(4, 2), rand(3, 1)
    nodes = [helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="gemm_cm1", beta=0.5)]
    save_case("gemm_c_m1", helper_model(nodes, [("a", [3, 4]), ("b", [4, 2]), ("c", [3, 1])],
                                        [("y", [3, 2])]),
              [a, b, c], [gemm_ref(a, b, c, 1.0, 0.5)])


# ------------------------------------------------------------------------------------------------
# MatMul


def cases_matmul():
    for name, sa, sb in [("matmul_2d", [3, 4], [4, 5]),
                         ("matmul_3d_2d", [2, 3, 4], [4, 5]),
                         ("matmul_batch_bcast", [2, 3, 4], [1, 4, 5]),
                         ("matmul_batch_bcast_l", [1, 3, 4], [2, 4, 5]),
                         ("matmul_4d_3d", [2, 2, 3, 4], [2, 4, 3])]:
        a, b = rand(*sa), rand(*sb)
        y = T(a) @ T(b)
        nodes = [helper.make_node("MatMul", ["a", "b"], ["y"], name=name + "_node")]
        save_case(name, helper_model(nodes, [("a", sa), ("b", sb)], [("y", list(y.shape))]),
                  [a, b], [y])


# ------------------------------------------------------------------------------------------------
# Elementwise binary with broadcasting


def cases_binary():
    ops = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}
    forms = [
        ("add_nc_c", "Add", [4, 5], [5]),
        ("mul_n1_1c", "Mul", [4, 1], [1, 5]),
        ("sub_c_nc", "Sub", [5], [4, 5]),
        ("sub_nc_1c", "Sub", [4, 5], [1, 5]),
        ("div_n1_nc", "Div", [4, 1], [4, 5]),
        ("div_nc_c", "Div", [4, 5], [5]),
        ("add_3d_bcast", "Add", [2, 1, 4], [3, 1]),
        ("mul_same", "Mul", [2, 3, 4], [2, 3, 4]),
    ]
    for name, op, sa, sb in forms:
        a = rand(*sa)
        b = rand(*sb, lo=0.5, hi=2.0) if op == "Div" else rand(*sb)
        if op == "Div" and name == "div_n1_nc":
            b = b * np.where(RNG.uniform(size=sb) < 0.5, -1, 1).astype(np.float32)
        y = ops[op](T(a), T(b))
        nodes = [helper.make_node(op, ["a", "b"], ["y"], name=name + "_node")]
        save_case(name, helper_model(nodes, [("a", sa), ("b", sb)], [("y", list(y.shape))]),
                  [a, b], [y])

    # scalar (rank-0 initializer) on either side
    a, s = rand(3, 4), np.array(1.75, np.float32)
    nodes = [helper.make_node("Mul", ["a", "s"], ["t"], name="mul_scalar"),
             helper.make_node("Sub", ["s", "t"], ["y"], name="sub_scalar")]
    y = T(s) - T(a) * T(s)
    save_case("scalar_bcast", helper_model(nodes, [("a", [3, 4])], [("y", [3, 4])],
                                           inits=[("s", s)]), [a], [y])

    # scalar graph input (rank 0)
    a, s = rand(2, 3), rand(lo=0.5, hi=2.0)
    nodes = [helper.make_node("Div", ["a", "s"], ["y"], name="div_by_scalar_input")]
    save_case("div_scalar_input", helper_model(nodes, [("a", [2, 3]), ("s", [])],
                                               [("y", [2, 3])]),
              [a, np.asarray(s, np.float32).reshape(())], [T(a) / T(s)])


# ------------------------------------------------------------------------------------------------
# Unary, Softmax, Flatten, Reshape, Identity, Constant


class SigTanh(torch.nn.Module):
    def forward(self, x):
        return torch.tanh(torch.sigmoid(x) * 3.0 - 1.0), torch.relu(torch.tanh(x))


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(12, 16)
        self.l2 = torch.nn.Linear(16, 6)

    def forward(self, x):
        return torch.softmax(self.l2(torch.sigmoid(self.l1(x))), dim=-1)


class FlattenMod(torch.nn.Module):
    def forward(self, x):
        return torch.flatten(x, 1) * 2.0


def cases_unary_shape():
    torch.manual_seed(7)
    x = rand(3, 7)
    m = SigTanh()
    save_case("sigmoid_tanh_chain", export(m, [T(x)], ["x"], ["y0", "y1"]), [x], list(m(T(x))))

    x = rand(5, 12)
    m = Mlp().eval()
    with torch.no_grad():
        y = m(T(x))
    save_case("mlp_torch", export(m, [T(x)], ["x"], ["y"]), [x], [y])

    x = rand(2, 3, 2, 2)
    m = FlattenMod()
    save_case("flatten_torch", export(m, [T(x)], ["x"], ["y"]), [x], [m(T(x))])

    x = rand(3, 4)
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu0")]
    save_case("relu", helper_model(nodes, [("x", [3, 4])], [("y", [3, 4])]), [x],
              [torch.relu(T(x))])

    # Softmax, opset 13: axis != last, negative axis, default (-1)
    x = rand(2, 3, 4, lo=-3, hi=3)
    for name, kw, dim in [("softmax_axis1", {"axis": 1}, 1), ("softmax_axis0", {"axis": 0}, 0),
                          ("softmax_default", {}, -1), ("softmax_neg2", {"axis": -2}, -2)]:
        nodes = [helper.make_node("Softmax", ["x"], ["y"], name=name + "_node", **kw)]
        save_case(name, helper_model(nodes, [("x", [2, 3, 4])], [("y", [2, 3, 4])]), [x],
                  [torch.softmax(T(x), dim=dim)])

    # Softmax, opset 11: input coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])]
    for name, kw, axis in [("softmax11_axis1", {"axis": 1}, 1),
                           ("softmax11_default", {}, 1), ("softmax11_axis2", {"axis": 2}, 2)]:
        nodes = [helper.make_node("Softmax", ["x"], ["y"], name=name + "_node", **kw)]
        lead = int(np.prod(x.shape[:axis]))
        y = torch.softmax(T(x).reshape(lead, -1), dim=1).reshape(x.shape)
        save_case(name, helper_model(nodes, [("x", [2, 3, 4])], [("y", [2, 3, 4])], opset=11),
                  [x], [y])

    # Flatten axis 2 and axis 0
    x = rand(2, 3, 4, 5)
    nodes = [helper.make_node("Flatten", ["x"], ["y"], name="flatten_a2", axis=2)]
    save_case("flatten_axis2", helper_model(nodes, [("x", [2, 3, 4, 5])], [("y", [6, 20])]), [x],
              [T(x).reshape(6, 20)])
    nodes = [helper.make_node("Flatten", ["x"], ["y"], name="flatten_a0", axis=0)]
    save_case("flatten_axis0", helper_model(nodes, [("x", [2, 3, 4, 5])], [("y", [1, 120])]),
              [x], [T(x).reshape(1, 120)])

    # Reshape with 0 (copy dim) and -1 (infer), shape as initializer and as Constant node
    x = rand(2, 3, 4)
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_0m1")]
    save_case("reshape_zero_neg", helper_model(nodes, [("x", [2, 3, 4])], [("y", [2, 12])],
                                               inits=[("shape", np.array([0, -1], np.int64))]),
              [x], [T(x).reshape(2, 12)])
    nodes = [helper.make_node("Constant", [], ["shape"], name="shape_const",
                              value=numpy_helper.from_array(np.array([-1, 0, 2], np.int64))),
             helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape_c"),
             helper.make_node("Relu", ["r"], ["y"], name="relu_after_reshape")]
    save_case("reshape_const_node", helper_model(nodes, [("x", [2, 3, 4])], [("y", [4, 3, 2])]),
              [x], [torch.relu(T(x).reshape(4, 3, 2))])

    # Identity (in the middle and as the output)
    x = rand(3, 3)
    nodes = [helper.make_node("Identity", ["x"], ["i"], name="ident0"),
             helper.make_node("Sigmoid", ["i"], ["s"], name="sig0"),
             helper.make_node("Identity", ["s"], ["y"], name="ident1")]
    save_case("identity", helper_model(nodes, [("x", [3, 3])], [("y", [3, 3])]), [x],
              [torch.sigmoid(T(x))])

    # Constant nodes: value (tensor), value_float, value_floats
    x = rand(2, 4)
    cv = rand(4)
    nodes = [helper.make_node("Constant", [], ["c0"], name="const_tensor",
                              value=numpy_helper.from_array(cv)),
             helper.make_node("Constant", [], ["c1"], name="const_float", value_float=0.25),
             helper.make_node("Constant", [], ["c2"], name="const_floats",
                              value_floats=[1.0, -2.0, 3.0, 0.5]),
             helper.make_node("Add", ["x", "c0"], ["t0"], name="add_c0"),
             helper.make_node("Mul", ["t0", "c1"], ["t1"], name="mul_c1"),
             helper.make_node("Sub", ["t1", "c2"], ["y"], name="sub_c2")]
    y = (T(x) + T(cv)) * 0.25 - T([1.0, -2.0, 3.0, 0.5])
    save_case("constant_node", helper_model(nodes, [("x", [2, 4])], [("y", [2, 4])]), [x], [y])

    # Initializers also listed in graph.input (IR version 3 style): they are constants
    x, w, b = rand(3, 4), rand(4, 2), rand(2)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["t"], name="mm"),
             helper.make_node("Add", ["t", "b"], ["y"], name="add_b")]
    save_case("init_in_inputs",
              helper_model(nodes, [("x", [3, 4])], [("y", [3, 2])], inits=[("w", w), ("b", b)],
                           graph_inputs_extra=[vi("w", [4, 2]), vi("b", [2])]),
              [x], [T(x) @ T(w) + T(b)])

    # Typed data fields instead of raw_data: float_data / int64_data initializers, value_ints
    x = rand(2, 6)
    w = rand(6, 3)
    b = rand(3)
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [6, 3], w.flatten().tolist()),
             helper.make_tensor("shape", TensorProto.INT64, [2], [3, -1])]
    nodes = [helper.make_node("Constant", [], ["b"], name="const_b_floats",
                              value=helper.make_tensor("bv", TensorProto.FLOAT, [3], b.tolist())),
             helper.make_node("Constant", [], ["shape2"], name="const_ints", value_ints=[0, 1, 2]),
             helper.make_node("Gemm", ["x", "w", "b"], ["g"], name="gemm_typed"),
             helper.make_node("Reshape", ["g", "shape"], ["r"], name="reshape_typed"),
             helper.make_node("Reshape", ["r", "shape2"], ["y"], name="reshape_ints")]
    g = helper.make_graph(nodes, "g", [vi("x", [2, 6])], [vi("y", [3, 1, 2])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    save_case("typed_fields", m.SerializeToString(), [x],
              [(T(x) @ T(w) + T(b)).reshape(3, 1, 2)])

    # Two outputs, one of them an intermediate also consumed downstream
    x1, x2 = rand(2, 3), rand(2, 3)
    nodes = [helper.make_node("Add", ["x1", "x2"], ["s"], name="add_s"),
             helper.make_node("Tanh", ["s"], ["y"], name="tanh_s")]
    save_case("two_outputs", helper_model(nodes, [("x1", [2, 3]), ("x2", [2, 3])],
                                          [("s", [2, 3]), ("y", [2, 3])]),
              [x1, x2], [T(x1) + T(x2), torch.tanh(T(x1) + T(x2))])


def cases_wide_variadic():
    """zoo2: Concat of 11 inputs (DenseNet's dense blocks concatenate up to 32+) and Sum / Max of
    10: wider than a tessera node (8 inputs); the importer chains them. Graph inputs are reused
    (the C tests feed at most 8)."""
    xs = [rand(2, i + 1, 3) for i in range(6)]
    order = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4]
    nodes = [helper.make_node("Concat", [f"x{i}" for i in order], ["y"], name="concat11", axis=1)]
    save_case("concat_wide", helper_model(nodes, [(f"x{i}", [2, i + 1, 3]) for i in range(6)],
                                          [("y", [2, 36, 3])]),
              xs, [torch.cat([T(xs[i]) for i in order], 1)])
    xs = [rand(2, 4) for _ in range(5)]
    order = [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]
    nodes = [helper.make_node("Sum", [f"x{i}" for i in order], ["s"], name="sum10"),
             helper.make_node("Max", [f"x{i}" for i in order], ["m"], name="max10")]
    ref_s = T(xs[order[0]])
    for i in order[1:]:
        ref_s = ref_s + T(xs[i])
    save_case("variadic_wide", helper_model(nodes, [(f"x{i}", [2, 4]) for i in range(5)],
                                            [("s", [2, 4]), ("m", [2, 4])]),
              xs, [ref_s, torch.stack([T(x) for x in xs]).max(0).values])


# ------------------------------------------------------------------------------------------------
# Bad / unsupported files


def bad_files():
    bad = []
    good = open(os.path.join(HERE, "mlp_torch.onnx"), "rb").read()
    open(os.path.join(HERE, "empty.onnx"), "wb").close()
    bad.append(("empty.onnx", "TSR_E_PARSE", "empty.onnx"))
    with open(os.path.join(HERE, "truncated.onnx"), "wb") as f:
        f.write(good[:len(good) // 2])
    bad.append(("truncated.onnx", "TSR_E_PARSE", "truncated.onnx"))
    with open(os.path.join(HERE, "garbage.onnx"), "wb") as f:
        f.write(np.random.default_rng(99).integers(0, 256, 512, dtype=np.uint8).tobytes())
    bad.append(("garbage.onnx", "TSR_E_PARSE", "garbage.onnx"))

    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu_ok"),
             helper.make_node("Det", ["r"], ["y"], name="my_cos_node")]
    with open(os.path.join(HERE, "unsupported_op.onnx"), "wb") as f:
        f.write(helper_model(nodes, [("x", [2, 3])], [("y", [2, 3])]))
    bad.append(("unsupported_op.onnx", "TSR_E_UNSUPPORTED", "my_cos_node"))

    # node input "ghost" is defined nowhere (written without the checker, which would reject it)
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="add_ghost")]
    g = helper.make_graph(nodes, "g", [vi("x", [2, 3])], [vi("y", [2, 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    with open(os.path.join(HERE, "dangling.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    bad.append(("dangling.onnx", "TSR_E_PARSE", "ghost"))

    # a uint64 initializer (a dtype tessera does not support)
    nodes = [helper.make_node("Add", ["x", "d"], ["y"], name="add_double")]
    g = helper.make_graph(nodes, "g", [vi("x", [2])], [vi("y", [2])],
                          initializer=[numpy_helper.from_array(np.ones(2, np.uint64), "d")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    with open(os.path.join(HERE, "bad_dtype.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    bad.append(("bad_dtype.onnx", "TSR_E_DTYPE", "'d'"))

    # Reshape whose shape is a graph input: a value input (the import defers; check_onnx.c runs it)
    g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape_dyn")],
                          "g", [vi("x", [2, 3]),
                                helper.make_tensor_value_info("s", TensorProto.INT64, [2])],
                          [vi("y", [3, 2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    with open(os.path.join(HERE, "reshape_dynamic.onnx"), "wb") as f:
        f.write(m.SerializeToString())

    # inner dims disagree: the builder's shape inference rejects it, naming the node
    g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"], name="mm_bad")], "g",
                          [vi("a", [2, 3]), vi("b", [4, 5])], [vi("y", [2, 5])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    with open(os.path.join(HERE, "shape_mismatch.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    bad.append(("shape_mismatch.onnx", "TSR_E_SHAPE", "mm_bad"))

    # a valid ModelProto without a graph
    m = onnx.ModelProto()
    m.ir_version = 7
    m.opset_import.append(helper.make_opsetid("", 13))
    with open(os.path.join(HERE, "no_graph.onnx"), "wb") as f:
        f.write(m.SerializeToString())
    bad.append(("no_graph.onnx", "TSR_E_PARSE", "no_graph.onnx"))

    with open(os.path.join(HERE, "bad_cases.txt"), "w") as f:
        for row in bad:
            f.write(" ".join(row) + "\n")


# ------------------------------------------------------------------------------------------------
# .npy files written by numpy itself, for tests/check_npy.c


def npy_files():
    np.save(os.path.join(HERE, "np_f32_2x3.npy"), np.arange(6, dtype=np.float32).reshape(2, 3) / 4)
    np.save(os.path.join(HERE, "np_i64_5.npy"), np.array([-3, 0, 7, 1 << 40, -(1 << 50)],
                                                         np.int64))
    np.save(os.path.join(HERE, "np_f32_scalar.npy"), np.array(2.5, np.float32))
    np.save(os.path.join(HERE, "np_f32_empty.npy"), np.zeros((0, 3), np.float32))
    with open(os.path.join(HERE, "np_f32_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5,
                                  version=(2, 0))
    with open(os.path.join(HERE, "np_f32_v3.npy"), "wb") as f:
        np.lib.format.write_array(f, np.array([1.5, -2.0], np.float32), version=(3, 0))
    np.save(os.path.join(HERE, "np_f64.npy"), np.ones(3, np.float64))
    np.save(os.path.join(HERE, "np_fortran.npy"),
            np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.save(os.path.join(HERE, "np_f32_be.npy"), np.arange(3, dtype=">f4"))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cases_gemm()
    cases_matmul()
    cases_binary()
    cases_unary_shape()
    cases_wide_variadic()
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        for name, n_in, n_out in CASES:
            f.write(f"{name} {n_in} {n_out}\n")
    bad_files()
    npy_files()
    print(f"{len(CASES)} cases written to {HERE}")


if __name__ == "__main__":
    main()
