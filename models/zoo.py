#!/usr/bin/env python3
"""zoo.py — exports real model architectures with torch.onnx and checks tessera against ONNX Runtime.

Each model is a real architecture from Hugging Face `transformers` (text encoders and vision
models), built from a config with small-but-real geometry and random weights (torch seed 0; no
weights are downloaded), exported with `torch.onnx.export` at the opsets listed, with dynamic
axes (batch, and sequence for text models). For each model x opset it runs ONNX Runtime at the
export shape and at a second shape (other batch and sequence), saves inputs and outputs as .npy,
runs `build/bin/tessera run MODEL --device D --input ... --output ...` on every device asked for,
and prints one row per model x opset x device x shape: the relative L2 error of every output
(||tessera - ort|| / ||ort||, worst output) or tessera's one-line refusal.

Exit status: 0 when every row is within --tol (default 1e-4) or refused with exit status 2 and
--allow-refusals is given; 1 when any row is wrong, crashed (exit status other than 0 and 2),
or refused without --allow-refusals.

torchvision is not installed in this environment, so the CNNs come from transformers'
ResNet / ConvNeXt / MobileNetV2 / RegNet / EfficientNet / Swin / ViT implementations.

Writes into OUT (default <repo>/build/models/zoo): <model>_op<N>.onnx, <model>_op<N>_<shape>_*.npy,
zoo.json (the rows).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def text_model(name):
    """(module, kind) for a transformers text encoder with small-but-real geometry."""
    import transformers as T
    common = dict(vocab_size=1000, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=512, max_position_embeddings=128)
    if name == "bert":
        return T.BertModel(T.BertConfig(**common), add_pooling_layer=False)
    if name == "distilbert":
        return T.DistilBertModel(T.DistilBertConfig(vocab_size=1000, dim=128, n_layers=2,
                                                    n_heads=4, hidden_dim=512,
                                                    max_position_embeddings=128))
    if name == "roberta":
        return T.RobertaModel(T.RobertaConfig(**dict(common, max_position_embeddings=130)),
                              add_pooling_layer=False)
    if name == "albert":
        return T.AlbertModel(T.AlbertConfig(**dict(common, embedding_size=64)),
                             add_pooling_layer=False)
    if name == "electra":
        return T.ElectraModel(T.ElectraConfig(**dict(common, embedding_size=64)))
    if name == "gpt2":
        return T.GPT2Model(T.GPT2Config(vocab_size=1000, n_embd=128, n_layer=2, n_head=4,
                                        n_positions=128, use_cache=False))
    if name == "t5enc":
        return T.T5EncoderModel(T.T5Config(vocab_size=1000, d_model=128, d_kv=32, d_ff=512,
                                           num_layers=2, num_heads=4))
    if name == "deberta":
        return T.DebertaV2Model(T.DebertaV2Config(**dict(common, max_position_embeddings=128)))
    raise KeyError(name)


def vision_model(name):
    import transformers as T
    if name == "vit":
        return T.ViTModel(T.ViTConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=512, image_size=64, patch_size=16),
                          add_pooling_layer=False), 64
    if name == "resnet":
        return T.ResNetModel(T.ResNetConfig(embedding_size=32, hidden_sizes=[32, 64, 128, 256],
                                            depths=[1, 1, 1, 1], layer_type="basic")), 64
    if name == "resnet50":
        return T.ResNetModel(T.ResNetConfig(embedding_size=32, hidden_sizes=[64, 128, 256, 512],
                                            depths=[1, 1, 1, 1], layer_type="bottleneck")), 64
    if name == "convnext":
        return T.ConvNextModel(T.ConvNextConfig(hidden_sizes=[32, 64, 128, 256],
                                                depths=[1, 1, 1, 1])), 64
    if name == "mobilenet_v2":
        return T.MobileNetV2Model(T.MobileNetV2Config(depth_multiplier=0.35, image_size=64)), 64
    if name == "regnet":
        return T.RegNetModel(T.RegNetConfig(embedding_size=16, hidden_sizes=[16, 32, 64, 128],
                                            depths=[1, 1, 1, 1], groups_width=8)), 64
    if name == "efficientnet":
        return T.EfficientNetModel(T.EfficientNetConfig(width_coefficient=0.25,
                                                        depth_coefficient=0.25,
                                                        image_size=64)), 64
    if name == "swin":
        return T.SwinModel(T.SwinConfig(image_size=64, patch_size=4, embed_dim=32,
                                        depths=[1, 1], num_heads=[2, 4], window_size=4)), 64
    raise KeyError(name)


TEXT = ["bert", "distilbert", "roberta", "albert", "electra", "gpt2", "t5enc", "deberta"]
VISION = ["vit", "resnet", "resnet50", "convnext", "mobilenet_v2", "regnet", "efficientnet",
          "swin"]


class Wrap:
    pass


def build(name):
    """(torch module returning a tuple of tensors, input names, [(shape_name, inputs)], dyn axes)."""
    import numpy as np
    import torch
    rng = np.random.default_rng(1)
    if name in TEXT:
        m = text_model(name).eval()
        names = ["input_ids", "attention_mask"]
        if name in ("bert", "albert", "electra", "deberta"):
            names.append("token_type_ids")

        class M(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, *xs):
                return (self.m(**dict(zip(names, xs)), return_dict=False)[0],)

        def make(b, s):
            ids = rng.integers(0, 1000, size=(b, s), dtype=np.int64)
            mask = np.ones((b, s), np.int64)
            if b > 1:
                mask[1:, s - s // 4:] = 0  # padding on all but the first sequence
            tt = np.zeros((b, s), np.int64)
            tt[:, s // 2:] = 1
            return [ids, mask, tt][:len(names)]

        shapes = [("b2s32", make(2, 32)), ("b3s48", make(3, 48))]
        dyn = {n: {0: "batch", 1: "sequence"} for n in names}
        dyn["out0"] = {0: "batch", 1: "sequence"}
        return M(m).eval(), names, shapes, dyn
    m, size = vision_model(name)
    m = m.eval()

    class V(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return (self.m(pixel_values=x, return_dict=False)[0],)

    def img(b):
        return [rng.standard_normal((b, 3, size, size)).astype(np.float32)]

    shapes = [("b1", img(1)), ("b3", img(3))]
    return V(m).eval(), ["pixel_values"], shapes, {"pixel_values": {0: "batch"},
                                                     "out0": {0: "batch"}}


def make_deep(out):
    """Writes out/bert_deep.onnx (see --deep) and prints its node count."""
    import onnx
    import torch
    import transformers as T
    transformers_logging = T.logging
    transformers_logging.set_verbosity_error()
    torch.manual_seed(0)
    m = T.BertModel(T.BertConfig(vocab_size=1000, hidden_size=256, num_hidden_layers=20,
                                 num_attention_heads=4, intermediate_size=1024,
                                 max_position_embeddings=128), add_pooling_layer=False).eval()

    class M(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, ids, mask, tt):
            return self.m(input_ids=ids, attention_mask=mask, token_type_ids=tt,
                          return_dict=False)[0]

    out.mkdir(parents=True, exist_ok=True)
    path = out / "bert_deep.onnx"
    x = torch.zeros(1, 128, dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(M(m), (x, x + 1, x), str(path), opset_version=17,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], do_constant_folding=True)
    print(f"zoo: {path}: {len(onnx.load(str(path)).graph.node)} nodes")
    return 0


def rel_l2(got, ref):
    import numpy as np
    got = got.astype(np.float64)
    ref = ref.astype(np.float64)
    if got.shape != ref.shape:
        return float("inf")
    d = np.linalg.norm((got - ref).ravel())
    n = np.linalg.norm(ref.ravel())
    return float(d / n) if n > 0 else float(d)


def main():
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(root / "build" / "models" / "zoo"))
    ap.add_argument("--tessera", default=str(root / "build" / "bin" / "tessera"))
    ap.add_argument("--models", default=",".join(TEXT + VISION))
    ap.add_argument("--opsets", default="14,17")
    ap.add_argument("--devices", default="cpu,opencl:0")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--timeout", type=int, default=600, help="seconds per tessera run")
    ap.add_argument("--allow-refusals", action="store_true",
                    help="a clear refusal (exit status 2) does not fail the run")
    ap.add_argument("--deep", action="store_true",
                    help="only make OUT/bert_deep.onnx: a 20-layer BERT (hidden 256, opset 17, "
                         "static [1, 128]) of about 1,000 nodes, for the compile-time bench "
                         "(tessera bench --suite model --model OUT/bert_deep.onnx)")
    args = ap.parse_args()
    if args.deep:
        return make_deep(Path(args.out))

    import numpy as np
    import onnxruntime as ort
    import torch
    import transformers
    transformers.logging.set_verbosity_error()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    bad = 0
    for name in args.models.split(","):
        torch.manual_seed(0)
        try:
            module, in_names, shapes, dyn = build(name)
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"{name}: cannot build ({type(e).__name__}: {e})", flush=True)
            rows.append(dict(model=name, error=f"build: {e}"))
            bad += 1
            continue
        for opset in [int(o) for o in args.opsets.split(",")]:
            onnx_path = out / f"{name}_op{opset}.onnx"
            try:
                with torch.no_grad():
                    torch.onnx.export(module, tuple(torch.from_numpy(x) for x in shapes[0][1]),
                                      str(onnx_path), input_names=in_names,
                                      output_names=["out0"], dynamic_axes=dyn,
                                      opset_version=opset, do_constant_folding=True)
            except Exception as e:  # noqa: BLE001
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                print(f"{name} op{opset}: torch.onnx.export fails ({msg})", flush=True)
                rows.append(dict(model=name, opset=opset, error=f"export: {msg}"))
                continue
            sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
            ort_names = [i.name for i in sess.get_inputs()]
            for shape_name, xs in shapes:
                feeds = {n: x for n, x in zip(in_names, xs) if n in ort_names}
                ref = sess.run(None, feeds)
                stem = out / f"{name}_op{opset}_{shape_name}"
                cli_in = []
                for n, x in feeds.items():
                    np.save(f"{stem}_in_{n}.npy", x)
                    cli_in += ["--input", f"{n}={stem}_in_{n}.npy"]
                for dev in args.devices.split(","):
                    got_path = f"{stem}_{dev.replace(':', '')}_out0.npy"
                    if os.path.exists(got_path):
                        os.remove(got_path)
                    cmd = [args.tessera, "run", str(onnx_path), "--device", dev, "--repeat", "1",
                           *cli_in, "--output", f"out0={got_path}"]
                    t0 = time.monotonic()
                    try:
                        p = subprocess.run(cmd, capture_output=True, text=True,
                                           timeout=args.timeout)
                        rc, text = p.returncode, (p.stderr.strip() or p.stdout.strip())
                    except subprocess.TimeoutExpired:
                        rc, text = -1, f"timeout after {args.timeout} s"
                    secs = time.monotonic() - t0
                    row = dict(model=name, opset=opset, device=dev, shape=shape_name,
                               seconds=round(secs, 2), rc=rc)
                    if rc == 0 and os.path.exists(got_path):
                        err = rel_l2(np.load(got_path), ref[0])
                        row["rel_l2"] = err
                        status = "ok" if err <= args.tol else "WRONG"
                        shown = f"{err:.2e}"
                    elif rc == 2:
                        line = text.splitlines()[-1] if text else ""
                        row["refused"] = line
                        status = "refused"
                        shown = line[:200]
                    else:
                        row["crash"] = text[-300:]
                        status = "CRASH" if rc != -1 else "TIMEOUT"
                        shown = f"rc={rc} " + (text.splitlines()[-1][:200] if text else "")
                    row["status"] = status
                    if status in ("WRONG", "CRASH", "TIMEOUT") or (
                            status == "refused" and not args.allow_refusals):
                        bad += 1
                    rows.append(row)
                    print(f"{name:14s} op{opset} {dev:9s} {shape_name:6s} {status:8s} {shown}"
                          f"  ({secs:.1f} s)", flush=True)
    (out / "zoo.json").write_text(json.dumps(rows, indent=1))
    print(f"zoo: {len(rows)} rows, {bad} failing; {out / 'zoo.json'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
