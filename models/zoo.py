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

A model torch.onnx cannot export (EfficientNet here: torch 1.13 has no ONNX export of
padding="same" convolutions, aten::_convolution_mode) is reported and does not fail the run.

Real torchvision models (names "tvm_*": torchvision.models / .models.segmentation with
weights=None and weights_backbone=None, torch seed 0, eval mode; CNNs at 128x128 where the
architecture allows, AlexNet / VGG / ViT / Swin at 224, Inception v3 at 299; the ViT head and
GoogLeNet re-initialised so that the output is not constant) are exported with a dynamic batch
(export b1, run b1 and b2). torchvision's Swin exports ScatterND (its shift-window mask);
torchvision's detection models are not included. The "tv_*" building blocks predate torchvision in this environment and
are kept as small pattern checks.

Writes into OUT (default <repo>/build/models/zoo): <model>_op<N>.onnx, <model>_op<N>_<shape>_*.npy,
zoo.json (the rows).
"""
import argparse
import contextlib
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
    if name == "bert_base":  # bert-base-uncased geometry (12 x 768, 12 heads): slow, not default
        return T.BertModel(T.BertConfig(), add_pooling_layer=False)
    if name == "mpnet":
        return T.MPNetModel(T.MPNetConfig(**dict(common, max_position_embeddings=130)),
                            add_pooling_layer=False)
    if name == "squeezebert":
        return T.SqueezeBertModel(T.SqueezeBertConfig(**dict(common, embedding_size=128)))
    if name == "xlmr":
        return T.XLMRobertaModel(T.XLMRobertaConfig(**dict(common, max_position_embeddings=130)),
                                 add_pooling_layer=False)
    if name == "bart_enc":
        return T.BartModel(T.BartConfig(vocab_size=1000, d_model=128, encoder_layers=2,
                                        decoder_layers=1, encoder_attention_heads=4,
                                        decoder_attention_heads=4, encoder_ffn_dim=512,
                                        decoder_ffn_dim=512,
                                        max_position_embeddings=128)).get_encoder()
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
        return T.EfficientNetModel(T.EfficientNetConfig(depth_coefficient=0.5,
                                                        image_size=64)), 64
    if name == "swin":
        return T.SwinModel(T.SwinConfig(image_size=64, patch_size=4, embed_dim=32,
                                        depths=[1, 1], num_heads=[2, 4], window_size=4)), 64
    if name == "resnet50_224":  # microsoft/resnet-50 geometry at 224: slow, not default
        return T.ResNetModel(T.ResNetConfig()), 224
    if name == "vit_base":  # google/vit-base-patch16-224 geometry: slow, not default
        return T.ViTModel(T.ViTConfig(), add_pooling_layer=False), 224
    if name == "deit":
        return T.DeiTModel(T.DeiTConfig(hidden_size=128, num_hidden_layers=2,
                                        num_attention_heads=4, intermediate_size=512,
                                        image_size=64, patch_size=16),
                           add_pooling_layer=False), 64
    if name == "beit":
        return T.BeitModel(T.BeitConfig(hidden_size=128, num_hidden_layers=2,
                                        num_attention_heads=4, intermediate_size=512,
                                        image_size=64, patch_size=16,
                                        use_relative_position_bias=True),
                           add_pooling_layer=False), 64
    if name == "segformer":
        return T.SegformerForSemanticSegmentation(T.SegformerConfig(
            hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1], decoder_hidden_size=64,
            num_attention_heads=[1, 2, 4, 8], num_labels=5)), 64
    if name == "mobilevit":
        return T.MobileViTModel(T.MobileViTConfig(image_size=64, hidden_sizes=[48, 64, 80],
                                                  neck_hidden_sizes=[16, 16, 24, 48, 64, 80,
                                                                     320])), 64
    if name == "poolformer":
        return T.PoolFormerModel(T.PoolFormerConfig(hidden_sizes=[16, 32, 64, 128],
                                                    depths=[1, 1, 1, 1])), 64
    if name == "levit":
        return T.LevitModel(T.LevitConfig(image_size=64)), 64
    if name == "dinov2":
        return T.Dinov2Model(T.Dinov2Config(hidden_size=128, num_hidden_layers=2,
                                            num_attention_heads=4, image_size=64,
                                            patch_size=16)), 64
    raise KeyError(name)


def pattern_model(name):
    """torchvision's building blocks (torchvision is not installed here): small modules made of
    the same torch.nn layers, so that their exports hold the same ONNX patterns. (module, size)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Seq(nn.Module):
        def __init__(self, f, *mods):
            super().__init__()
            self.mods = nn.ModuleList(mods)
            self.f = f

        def forward(self, x):
            return self.f(self, x)

    c = nn.Conv2d
    if name == "tv_googlenet_pool":  # MaxPool ceil_mode, LRN-free inception branches, concat
        return Seq(lambda s, x: torch.cat([s.mods[1](s.mods[0](x)), s.mods[2](x)], 1),
                   nn.MaxPool2d(3, 2, ceil_mode=True), c(3, 8, 1), c(3, 8, 3, 2, 1)), 32
    if name == "tv_mobilenet_v3":  # hardswish, hardsigmoid SE, relu6, depthwise
        return Seq(lambda s, x: (lambda y: y * F.hardsigmoid(s.mods[3](F.relu(s.mods[2](
            F.adaptive_avg_pool2d(y, 1))))))(F.hardswish(s.mods[1](F.relu6(s.mods[0](x))))),
            c(3, 16, 3, 2, 1), c(16, 16, 3, 1, 1, groups=16), c(16, 4, 1), c(4, 16, 1)), 32
    if name == "tv_shufflenet":  # channel shuffle: reshape/transpose/reshape, chunk
        def f(s, x):
            y = s.mods[0](x)
            b, ch, h, w = y.shape
            y = y.view(b, 2, ch // 2, h, w).transpose(1, 2).contiguous().view(b, ch, h, w)
            a, bb = y.chunk(2, dim=1)
            return torch.cat([a, s.mods[1](bb)], 1)
        return Seq(f, c(3, 16, 3, 1, 1), c(8, 8, 1)), 16
    if name == "tv_deeplab":  # dilated conv, bilinear upsample (align_corners False / True)
        def f(s, x):
            y = F.relu(s.mods[1](F.relu(s.mods[0](x))))
            a = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
            b = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True)
            return torch.cat([a, b[..., :x.shape[-2], :x.shape[-1]]], 1)
        return Seq(f, c(3, 8, 3, 2, 1), c(8, 8, 3, 1, 2, dilation=2)), 32
    if name == "tv_nearest":  # nearest upsample (FPN / fcn-style), avg pool count_include_pad
        def f(s, x):
            y = s.mods[0](x)
            return F.interpolate(y, scale_factor=2, mode="nearest") + F.avg_pool2d(
                x, 3, 1, 1, count_include_pad=False).sum(1, keepdim=True)
        return Seq(f, c(3, 8, 3, 2, 1)), 32
    if name == "tv_swin_roll":  # torch.roll (cyclic shift), permute, layernorm channels-last
        def f(s, x):
            y = x.permute(0, 2, 3, 1)
            y = torch.roll(y, shifts=(-2, -2), dims=(1, 2))
            y = s.mods[0](y)
            return torch.roll(y, shifts=(2, 2), dims=(1, 2)).permute(0, 3, 1, 2)
        return Seq(f, nn.LayerNorm(3)), 16
    if name == "tv_vit_mha":  # nn.MultiheadAttention (torchvision's vit_b_16 encoder)
        mha = nn.MultiheadAttention(48, 4, batch_first=True)

        def f(s, x):
            t = s.mods[1](x).flatten(2).transpose(1, 2)
            s.mods[0].training = True  # dropout 0: the same result, without the fast path
            return s.mods[0](t, t, t, need_weights=True)[0]  # no fast path: exportable
        return Seq(f, mha, c(3, 48, 8, 8)), 32
    if name == "tv_classifier":  # adaptive pool to 1, flatten, dropout, linear (alexnet/vgg head)
        return Seq(lambda s, x: s.mods[2](F.dropout(torch.flatten(
            F.adaptive_avg_pool2d(F.relu(s.mods[0](x)), (1, 1)), 1), training=False)),
            c(3, 16, 3), None, nn.Linear(16, 10)), 32
    if name == "tv_inception":  # transform_input (per-channel scale + cat), asymmetric convs
        def f(s, x):
            x0 = x[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
            x1 = x[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
            x2 = x[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
            y = torch.cat([x0, x1, x2], 1)
            return torch.cat([s.mods[0](y), s.mods[1](y),
                              F.max_pool2d(y, 3, 1, 1).repeat(1, 2, 1, 1)], 1)
        return Seq(f, c(3, 6, (1, 7), padding=(0, 3)), c(3, 6, (7, 1), padding=(3, 0))), 17
    raise KeyError(name)


def torchvision_model(name):
    """(module, image size) for a real torchvision architecture, random weights (no download)."""
    import torchvision.models as tvm
    import torchvision.models.segmentation as seg
    n = name[len("tvm_"):]
    size = TORCHVISION[name]
    if n == "googlenet":
        # init_weights=False: its truncated-normal std 0.01 init shrinks the activations to ~0 (the
        # output is the fc bias: rel L2 1e-12 tests nothing); the default (kaiming) init does not.
        return tvm.googlenet(weights=None, aux_logits=False, init_weights=False), size
    if n == "inception_v3":
        return tvm.inception_v3(weights=None, aux_logits=False, init_weights=True), size
    if n in ("fcn_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"):
        return getattr(seg, n)(weights=None, weights_backbone=None, num_classes=5,
                               aux_loss=None if n.startswith("lraspp") else False), size
    m = getattr(tvm, n)(weights=None)
    if n.startswith("vit_"):  # torchvision zero-initialises the ViT head: the output would be 0
        import torch
        torch.nn.init.normal_(m.heads.head.weight, std=0.02)
        torch.nn.init.normal_(m.heads.head.bias, std=0.02)
    return m, size


# torchvision model -> image size (the smallest the architecture's fixed strides allow, within
# reason on two cores; AlexNet / VGG at 224: torch.onnx exports their adaptive pooling to 6x6 /
# 7x7 only when it divides the feature map).
TORCHVISION = {"tvm_resnet18": 128, "tvm_resnet50": 128, "tvm_mobilenet_v2": 128,
               "tvm_mobilenet_v3_small": 128, "tvm_mobilenet_v3_large": 128,
               "tvm_densenet121": 128, "tvm_shufflenet_v2_x1_0": 128, "tvm_squeezenet1_1": 128,
               "tvm_efficientnet_b0": 128, "tvm_regnet_y_400mf": 128, "tvm_mnasnet0_5": 128,
               "tvm_googlenet": 128, "tvm_inception_v3": 299, "tvm_alexnet": 224,
               "tvm_vgg11": 224, "tvm_convnext_tiny": 128, "tvm_vit_b_16": 224,
               "tvm_swin_t": 224, "tvm_wide_resnet50_2": 128, "tvm_resnext50_32x4d": 128,
               "tvm_fcn_resnet50": 128, "tvm_deeplabv3_mobilenet_v3_large": 128,
               "tvm_lraspp_mobilenet_v3_large": 128}

PATTERNS = ["tv_googlenet_pool", "tv_mobilenet_v3", "tv_shufflenet", "tv_deeplab", "tv_nearest",
            "tv_swin_roll", "tv_vit_mha", "tv_classifier", "tv_inception"]
# Full-size geometry (not in the default list: each takes tens of seconds on two cores).
FULL_SIZE = ["bert_base", "resnet50_224", "vit_base"]
TEXT = ["bert_base", "bert", "distilbert", "roberta", "albert", "electra", "gpt2", "t5enc", "deberta", "mpnet",
        "squeezebert", "xlmr", "bart_enc"]
VISION = ["resnet50_224", "vit_base", "vit", "resnet", "resnet50", "convnext", "mobilenet_v2", "regnet", "efficientnet",
          "swin", "deit", "beit", "segformer", "mobilevit", "poolformer", "levit", "dinov2"]


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
        if name in ("bert", "bert_base", "albert", "electra", "deberta"):
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
    if name in TORCHVISION:
        m, size = torchvision_model(name)
        seg_out = "fcn_" in name or "deeplab" in name or "lraspp" in name

        class V(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, x):
                y = self.m(x)
                return (y["out"] if seg_out else y,)
    elif name in PATTERNS:
        m, size = pattern_model(name)

        class V(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, x):
                return (self.m(x),)
    else:
        m, size = vision_model(name)

        class V(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, x):
                return (self.m(pixel_values=x, return_dict=False)[0],)
    m = m.eval()

    def img(b):
        return [rng.standard_normal((b, 3, size, size)).astype(np.float32)]

    shapes = [("b1", img(1)), ("b2", img(2))] if name in TORCHVISION else [("b1", img(1)),
                                                                                ("b3", img(3))]
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
    ap.add_argument("--models", default=",".join(m for m in TEXT + VISION + PATTERNS
                                                 + list(TORCHVISION) if m not in FULL_SIZE),
                    help="comma-separated; default all but the full-size " + ",".join(FULL_SIZE))
    ap.add_argument("--opsets", default="14,17")
    ap.add_argument("--shapes", default="",
                    help="comma-separated shape names to run (b1, b2, b2s32, ...); default all")
    ap.add_argument("--devices", default="cpu,opencl:0")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--timeout", type=int, default=600, help="seconds per tessera run")
    ap.add_argument("--allow-refusals", action="store_true",
                    help="a clear refusal (exit status 2) does not fail the run")
    ap.add_argument("--deep", action="store_true",
                    help="only make OUT/bert_deep.onnx: a 20-layer BERT (hidden 256, opset 17, "
                         "static [1, 128]) of about 1,000 nodes, for the compile-time bench "
                         "(tessera bench --suite model --model OUT/bert_deep.onnx)")
    ap.add_argument("--static", action="store_true",
                    help="export without dynamic axes and run at the export shape only")
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
            if args.static:
                dyn, shapes = {}, shapes[:1]
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"{name}: cannot build ({type(e).__name__}: {e})", flush=True)
            rows.append(dict(model=name, error=f"build: {e}"))
            bad += 1
            continue
        for opset in [int(o) for o in args.opsets.split(",")]:
            onnx_path = out / f"{name}_op{opset}.onnx"
            try:
                # torchvision's ViT: under no_grad nn.MultiheadAttention takes its fast path
                # (aten::_native_multi_head_attention), which torch.onnx cannot export.
                grad = contextlib.nullcontext() if name == "tvm_vit_b_16" else torch.no_grad()
                with grad:
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
                if args.shapes and shape_name not in args.shapes.split(","):
                    continue
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
