"""Writes the group "multiout" import error cases (issue 9): models whose multi-output or loss
nodes must be refused with a status and a message naming the node, and multiout_bad_cases.txt
("file status substring" per line, read by tests/check_onnx.c like bad_cases.txt).
Run with the project's .venv: .venv/bin/python tests/data/make_multiout_models.py"""
import os

from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


def model(nodes, inputs, outputs, opset=17):
    g = helper.make_graph(
        nodes, "multiout",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


F, I = TensorProto.FLOAT, TensorProto.INT64
cases = []


def write(name, status, substr, nodes, inputs, outputs):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(model(nodes, inputs, outputs))
    cases.append((name, status, substr))


# NLL: target [N, d1] for input [N, C] (rank mismatch)
write("mo_nll_bad_target.onnx", "TSR_E_SHAPE", "nll_bad",
      [helper.make_node("NegativeLogLikelihoodLoss", ["x", "t"], ["y"], name="nll_bad")],
      [("x", F, [3, 5]), ("t", I, [3, 2])], [("y", F, [])])
# NLL: an unknown reduction
write("mo_nll_bad_reduction.onnx", "TSR_E_UNSUPPORTED", "reduction",
      [helper.make_node("NegativeLogLikelihoodLoss", ["x", "t"], ["y"], name="nll_red",
                        reduction="avg")],
      [("x", F, [3, 5]), ("t", I, [3])], [("y", F, [])])
# BatchNormalization in inference mode (non-constant statistics) with its running_mean used
write("mo_bn_inference_mean.onnx", "TSR_E_UNSUPPORTED", "training_mode",
      [helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm"],
                        name="bn_inf")],
      [("x", F, [2, 3, 4]), ("s", F, [3]), ("b", F, [3]), ("m", F, [3]), ("v", F, [3])],
      [("y", F, [2, 3, 4]), ("rm", F, [3])])
# an output no rule covers (MaxPool has two; a third, used, is refused by name)
write("mo_extra_output.onnx", "TSR_E_UNSUPPORTED", "'z'",
      [helper.make_node("MaxPool", ["x"], ["y", "i", "z"], name="mp3", kernel_shape=[2, 2])],
      [("x", F, [1, 1, 4, 4])], [("y", F, [1, 1, 3, 3]), ("z", F, [1, 1, 3, 3])])

with open(os.path.join(HERE, "multiout_bad_cases.txt"), "w") as f:
    for c in cases:
        f.write(" ".join(c) + "\n")
