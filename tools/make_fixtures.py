"""Regenerate the golden ViT fixtures under core/src/test/resources/golden/.

Usage (from the repository root):
    /usr/bin/python3 tools/make_fixtures.py [--wait-photo SECONDS] [--skip-photo]

Needs only torch + numpy (+ PIL through tools/timm_transform.py for the photo
fixture).  Everything is deterministic: weights and inputs come from
numpy.random.RandomState(seed) (a frozen legacy stream), expected logits are
computed in float64 by tools/reference_vit.py from the float32 (or bf16/f16
rounded) weights exactly as stored, then saved as float32 .npy.

Run tools/check_fixtures.py afterwards for an independent re-check.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
GOLDEN = os.path.join(ROOT, "core", "src", "test", "resources", "golden")
sys.path.insert(0, TOOLS)

import reference_vit as ref  # noqa: E402
import safetensors_io as st  # noqa: E402

torch.set_num_threads(1)
META = {"format": "pt"}
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

# Tiny config shared by most fixtures (heads=4 is NOT the width/64 default).
TINY = dict(img=32, patch=8, dim=64, heads=4, depth=3, mlp=256, classes=10)
# 224 photo model and deep model.
V224 = dict(img=224, patch=16, dim=32, heads=2, depth=2, mlp=128, classes=5)
DEEP = dict(img=224, patch=16, dim=64, heads=4, depth=6, mlp=256, classes=10)
V224_LABELS = ["alpha", "bravo", "charlie", "delta", "echo"]

MANIFEST = []  # (file, config text, input, expected)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def out(*parts):
    path = os.path.join(GOLDEN, *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def save_npy(name, arr):
    np.save(out(name), np.ascontiguousarray(arr, dtype=np.float32))


def save_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def make_weights(seed, cfg, distilled=False, layer_scale=False, no_embed_class=False,
                 global_pool="token"):
    """Random timm-named ViT weights (float32 numpy), well-conditioned scales."""
    r = np.random.RandomState(seed)
    D, p, mlp, C = cfg["dim"], cfg["patch"], cfg["mlp"], cfg["classes"]
    n_patches = (cfg["img"] // p) ** 2
    n_prefix = 1 + (1 if distilled else 0)

    def normal(shape, std):
        return (r.standard_normal(shape) * std).astype(np.float32)

    def ln(name, w):
        w[name + ".weight"] = (1.0 + r.standard_normal(D) * 0.1).astype(np.float32)
        w[name + ".bias"] = normal(D, 0.1)

    w = {}
    w["patch_embed.proj.weight"] = normal((D, 3, p, p), 1.0 / np.sqrt(3 * p * p))
    w["patch_embed.proj.bias"] = normal(D, 0.1)
    w["cls_token"] = normal((1, 1, D), 0.5)
    if distilled:
        w["dist_token"] = normal((1, 1, D), 0.5)
    n_pos = n_patches if no_embed_class else n_prefix + n_patches
    w["pos_embed"] = normal((1, n_pos, D), 0.5)
    for i in range(cfg["depth"]):
        b = f"blocks.{i}."
        ln(b + "norm1", w)
        w[b + "attn.qkv.weight"] = normal((3 * D, D), 1.2 / np.sqrt(D))
        w[b + "attn.qkv.bias"] = normal(3 * D, 0.1)
        w[b + "attn.proj.weight"] = normal((D, D), 0.5 / np.sqrt(D))
        w[b + "attn.proj.bias"] = normal(D, 0.05)
        ln(b + "norm2", w)
        w[b + "mlp.fc1.weight"] = normal((mlp, D), 1.0 / np.sqrt(D))
        w[b + "mlp.fc1.bias"] = normal(mlp, 0.1)
        w[b + "mlp.fc2.weight"] = normal((D, mlp), 0.5 / np.sqrt(mlp))
        w[b + "mlp.fc2.bias"] = normal(D, 0.05)
        if layer_scale:
            w[b + "ls1.gamma"] = r.uniform(0.1, 1.0, D).astype(np.float32)
            w[b + "ls2.gamma"] = r.uniform(0.1, 1.0, D).astype(np.float32)
    if global_pool == "avg":
        ln("fc_norm", w)
    else:
        ln("norm", w)
    w["head.weight"] = normal((C, D), 1.0 / np.sqrt(D))
    w["head.bias"] = normal(C, 0.1)
    if distilled:
        w["head_dist.weight"] = normal((C, D), 1.0 / np.sqrt(D))
        w["head_dist.bias"] = normal(C, 0.1)
    return w


def make_input(seed, batch, size):
    r = np.random.RandomState(seed)
    return r.standard_normal((batch, 3, size, size)).astype(np.float32)


def to_t64(d):
    return {k: torch.from_numpy(np.asarray(v, dtype=np.float32)).double() for k, v in d.items()}


def logits_timm(w, x, heads, eps=1e-6, **kw):
    with torch.no_grad():
        y = ref.vit_forward(to_t64(w), torch.from_numpy(x).double(), heads, eps=eps, **kw)
    return y.numpy().astype(np.float32)


def logits_hf(w_hf, x, heads, eps=1e-12):
    with torch.no_grad():
        y = ref.hf_vit_forward(to_t64(w_hf), torch.from_numpy(x).double(), heads, eps=eps)
    return y.numpy().astype(np.float32)


def cfg_text(cfg, eps, variant, extra=""):
    s = (f"D={cfg['dim']} heads={cfg['heads']} depth={cfg['depth']} mlp={cfg['mlp']} "
         f"patch={cfg['patch']} image={cfg['img']} classes={cfg['classes']} eps={eps:g} "
         f"variant={variant}")
    return s + (" " + extra if extra else "")


def timm_hub_config(arch, cfg, labels):
    return {
        "architecture": arch,
        "num_classes": cfg["classes"],
        "num_features": cfg["dim"],
        "global_pool": "token",
        "model_args": {"num_heads": cfg["heads"]},
        "pretrained_cfg": {
            "input_size": [3, cfg["img"], cfg["img"]],
            "interpolation": "bicubic",
            "crop_pct": 0.9,
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5],
            "num_classes": cfg["classes"],
        },
        "label_names": labels,
    }


def hf_config(cfg, labels):
    return {
        "architectures": ["ViTForImageClassification"],
        "model_type": "vit",
        "hidden_size": cfg["dim"],
        "num_attention_heads": cfg["heads"],
        "num_hidden_layers": cfg["depth"],
        "intermediate_size": cfg["mlp"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "image_size": cfg["img"],
        "patch_size": cfg["patch"],
        "num_channels": 3,
        "qkv_bias": True,
        "id2label": {str(i): n for i, n in enumerate(labels)},
        "label2id": {n: i for i, n in enumerate(labels)},
        "torch_dtype": "float32",
    }


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wait-photo", type=float, default=0.0,
                    help="seconds to wait for tools/timm_transform.py and images/dog.jpg")
    ap.add_argument("--skip-photo", action="store_true")
    args = ap.parse_args()
    os.makedirs(GOLDEN, exist_ok=True)
    T = TINY

    # inputs ------------------------------------------------------------
    x32 = make_input(100, 2, 32)
    x48 = make_input(101, 2, 48)
    x224 = make_input(102, 2, 224)
    save_npy("input_b2.npy", x32)
    save_npy("input48_b2.npy", x48)
    save_npy("input224_b2.npy", x224)

    # 1. plain timm ViT -------------------------------------------------
    w = make_weights(1, T)
    st.save_file(w, out("vit_timm.safetensors"), metadata=META)
    y = logits_timm(w, x32, T["heads"], eps=1e-6)
    save_npy("vit_timm.logits.npy", y)
    MANIFEST.append(("vit_timm.safetensors", cfg_text(T, 1e-6, "timm plain (cls token, token pool), F32"),
                     "input_b2.npy", "vit_timm.logits.npy"))

    # 2. pos-embed interpolation ---------------------------------------
    save_npy("vit_timm.interp48.logits.npy", logits_timm(w, x48, T["heads"], eps=1e-6, antialias=False))
    save_npy("vit_timm.interp48_aa.logits.npy", logits_timm(w, x48, T["heads"], eps=1e-6, antialias=True))
    MANIFEST.append(("vit_timm.safetensors", cfg_text(
        T, 1e-6, "timm plain run at 48x48 (grid 4x4 -> 6x6), patch pos_embed bicubic align_corners=False antialias=False"),
        "input48_b2.npy", "vit_timm.interp48.logits.npy"))
    MANIFEST.append(("vit_timm.safetensors", cfg_text(
        T, 1e-6, "same but antialias=True (timm's resample_abs_pos_embed default)"),
        "input48_b2.npy", "vit_timm.interp48_aa.logits.npy"))
    pe4 = torch.from_numpy(w["pos_embed"][:, 1:]).double()          # [1,16,64]
    save_npy("posembed_grid4.npy", pe4.numpy())
    with torch.no_grad():
        save_npy("posembed_grid4_to_7.npy", ref.resample_patch_pos_embed(pe4, (4, 4), (7, 7), False).numpy())
        save_npy("posembed_grid4_to_7_aa.npy", ref.resample_patch_pos_embed(pe4, (4, 4), (7, 7), True).numpy())
    MANIFEST.append(("-", "pos_embed patch part of vit_timm [1,16,64] (grid 4x4, row-major) -> 7x7 [1,49,64], "
                     "bicubic align_corners=False antialias=False", "posembed_grid4.npy", "posembed_grid4_to_7.npy"))
    MANIFEST.append(("-", "same, antialias=True (timm default)", "posembed_grid4.npy", "posembed_grid4_to_7_aa.npy"))

    # 3. Hugging Face layout ---------------------------------------------
    w_hf = {k: v.numpy() for k, v in ref.timm_to_hf({k: torch.from_numpy(v) for k, v in w.items()}).items()}
    labels = DIGITS
    save_json(out("vit_hf", "config.json"), hf_config(T, labels))
    st.save_file(w_hf, out("vit_hf", "model.safetensors"), metadata=META)
    y_hf = logits_hf(w_hf, x32, T["heads"], eps=1e-12)
    save_npy("vit_hf.logits.npy", y_hf)
    MANIFEST.append(("vit_hf/ (config.json + model.safetensors)", cfg_text(
        T, 1e-12, "HF ViTForImageClassification names, same weights as vit_timm (q/k/v split)"),
        "input_b2.npy", "vit_hf.logits.npy"))

    # sharded: embeddings + layer 0 in shard 1, everything else in shard 2
    shard_names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    shards = [{}, {}]
    for k, v in w_hf.items():
        first = k.startswith("vit.embeddings.") or k.startswith("vit.encoder.layer.0.")
        shards[0 if first else 1][k] = v
    weight_map, total = {}, 0
    for name, part in zip(shard_names, shards):
        total += st.save_file(part, out("vit_hf_sharded", name), metadata=META)
        for k in part:
            weight_map[k] = name
    save_json(out("vit_hf_sharded", "model.safetensors.index.json"),
              {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))})
    save_json(out("vit_hf_sharded", "config.json"), hf_config(T, labels))
    MANIFEST.append(("vit_hf_sharded/ (config.json + model.safetensors.index.json + 2 shards)", cfg_text(
        T, 1e-12, "HF names, same tensors as vit_hf split over 2 shard files"), "input_b2.npy", "vit_hf.logits.npy"))

    # 4. BF16 / F16 storage ------------------------------------------------
    w_bf = {k: st.round_to_bf16(v) for k, v in w.items()}
    st.save_file(w, out("vit_bf16.safetensors"), dtype="BF16", metadata=META)
    save_npy("vit_bf16.logits.npy", logits_timm(w_bf, x32, T["heads"], eps=1e-6))
    MANIFEST.append(("vit_bf16.safetensors", cfg_text(
        T, 1e-6, "vit_timm weights stored as BF16 (round-nearest-even); expected computed from the bf16 values upcast"),
        "input_b2.npy", "vit_bf16.logits.npy"))
    w_f16 = {k: v.astype(np.float16).astype(np.float32) for k, v in w.items()}
    st.save_file(w, out("vit_f16.safetensors"), dtype="F16", metadata=META)
    save_npy("vit_f16.logits.npy", logits_timm(w_f16, x32, T["heads"], eps=1e-6))
    MANIFEST.append(("vit_f16.safetensors", cfg_text(
        T, 1e-6, "vit_timm weights stored as F16; expected computed from the f16 values upcast"),
        "input_b2.npy", "vit_f16.logits.npy"))

    # 5. distilled DeiT ------------------------------------------------------
    w = make_weights(5, T, distilled=True)
    st.save_file(w, out("deit_distilled.safetensors"), metadata=META)
    save_npy("deit_distilled.logits.npy", logits_timm(w, x32, T["heads"], eps=1e-6))
    MANIFEST.append(("deit_distilled.safetensors", cfg_text(
        T, 1e-6, "DeiT distilled: tokens [cls, dist, patches], pos_embed [1,18,64], logits=(head(x0)+head_dist(x1))/2"),
        "input_b2.npy", "deit_distilled.logits.npy"))

    # 6. DeiT-III: LayerScale + no_embed_class -------------------------------
    w = make_weights(6, T, layer_scale=True, no_embed_class=True)
    st.save_file(w, out("deit3_ls.safetensors"), metadata=META)
    save_npy("deit3_ls.logits.npy", logits_timm(w, x32, T["heads"], eps=1e-6, no_embed_class=True))
    MANIFEST.append(("deit3_ls.safetensors", cfg_text(
        T, 1e-6, "DeiT-III: ls1/ls2.gamma (0.1..1), no_embed_class: pos_embed [1,16,64] added to patches before cls concat"),
        "input_b2.npy", "deit3_ls.logits.npy"))

    # 7. global average pool ------------------------------------------------
    w = make_weights(7, T, global_pool="avg")
    st.save_file(w, out("vit_gap.safetensors"), metadata=META)
    save_npy("vit_gap.logits.npy", logits_timm(w, x32, T["heads"], eps=1e-6, global_pool="avg"))
    MANIFEST.append(("vit_gap.safetensors", cfg_text(
        T, 1e-6, "global_pool=avg: cls token present, no norm.*, mean over 16 patch tokens (cls excluded) -> fc_norm -> head"),
        "input_b2.npy", "vit_gap.logits.npy"))

    # 8. timm hub folder -------------------------------------------------------
    save_json(out("timm_hub", "config.json"), timm_hub_config("vit_tiny_test", T, DIGITS))
    shutil.copyfile(out("vit_timm.safetensors"), out("timm_hub", "model.safetensors"))
    MANIFEST.append(("timm_hub/ (config.json + model.safetensors = copy of vit_timm)", cfg_text(
        T, 1e-6, "timm hub folder, heads from model_args.num_heads"), "input_b2.npy", "vit_timm.logits.npy"))

    # 10. deeper 197-token model ------------------------------------------------
    w = make_weights(10, DEEP)
    st.save_file(w, out("deep197.safetensors"), metadata=META)
    save_npy("deep197.logits.npy", logits_timm(w, x224, DEEP["heads"], eps=1e-6))
    MANIFEST.append(("deep197.safetensors", cfg_text(DEEP, 1e-6, "timm plain, 197 tokens"),
                     "input224_b2.npy", "deep197.logits.npy"))

    # 9. 224 model + real photo (last: depends on another helper's files) ----
    w = make_weights(9, V224)
    save_json(out("vit224", "config.json"), timm_hub_config("vit_test_patch16_224", V224, V224_LABELS))
    st.save_file(w, out("vit224", "model.safetensors"), metadata=META)
    save_npy("vit224.logits.npy", logits_timm(w, x224, V224["heads"], eps=1e-6))
    MANIFEST.append(("vit224/ (timm hub config.json + model.safetensors)", cfg_text(
        V224, 1e-6, "timm plain, 197 tokens, model-only check"), "input224_b2.npy", "vit224.logits.npy"))
    if not args.skip_photo:
        photo_fixture(w, args.wait_photo)

    write_manifest()
    print("done:", GOLDEN)


def photo_fixture(w, wait_s):
    transform_py = os.path.join(TOOLS, "timm_transform.py")
    dog = os.path.join(GOLDEN, "images", "dog.jpg")
    deadline = time.time() + wait_s
    while not (os.path.exists(transform_py) and os.path.exists(dog)):
        if time.time() > deadline:
            raise SystemExit(f"missing {transform_py} or {dog} (use --wait-photo or --skip-photo)")
        time.sleep(15)
    time.sleep(1)
    import timm_transform  # noqa: E402  (written by another helper)
    img = timm_transform.timm_eval_transform(dog, size=224, crop_pct=0.9, mean=(0.5, 0.5, 0.5),
                                             std=(0.5, 0.5, 0.5), interpolation="bicubic")
    img = np.asarray(img, dtype=np.float32)
    assert img.shape == (3, 224, 224), img.shape
    x = img[None]
    save_npy("dog.vit224.input.npy", x)
    save_npy("dog.vit224.logits.npy", logits_timm(w, x, V224["heads"], eps=1e-6))
    with open(dog, "rb") as fh:
        sha = hashlib.sha256(fh.read()).hexdigest()[:16]
    MANIFEST.append(("vit224/", cfg_text(
        V224, 1e-6, "photo: images/dog.jpg (sha256 " + sha + "...) -> timm_eval_transform(size=224, "
        "crop_pct=0.9, mean=std=0.5, bicubic)"),
        "dog.vit224.input.npy (or images/dog.jpg)", "dog.vit224.logits.npy"))


def write_manifest():
    lines = [
        "# Golden ViT fixtures",
        "",
        "Generated by `/usr/bin/python3 tools/make_fixtures.py` (reference model: `tools/reference_vit.py`,",
        "independent re-check: `tools/check_fixtures.py`). Expected logits are computed in float64 from the",
        "stored weights and saved as float32 `.npy`. Inputs are float32 NCHW `.npy`. All safetensors carry",
        "`__metadata__ = {\"format\": \"pt\"}`. GELU is exact (erf); attention scale head_dim**-0.5.",
        "Heads are NOT width/64: pass them explicitly (or read model_args.num_heads / num_attention_heads).",
        "",
        "| file | config | input | expected |",
        "|---|---|---|---|",
    ]
    for f, c, i, e in MANIFEST:
        lines.append(f"| {f} | {c} | {i} | {e} |")
    with open(out("MANIFEST.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
