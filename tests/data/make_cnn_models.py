#!/usr/bin/python3
"""Writes the CNN / new-operator test models of tests/data/cnn with PyTorch reference outputs
(issue 4: "ONNX CNNs with unfolded BatchNormalization, residual adds and pooling match PyTorch
within 1e-4 on cpu and opencl, with fewer kernels than ONNX nodes").

Run with Debian's interpreter (python3-torch 1.13, python3-onnx 1.12, python3-numpy):

    /usr/bin/python3 tests/data/make_cnn_models.py

For every case <name> it writes cnn/<name>.onnx, cnn/<name>_in<i>.npy (random inputs, float32)
and cnn/<name>_out<i>.npy (reference outputs computed by PyTorch: the exported torch module
itself, or, for models built with onnx.helper because the exporter cannot express them, the same
computation written with torch ops).

cnn/cases.txt lists one case per line for tests/check_cnn.c:

    <name> <n_inputs> <n_outputs> <onnx_nodes> <must_fuse>

onnx_nodes counts the graph's nodes other than Constant (the operators a naive runtime would
launch one kernel for); must_fuse = 1 when the compiled plan must launch fewer kernels than
onnx_nodes (the ResNet-style models: Conv+BN+ReLU and the residual add are fusion targets).

Export settings: opset 13, do_constant_folding=False and training=TrainingMode.PRESERVE with the
modules in eval mode, so BatchNormalization stays in the graph as an inference-mode node
("unfolded"; TrainingMode.EVAL would let the exporter fold it into the Conv). The script checks
every exported node list: BatchNormalization must be present where the module has BN, and only
operators tessera supports (include/tessera.h TSR_OP_LIST, plus Constant) may appear.

Limits of this toolchain (stated in the case list comments below):
  - onnx 1.12 knows opsets up to 17: LayerNormalization (opset 17) is built with onnx.helper and
    checked; Gelu is an ONNX op only from opset 20, so gelu_node_opset20 is written with
    onnx.helper WITHOUT onnx.checker (1.12 cannot check it). torch 1.13 exports nn.GELU as its
    Erf decomposition and nn.LayerNorm as its ReduceMean/Sub/Pow/Sqrt/Div decomposition.
  - torch exports asymmetric padding as a Pad node and count_include_pad pooling as Pad +
    AveragePool, so those cases are built with onnx.helper (pads on the Conv/pool node).

Self-check: after writing, every saved .onnx is run again by an independent float64 numpy
interpreter (interpret() below, written from the ONNX operator pages) and must agree with the
PyTorch outputs within 1e-5 (typically ~1e-7), so a reference that does not match the ONNX
semantics of its file cannot be saved. Replacing the BatchNormalization nodes of resnet_block by
Relu moves its logits by 0.6, so a runtime that skipped BN could not pass at 1e-4.

Deterministic: fixed seeds, one torch thread. Total output ~0.4 MB.
"""
import io
import math
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cnn")
RNG = np.random.default_rng(4242)
CASES = []
SUPPORTED = {
    "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Softmax",
    "Flatten", "Reshape", "Identity", "Conv", "BatchNormalization", "MaxPool", "AveragePool",
    "GlobalAveragePool", "Concat", "Transpose", "Clip", "LeakyRelu", "Erf", "Gelu", "Sqrt",
    "Pow", "Exp", "Log", "ReduceMean", "ReduceSum", "ReduceMax", "LayerNormalization",
    "Constant"
}

torch.manual_seed(4242)
torch.set_num_threads(1)


def rand(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def T(x):
    return torch.from_numpy(np.asarray(x, np.float32))


def save_case(name, model, inputs, outputs, must_fuse=0, require=(), check=True):
    """Writes one case. model: onnx.ModelProto; require: op types that must be in the graph."""
    if check:
        onnx.checker.check_model(model)
    ops = [n.op_type for n in model.graph.node]
    bad = sorted(set(ops) - SUPPORTED)
    assert not bad, f"{name}: exported unsupported ops {bad}: {ops}"
    for r in require:
        assert r in ops, f"{name}: {r} missing from the exported graph: {ops}"
    assert len(model.graph.input) == len(inputs), f"{name}: graph inputs {model.graph.input}"
    assert len(model.graph.output) == len(outputs)
    n_nodes = sum(1 for o in ops if o != "Constant")
    with open(os.path.join(HERE, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for i, x in enumerate(inputs):
        np.save(os.path.join(HERE, f"{name}_in{i}.npy"), np.asarray(x, np.float32, order="C"))
    for i, y in enumerate(outputs):
        y = y.detach().numpy() if isinstance(y, torch.Tensor) else y
        y = np.asarray(y, np.float32, order="C")
        assert np.all(np.isfinite(y)), f"{name}: non-finite reference output"
        np.save(os.path.join(HERE, f"{name}_out{i}.npy"), y)
    CASES.append((name, len(inputs), len(outputs), n_nodes, must_fuse, " ".join(ops)))


def export(module, inputs, input_names, output_names, opset=13):
    """Exports `module` (eval mode) with BN kept as a node; returns (ModelProto, torch outputs)."""
    module.eval()
    args = tuple(T(x) for x in inputs)
    with torch.no_grad():
        out = module(*args)
    out = out if isinstance(out, tuple) else (out,)
    f = io.BytesIO()
    torch.onnx.export(module, args, f, input_names=input_names, output_names=output_names,
                      opset_version=opset, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)
    return fold_constant_casts(onnx.load_from_string(f.getvalue())), out


def fold_constant_casts(model):
    """torch 1.13 exports clamp's bounds as Constant -> Cast(to=FLOAT); Cast is not a tessera op,
    so each such Cast is replaced by a float Constant (same value) before the model is saved."""
    g = model.graph
    consts = {n.output[0]: n for n in g.node if n.op_type == "Constant"}
    keep = []
    for n in g.node:
        if n.op_type == "Cast" and n.input[0] in consts:
            to = helper.get_attribute_value(n.attribute[0])
            assert to == TensorProto.FLOAT, f"Cast to {to}"
            src = numpy_helper.to_array(consts[n.input[0]].attribute[0].t).astype(np.float32)
            keep.append(helper.make_node("Constant", [], [n.output[0]],
                                         value=numpy_helper.from_array(src)))
        else:
            keep.append(n)
    del g.node[:]
    g.node.extend(keep)
    # drop Constants nobody reads any more
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    keep = [n for n in g.node if n.op_type != "Constant" or n.output[0] in used]
    del g.node[:]
    g.node.extend(keep)
    return model


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def helper_model(nodes, inputs, outputs, inits=(), opset=13, ir_version=7):
    g = helper.make_graph(nodes, "g", [vi(n, s) for n, s in inputs],
                          [vi(n, s) for n, s in outputs],
                          initializer=[numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="tessera-tests")
    m.ir_version = ir_version
    return m


def randomize_bn(bn):
    """Non-trivial inference statistics so an ignored or misapplied BN fails the comparison."""
    c = bn.num_features
    with torch.no_grad():
        bn.weight.copy_(T(rand(c, lo=0.5, hi=1.5)))
        bn.bias.copy_(T(rand(c, lo=-0.5, hi=0.5)))
        bn.running_mean.copy_(T(rand(c, lo=-0.5, hi=0.5)))
        bn.running_var.copy_(T(rand(c, lo=0.5, hi=2.0)))
    return bn


def conv_bn(cin, cout, k=3, stride=1, pad=1, dilation=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation, groups, bias=False),
                         randomize_bn(nn.BatchNorm2d(cout)))


# ------------------------------------------------------------------------------------------------
# ResNet-style models (must launch fewer kernels than ONNX nodes)


class ResNetBlock(nn.Module):
    """stem Conv3x3+BN+ReLU; basic block Conv+BN+ReLU, Conv+BN, + identity, ReLU; MaxPool,
    GlobalAveragePool, Flatten, Gemm."""

    def __init__(self, cin=4, c=16, classes=10, features=False):
        super().__init__()
        self.features = features  # also output the post-residual feature map
        self.stem = conv_bn(cin, c)
        self.c1 = conv_bn(c, c)
        self.c2 = conv_bn(c, c)
        self.pool = nn.MaxPool2d(2, 2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.stem(x))
        y = F.relu(self.c1(x))
        y = self.c2(y)
        x = F.relu(x + y)
        f = x
        x = self.gap(self.pool(x))
        x = self.fc(torch.flatten(x, 1))
        return (x, f) if self.features else x


class ResNetDown(nn.Module):
    """Downsampling block: Conv3x3 s2 + BN + ReLU, Conv3x3 + BN, projection shortcut Conv1x1 s2
    + BN, Add, ReLU; then a second identity block, AveragePool 2x2, GlobalAveragePool, Gemm."""

    def __init__(self, cin=8, c=16, classes=5):
        super().__init__()
        self.a1 = conv_bn(cin, c, stride=2)
        self.a2 = conv_bn(c, c)
        self.proj = conv_bn(cin, c, k=1, stride=2, pad=0)
        self.b1 = conv_bn(c, c)
        self.b2 = conv_bn(c, c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        y = self.a2(F.relu(self.a1(x)))
        x = F.relu(y + self.proj(x))
        y = self.b2(F.relu(self.b1(x)))
        x = F.relu(x + y)
        x = F.avg_pool2d(x, 2, count_include_pad=False)  # True exports a (zero) Pad node
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(x.flatten(1))


def cases_resnet():
    m, out = export(ResNetBlock(), [x := rand(2, 4, 16, 16, lo=-2, hi=2)], ["x"], ["logits"])
    save_case("resnet_block", m, [x], out, must_fuse=1,
              require=("Conv", "BatchNormalization", "Add", "Relu", "MaxPool",
                       "GlobalAveragePool", "Flatten", "Gemm"))
    # the same block also returning the feature map after the residual ReLU: a value that is a
    # graph output and feeds the pool, so fusion must not swallow it
    m, out = export(ResNetBlock(features=True), [x := rand(2, 4, 16, 16, lo=-2, hi=2)], ["x"],
                    ["logits", "features"])
    save_case("resnet_block_feat", m, [x], out, must_fuse=1, require=("BatchNormalization",))
    m, out = export(ResNetDown(), [x := rand(2, 8, 15, 15, lo=-2, hi=2)], ["x"], ["logits"])
    save_case("resnet_down", m, [x], out, must_fuse=1,
              require=("Conv", "BatchNormalization", "Add", "AveragePool"))


# ------------------------------------------------------------------------------------------------
# Convolutions: strides, dilation, groups, depthwise separable, asymmetric pads, auto_pad


class ConvBnRelu(nn.Module):
    def __init__(self, *a, **k):
        super().__init__()
        self.cb = conv_bn(*a, **k)

    def forward(self, x):
        return F.relu(self.cb(x))


class ConvBias(nn.Module):
    def __init__(self, *a, **k):
        super().__init__()
        self.conv = nn.Conv2d(*a, **k)

    def forward(self, x):
        return self.conv(x)


class DepthwiseSeparable(nn.Module):
    """MobileNet block: depthwise 3x3 (groups = C) + BN + ReLU, pointwise 1x1 + BN + ReLU."""

    def __init__(self, c=8, cout=16):
        super().__init__()
        self.dw = conv_bn(c, c, groups=c)
        self.pw = conv_bn(c, cout, k=1, pad=0)

    def forward(self, x):
        return F.relu(self.pw(F.relu(self.dw(x))))


def cases_conv():
    m, out = export(ConvBias(4, 8, 3, stride=2, padding=1), [x := rand(1, 4, 15, 15)], ["x"],
                    ["y"])
    save_case("conv_stride2", m, [x], out, require=("Conv",))
    m, out = export(ConvBias(4, 6, 3, stride=1, padding=2, dilation=2), [x := rand(2, 4, 11, 13)],
                    ["x"], ["y"])
    save_case("conv_dilation2", m, [x], out, require=("Conv",))
    m, out = export(ConvBias(8, 12, (3, 5), stride=(2, 1), padding=(1, 2), groups=2),
                    [x := rand(1, 8, 12, 10)], ["x"], ["y"])
    save_case("conv_grouped", m, [x], out, require=("Conv",))
    m, out = export(ConvBnRelu(6, 6, k=5, stride=1, pad=2, groups=3), [x := rand(2, 6, 9, 9)],
                    ["x"], ["y"])
    save_case("conv_grouped_bn_relu", m, [x], out, require=("Conv", "BatchNormalization"))
    m, out = export(DepthwiseSeparable(), [x := rand(2, 8, 14, 14, lo=-2, hi=2)], ["x"], ["y"])
    save_case("conv_depthwise_sep", m, [x], out, require=("Conv", "BatchNormalization"))
    m, out = export(ConvBias(3, 5, 1, bias=False), [x := rand(2, 3, 7, 6)], ["x"], ["y"])
    save_case("conv_1x1_nobias", m, [x], out, require=("Conv",))

    # Asymmetric pads: ONNX pads = [top, left, bottom, right]; torch F.pad takes
    # (left, right, top, bottom). Kernel 3x2, stride (1, 2), bias.
    x, w, b = rand(2, 3, 8, 9), rand(4, 3, 3, 2), rand(4)
    pads = [0, 1, 2, 1]
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 2], strides=[1, 2],
                            pads=pads)
    ref = F.conv2d(F.pad(T(x), (pads[1], pads[3], pads[0], pads[2])), T(w), T(b), stride=(1, 2))
    m = helper_model([node], [("x", list(x.shape))], [("y", list(ref.shape))],
                     inits=[("w", w), ("b", b)])
    save_case("conv_asym_pads", m, [x], [ref])

    # auto_pad SAME_UPPER, stride 2, input 10: output 5, total pad 1 goes at the end.
    x, w = rand(1, 2, 10, 10), rand(3, 2, 3, 3)
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                            auto_pad="SAME_UPPER")
    ref = F.conv2d(F.pad(T(x), (0, 1, 0, 1)), T(w), stride=2)
    assert list(ref.shape) == [1, 3, 5, 5]
    m = helper_model([node], [("x", list(x.shape))], [("y", list(ref.shape))], inits=[("w", w)])
    save_case("conv_same_upper", m, [x], [ref])


# ------------------------------------------------------------------------------------------------
# Pools


class Fn(nn.Module):
    """A parameterless module computing fn(*inputs)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def cases_pool():
    x = rand(2, 3, 16, 16, lo=-2, hi=2)
    m, out = export(Fn(lambda t: F.max_pool2d(t, 3, 2, 1)), [x], ["x"], ["y"])
    save_case("maxpool_k3s2p1", m, [x], out, require=("MaxPool",))
    # ceil_mode: 16 -> ceil((16 + 2 - 3) / 2) + 1 = 9 (the last window overhangs the pad)
    m, out = export(Fn(lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True)), [x], ["x"], ["y"])
    assert out[0].shape[-1] == 9
    save_case("maxpool_ceil", m, [x], out, require=("MaxPool",))
    x2 = rand(1, 4, 11, 13)
    m, out = export(Fn(lambda t: F.max_pool2d(t, (2, 3), (2, 3), ceil_mode=True)), [x2], ["x"],
                    ["y"])
    save_case("maxpool_rect_ceil", m, [x2], out, require=("MaxPool",))
    # AveragePool without padding / with padding but count_include_pad=False: exported as is.
    m, out = export(Fn(lambda t: F.avg_pool2d(t, 2, count_include_pad=False)), [x], ["x"], ["y"])
    save_case("avgpool_k2", m, [x], out, require=("AveragePool",))
    m, out = export(Fn(lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False)), [x],
                    ["x"], ["y"])
    save_case("avgpool_pad_excl", m, [x], out, require=("AveragePool",))
    m, out = export(Fn(lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True,
                                                count_include_pad=False)), [x], ["x"], ["y"])
    save_case("avgpool_ceil_excl", m, [x], out, require=("AveragePool",))
    m, out = export(Fn(lambda t: F.adaptive_avg_pool2d(t, 1)), [x2], ["x"], ["y"])
    save_case("global_avgpool", m, [x2], out, require=("GlobalAveragePool",))

    # count_include_pad=1 (torch would export Pad + AveragePool): onnx.helper, torch reference.
    def avg_incl(name, x, k, s, p, ceil):
        node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[k, k], strides=[s, s],
                                pads=[p] * 4, count_include_pad=1, ceil_mode=int(ceil))
        ref = F.avg_pool2d(T(x), k, s, p, ceil_mode=ceil, count_include_pad=True)
        m = helper_model([node], [("x", list(x.shape))], [("y", list(ref.shape))])
        save_case(name, m, [x], [ref])

    avg_incl("avgpool_pad_incl", x, 3, 2, 1, False)
    # 15 -> 8 windows, the last one ends exactly at the padded edge: no overhang
    avg_incl("avgpool_ceil_incl", rand(1, 2, 15, 15), 3, 2, 1, True)
    # 16 -> 9 windows, the last one overhangs the padded edge: PyTorch (and ONNX Runtime) divide
    # by the window clipped to the padded input (2 here), not by k*k.
    avg_incl("avgpool_ceil_incl_overhang", x, 3, 2, 1, True)

    # Asymmetric pads on MaxPool (padding is -inf) and AveragePool (count_include_pad=0).
    x3 = rand(1, 3, 7, 8, lo=-3, hi=-1)  # all negative: a pad read as 0 would win the max
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                            pads=[1, 0, 2, 1])
    ref = F.max_pool2d(F.pad(T(x3), (0, 1, 1, 2), value=-float("inf")), 3, 2)
    m = helper_model([node], [("x", list(x3.shape))], [("y", list(ref.shape))])
    save_case("maxpool_asym_pads_neg", m, [x3], [ref])
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                            pads=[1, 0, 2, 1])
    ones = F.pad(torch.ones_like(T(x3)), (0, 1, 1, 2))
    ref = F.avg_pool2d(F.pad(T(x3), (0, 1, 1, 2)), 3, 2) / F.avg_pool2d(ones, 3, 2)
    m = helper_model([node], [("x", list(x3.shape))], [("y", list(ref.shape))])
    save_case("avgpool_asym_pads_excl", m, [x3], [ref])


# ------------------------------------------------------------------------------------------------
# Elementwise zoo


class Zoo(nn.Module):
    """Clip, LeakyRelu, GELU (Erf decomposition), Erf, Sqrt, Pow (2 on negatives, tensor exponent),
    Exp, Log, chained with broadcasts. x [2,3,4,5] in [-3,3], y [3,1,5] in [-1,1],
    p [5] in [0.5, 2]."""

    def forward(self, x, y, p):
        a = torch.clamp(x * y, -1.5, 2.0)
        b = F.leaky_relu(x + y, 0.1)
        c = F.gelu(b * 0.7)
        d = torch.sqrt(a + 1.6)
        e = torch.pow(x, 2.0) * 0.1 - torch.erf(y)
        f = torch.log(torch.exp(x * 0.5) + y * y + 0.1)
        g = torch.pow(d + 0.5, p)  # positive base, broadcast tensor exponent
        return c + d * e - f, g * torch.sigmoid(b)


def unary_case(name, fn, x, require, opset=13):
    m, out = export(Fn(fn), [x], ["x"], ["y"], opset=opset)
    save_case(name, m, [x], out, require=require)


def cases_elementwise():
    x = rand(2, 3, 4, 5, lo=-3, hi=3)
    unary_case("clip_const", lambda t: torch.clamp(t, -1.0, 0.5), x, ("Clip",))
    unary_case("leakyrelu", lambda t: F.leaky_relu(t, 0.2), x, ("LeakyRelu",))
    unary_case("erf", torch.erf, x, ("Erf",))
    unary_case("gelu_erf", F.gelu, x, ("Erf",))
    unary_case("sqrt", torch.sqrt, rand(2, 3, 4, 5, lo=0.0, hi=4.0), ("Sqrt",))
    unary_case("pow2_neg", lambda t: torch.pow(t, 2.0), x, ("Pow",))
    unary_case("pow3_neg", lambda t: torch.pow(t, 3.0), x, ("Pow",))
    unary_case("pow_half", lambda t: torch.pow(t, 0.5), rand(2, 3, 4, 5, lo=0.1, hi=4.0),
               ("Pow",))
    unary_case("exp", torch.exp, x, ("Exp",))
    unary_case("log", torch.log, rand(2, 3, 4, 5, lo=0.05, hi=5.0), ("Log",))

    # Clip with min/max as graph initializers (opset 13 inputs) and with min absent ("").
    lo, hi = np.array(-0.75, np.float32), np.array(1.25, np.float32)
    node = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
    m = helper_model([node], [("x", list(x.shape))], [("y", list(x.shape))],
                     inits=[("lo", lo), ("hi", hi)])
    save_case("clip_init_minmax", m, [x], [torch.clamp(T(x), -0.75, 1.25)])
    node = helper.make_node("Clip", ["x", "", "hi"], ["y"])
    m = helper_model([node], [("x", list(x.shape))], [("y", list(x.shape))], inits=[("hi", hi)])
    save_case("clip_max_only", m, [x], [torch.clamp(T(x), max=1.25)])
    node = helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.25)
    m = helper_model([node], [("x", list(x.shape))], [("y", list(x.shape))], opset=6)
    save_case("clip_opset6_attrs", m, [x], [torch.clamp(T(x), -0.5, 0.25)])

    # Gelu as one node: ONNX opset 20; onnx 1.12 cannot check it, so no checker here.
    node = helper.make_node("Gelu", ["x"], ["y"])
    m = helper_model([node], [("x", list(x.shape))], [("y", list(x.shape))], opset=20,
                     ir_version=9)
    save_case("gelu_node_opset20", m, [x], [F.gelu(T(x))], check=False)
    node = helper.make_node("Gelu", ["x"], ["y"], approximate="tanh")
    m = helper_model([node], [("x", list(x.shape))], [("y", list(x.shape))], opset=20,
                     ir_version=9)
    save_case("gelu_tanh_node_opset20", m, [x], [F.gelu(T(x), approximate="tanh")], check=False)

    # Pow with a broadcast tensor exponent of integers on negative bases (-2.7^2, -1.3^3 ...).
    base = rand(3, 4, lo=-2, hi=2)
    expo = np.array([[2.0], [3.0], [1.0]], np.float32)
    node = helper.make_node("Pow", ["x", "e"], ["y"])
    m = helper_model([node], [("x", [3, 4]), ("e", [3, 1])], [("y", [3, 4])])
    save_case("pow_int_tensor_neg", m, [base, expo], [torch.pow(T(base), T(expo))])

    xs = [rand(2, 3, 4, 5, lo=-3, hi=3), rand(3, 1, 5), rand(5, lo=0.5, hi=2.0)]
    m, out = export(Zoo(), xs, ["x", "y", "p"], ["z0", "z1"])
    save_case("ew_zoo", m, xs, out,
              require=("Clip", "LeakyRelu", "Erf", "Sqrt", "Pow", "Exp", "Log", "Sigmoid"))


# ------------------------------------------------------------------------------------------------
# Concat, Transpose, Reduce


class ConcatConv(nn.Module):
    """Two conv branches concatenated along channels, with the input itself (Inception-like)."""

    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2d(3, 4, 1)
        self.b2 = nn.Conv2d(3, 5, 3, padding=1)

    def forward(self, x):
        return F.relu(torch.cat([self.b1(x), x, self.b2(x)], 1))


class Nhwc(nn.Module):
    """NCHW -> NHWC, per-channel affine on the last axis, -> NCHW."""

    def __init__(self, c):
        super().__init__()
        self.s = nn.Parameter(T(rand(c, lo=0.5, hi=1.5)))
        self.b = nn.Parameter(T(rand(c)))

    def forward(self, x):
        t = x.permute(0, 2, 3, 1) * self.s + self.b
        return t.permute(0, 3, 1, 2), t


def cases_layout():
    a, b = rand(2, 3, 4, 5), rand(2, 6, 4, 5)
    m, out = export(Fn(lambda t: t), [a], ["x"], ["y"])  # warm-up not saved
    m, out = export(type("Cat", (nn.Module,), {"forward": lambda s, p, q: torch.cat([q, p, q], 1)})(),
                    [a, b], ["a", "b"], ["y"])
    save_case("concat_channels", m, [a, b], out, require=("Concat",))
    m, out = export(ConcatConv(), [x := rand(1, 3, 6, 7)], ["x"], ["y"])
    save_case("concat_conv_branches", m, [x], out, require=("Concat", "Conv"))
    c1, c2 = rand(3, 2, 4), rand(3, 5, 4)
    m, out = export(Fn(lambda p, q: torch.cat([p, q], -2)), [c1, c2], ["a", "b"], ["y"])
    save_case("concat_axis_neg2", m, [c1, c2], out, require=("Concat",))

    x = rand(2, 3, 4, 5)
    m, out = export(Nhwc(3), [x], ["x"], ["nchw", "nhwc"])
    save_case("transpose_nhwc_roundtrip", m, [x], out, require=("Transpose",))
    node = helper.make_node("Transpose", ["x"], ["y"])  # default perm: reverse the dims
    m = helper_model([node], [("x", [2, 3, 4, 5])], [("y", [5, 4, 3, 2])])
    save_case("transpose_default_perm", m, [x], [T(x).permute(3, 2, 1, 0)])
    m, out = export(Fn(lambda t: t.permute(2, 0, 3, 1) + 1.0), [x], ["x"], ["y"])
    save_case("transpose_2031", m, [x], out, require=("Transpose",))

    x = rand(2, 3, 4, 5, lo=-2, hi=2)
    red = [
        ("reduce_mean_hw_keep", lambda t: t.mean((2, 3), keepdim=True), "ReduceMean"),
        ("reduce_mean_02", lambda t: t.mean((0, 2)), "ReduceMean"),
        ("reduce_sum_c", lambda t: t.sum(1), "ReduceSum"),
        ("reduce_sum_neg_keep", lambda t: t.sum((-1, -3), keepdim=True), "ReduceSum"),
        ("reduce_max_last", lambda t: t.amax(-1), "ReduceMax"),
        ("reduce_max_13_keep", lambda t: t.amax((1, 3), keepdim=True), "ReduceMax"),
    ]
    for name, fn, op in red:
        unary_case(name, fn, x, (op,))
    # every axis, keepdims 0: a rank-0 result
    node = helper.make_node("ReduceSum", ["x"], ["y"], keepdims=0)
    m = helper_model([node], [("x", [2, 3, 4, 5])], [("y", [])])
    save_case("reduce_sum_all", m, [x], [T(x).sum()])
    node = helper.make_node("ReduceMean", ["x"], ["y"], keepdims=1)
    m = helper_model([node], [("x", [2, 3, 4, 5])], [("y", [1, 1, 1, 1])])
    save_case("reduce_mean_all_keep", m, [x], [T(x).mean().reshape(1, 1, 1, 1)])
    # opset 11: ReduceSum axes as an attribute (an input from opset 13 on)
    node = helper.make_node("ReduceSum", ["x"], ["y"], axes=[1, 2], keepdims=0)
    m = helper_model([node], [("x", [2, 3, 4, 5])], [("y", [2, 5])], opset=11)
    save_case("reduce_sum_opset11", m, [x], [T(x).sum((1, 2))])
    # opset 13: ReduceSum axes from an initializer
    node = helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1)
    m = helper_model([node], [("x", [2, 3, 4, 5])], [("y", [2, 1, 4, 1])],
                     inits=[("axes", np.array([-1, 1], np.int64))])
    save_case("reduce_sum_axes_init", m, [x], [T(x).sum((1, 3), keepdim=True)])


# ------------------------------------------------------------------------------------------------
# Transformer-ish block


class Block(nn.Module):
    """Pre-LN attention block: LN, QKV projections (MatMul + Add), heads via Reshape/Transpose,
    scaled scores, Softmax, context, output projection + residual, LN, MLP with GELU + residual."""

    def __init__(self, d=16, heads=2, seq=8):
        super().__init__()
        self.d, self.h, self.s = d, heads, seq
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        with torch.no_grad():
            for ln in (self.ln1, self.ln2):
                ln.weight.copy_(T(rand(d, lo=0.5, hi=1.5)))
                ln.bias.copy_(T(rand(d, lo=-0.3, hi=0.3)))
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def forward(self, x):
        b, s, d, h = 2, self.s, self.d, self.h
        t = self.ln1(x)

        def heads(z):
            return z.reshape(b, s, h, d // h).transpose(1, 2)

        q, k, v = heads(self.q(t)), heads(self.k(t)), heads(self.v(t))
        att = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / float(np.sqrt(d // h)), -1)
        ctx = torch.matmul(att, v).transpose(1, 2).reshape(b, s, d)
        x = x + self.o(ctx)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


def cases_transformer():
    x = rand(2, 8, 16, lo=-2, hi=2)
    m, out = export(Block(), [x], ["x"], ["y"])
    save_case("transformer_block", m, [x], out,
              require=("MatMul", "Softmax", "Transpose", "Reshape", "ReduceMean", "Sqrt", "Erf"))
    m, out = export(nn.LayerNorm(16), [x], ["x"], ["y"])
    save_case("layernorm_decomposed", m, [x], out, require=("ReduceMean", "Pow", "Sqrt", "Div"))

    # LayerNormalization as one node (opset 17, checked by onnx 1.12).
    g, bta = rand(16, lo=0.5, hi=1.5), rand(16)
    node = helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=1e-5)
    m = helper_model([node], [("x", [2, 8, 16])], [("y", [2, 8, 16])],
                     inits=[("g", g), ("b", bta)], opset=17, ir_version=8)
    save_case("layernorm_node", m, [x], [F.layer_norm(T(x), (16,), T(g), T(bta), 1e-5)])
    # axis 1 of a rank-3 input: normalise over the last two dims; no bias, epsilon 1e-3
    g2 = rand(8, 16, lo=0.5, hi=1.5)
    node = helper.make_node("LayerNormalization", ["x", "g"], ["y"], axis=1, epsilon=1e-3)
    m = helper_model([node], [("x", [2, 8, 16])], [("y", [2, 8, 16])], inits=[("g", g2)],
                     opset=17, ir_version=8)
    save_case("layernorm_node_axis1", m, [x], [F.layer_norm(T(x), (8, 16), T(g2), None, 1e-3)])
    # LayerNormalization node inside a small block: MatMul + Add + LN + Softmax
    w, bb = rand(16, 12), rand(12)
    g3, b3 = rand(12, lo=0.5, hi=1.5), rand(12)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Add", ["m", "bb"], ["a"]),
        helper.make_node("LayerNormalization", ["a", "g", "b"], ["n"]),
        helper.make_node("Softmax", ["n"], ["y"], axis=-1),
    ]
    ref = torch.softmax(F.layer_norm(T(x) @ T(w) + T(bb), (12,), T(g3), T(b3), 1e-5), -1)
    m = helper_model(nodes, [("x", [2, 8, 16])], [("y", [2, 8, 12])],
                     inits=[("w", w), ("bb", bb), ("g", g3), ("b", b3)], opset=17, ir_version=8)
    save_case("matmul_layernorm_softmax", m, [x], [ref])


# ------------------------------------------------------------------------------------------------
# Self-check: an independent float64 numpy interpreter of the saved ONNX files (operator semantics
# written from https://onnx.ai/onnx/operators/; pooling with ceil_mode drops a last window that
# would start in the end padding, as PyTorch and ONNX Runtime do) must agree with every PyTorch
# reference within 1e-5, so an export that does not mean what the module computed is caught here.

VERF = np.vectorize(math.erf)


def pool_out(n, k, s, pad_begin, pad_end, ceil):
    """Output length of a pool window sweep (ONNX MaxPool/AveragePool output shape)."""
    v = (n + pad_begin + pad_end - k) / s
    o = (math.ceil(v) if ceil else math.floor(v)) + 1
    if ceil and (o - 1) * s >= n + pad_begin:  # PyTorch / ONNX Runtime: start inside the input
        o -= 1
    return o


def np_conv(x, w, b, a):
    """ONNX Conv, NCHW, weights [M, C/group, kH, kW], explicit pads or SAME_* auto_pad."""
    n, _, h, wd = x.shape
    m_out, cg, kh, kw = w.shape
    g = a.get("group", 1)
    s = a.get("strides", [1, 1])
    d = a.get("dilations", [1, 1])
    p = list(a.get("pads", [0, 0, 0, 0]))
    auto = a.get("auto_pad", b"NOTSET")
    if auto in (b"SAME_UPPER", b"SAME_LOWER"):
        for i, (size, k) in enumerate([(h, kh), (wd, kw)]):
            o = -(-size // s[i])
            total = max(0, (o - 1) * s[i] + (k - 1) * d[i] + 1 - size)
            lo = total // 2 if auto == b"SAME_UPPER" else total - total // 2
            p[i], p[i + 2] = lo, total - lo
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    ho = (h + p[0] + p[2] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (wd + p[1] + p[3] - d[1] * (kw - 1) - 1) // s[1] + 1
    y = np.zeros((n, m_out, ho, wo))
    per_group = m_out // g
    for m in range(m_out):
        c0 = (m // per_group) * cg
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, c0:c0 + cg, i * d[0]:i * d[0] + s[0] * (ho - 1) + 1:s[0],
                           j * d[1]:j * d[1] + s[1] * (wo - 1) + 1:s[1]]
                y[:, m] += np.einsum("nchw,c->nhw", patch, w[m, :, i, j])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def np_pool(x, a, is_max):
    """ONNX MaxPool / AveragePool (2-D), with pads, ceil_mode and count_include_pad."""
    n, c, h, w = x.shape
    k = a["kernel_shape"]
    s = a.get("strides", [1, 1])
    p = a.get("pads", [0, 0, 0, 0])
    ceil = a.get("ceil_mode", 0)
    ho = pool_out(h, k[0], s[0], p[0], p[2], ceil)
    wo = pool_out(w, k[1], s[1], p[1], p[3], ceil)
    y = np.zeros((n, c, ho, wo))
    for oh in range(ho):
        for ow in range(wo):
            h0, w0 = oh * s[0] - p[0], ow * s[1] - p[1]
            h1, w1 = h0 + k[0], w0 + k[1]
            win = x[:, :, max(h0, 0):min(h1, h), max(w0, 0):min(w1, w)]
            if is_max:
                y[:, :, oh, ow] = win.max((2, 3))
            elif a.get("count_include_pad", 0):  # window clipped to the padded input
                y[:, :, oh, ow] = win.sum((2, 3)) / ((min(h1, h + p[2]) - h0) *
                                                     (min(w1, w + p[3]) - w0))
            else:
                y[:, :, oh, ow] = win.mean((2, 3))
    return y


def as_f64(t):
    a = numpy_helper.to_array(t)
    return a.astype(np.float64) if a.dtype == np.float32 else a


def interpret(model, inputs):
    """Runs `model` with numpy in float64, each op written from the ONNX operator pages."""
    env = {t.name: as_f64(t) for t in model.graph.initializer}
    for v, x in zip(model.graph.input, inputs):
        env[v.name] = x.astype(np.float64)
    for node in model.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
        x = [env[i] if i else None for i in node.input]
        x += [None] * (5 - len(x))
        op = node.op_type
        if op == "Constant":
            r = as_f64(a["value"])
        elif op == "Conv":
            r = np_conv(x[0], x[1], x[2], a)
        elif op == "BatchNormalization":
            sh = (1, -1, 1, 1)
            r = ((x[0] - x[3].reshape(sh)) / np.sqrt(x[4].reshape(sh) + a.get("epsilon", 1e-5)) *
                 x[1].reshape(sh) + x[2].reshape(sh))
        elif op in ("MaxPool", "AveragePool"):
            r = np_pool(x[0], a, op == "MaxPool")
        elif op == "GlobalAveragePool":
            r = x[0].mean((2, 3), keepdims=True)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            r = x[0].reshape(int(np.prod(x[0].shape[:ax])), -1)
        elif op == "Gemm":
            ma = x[0].T if a.get("transA", 0) else x[0]
            mb = x[1].T if a.get("transB", 0) else x[1]
            r = a.get("alpha", 1.0) * ma @ mb
            if x[2] is not None:
                r = r + a.get("beta", 1.0) * x[2]
        elif op == "MatMul":
            r = x[0] @ x[1]
        elif op in ("Add", "Sub", "Mul", "Div", "Pow"):
            r = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
                 "Pow": np.power}[op](x[0], x[1])
        elif op == "Clip":
            lo = x[1] if x[1] is not None else a.get("min", -np.inf)
            hi = x[2] if x[2] is not None else a.get("max", np.inf)
            r = np.minimum(np.maximum(x[0], lo), hi)
        elif op == "LeakyRelu":
            r = np.where(x[0] >= 0, x[0], x[0] * a.get("alpha", 0.01))
        elif op == "Gelu" and a.get("approximate", b"none") == b"tanh":
            r = 0.5 * x[0] * (1 + np.tanh(math.sqrt(2 / math.pi) * (x[0] + 0.044715 * x[0]**3)))
        elif op == "Gelu":
            r = 0.5 * x[0] * (1 + VERF(x[0] / math.sqrt(2)))
        elif op in ("Relu", "Sigmoid", "Tanh", "Erf", "Sqrt", "Exp", "Log"):
            r = {"Relu": lambda t: np.maximum(t, 0), "Sigmoid": lambda t: 1 / (1 + np.exp(-t)),
                 "Tanh": np.tanh, "Erf": VERF, "Sqrt": np.sqrt, "Exp": np.exp,
                 "Log": np.log}[op](x[0])
        elif op == "Concat":
            r = np.concatenate([t for t in x if t is not None], a["axis"])
        elif op == "Transpose":
            r = np.transpose(x[0], a.get("perm"))
        elif op == "Reshape":
            sh = [x[0].shape[i] if v == 0 else int(v) for i, v in enumerate(x[1])]
            r = x[0].reshape(sh)
        elif op in ("ReduceMean", "ReduceSum", "ReduceMax"):
            axes = a["axes"] if "axes" in a else (x[1] if x[1] is not None else None)
            axes = tuple(int(v) for v in axes) if axes is not None and len(axes) else None
            f = {"ReduceMean": np.mean, "ReduceSum": np.sum, "ReduceMax": np.max}[op]
            r = f(x[0], axis=axes, keepdims=bool(a.get("keepdims", 1)))
        elif op == "Softmax":
            ax = a.get("axis", -1)
            e = np.exp(x[0] - x[0].max(ax, keepdims=True))
            r = e / e.sum(ax, keepdims=True)
        elif op == "LayerNormalization":
            axes = tuple(range(a.get("axis", -1) % x[0].ndim, x[0].ndim))
            mu = x[0].mean(axes, keepdims=True)
            var = ((x[0] - mu)**2).mean(axes, keepdims=True)
            r = (x[0] - mu) / np.sqrt(var + a.get("epsilon", 1e-5)) * x[1]
            if x[2] is not None:
                r = r + x[2]
        else:
            raise AssertionError(f"interpreter has no {op}")
        env[node.output[0]] = np.asarray(r)
    return [env[o.name] for o in model.graph.output]


def verify_all():
    worst = 0.0
    for name, n_in, n_out, _, _, _ in CASES:
        m = onnx.load(os.path.join(HERE, name + ".onnx"))
        ins = [np.load(os.path.join(HERE, f"{name}_in{i}.npy")) for i in range(n_in)]
        for i, o in enumerate(interpret(m, ins)):
            ref = np.load(os.path.join(HERE, f"{name}_out{i}.npy"))
            assert o.shape == ref.shape, f"{name}: numpy {o.shape}, torch {ref.shape}"
            err = float(np.abs(o - ref).max())
            assert err < 1e-5, f"{name} output {i}: numpy interpreter differs by {err}"
            worst = max(worst, err)
    return worst


def main():
    os.makedirs(HERE, exist_ok=True)
    for f in os.listdir(HERE):
        if f.endswith((".onnx", ".npy")):
            os.remove(os.path.join(HERE, f))
    cases_resnet()
    cases_conv()
    cases_pool()
    cases_elementwise()
    cases_layout()
    cases_transformer()
    with open(os.path.join(HERE, "cases.txt"), "w") as f:
        f.write("# name n_inputs n_outputs onnx_nodes(non-Constant) must_fuse"
                "  -- written by tests/data/make_cnn_models.py\n")
        for name, n_in, n_out, n_nodes, fuse, _ in CASES:
            f.write(f"{name} {n_in} {n_out} {n_nodes} {fuse}\n")
    total = sum(os.path.getsize(os.path.join(HERE, f)) for f in os.listdir(HERE))
    for name, _, _, n_nodes, _, ops in CASES:
        print(f"{name:28s} {n_nodes:3d}  {ops}")
    print(f"{len(CASES)} cases, {total} bytes in {HERE}")
    print(f"numpy interpreter vs PyTorch: worst max abs difference {verify_all():.2e}")


if __name__ == "__main__":
    main()
