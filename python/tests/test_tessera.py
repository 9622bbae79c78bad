"""pytest suite of the Python module `tessera`, against ONNX Runtime as the reference.

Run by tools/python-test.sh (clean venv, `pip install .`, then pytest on this folder).
Models: models/digits.onnx (dynamic batch), tests/data/cnn/*.onnx, and a small transformer block
exported here with torch.onnx (dynamic batch and sequence axes).
"""

import io
import json
import pathlib
import re
import threading

import numpy as np
import pytest

import tessera

ort = pytest.importorskip("onnxruntime")

ROOT = pathlib.Path(__file__).resolve().parents[2]
DIGITS = ROOT / "models" / "digits.onnx"
CNN = sorted((ROOT / "tests" / "data" / "cnn").glob("*.onnx"))


def ort_session(model):
    return ort.InferenceSession(
        model if isinstance(model, bytes) else str(model), providers=["CPUExecutionProvider"]
    )


def assert_close(got, want, what):
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs onnxruntime {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} vs onnxruntime {want.dtype}"
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale, err_msg=what)


def same_metadata(ts, os_):
    for mine, ref in ((ts.get_inputs(), os_.get_inputs()), (ts.get_outputs(), os_.get_outputs())):
        assert [a.name for a in mine] == [b.name for b in ref]
        assert [a.type for a in mine] == [b.type for b in ref]
        assert [a.shape for a in mine] == [b.shape for b in ref]


@pytest.fixture(scope="module")
def digits():
    return tessera.InferenceSession(DIGITS, device="cpu")


@pytest.fixture(scope="module")
def digits_x():
    return np.load(ROOT / "models" / "digits_test_x.npy")


# --- models vs ONNX Runtime ---------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 7, 360])
def test_digits_matches_onnxruntime(digits, digits_x, batch):
    ref = ort_session(DIGITS)
    x = digits_x[:batch]
    (got,) = digits.run(None, {"x": x})
    (want,) = ref.run(None, {"x": x})
    assert_close(got, want, f"digits batch {batch}")
    # the classes agree with the stored labels as onnxruntime's do
    assert (got.argmax(1) == want.argmax(1)).all()


def test_digits_auto_device_and_bytes(digits_x):
    sess = tessera.InferenceSession(DIGITS.read_bytes())  # device="auto"
    (got,) = sess.run(None, {"x": digits_x[:16]})
    (want,) = ort_session(DIGITS).run(None, {"x": digits_x[:16]})
    assert_close(got, want, "digits auto")
    assert sess.get_device()["id"] in [d["id"] for d in tessera.get_devices()]


def test_digits_on_opencl(digits_x):
    if not any(d["backend"] == "opencl" for d in tessera.get_devices()):
        pytest.skip("no OpenCL device")
    sess = tessera.InferenceSession(DIGITS, device="opencl")
    assert sess.get_device()["backend"] == "opencl"
    for batch in (5, 64):
        (got,) = sess.run(None, {"x": digits_x[:batch]})
        (want,) = ort_session(DIGITS).run(None, {"x": digits_x[:batch]})
        assert_close(got, want, f"digits on {sess.get_device()['id']}, batch {batch}")


def test_digits_metadata(digits):
    same_metadata(digits, ort_session(DIGITS))
    x = digits.get_inputs()[0]
    assert (x.name, x.type, x.dtype, x.shape) == ("x", "tensor(float)", np.float32, ["batch", 64])


@pytest.mark.parametrize("path", CNN, ids=[p.stem for p in CNN])
def test_cnn_models_match_onnxruntime(path):
    sess = tessera.InferenceSession(path, device="cpu")
    ref = ort_session(path)
    same_metadata(sess, ref)
    feed = {}
    for i, arg in enumerate(sess.get_inputs()):
        feed[arg.name] = np.load(path.with_name(f"{path.stem}_in{i}.npy"))
    got = sess.run(None, feed)
    want = ref.run(None, feed)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert_close(g, w, f"{path.stem} output {k}")


def export_transformer():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)

    class Block(torch.nn.Module):
        def __init__(self, d=32, heads=4):
            super().__init__()
            self.heads = heads
            self.qkv = torch.nn.Linear(d, 3 * d)
            self.proj = torch.nn.Linear(d, d)
            self.ln1 = torch.nn.LayerNorm(d)
            self.ln2 = torch.nn.LayerNorm(d)
            self.ff1 = torch.nn.Linear(d, 4 * d)
            self.ff2 = torch.nn.Linear(4 * d, d)

        def forward(self, x):
            b, t, d = x.shape
            h = self.heads
            q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
            q, k, v = (z.reshape(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) / (d // h) ** 0.5, dim=-1) @ v
            x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
            return x + self.ff2(torch.nn.functional.gelu(self.ff1(self.ln2(x))))

    buf = io.BytesIO()
    torch.onnx.export(
        Block().eval(),
        (torch.randn(2, 5, 32),),
        buf,
        input_names=["tokens"],
        output_names=["hidden"],
        dynamic_axes={"tokens": {0: "batch", 1: "seq"}, "hidden": {0: "batch", 1: "seq"}},
        opset_version=17,
    )
    return buf.getvalue()


@pytest.fixture(scope="module")
def transformer():
    return export_transformer()


def test_transformer_dynamic_axes(transformer, tmp_path):
    path = tmp_path / "block.onnx"
    path.write_bytes(transformer)
    sess = tessera.InferenceSession(path, device="cpu")
    ref = ort_session(transformer)
    same_metadata(sess, ref)
    assert sess.get_inputs()[0].shape == ["batch", "seq", 32]
    rng = np.random.default_rng(1)
    for batch, seq in ((1, 7), (4, 5), (1, 7)):  # two batch sizes, back to the first
        x = rng.standard_normal((batch, seq, 32), dtype=np.float32)
        (got,) = sess.run(["hidden"], {"tokens": x})
        (want,) = ref.run(["hidden"], {"tokens": x})
        assert_close(got, want, f"transformer [{batch}, {seq}, 32]")


def test_external_data_matches_onnxruntime():
    """Initializers in a file next to the model (ONNX external data), read as ONNX Runtime does."""
    ext = ROOT / "tests" / "data" / "external"
    a = np.load(ROOT / "tests" / "data" / "gemm_init_transb_in0.npy")
    for name in ("gemm_ext.onnx", "gemm_ext_dyn.onnx"):
        want = ort_session(ext / name).run(None, {"a": a})[0]
        got = tessera.InferenceSession(ext / name, device="cpu").run(None, {"a": a})[0]
        assert_close(got, want, name)
    with pytest.raises(tessera.Error) as e:  # a location outside the model's directory
        tessera.InferenceSession(ext / "bad_dotdot.onnx")
    assert e.value.status == "TSR_E_UNSUPPORTED"
    assert "../../../../../../etc/passwd" in str(e.value)


# --- errors -------------------------------------------------------------------------------------


def test_bad_path():
    with pytest.raises(tessera.FileError) as e:
        tessera.InferenceSession("/nonexistent/model.onnx")
    assert isinstance(e.value, tessera.Error)
    assert e.value.status == "TSR_E_IO"
    assert "/nonexistent/model.onnx" in str(e.value)
    assert e.value.message == str(e.value)


def test_not_a_model():
    with pytest.raises(tessera.InvalidGraph) as e:
        tessera.InferenceSession(b"this is not an ONNX file")
    assert e.value.status == "TSR_E_PARSE"


def test_bad_device():
    with pytest.raises(tessera.InvalidArgument) as e:
        tessera.InferenceSession(DIGITS, device="tpu")
    assert "tpu" in str(e.value)


def test_wrong_input_name(digits, digits_x):
    with pytest.raises(tessera.InvalidArgument) as e:
        digits.run(None, {"images": digits_x[:2]})
    assert e.value.status == "TSR_E_INVALID_ARG"
    assert "'images'" in str(e.value) and "'x'" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_missing_input(digits):
    with pytest.raises(tessera.InvalidArgument, match="missing input 'x'"):
        digits.run(None, {})


def test_wrong_output_name(digits, digits_x):
    with pytest.raises(tessera.InvalidArgument, match="'probs'.*'logits'"):
        digits.run(["probs"], {"x": digits_x[:2]})


def test_wrong_dtype(digits, digits_x):
    with pytest.raises(tessera.InvalidArgument) as e:
        digits.run(None, {"x": digits_x[:2].astype(np.float64)})
    assert e.value.status == "TSR_E_DTYPE"
    msg = str(e.value)
    assert "'x'" in msg and "float64" in msg and "float32" in msg


def test_wrong_shape(digits, digits_x):
    with pytest.raises(tessera.InvalidArgument) as e:
        digits.run(None, {"x": digits_x[:2, :63].copy()})
    assert e.value.status == "TSR_E_SHAPE"
    assert "'x'" in str(e.value) and "63" in str(e.value)
    with pytest.raises(tessera.InvalidArgument) as e:
        digits.run(None, {"x": digits_x[0]})  # rank 1
    assert e.value.status == "TSR_E_SHAPE"
    # the session still works afterwards
    assert digits.run(None, {"x": digits_x[:3]})[0].shape == (3, 10)


# --- memory, threads ----------------------------------------------------------------------------


def test_zero_copy_input_and_owned_output(digits, digits_x):
    x = np.ascontiguousarray(digits_x[:5])
    (y,) = digits.run(None, {"x": x})
    assert digits._sess.input_copies == 0
    assert not y.flags.owndata and y.flags.c_contiguous and y.flags.writeable
    assert type(y.base).__name__ == "PyCapsule"  # tessera-allocated memory, freed with the array
    xf = np.asfortranarray(x)  # not C-contiguous: converted, same answer
    (yf,) = digits.run(None, {"x": xf})
    assert digits._sess.input_copies == 1
    np.testing.assert_array_equal(y, yf)


def test_output_subset_and_order():
    path = ROOT / "tests" / "data" / "cnn" / "ew_zoo.onnx"
    sess = tessera.InferenceSession(path, device="cpu")
    names = [o.name for o in sess.get_outputs()]
    feed = {
        a.name: np.load(path.with_name(f"ew_zoo_in{i}.npy"))
        for i, a in enumerate(sess.get_inputs())
    }
    both = sess.run(None, feed)
    rev = sess.run(names[::-1], feed)
    np.testing.assert_array_equal(rev[0], both[-1])
    np.testing.assert_array_equal(rev[-1], both[0])
    (only,) = sess.run([names[1]], feed)
    np.testing.assert_array_equal(only, both[1])


def test_threads_share_a_session(digits, digits_x):
    (want,) = ort_session(DIGITS).run(None, {"x": digits_x})
    errors = []

    def work(lo, hi):
        try:
            for _ in range(20):
                (got,) = digits.run(None, {"x": digits_x[lo:hi]})
                np.testing.assert_allclose(got, want[lo:hi], rtol=1e-4, atol=1e-4)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    ts = [threading.Thread(target=work, args=(k * 40, k * 40 + 30 + k)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


def test_pool_cache_bytes(digits_x):
    """A small pool cap still runs (re-specialised batches release memory past it); a negative
    cap is refused with InvalidArgument naming the argument."""
    (want,) = ort_session(DIGITS).run(None, {"x": digits_x})
    s = tessera.InferenceSession(DIGITS, device="cpu", pool_cache_bytes=1 << 16)
    for n in (3, 17, 64, 5):
        (got,) = s.run(None, {"x": digits_x[:n]})
        np.testing.assert_allclose(got, want[:n], rtol=1e-4, atol=1e-4)
    with pytest.raises(tessera.InvalidArgument, match="pool_cache_bytes"):
        tessera.InferenceSession(DIGITS, device="cpu", pool_cache_bytes=-1)


# --- profiling, devices, version ----------------------------------------------------------------


def test_profiling_and_chrome_trace(digits_x, tmp_path):
    sess = tessera.InferenceSession(DIGITS, device="cpu", profiling=True)
    sess.run(None, {"x": digits_x[:32]})
    recs = sess.get_profile()
    kernels = [r for r in recs if r["kind"] == "kernel"]
    assert kernels and all(r["device"] == "cpu" and r["end_ns"] >= r["start_ns"] for r in kernels)
    assert any(r["nodes"] for r in kernels)  # ONNX node names fused into each kernel
    assert "gemm" in sess.profile_table().lower()
    path = sess.end_profiling(tmp_path / "trace.json")
    trace = json.loads(pathlib.Path(path).read_text())
    assert len(trace["traceEvents"]) >= len(kernels)
    assert sess.get_profile() == []
    sess.run(None, {"x": digits_x[:32]})
    assert sess.get_profile() == []  # profiling is off after end_profiling
    off = tessera.InferenceSession(DIGITS, device="cpu")
    off.run(None, {"x": digits_x[:4]})
    assert off.get_profile() == []
    off.start_profiling()  # on for later runs
    off.run(None, {"x": digits_x[:4]})
    assert any(r["kind"] == "kernel" for r in off.get_profile())


def test_get_devices():
    devs = tessera.get_devices()
    assert devs[0]["id"] == "cpu" and devs[0]["backend"] == "cpu"
    for d in devs:
        assert d["est_gflops"] > 0 and d["est_gbps"] > 0
        assert d["calibration"] is None or d["calibration"]["bandwidth_gbps"] > 0
    assert "CPUExecutionProvider" in tessera.get_available_providers()


def test_version():
    text = (ROOT / "include" / "tessera.h").read_text()  # the version's one source
    assert tessera.__version__ == re.search(r'#define TSR_VERSION_STRING "([0-9.]+)"', text).group(1)


def test_onnxruntime_style_arguments(digits_x):
    so = tessera.SessionOptions()
    so.intra_op_num_threads = 1
    sess = tessera.InferenceSession(str(DIGITS), so, providers=["CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    (got,) = sess.run(None, {"x": digits_x[:3]})
    (want,) = ort_session(DIGITS).run(None, {"x": digits_x[:3]})
    assert_close(got, want, "digits via SessionOptions")


def test_onnxruntime_user_script(digits_x):
    """What an ONNX Runtime user writes, with tessera in its place."""
    ort_like = tessera
    so = ort_like.SessionOptions()
    so.graph_optimization_level = ort_like.GraphOptimizationLevel.ORT_DISABLE_ALL  # no fusion
    so.execution_mode = ort_like.ExecutionMode.ORT_SEQUENTIAL
    sess = ort_like.InferenceSession(
        str(DIGITS), sess_options=so, providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    input_name = sess.get_inputs()[0].name
    output_name = sess.get_outputs()[0].name
    fused = tessera.InferenceSession(DIGITS, device="cpu")
    assert sess.plan_info()["kernels"] > fused.plan_info()["kernels"]  # fusion really off
    pred = sess.run([output_name], {input_name: digits_x}, ort_like.RunOptions())[0]
    (want,) = ort_session(DIGITS).run(None, {"x": digits_x})
    assert_close(pred, want, "digits without fusion")


def test_readme_example(monkeypatch):
    """The README's "Use from Python" example runs as written (from the repo root)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})


def test_dlpack_in_and_out(digits, digits_x):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(digits_x[:6].copy())
    (y,) = digits.run(None, {"x": t})  # a torch tensor, through DLPack
    assert digits._sess.input_copies == 0
    (want,) = ort_session(DIGITS).run(None, {"x": digits_x[:6]})
    assert_close(y, want, "digits from a torch tensor")
    ty = torch.from_dlpack(y)  # the output's memory, shared
    ty[0, 0] = 123.0
    assert y[0, 0] == 123.0


def test_uninitialised_session_and_bad_feed(digits):
    raw = tessera._tessera.Session.__new__(tessera._tessera.Session)
    with pytest.raises(RuntimeError, match="not initialised"):
        raw.run(None, {})
    with pytest.raises(tessera.InvalidArgument, match="dict"):
        digits.run(None, [np.zeros((1, 64), np.float32)])
    with pytest.raises(tessera.InvalidArgument, match="'x'.*object"):
        digits.run(None, {"x": None})
