"""tessera — a heterogeneous tensor runtime, from Python.

The API follows ONNX Runtime's Python API, so code written for ``onnxruntime`` runs with
``tessera`` in its place::

    import numpy as np
    import tessera

    sess = tessera.InferenceSession("models/digits.onnx")        # device="auto"
    x = sess.get_inputs()[0]                                     # .name .type .dtype .shape
    (logits,) = sess.run(None, {x.name: np.zeros((8, 64), np.float32)})

Errors are ``tessera.Error`` subclasses (``InvalidArgument``, ``InvalidGraph``, ``Unsupported``,
``FileError``, ``OutOfMemory``, ``DeviceError``, ``NotFound``, ``InternalError``) carrying
``.status`` (the tsr_status name, e.g. ``"TSR_E_SHAPE"``), ``.code`` and ``.message``.
"""

import os as _os
import time as _time

import numpy as _np

from . import _tessera
from ._tessera import (  # noqa: F401  (re-exported)
    DeviceError,
    Error,
    FileError,
    InternalError,
    InvalidArgument,
    InvalidGraph,
    NotFound,
    OutOfMemory,
    Unsupported,
)

__version__ = _tessera.VERSION
NoSuchFile = FileError  # ONNX Runtime's name for a model path that cannot be read

__all__ = [
    "InferenceSession",
    "SessionOptions",
    "RunOptions",
    "GraphOptimizationLevel",
    "ExecutionMode",
    "NodeArg",
    "get_devices",
    "get_available_providers",
    "get_device",
    "Error",
    "InvalidArgument",
    "InvalidGraph",
    "Unsupported",
    "FileError",
    "NoSuchFile",
    "OutOfMemory",
    "DeviceError",
    "NotFound",
    "InternalError",
    "__version__",
]

# ONNX Runtime execution-provider names tessera understands in `providers=` (the first one that
# maps decides the device); other names are skipped, as ONNX Runtime skips unavailable ones.
_PROVIDER_DEVICES = {
    "CPUExecutionProvider": "cpu",
    "OpenCLExecutionProvider": "opencl",
    # ONNX Runtime's GPU providers: let the cost model choose among tessera's devices
    "CUDAExecutionProvider": "auto",
    "TensorrtExecutionProvider": "auto",
    "ROCMExecutionProvider": "auto",
    "MIGraphXExecutionProvider": "auto",
    "DmlExecutionProvider": "auto",
}


class GraphOptimizationLevel:
    """As onnxruntime.GraphOptimizationLevel: ORT_DISABLE_ALL turns tessera's fusion passes off
    (TSR_FUSE_ALL); the other levels leave them on."""

    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_ALL = 99


class ExecutionMode:
    """As onnxruntime.ExecutionMode (accepted; tessera runs a plan's kernels in order)."""

    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class RunOptions:
    """As onnxruntime.RunOptions (accepted by run(); tessera reads none of its fields)."""

    def __init__(self):
        self.log_severity_level = 2
        self.run_tag = ""


class NodeArg:
    """A model input or output: ``name``, ``type`` ("tensor(float)"), ``dtype`` (numpy dtype),
    ``shape`` (ints for fixed dims, the dim's name as a str for a symbolic one, None for an
    unnamed one), as onnxruntime.NodeArg."""

    __slots__ = ("name", "type", "dtype", "shape")

    def __init__(self, name, type, dtype, shape):
        self.name = name
        self.type = type
        self.dtype = _np.dtype(dtype)
        self.shape = list(shape)

    def __repr__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


class SessionOptions:
    """The subset of onnxruntime.SessionOptions tessera reads: ``intra_op_num_threads`` (0: one
    per physical core), ``graph_optimization_level`` (ORT_DISABLE_ALL: no fusion),
    ``enable_profiling``, ``profile_file_prefix`` (other fields are accepted and ignored); plus tessera's own
    ``device`` and ``placement`` (None: the InferenceSession arguments / environment)."""

    def __init__(self):
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.log_severity_level = 2
        self.enable_profiling = False
        self.profile_file_prefix = "tessera_profile"
        self.device = None
        self.placement = None


def _device_from_providers(providers):
    for p in providers or ():
        name = p[0] if isinstance(p, (tuple, list)) else p
        if name in _PROVIDER_DEVICES:
            return _PROVIDER_DEVICES[name]
    return None


class InferenceSession:
    """An ONNX model imported, optimised and compiled for a device.

    ``InferenceSession(path_or_bytes, sess_options=None, providers=None, *, device="auto",
    placement=None, threads=0, profiling=False, pool_cache_bytes=0)``

    - ``path_or_bytes``: a path (str or os.PathLike) or the model's bytes;
    - ``device``: "auto" (the cost model picks), "cpu", "opencl", "opencl:N";
    - ``placement``: "auto", "single", "hetero" or "alternate" (None: env TSR_PLACEMENT, else
      "auto");
    - ``threads``: CPU worker threads, 0 = one per physical core;
    - ``profiling``: record kernels, transfers and builds from the start (see end_profiling);
    - ``pool_cache_bytes``: bytes of freed memory each of the session's pools (host, each OpenCL
      device) keeps for reuse after a re-specialisation; 0 = env TSR_POOL_CACHE_BYTES, else
      256 MiB (struct tsr_context_options.pool_cache_bytes); negative raises InvalidArgument;
    - ``sess_options`` / ``providers``: as onnxruntime's (SessionOptions above; a provider list
      whose first known entry is "CPUExecutionProvider" means device="cpu").

    Symbolic dims (a dynamic batch) stay symbolic: run() accepts any size the model allows and
    re-specialises the compiled plan for new shapes (cached per shape).
    Raises a tessera.Error subclass naming the problem (FileError for a path that cannot be
    read, InvalidGraph for a malformed file, Unsupported for an operator tessera lacks, ...).
    """

    def __init__(
        self,
        path_or_bytes,
        sess_options=None,
        providers=None,
        provider_options=None,
        *,
        device="auto",
        placement=None,
        threads=0,
        profiling=False,
        pool_cache_bytes=0,
    ):
        so = sess_options
        disable_fusion = 0
        if so is not None:
            level = getattr(so, "graph_optimization_level", GraphOptimizationLevel.ORT_ENABLE_ALL)
            if int(level) == GraphOptimizationLevel.ORT_DISABLE_ALL:
                disable_fusion = _tessera.FUSE_ALL
            threads = threads or int(getattr(so, "intra_op_num_threads", 0) or 0)
            profiling = profiling or bool(getattr(so, "enable_profiling", False))
            if device == "auto" and getattr(so, "device", None):
                device = so.device
            if placement is None and getattr(so, "placement", None):
                placement = so.placement
        if device == "auto":
            device = _device_from_providers(providers) or "auto"
        self._prefix = getattr(so, "profile_file_prefix", None) or "tessera_profile"
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            self._model_path = None
            model = path_or_bytes
        else:
            model = _os.fspath(path_or_bytes)
            self._model_path = model
        self._sess = _tessera.Session(
            model,
            device=device,
            placement=placement,
            threads=int(threads),
            profiling=profiling,
            disable_fusion=disable_fusion,
            pool_cache_bytes=int(pool_cache_bytes),
        )
        self._device = device
        self._profiling = bool(profiling)
        self._inputs = [NodeArg(*t) for t in self._sess.inputs()]
        self._outputs = [NodeArg(*t) for t in self._sess.outputs()]

    # --- metadata ---------------------------------------------------------------------------
    def get_inputs(self):
        """The model's inputs (NodeArg list), graph order."""
        return list(self._inputs)

    def get_outputs(self):
        """The model's outputs (NodeArg list), graph order; shapes as the file declares them."""
        return list(self._outputs)

    def get_providers(self):
        """ONNX Runtime-style name of the device the plan runs on now."""
        dev = self._sess.plan_info()["device"]
        return ["CPUExecutionProvider" if dev["backend"] == "cpu" else "OpenCLExecutionProvider"]

    def get_device(self):
        """The device the plan runs on now (dict as get_devices() gives, without calibration)."""
        return self._sess.plan_info()["device"]

    def plan_info(self):
        """{"device", "reason" (why that device), "placement", "kernels", "arena_bytes",
        "predicted_ms"} of the plan's current specialisation."""
        return self._sess.plan_info()

    # --- run --------------------------------------------------------------------------------
    def run(self, output_names, input_feed, run_options=None):
        """Runs the model: ``output_names`` (list of str, or None for all) and ``input_feed``
        ({input name: numpy array}); returns a list of numpy arrays in output_names order.

        Every input is required and must have the model's dtype exactly (no silent casts);
        a C-contiguous array of that dtype is read in place (no copy). The outputs are arrays
        over memory tessera allocated (no copy; NumPy arrays are DLPack producers, so
        torch.from_dlpack(output) shares it too). Inputs may also be DLPack producers (a CPU
        torch tensor: read in place through numpy.from_dlpack). The GIL is released while the model runs; runs
        of one session are serialised. Raises InvalidArgument (status TSR_E_INVALID_ARG,
        TSR_E_SHAPE or TSR_E_DTYPE) naming the input or output and the shapes / dtypes."""
        if output_names is not None and isinstance(output_names, str):
            output_names = [output_names]
        if isinstance(input_feed, dict):
            # DLPack producers (a CPU torch tensor ...) are read in place through NumPy.
            feed = {}
            for k, v in input_feed.items():
                if not isinstance(v, _np.ndarray) and hasattr(v, "__dlpack__"):
                    v = _np.from_dlpack(v)
                feed[k] = v
            input_feed = feed
        return self._sess.run(output_names, input_feed)

    # --- profiling --------------------------------------------------------------------------
    def start_profiling(self):
        """Turns the profiler on (also: profiling=True, SessionOptions.enable_profiling)."""
        self._sess.set_profiling(True)
        self._profiling = True

    def get_profile(self):
        """The profile records so far: list of dicts with kind ("kernel", "transfer",
        "compile", "alloc", "calibration"), name, nodes (ONNX nodes fused into the kernel),
        device, queue, start_ns, end_ns, dur_ns, bytes, flops."""
        return self._sess.profile_records()

    def profile_table(self):
        """The profiler's summary table (str), as `tessera run --profile` prints it."""
        return self._sess.profile_table()

    def end_profiling(self, path=None):
        """Writes the records as a Chrome trace (opens in Perfetto / chrome://tracing), turns the
        profiler off, discards the records and returns the file's path (default:
        "<profile_file_prefix>_<date>.json" in the current directory, as onnxruntime)."""
        if path is None:
            path = f"{self._prefix}_{_time.strftime('%Y-%m-%d_%H-%M-%S')}.json"
        path = _os.fspath(path)
        self._sess.write_trace(path)
        self._sess.set_profiling(False)
        self._sess.profile_clear()
        self._profiling = False
        return path


def get_devices(calibrate=False):
    """Every device tessera sees (CPU first, then OpenCL devices): a list of dicts with id
    ("cpu", "opencl:0"), backend, name, vendor, type, compute_units, global_mem_bytes, the
    scheduler's figures est_gflops / est_gbps / est_launch_us / est_transfer_gbps, and
    "calibration": the measured figures (bandwidth, GEMM curve, launch cost, transfers ...) known
    from the cache, or None. ``calibrate=True`` measures devices that have none (seconds each;
    cached in $TSR_CACHE_DIR or ~/.cache/tessera)."""
    return _tessera.devices(calibrate=calibrate)


def get_available_providers():
    """ONNX Runtime-style names of the available devices."""
    names = ["CPUExecutionProvider"]
    if any(d["backend"] == "opencl" for d in get_devices()):
        names.insert(0, "OpenCLExecutionProvider")
    return names


def get_device():
    """As onnxruntime.get_device(): "GPU" when an OpenCL GPU is present, else "CPU"."""
    return "GPU" if any(d["type"] == "gpu" for d in get_devices()) else "CPU"
