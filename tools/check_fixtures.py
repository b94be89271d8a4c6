"""Independent re-check of the golden fixtures written by tools/make_fixtures.py.

Reads every fixture back from disk (header parsed here with json/struct, not
through the writer), and recomputes the logits with a SECOND implementation
built from stock torch.nn modules (nn.Conv2d, nn.TransformerEncoderLayer with
norm_first=True / gelu, nn.LayerNorm, nn.Linear) instead of the hand-written
reference.  LayerScale is folded into attn.proj / mlp.fc2 (exact: the residual
branch ends in a Linear).  Pos-embed resampling uses explicit interpolation
matrices (reference_vit.bicubic_matrix), not F.interpolate.

Also runs the nn implementation in float32 to show the float32 error scale
the Java side should expect.  Exit status 1 on any failure.

Usage: /usr/bin/python3 tools/check_fixtures.py
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
G = os.path.join(ROOT, "core", "src", "test", "resources", "golden")
sys.path.insert(0, TOOLS)
import reference_vit as ref  # noqa: E402

torch.set_num_threads(1)
FAIL = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("  " + detail if detail else ""))
    if not ok:
        FAIL.append(name)


# --------------------------------------------------------------------------
# independent safetensors parsing
# --------------------------------------------------------------------------
def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0, "header not padded to 8"
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", None)
    data = raw[8 + n:]
    names = sorted(header)
    pos = 0
    out = {}
    for k in names:                      # sorted-name order, contiguous
        info = header[k]
        b, e = info["data_offsets"]
        assert b == pos, (path, k, b, pos)
        pos = e
        t = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[info["dtype"]]
        buf = bytearray(data[b:e])
        ten = torch.frombuffer(buf, dtype=t).reshape(info["shape"]) if e > b else torch.zeros(info["shape"], dtype=t)
        out[k] = ten.to(torch.float64)
    assert pos == len(data)
    return out, meta


def npy(name):
    return np.load(os.path.join(G, name))


# --------------------------------------------------------------------------
# second implementation from nn modules
# --------------------------------------------------------------------------
class NNViT(nn.Module):
    def __init__(self, sd, heads, eps, no_embed_class=False, global_pool="token"):
        super().__init__()
        D, C, p, _ = sd["patch_embed.proj.weight"].shape
        self.no_embed_class, self.global_pool = no_embed_class, global_pool
        self.conv = nn.Conv2d(C, D, p, stride=p)
        self.conv.weight.data = sd["patch_embed.proj.weight"].clone()
        self.conv.bias.data = sd["patch_embed.proj.bias"].clone()
        self.prefix = [sd["cls_token"]] + ([sd["dist_token"]] if "dist_token" in sd else [])
        self.pos = sd["pos_embed"]
        self.layers = nn.ModuleList()
        i = 0
        while f"blocks.{i}.norm1.weight" in sd:
            b = f"blocks.{i}."
            mlp = sd[b + "mlp.fc1.weight"].shape[0]
            L = nn.TransformerEncoderLayer(D, heads, mlp, dropout=0.0, activation="gelu",
                                           layer_norm_eps=eps, batch_first=True, norm_first=True)
            ls1 = sd.get(b + "ls1.gamma", torch.ones(D, dtype=torch.float64))
            ls2 = sd.get(b + "ls2.gamma", torch.ones(D, dtype=torch.float64))
            L.self_attn.in_proj_weight.data = sd[b + "attn.qkv.weight"].clone()
            L.self_attn.in_proj_bias.data = sd[b + "attn.qkv.bias"].clone()
            L.self_attn.out_proj.weight.data = ls1[:, None] * sd[b + "attn.proj.weight"]
            L.self_attn.out_proj.bias.data = ls1 * sd[b + "attn.proj.bias"]
            L.linear1.weight.data = sd[b + "mlp.fc1.weight"].clone()
            L.linear1.bias.data = sd[b + "mlp.fc1.bias"].clone()
            L.linear2.weight.data = ls2[:, None] * sd[b + "mlp.fc2.weight"]
            L.linear2.bias.data = ls2 * sd[b + "mlp.fc2.bias"]
            for mine, theirs in [(L.norm1, "norm1"), (L.norm2, "norm2")]:
                mine.weight.data = sd[b + theirs + ".weight"].clone()
                mine.bias.data = sd[b + theirs + ".bias"].clone()
            self.layers.append(L)
            i += 1
        nkey = "fc_norm" if global_pool == "avg" else "norm"
        self.norm = nn.LayerNorm(D, eps=eps)
        self.norm.weight.data = sd[nkey + ".weight"].clone()
        self.norm.bias.data = sd[nkey + ".bias"].clone()
        self.head = nn.Linear(D, sd["head.weight"].shape[0])
        self.head.weight.data, self.head.bias.data = sd["head.weight"].clone(), sd["head.bias"].clone()
        self.head_dist = None
        if "head_dist.weight" in sd:
            self.head_dist = nn.Linear(D, sd["head_dist.weight"].shape[0])
            self.head_dist.weight.data = sd["head_dist.weight"].clone()
            self.head_dist.bias.data = sd["head_dist.bias"].clone()

    def forward(self, x, antialias=False):
        y = self.conv(x)                                   # [B, D, gh, gw]
        B, D, gh, gw = y.shape
        tok = y.flatten(2).transpose(1, 2)                 # [B, gh*gw, D]
        npre = len(self.prefix)
        pos = self.pos.to(x.dtype)
        pos_pre, pos_patch = (None, pos) if self.no_embed_class else (pos[:, :npre], pos[:, npre:])
        old = int(math.isqrt(pos_patch.shape[1]))
        if (old, old) != (gh, gw):
            Mh = ref.bicubic_matrix(old, gh, antialias).to(x.dtype)
            Mw = ref.bicubic_matrix(old, gw, antialias).to(x.dtype)
            g = pos_patch[0].reshape(old, old, D)                    # [h, w, D]
            g = torch.einsum("ih,hwd,jw->ijd", Mh, g, Mw)
            pos_patch = g.reshape(1, gh * gw, D)
        pre = [p.to(x.dtype).expand(B, -1, -1) for p in self.prefix]
        if self.no_embed_class:
            h = torch.cat(pre + [tok + pos_patch], 1)
        else:
            h = torch.cat(pre + [tok], 1) + torch.cat([pos_pre, pos_patch], 1)
        for L in self.layers:
            h = L(h)
        if self.global_pool == "avg":
            return self.head(self.norm(h[:, npre:].mean(1)))
        h = self.norm(h)
        if self.head_dist is not None:
            return (self.head(h[:, 0]) + self.head_dist(h[:, 1])) / 2
        return self.head(h[:, 0])


def nn_logits(sd, x, heads, eps, dtype=torch.float64, **kw):
    aa = kw.pop("antialias", False)
    m = NNViT(sd, heads, eps, **kw).to(dtype).eval()
    with torch.no_grad():
        return m(torch.from_numpy(x).to(dtype), antialias=aa).double().numpy()


def compare(name, sd, x, heads, eps, expected, **kw):
    y64 = nn_logits(sd, x, heads, eps, **kw)
    y32 = nn_logits(sd, x, heads, eps, dtype=torch.float32, **kw)
    e64 = np.abs(y64 - expected).max()
    e32 = np.abs(y32 - expected).max()
    check(name, e64 < 2e-6 and e32 < 2e-5, f"nn-f64 err {e64:.2e}, nn-f32 err {e32:.2e}")


def hf_to_timm(h):
    sd = {"cls_token": h["vit.embeddings.cls_token"],
          "pos_embed": h["vit.embeddings.position_embeddings"],
          "patch_embed.proj.weight": h["vit.embeddings.patch_embeddings.projection.weight"],
          "patch_embed.proj.bias": h["vit.embeddings.patch_embeddings.projection.bias"],
          "norm.weight": h["vit.layernorm.weight"], "norm.bias": h["vit.layernorm.bias"],
          "head.weight": h["classifier.weight"], "head.bias": h["classifier.bias"]}
    i = 0
    while f"vit.encoder.layer.{i}.layernorm_before.weight" in h:
        p, b = f"vit.encoder.layer.{i}.", f"blocks.{i}."
        a = p + "attention.attention."
        for s in ["weight", "bias"]:
            sd[b + "attn.qkv." + s] = torch.cat([h[a + "query." + s], h[a + "key." + s], h[a + "value." + s]], 0)
            sd[b + "norm1." + s] = h[p + "layernorm_before." + s]
            sd[b + "attn.proj." + s] = h[p + "attention.output.dense." + s]
            sd[b + "norm2." + s] = h[p + "layernorm_after." + s]
            sd[b + "mlp.fc1." + s] = h[p + "intermediate.dense." + s]
            sd[b + "mlp.fc2." + s] = h[p + "output.dense." + s]
        i += 1
    assert len(sd) == len(h) - 4 * i      # q,k,v (w,b) -> qkv (w,b)
    return sd


def main():
    x32, x48, x224 = npy("input_b2.npy"), npy("input48_b2.npy"), npy("input224_b2.npy")
    check("input shapes", x32.shape == (2, 3, 32, 32) and x48.shape == (2, 3, 48, 48)
          and x224.shape == (2, 3, 224, 224) and x32.dtype == np.float32)

    vit, meta = read_st(os.path.join(G, "vit_timm.safetensors"))
    check("metadata", meta == {"format": "pt"})
    compare("vit_timm", vit, x32, 4, 1e-6, npy("vit_timm.logits.npy"))
    compare("vit_timm interp48", vit, x48, 4, 1e-6, npy("vit_timm.interp48.logits.npy"))
    compare("vit_timm interp48 aa", vit, x48, 4, 1e-6, npy("vit_timm.interp48_aa.logits.npy"), antialias=True)

    pe = npy("posembed_grid4.npy")
    check("posembed_grid4 = vit pos_embed[:,1:]", np.array_equal(pe, vit["pos_embed"][:, 1:].float().numpy()))
    for fname, aa in [("posembed_grid4_to_7.npy", False), ("posembed_grid4_to_7_aa.npy", True)]:
        M = ref.bicubic_matrix(4, 7, aa).numpy()
        g = np.einsum("ih,hwd,jw->ijd", M, pe[0].reshape(4, 4, 64).astype(np.float64), M).reshape(1, 49, 64)
        check(fname, np.abs(g - npy(fname)).max() < 1e-6, f"err {np.abs(g - npy(fname)).max():.1e}")

    # HF: files -> timm names -> same tensors as vit_timm; eps 1e-12
    hf, _ = read_st(os.path.join(G, "vit_hf", "model.safetensors"))
    back = hf_to_timm(hf)
    check("vit_hf tensors == vit_timm tensors", set(back) == set(vit)
          and all(torch.equal(back[k], vit[k]) for k in vit))
    cfg = json.load(open(os.path.join(G, "vit_hf", "config.json")))
    check("vit_hf config", cfg["num_attention_heads"] == 4 and cfg["layer_norm_eps"] == 1e-12
          and cfg["hidden_size"] == 64 and cfg["id2label"]["3"] == "three")
    exp_hf = npy("vit_hf.logits.npy")
    compare("vit_hf (nn impl, eps 1e-12)", back, x32, 4, 1e-12, exp_hf)
    with torch.no_grad():
        y_ref_t = ref.vit_forward(vit, torch.from_numpy(x32).double(), 4, eps=1e-12).numpy()
        y_ref_h = ref.hf_vit_forward(hf, torch.from_numpy(x32).double(), 4, eps=1e-12).numpy()
    check("reference: timm-named == HF-named at eps 1e-12", np.abs(y_ref_t - y_ref_h).max() < 1e-12,
          f"{np.abs(y_ref_t - y_ref_h).max():.1e}")
    d = np.abs(exp_hf - npy("vit_timm.logits.npy")).max()
    print(f"     (info) vit_hf (eps 1e-12) vs vit_timm (eps 1e-6) logits differ by {d:.2e}")

    idx = json.load(open(os.path.join(G, "vit_hf_sharded", "model.safetensors.index.json")))
    merged, total = {}, 0
    for shard in sorted(set(idx["weight_map"].values())):
        part, _ = read_st(os.path.join(G, "vit_hf_sharded", shard))
        for k, v in part.items():
            check_k = idx["weight_map"][k] == shard
            if not check_k:
                check("weight_map " + k, False)
            merged[k] = v
            total += v.numel() * 4
    check("vit_hf_sharded == vit_hf", set(merged) == set(hf) == set(idx["weight_map"])
          and all(torch.equal(merged[k], hf[k]) for k in hf) and total == idx["metadata"]["total_size"],
          f"{len(set(idx['weight_map'].values()))} shards, total_size {idx['metadata']['total_size']}")

    # BF16 / F16: stored values must be torch's own round-to-nearest-even of the F32 weights
    bf, _ = read_st(os.path.join(G, "vit_bf16.safetensors"))
    check("bf16 values == torch .bfloat16() of vit_timm",
          all(torch.equal(bf[k], vit[k].float().bfloat16().double()) for k in vit))
    compare("vit_bf16", bf, x32, 4, 1e-6, npy("vit_bf16.logits.npy"))
    f16, _ = read_st(os.path.join(G, "vit_f16.safetensors"))
    check("f16 values == torch .half() of vit_timm",
          all(torch.equal(f16[k], vit[k].float().half().double()) for k in vit))
    compare("vit_f16", f16, x32, 4, 1e-6, npy("vit_f16.logits.npy"))

    deit, _ = read_st(os.path.join(G, "deit_distilled.safetensors"))
    check("deit shapes", tuple(deit["pos_embed"].shape) == (1, 18, 64) and "head_dist.weight" in deit)
    compare("deit_distilled", deit, x32, 4, 1e-6, npy("deit_distilled.logits.npy"))
    # head average sanity: drop head_dist and compare against the cls-only path
    cls_only = {k: v for k, v in deit.items() if not k.startswith("head_dist")}
    m = NNViT(deit, 4, 1e-6).double().eval()
    with torch.no_grad():
        y_avg = m(torch.from_numpy(x32).double()).numpy()
        m.head_dist = None
        y_cls = m(torch.from_numpy(x32).double()).numpy()
    check("deit avg differs from cls-only head", np.abs(y_avg - y_cls).max() > 1e-2, f"{np.abs(y_avg - y_cls).max():.2f}")
    del cls_only

    d3, _ = read_st(os.path.join(G, "deit3_ls.safetensors"))
    check("deit3 shapes", tuple(d3["pos_embed"].shape) == (1, 16, 64) and "blocks.0.ls1.gamma" in d3)
    compare("deit3_ls", d3, x32, 4, 1e-6, npy("deit3_ls.logits.npy"), no_embed_class=True)

    gap, _ = read_st(os.path.join(G, "vit_gap.safetensors"))
    check("gap keys", "norm.weight" not in gap and "fc_norm.weight" in gap and "cls_token" in gap)
    compare("vit_gap", gap, x32, 4, 1e-6, npy("vit_gap.logits.npy"), global_pool="avg")

    hub_cfg = json.load(open(os.path.join(G, "timm_hub", "config.json")))
    same = open(os.path.join(G, "timm_hub", "model.safetensors"), "rb").read() == \
        open(os.path.join(G, "vit_timm.safetensors"), "rb").read()
    check("timm_hub model == vit_timm bytes, num_heads 4", same and hub_cfg["model_args"]["num_heads"] == 4)

    deep, _ = read_st(os.path.join(G, "deep197.safetensors"))
    check("deep197 shapes", tuple(deep["pos_embed"].shape) == (1, 197, 64) and "blocks.5.norm1.weight" in deep)
    compare("deep197", deep, x224, 4, 1e-6, npy("deep197.logits.npy"))

    v224, _ = read_st(os.path.join(G, "vit224", "model.safetensors"))
    c224 = json.load(open(os.path.join(G, "vit224", "config.json")))
    check("vit224 config", c224["model_args"]["num_heads"] == 2 and len(c224["label_names"]) == 5)
    compare("vit224", v224, x224, 2, 1e-6, npy("vit224.logits.npy"))
    if os.path.exists(os.path.join(G, "dog.vit224.logits.npy")):
        xd = npy("dog.vit224.input.npy")
        import timm_transform
        again = timm_transform.timm_eval_transform(os.path.join(G, "images", "dog.jpg"), size=224, crop_pct=0.9,
                                                   mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                                                   interpolation="bicubic")
        check("dog input == timm_eval_transform(dog.jpg) now", np.array_equal(xd[0], again))
        compare("dog.vit224", v224, xd, 2, 1e-6, npy("dog.vit224.logits.npy"))
    else:
        check("dog.vit224 fixture present", False)

    print("FAILED: " + ", ".join(FAIL) if FAIL else "all checks passed")
    sys.exit(1 if FAIL else 0)


if __name__ == "__main__":
    main()
