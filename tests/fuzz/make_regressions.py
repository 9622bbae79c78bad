#!/usr/bin/env python3
"""make_regressions.py — writes the hand-made regression inputs of tests/fuzz/regressions (the
findings of issue 12 that were reported before the fuzzers existed). Standard library only: a
minimal protobuf writer for the few ONNX fields needed. Run from anywhere:
    python3 tests/fuzz/make_regressions.py
Fuzzer-found regressions are the crash files libFuzzer writes, copied as they are."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
REG = os.path.join(HERE, "regressions")


def varint(v):
    v &= (1 << 64) - 1
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def fld(num, wire, payload):
    return varint(num << 3 | wire) + payload


def vi(num, v):  # varint field
    return fld(num, 0, varint(v))


def ld(num, data):  # length-delimited field
    if isinstance(data, str):
        data = data.encode()
    return fld(num, 2, varint(len(data)) + data)


FLOAT, INT64 = 1, 7


def value_info(name, elem_type, dims):
    shape = b"".join(ld(1, vi(1, d)) for d in dims)
    tensor_type = vi(1, elem_type) + ld(2, shape)
    return ld(1, name) + ld(2, ld(1, tensor_type))


def tensor(name, elem_type, dims, raw):
    return b"".join(vi(1, d) for d in dims) + vi(2, elem_type) + ld(8, name) + ld(9, raw)


def attr_ints(name, vals):
    return ld(1, name) + b"".join(vi(8, v) for v in vals) + vi(20, 7)


def attr_int(name, v):
    return ld(1, name) + vi(3, v) + vi(20, 2)


def node(op, inputs, outputs, attrs=()):
    return (b"".join(ld(1, i) for i in inputs) + b"".join(ld(2, o) for o in outputs) +
            ld(3, op.lower() + "_0") + ld(4, op) + b"".join(ld(5, a) for a in attrs))


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = (b"".join(ld(1, n) for n in nodes) + ld(2, "g") + b"".join(ld(5, t) for t in inits) +
         b"".join(ld(11, i) for i in inputs) + b"".join(ld(12, o) for o in outputs))
    return vi(1, 7) + ld(8, ld(1, "") + vi(2, opset)) + ld(7, g)


def write(target, name, data):
    d = os.path.join(REG, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    # A zero dimension: every intermediate is empty, so the arena has 0 bytes (its base was NULL
    # and was then offset).
    write("onnx", "zero_dim_chain.onnx", model(
        [node("Relu", ["x"], ["a"]), node("Sigmoid", ["a"], ["b"]), node("Neg", ["b"], ["y"])],
        [value_info("x", FLOAT, [0, 4])], [value_info("y", FLOAT, [0, 4])]))
    write("onnx", "zero_dim_matmul.onnx", model(
        [node("MatMul", ["x", "w"], ["a"]), node("Relu", ["a"], ["y"])],
        [value_info("x", FLOAT, [3, 0]), value_info("w", FLOAT, [0, 5])],
        [value_info("y", FLOAT, [3, 5])]))
    # Reductions over an empty input (ONNX: ReduceSum 0, ReduceMax -inf, ReduceProd 1, ...).
    for op in ("ReduceSum", "ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL2",
               "ReduceLogSumExp"):
        write("onnx", "empty_%s.onnx" % op.lower(), model(
            [node(op, ["x"], ["y"], [attr_ints("axes", [0]), attr_int("keepdims", 0)])],
            [value_info("x", FLOAT, [0, 3])], [value_info("y", FLOAT, [3])], opset=11))
    # Element counts that overflow int64: a Reshape target, and an input shape.
    big = 1 << 32
    shape = struct.pack("<3q", big, big, big)
    write("onnx", "reshape_overflow.onnx", model(
        [node("Reshape", ["x", "s"], ["y"])], [value_info("x", FLOAT, [2, 3])],
        [value_info("y", FLOAT, [])], [tensor("s", INT64, [3], shape)]))
    write("onnx", "input_overflow.onnx", model(
        [node("Relu", ["x"], ["y"])], [value_info("x", FLOAT, [big, big, 4])],
        [value_info("y", FLOAT, [big, big, 4])]))
    write("onnx", "expand_overflow.onnx", model(
        [node("Expand", ["x", "s"], ["y"])], [value_info("x", FLOAT, [1, 1])],
        [value_info("y", FLOAT, [])],
        [tensor("s", INT64, [2], struct.pack("<2q", 1 << 40, 1 << 40))]))
    write("onnx", "tile_overflow.onnx", model(
        [node("Tile", ["x", "r"], ["y"])], [value_info("x", FLOAT, [2, 3])],
        [value_info("y", FLOAT, [])],
        [tensor("r", INT64, [2], struct.pack("<2q", 1 << 62, 1 << 62))]))
    # A .npy header claiming 2222222222222 elements in a 130-byte file (it was allocated before
    # the file size was checked).
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2222222222222,), }"
    hdr += " " * (117 - len(hdr)) + "\n"
    write("npy", "huge_count.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) +
          hdr.encode() + b"\0" * 1)
    hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }"
    hdr += " " * (117 - len(hdr)) + "\n"
    write("npy", "overflow_count.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) +
          hdr.encode())


if __name__ == "__main__":
    main()
