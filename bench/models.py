#!/usr/bin/env python3
"""models.py - exports the standard model set of `tessera bench --suite model` (bench/models.sh).

Every model has random weights (torch.manual_seed(0) before it is built, eval mode, weights=None:
nothing is downloaded), is exported with torch.onnx at opset 17 with a dynamic batch axis (text
models: dynamic batch and sequence) into OUT (default <repo>/build/models/bench/<name>.onnx):

  torchvision (1x3x224x224): resnet18 resnet50 mobilenet_v2 mobilenet_v3_small efficientnet_b0
      squeezenet1_1 densenet121 shufflenet_v2_x1_0 convnext_tiny regnet_y_400mf googlenet
  minilm      Hugging Face BertModel with all-MiniLM-L6-v2's geometry: hidden 384, 6 layers,
              12 heads, intermediate 1536, vocab 30522; inputs input_ids, attention_mask,
              token_type_ids [batch, 128] int64 (no pooler)
  gpt2_6l     GPT-2 small geometry (n_embd 768, 12 heads, vocab 50257) with 6 of its 12 layers, to
              keep a two-core run short; inputs input_ids, attention_mask [batch, 128]
  vit_small   ViT-S/16 geometry (hidden 384, 12 layers, 6 heads, intermediate 1536) at 224: a
              quarter of ViT-base's work; vit_base (models/zoo.py's google/vit-base geometry) is
              available with --only vit_base

When `transformers` is not importable (this environment's venv lacks it), minilm and gpt2_6l are
built by the plain-PyTorch equivalents below (PlainBert, PlainGpt2: the same layers, geometry and
ONNX operator mix as transformers' BertModel / GPT2Model: embeddings, LayerNorm, Q/K/V
projections, masked scaled-dot-product softmax attention, erf GELU (BERT) / tanh GELU (GPT-2),
residuals), and vit_small by torchvision's VisionTransformer with the ViT-S/16 geometry; the
line printed for the model says which builder was used.

The module builders of models/zoo.py are reused (zoo.torchvision_model for the torchvision set,
zoo.vision_model("vit_base")); this file only fixes the image size (224) and the geometries above.
A model torch.onnx cannot export is reported and skipped (exit status stays 0; the summary line
lists it). A file that already exists is kept unless --force.

Usage: models.py [--out DIR] [--force] [--only a,b,...] [--list]
Prints one line per model; the last line of stdout lists the .onnx paths made or kept.
"""
import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))

TORCHVISION = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
               "squeezenet1_1", "densenet121", "shufflenet_v2_x1_0", "convnext_tiny",
               "regnet_y_400mf", "googlenet"]
TEXT = ["minilm", "gpt2_6l"]
VISION = ["vit_small"]
DEFAULT = TORCHVISION + TEXT + VISION
EXTRA = ["vit_base"]
OPSET = 17
SEQ = 128
IMAGE = 224


def have_transformers():
    try:
        import transformers  # noqa: F401
        return True
    except Exception:  # noqa: BLE001
        return False


def plain_models():
    """PlainBert and PlainGpt2 (plain PyTorch, see the module doc)."""
    import math
    import torch
    from torch import nn

    class Attention(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.h, self.dk = heads, d // heads
            self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

        def forward(self, x, bias):  # x [B, S, D]; bias broadcasts to [B, H, S, S]
            b, s, d = x.shape

            def split(t):
                return t.view(b, s, self.h, self.dk).transpose(1, 2)
            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            a = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dk) + bias
            y = torch.matmul(torch.softmax(a, dim=-1), v)
            return self.o(y.transpose(1, 2).reshape(b, s, d))

    class BertLayer(nn.Module):  # post-LN, erf GELU (BertLayer)
        def __init__(self, d, heads, ff):
            super().__init__()
            self.att, self.ln1 = Attention(d, heads), nn.LayerNorm(d, eps=1e-12)
            self.fc1, self.fc2, self.ln2 = nn.Linear(d, ff), nn.Linear(ff, d), nn.LayerNorm(
                d, eps=1e-12)

        def forward(self, x, bias):
            x = self.ln1(x + self.att(x, bias))
            return self.ln2(x + self.fc2(nn.functional.gelu(self.fc1(x))))

    class PlainBert(nn.Module):
        def __init__(self, vocab, d, layers, heads, ff, max_pos=512):
            super().__init__()
            self.word, self.pos, self.tok_type = (nn.Embedding(vocab, d), nn.Embedding(max_pos, d),
                                              nn.Embedding(2, d))
            self.ln = nn.LayerNorm(d, eps=1e-12)
            self.layers = nn.ModuleList(BertLayer(d, heads, ff) for _ in range(layers))

        def forward(self, input_ids, attention_mask, token_type_ids):
            s = input_ids.shape[1]
            pos = torch.arange(s, dtype=torch.int64).unsqueeze(0)
            x = self.ln(self.word(input_ids) + self.pos(pos) + self.tok_type(token_type_ids))
            bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -3.4e38
            for layer in self.layers:
                x = layer(x, bias)
            return x

    class Gpt2Block(nn.Module):  # pre-LN, tanh GELU (GPT2Block)
        def __init__(self, d, heads):
            super().__init__()
            self.ln1, self.att = nn.LayerNorm(d), Attention(d, heads)
            self.ln2, self.fc1, self.fc2 = nn.LayerNorm(d), nn.Linear(d, 4 * d), nn.Linear(4 * d,
                                                                                          d)

        def forward(self, x, bias):
            x = x + self.att(self.ln1(x), bias)
            return x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x)), approximate="tanh"))

    class PlainGpt2(nn.Module):
        def __init__(self, vocab=50257, d=768, layers=6, heads=12, max_pos=1024):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(max_pos, d)
            self.blocks = nn.ModuleList(Gpt2Block(d, heads) for _ in range(layers))
            self.ln = nn.LayerNorm(d)

        def forward(self, input_ids, attention_mask):
            s = input_ids.shape[1]
            pos = torch.arange(s, dtype=torch.int64).unsqueeze(0)
            x = self.wte(input_ids) + self.wpe(pos)
            causal = torch.triu(torch.full((s, s), -3.4e38), diagonal=1)
            bias = causal + (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -3.4e38
            for b in self.blocks:
                x = b(x, bias)
            return self.ln(x)

    return PlainBert, PlainGpt2


def build(name):
    """(module returning one tensor, example inputs, input names, dynamic axes, builder)."""
    import torch
    import zoo
    torch.manual_seed(0)
    if name in TORCHVISION:
        m, _ = zoo.torchvision_model("tvm_" + name)  # zoo's builder; its image size is not used
        x = torch.randn(1, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(1))
        return m.eval(), (x,), ["pixel_values"], {"pixel_values": {0: "batch"},
                                                  "out0": {0: "batch"}}, "torchvision"
    if name in TEXT:
        names = ["input_ids", "attention_mask", "token_type_ids"][:3 if name == "minilm" else 2]
        if not have_transformers():
            PlainBert, PlainGpt2 = plain_models()
            m = PlainBert(30522, 384, 6, 12, 1536) if name == "minilm" else PlainGpt2()
            builder = "plain PyTorch (transformers not importable)"
        elif name == "minilm":
            import transformers as T
            m = T.BertModel(T.BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6,
                                         num_attention_heads=12, intermediate_size=1536,
                                         max_position_embeddings=512),
                            add_pooling_layer=False)
            builder = "transformers %s" % T.__version__
        else:
            import transformers as T
            m = T.GPT2Model(T.GPT2Config(n_layer=6, use_cache=False))
            builder = "transformers %s" % T.__version__
        m.eval()
        plain = builder.startswith("plain")

        class Text(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, *xs):
                if plain:
                    return self.m(*xs)
                return self.m(**dict(zip(names, xs)), return_dict=False)[0]

        g = torch.Generator().manual_seed(1)
        ids = torch.randint(0, 1000, (1, SEQ), generator=g, dtype=torch.int64)
        xs = [ids, torch.ones(1, SEQ, dtype=torch.int64), torch.zeros(1, SEQ, dtype=torch.int64)]
        dyn = {n: {0: "batch", 1: "sequence"} for n in names}
        dyn["out0"] = {0: "batch", 1: "sequence"}
        return Text(m).eval(), tuple(xs[:len(names)]), names, dyn, builder
    if name in ("vit_small", "vit_base"):
        x = torch.randn(1, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(1))
        dyn = {"pixel_values": {0: "batch"}, "out0": {0: "batch"}}
        if not have_transformers():
            import torchvision.models as tvm
            if name == "vit_base":
                m = tvm.vit_b_16(weights=None)
            else:
                m = tvm.VisionTransformer(image_size=IMAGE, patch_size=16, num_layers=12,
                                          num_heads=6, hidden_dim=384, mlp_dim=1536)
            torch.nn.init.normal_(m.heads.head.weight, std=0.02)  # zero-initialised otherwise
            return m.eval(), (x,), ["pixel_values"], dyn, \
                "torchvision VisionTransformer (transformers not importable)"
        import transformers as T
        if name == "vit_base":
            m, _ = zoo.vision_model("vit_base")
        else:
            m = T.ViTModel(T.ViTConfig(hidden_size=384, num_hidden_layers=12,
                                       num_attention_heads=6, intermediate_size=1536,
                                       image_size=IMAGE, patch_size=16), add_pooling_layer=False)

        class Vit(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, x):
                return self.m(pixel_values=x, return_dict=False)[0]

        return Vit(m.eval()).eval(), (x,), ["pixel_values"], dyn, "transformers %s" % T.__version__
    raise KeyError(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "models" / "bench"))
    ap.add_argument("--force", action="store_true", help="export again when the file exists")
    ap.add_argument("--only", help="comma-separated subset (default: the standard set)")
    ap.add_argument("--list", action="store_true", help="print the standard set and exit")
    args = ap.parse_args()
    if args.list:
        print(" ".join(DEFAULT))
        return 0
    names = args.only.split(",") if args.only else DEFAULT
    unknown = [n for n in names if n not in DEFAULT + EXTRA]
    if unknown:
        print("models.py: unknown model(s) %s; known: %s" % (",".join(unknown),
                                                             " ".join(DEFAULT + EXTRA)),
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    made, skipped = [], []
    for name in names:
        path = out / (name + ".onnx")
        if path.exists() and not args.force:
            print("%-20s kept   %s" % (name, path), flush=True)
            made.append(str(path))
            continue
        t0 = time.time()
        tmp = path.with_suffix(".onnx.tmp")
        try:
            module, xs, in_names, dyn, builder = build(name)
            # ViT's attention under no_grad takes a fused path torch.onnx cannot export (zoo.py)
            grad = contextlib.nullcontext() if name.startswith("vit") else torch.no_grad()
            with grad:
                torch.onnx.export(module, xs, str(tmp), input_names=in_names,
                                  output_names=["out0"], dynamic_axes=dyn, opset_version=OPSET,
                                  do_constant_folding=True)
            os.replace(tmp, path)
        except Exception as e:  # noqa: BLE001 - report, skip, go on
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            print("%-20s SKIPPED: torch.onnx.export fails (%s: %s)"
                  % (name, type(e).__name__, msg[:200]), flush=True)
            skipped.append(name)
            if tmp.exists():
                tmp.unlink()
            continue
        print("%-20s made   %s (%.1f s, %.1f MB; %s)"
              % (name, path, time.time() - t0, path.stat().st_size / 1e6, builder), flush=True)
        made.append(str(path))
    if skipped:
        print("skipped (export failed): %s" % " ".join(skipped), flush=True)
    print("MODELS " + " ".join(made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
