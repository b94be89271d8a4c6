"""Hand-written reference of token-reduction methods on a timm ViT, plus the
golden fixtures under core/src/test/resources/golden/reduce/.

Usage (from the repository root):
    /usr/bin/python3 tools/reference_reduce.py

Needs only torch + numpy.  Deterministic: the model (deep197.safetensors) and
the input (input224_b2.npy) are the existing golden fixtures; the only new
random numbers (Cropr queries, merge-unit tensors) come from
numpy.random.RandomState(seed).  Everything is computed in float64 from the
float32 values exactly as stored, and expected logits are saved as float32.

The model is run ONE IMAGE AT A TIME on [N, D] token matrices (no batch dim):
every method below makes its decisions per image anyway, and this keeps the
code readable.  Each token carries its original position (CLS = 0, patch
p = 1 + row * 14 + col) and, for merging, a size (starts at 1).

Methods (block indices 0-based, L = depth, CLS = token 0 = the only prefix):

ToMe      (Bolya et al. 2023, tome/merge.py + tome/patch/timm.py semantics)
          spec  tome:r=R,prop=true|false            constant r in every block
                tome:r=r0/r1/.../r{L-1}[,prop=..]   explicit per-block list
                tome:r=R,schedule=decreasing[,prop=..]
                    r_i = int(round(2R * (L-1-i) / (L-1)))   (linear ramp 2R -> 0)
          prop defaults to true (ToMe's timm patch default).
EViT      (Liang et al. 2022)  evit:keep=K,at=i/j/k,fuse=true|false
Cropr     (Bergner et al. 2025, inference form)  cropr:R=R,llf=true|false
attn      (vitrim's seed method)  attn:keep=K0..K1,start=S,min=F,avg=A[,mass=P]

See the docstring of each function for the exact rules, and
core/src/test/resources/golden/reduce/README.md for the fixture list.
"""
import json
import math
import os
import sys

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
GOLDEN = os.path.join(ROOT, "core", "src", "test", "resources", "golden")
OUT = os.path.join(GOLDEN, "reduce")
sys.path.insert(0, TOOLS)

import reference_vit as ref  # noqa: E402
import safetensors_io as st  # noqa: E402

torch.set_num_threads(1)

# deep197: image 224, patch 16, D=64, heads 4, depth 6, mlp 256, 10 classes
HEADS = 4
EPS = 1e-6
INF = float("inf")


# --------------------------------------------------------------------------
# the ViT, split into the pieces the reducers hook between
# --------------------------------------------------------------------------
class Model:
    def __init__(self, sd, heads=HEADS, eps=EPS):
        self.sd, self.heads, self.eps = sd, heads, eps
        self.depth = 0
        while f"blocks.{self.depth}.norm1.weight" in sd:
            self.depth += 1

    def embed(self, img):
        """img [3, H, W] -> tokens [1 + gh*gw, D] (cls, patches) + pos_embed (no resampling)."""
        sd = self.sd
        tokens, _ = ref.patch_embed(img[None], sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"])
        x = torch.cat([sd["cls_token"][0], tokens[0]], dim=0)
        assert x.shape[0] == sd["pos_embed"].shape[1], "no pos_embed resampling here"
        return x + sd["pos_embed"][0]

    def attention(self, x, i, size=None):
        """Block i's attention on norm1(x).  x [N, D]; size [N] or None.

        Returns (attn_out [N, D], attn probabilities [H, N, N], keys averaged
        over heads [N, head_dim]).  With size given (ToMe proportional
        attention) log(size_j) is added to the logits of key j after the
        head_dim**-0.5 scaling, before the softmax.
        """
        sd, p = self.sd, f"blocks.{i}."
        h = ref.layer_norm(x, sd[p + "norm1.weight"], sd[p + "norm1.bias"], self.eps)
        N, D = h.shape
        H = self.heads
        hd = D // H
        qkv = ref.linear(h, sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"])   # [N, 3D]
        q, k, v = (qkv[:, j * D:(j + 1) * D].reshape(N, H, hd).transpose(0, 1) for j in range(3))
        logits = (q @ k.transpose(-2, -1)) * hd ** -0.5                            # [H, N, N]
        if size is not None:
            logits = logits + torch.log(size)[None, None, :]
        attn = ref.softmax_last(logits)
        out = (attn @ v).transpose(0, 1).reshape(N, D)
        out = ref.linear(out, sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
        return out, attn, k.mean(dim=0)

    def mlp(self, x, i):
        sd, p = self.sd, f"blocks.{i}."
        h = ref.layer_norm(x, sd[p + "norm2.weight"], sd[p + "norm2.bias"], self.eps)
        h = ref.gelu_exact(ref.linear(h, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"]))
        return ref.linear(h, sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])

    def head(self, x):
        sd = self.sd
        x = ref.layer_norm(x, sd["norm.weight"], sd["norm.bias"], self.eps)
        return ref.linear(x[0], sd["head.weight"], sd["head.bias"])


class Run:
    """Per-image bookkeeping: positions present after each block, and the
    decision margins (gap between the last selected and first rejected
    candidate), so a float32 implementation can be judged against them."""

    def __init__(self):
        self.blocks = []
        self.margins = []   # (what, absolute gap, gap / typical magnitude)

    def record(self, i, pos):
        p = sorted(int(v) for v in pos)
        self.blocks.append({"block": i, "tokens": len(p), "positions": p})

    def margin(self, what, gap, scale):
        self.margins.append((what, float(gap), float(gap) / max(float(scale), 1e-300)))


def topk_margin(run, what, scores, k):
    """Record the gap between the k-th and (k+1)-th largest score."""
    if 0 < k < scores.numel():
        s = torch.sort(scores, descending=True).values
        run.margin(what, s[k - 1] - s[k], s.abs().max())


def check_cls(pos):
    assert int(pos[0]) == 0 and int((pos == 0).sum()) == 1, "CLS must stay first and unique"


# --------------------------------------------------------------------------
# plain forward (sanity: must equal deep197.logits.npy)
# --------------------------------------------------------------------------
def forward_plain(model, img):
    x = model.embed(img)
    for i in range(model.depth):
        x = x + model.attention(x, i)[0]
        x = x + model.mlp(x, i)
    return model.head(x)


# --------------------------------------------------------------------------
# 1. ToMe
# --------------------------------------------------------------------------
def tome_schedule(depth, r=None, r_list=None, decreasing=False):
    """Per-block r.  Constant r; an explicit list (length = depth); or the
    'decreasing' schedule, which stands for ToMe's (r, inflect=-1):
    r_i = int(round(2r * (L-1-i) / (L-1))), a linear ramp from 2r down to 0.
    NOTE: official tome.utils.parse_r truncates (int(min + step*i)) instead of
    rounding; the vitrim spec uses round (Python round = half-to-even; no ties
    occur for the fixture's r=16, L=6: 32, 25.6, 19.2, 12.8, 6.4, 0)."""
    if r_list is not None:
        assert len(r_list) == depth
        return list(r_list)
    if decreasing:
        return [int(round(2 * r * (depth - 1 - i) / (depth - 1))) for i in range(depth)]
    return [r] * depth


def bipartite_soft_matching(metric, r, run=None, what=""):
    """tome.merge.bipartite_soft_matching with class_token=True, one image.

    metric [N, c] (keys averaged over heads).  Returns (r_eff, unm_idx,
    src_idx, dst_idx) with indices into the A set (tokens 0, 2, 4, ...) and
    the B set (tokens 1, 3, 5, ...), or None when nothing is merged.
    """
    N = metric.shape[0]
    r = min(r, (N - 1) // 2)                     # 1 protected token (CLS)
    if r <= 0:
        return None
    m = metric / metric.norm(dim=-1, keepdim=True)
    a, b = m[0::2], m[1::2]
    scores = a @ b.transpose(0, 1)               # [|A|, |B|] cosine similarity
    scores[0, :] = -INF                          # CLS (A[0]) never merges
    node_max, node_idx = scores.max(dim=-1)      # best B partner of each A token
    edge_idx = torch.sort(node_max, descending=True, stable=True).indices
    unm_idx = torch.sort(edge_idx[r:]).values    # unmerged A, ascending (CLS first)
    src_idx = edge_idx[:r]                       # the r most similar A tokens
    dst_idx = node_idx[src_idx]
    if run is not None:
        topk_margin(run, what + " src set", node_max[1:], r)
        for s in src_idx.tolist():               # argmax gap of each merged row
            row = torch.sort(scores[s], descending=True).values
            if row.numel() > 1:
                run.margin(what + " dst argmax", row[0] - row[1], 1.0)
    return r, unm_idx, src_idx, dst_idx


def tome_merge_sum(t, unm_idx, src_idx, dst_idx):
    """merge(t, mode='sum'): t [N, ...] -> [N - r, ...] = cat(A[unm], B + scatter_add(A[src] -> dst))."""
    a, b = t[0::2], t[1::2]
    b = b.clone().index_add_(0, dst_idx, a[src_idx])
    return torch.cat([a[unm_idx], b], dim=0)


def tome_merge_wavg(x, size, match):
    """tome.merge.merge_wavg: size-weighted average.  x [N, D], size [N]."""
    _, unm, src, dst = match
    xw = tome_merge_sum(x * size[:, None], unm, src, dst)
    size = tome_merge_sum(size, unm, src, dst)
    return xw / size[:, None], size


def tome_positions(pos, match):
    """A merged token keeps the position of its B (destination) token."""
    _, unm, _, _ = match
    return torch.cat([pos[0::2][unm], pos[1::2]])


def forward_tome(model, img, r_sched, prop=True, run=None):
    x = model.embed(img)
    N0 = x.shape[0]
    pos = torch.arange(N0)
    size = torch.ones(N0, dtype=x.dtype)
    for i in range(model.depth):
        out, _, metric = model.attention(x, i, size if prop else None)
        x = x + out
        match = bipartite_soft_matching(metric, r_sched[i], run, f"block {i}")
        if match is not None:
            x, size = tome_merge_wavg(x, size, match)
            pos = tome_positions(pos, match)
        x = x + model.mlp(x, i)
        check_cls(pos)
        assert abs(float(size.sum()) - N0) < 1e-9, "sum(size) must stay N0"
        assert int(size[0]) == 1
        if run is not None:
            run.record(i, pos)
    return model.head(x)


# --------------------------------------------------------------------------
# 2. EViT
# --------------------------------------------------------------------------
def evit_reorganize(x, pos, attn, keep, fuse, run=None, what=""):
    """EViT token reorganisation after the attention residual.

    cls_attn = attn[:, 0, 1:] averaged over heads; left = ceil(keep * (N-1));
    keep the top `left` patches (topk, sorted); with fuse the rest become ONE
    token sum_j cls_attn_j * x_j (not renormalised), appended last, position -1.
    """
    N = x.shape[0]
    cls_attn = attn[:, 0, 1:].mean(dim=0)                       # [N-1]
    left = math.ceil(keep * (N - 1))
    if left >= N - 1:                                           # EViT: nothing to do
        return x, pos
    idx = torch.topk(cls_attn, left, largest=True, sorted=True).indices
    if run is not None:
        topk_margin(run, what + " topk", cls_attn, left)
    patches, ppos = x[1:], pos[1:]
    parts, pparts = [x[:1], patches[idx]], [pos[:1], ppos[idx]]
    if fuse:
        dropped = torch.ones(N - 1, dtype=torch.bool)
        dropped[idx] = False
        extra = (patches[dropped] * cls_attn[dropped][:, None]).sum(dim=0, keepdim=True)
        parts.append(extra)
        pparts.append(torch.tensor([-1]))
    return torch.cat(parts), torch.cat(pparts)


def forward_evit(model, img, keep, at, fuse, run=None):
    x = model.embed(img)
    pos = torch.arange(x.shape[0])
    for i in range(model.depth):
        out, attn, _ = model.attention(x, i)
        x = x + out
        if i in at:
            x, pos = evit_reorganize(x, pos, attn, keep, fuse, run, f"block {i}")
        x = x + model.mlp(x, i)
        check_cls(pos)
        if run is not None:
            run.record(i, pos)
    return model.head(x)


# --------------------------------------------------------------------------
# 3. Cropr (inference)
# --------------------------------------------------------------------------
def cropr_modules(depth, llf):
    """Blocks followed by a pruning module: 0..L-3 with LLF, 0..L-2 without."""
    return list(range(depth - 2)) if llf else list(range(depth - 1))


def forward_cropr(model, img, R, llf, queries, run=None, invert=False, multiple=1):
    """queries: {block i: [1, q, D]}.  After block i (after the MLP residual)
    score = x . qbar with qbar = queries summed over q; CLS score = +inf.
    Module after block 0 prunes R+1 tokens, later ones R (R=0: none at all).
    Keep the top M - R_i (sorted descending, so CLS first); the pruned tokens
    are stashed as they are.  LLF: before the last block x = cat([x, stash...]).
    invert=True: the patch scores are negated (the least relevant are kept).
    multiple=m: the token count after module k (CLS included) is the plain
    schedule's N0 - (R*(k+1) + 1), rounded down to a multiple of m."""
    x = model.embed(img)
    pos = torch.arange(x.shape[0])
    stash, stash_pos = [], []
    modules = cropr_modules(model.depth, llf)
    for i in range(model.depth):
        if llf and i == model.depth - 1:
            x = torch.cat([x] + stash)
            pos = torch.cat([pos] + stash_pos)
        x = x + model.attention(x, i)[0]
        x = x + model.mlp(x, i)
        if i in modules and R > 0:
            n_prune = R + 1 if i == 0 else R
            M = x.shape[0]
            if multiple > 1:
                k = modules.index(i)
                n0 = model.embed(img).shape[0]
                n_prune = M - ((n0 - (R * (k + 1) + 1)) // multiple) * multiple
            n_prune = min(n_prune, M - 1)
            qbar = queries[i][0].sum(dim=0)                         # [D]
            score = x @ qbar
            if invert:
                score = -score
            score[0] = INF
            order = torch.sort(score, descending=True, stable=True).indices
            if run is not None:
                topk_margin(run, f"block {i} keep", score[1:], M - 1 - n_prune)
            keep, drop = order[:M - n_prune], order[M - n_prune:]
            stash.append(x[drop])
            stash_pos.append(pos[drop])
            x, pos = x[keep], pos[keep]
        check_cls(pos)
        if run is not None:
            run.record(i, pos)
    return model.head(x)


# --------------------------------------------------------------------------
# 4. attention-guided dynamic pruning (vitrim seed method)
# --------------------------------------------------------------------------
def attn_keep_count(M, i, depth, k0, k1, start, floor):
    f = k0 + (k1 - k0) * (i - start) / (depth - 1 - start)
    c = max(math.ceil(f * M - 1e-9), floor)
    return min(c, M)


def attn_floor(min_frac, n0=196):
    return math.ceil(min_frac * n0 - 1e-9) if min_frac <= 1 else int(min_frac)


def forward_attn(model, img, k0, k1, start, min_frac, avg, mass=None, run=None):
    """imp_i = attn[:, 0, 1:] averaged over heads, renormalised to sum 1 over
    the present patches.  After block i in start..L-2: score = mean of imp over
    blocks max(0, i-avg+1)..i; keep c_i (see attn_keep_count) top patches, or
    with mass=P the fewest whose normalised sorted scores sum to >= P,
    clamped to [floor, c_i].  CLS always kept first."""
    x = model.embed(img)
    pos = torch.arange(x.shape[0])
    N0 = x.shape[0] - 1
    floor = attn_floor(min_frac, N0)
    hist = []                                   # hist[b] = imp of block b, aligned to present patches
    for i in range(model.depth):
        out, attn, _ = model.attention(x, i)
        imp = attn[:, 0, 1:].mean(dim=0)
        hist.append(imp / imp.sum())
        x = x + out
        x = x + model.mlp(x, i)
        if start <= i <= model.depth - 2:
            M = x.shape[0] - 1
            window = hist[max(0, i - avg + 1):i + 1]
            score = torch.stack(window).sum(dim=0) / len(window)
            c = attn_keep_count(M, i, model.depth, k0, k1, start, floor)
            if mass is not None:
                s = torch.sort(score, descending=True).values
                cum = torch.cumsum(s / s.sum(), dim=0)
                n = int((cum < mass).sum()) + 1          # fewest with cumsum >= mass
                n = min(n, M)
                if run is not None and floor < n < c:   # the mass rule decided
                    gaps = [abs(float(cum[n - 1]) - mass)]
                    if n >= 2:
                        gaps.append(abs(mass - float(cum[n - 2])))
                    run.margin(f"block {i} mass cumsum", min(gaps), 1.0)
                c = min(max(n, floor), c)
            if run is not None:
                topk_margin(run, f"block {i} topk", score, c)
            idx = torch.topk(score, c, largest=True, sorted=True).indices
            x = torch.cat([x[:1], x[1:][idx]])
            pos = torch.cat([pos[:1], pos[1:][idx]])
            hist = [h[idx] for h in hist]
        check_cls(pos)
        if run is not None:
            run.record(i, pos)
    return model.head(x)


# --------------------------------------------------------------------------
# spec strings -> runner
# --------------------------------------------------------------------------
def parse_spec(spec):
    method, _, rest = spec.partition(":")
    kv = dict(p.split("=", 1) for p in rest.split(",")) if rest else {}
    return method, kv


def boolean(s):
    assert s in ("true", "false"), s
    return s == "true"


def make_runner(spec, depth, queries):
    """Returns (fn(model, img, run) -> logits, description of the schedule)."""
    method, kv = parse_spec(spec)
    if method == "tome":
        prop = boolean(kv.get("prop", "true"))
        if "/" in kv["r"]:
            sched = tome_schedule(depth, r_list=[int(v) for v in kv["r"].split("/")])
        else:
            sched = tome_schedule(depth, r=int(kv["r"]),
                                  decreasing=kv.get("schedule", "constant") == "decreasing")
        return (lambda m, img, run: forward_tome(m, img, sched, prop, run)), f"requested r per block {sched}"
    if method == "evit":
        keep, fuse = float(kv["keep"]), boolean(kv["fuse"])
        at = [int(v) for v in kv["at"].split("/")]
        return (lambda m, img, run: forward_evit(m, img, keep, at, fuse, run)), f"reorganise in blocks {at}"
    if method == "cropr":
        R, llf = int(kv["R"]), boolean(kv["llf"])
        invert, multiple = boolean(kv.get("invert", "false")), int(kv.get("multiple", "1"))
        return (lambda m, img, run: forward_cropr(m, img, R, llf, queries, run, invert, multiple)), \
            f"modules after blocks {cropr_modules(depth, llf)}"
    if method == "attn":
        k0, k1 = (float(v) for v in kv["keep"].split(".."))
        start, min_frac, avg = int(kv["start"]), float(kv["min"]), int(kv["avg"])
        mass = float(kv["mass"]) if "mass" in kv else None
        return (lambda m, img, run: forward_attn(m, img, k0, k1, start, min_frac, avg, mass, run)), \
            f"prune after blocks {list(range(start, depth - 1))}, floor {attn_floor(min_frac)}"
    raise ValueError(spec)


CASES = [
    ("tome_r8", "tome:r=8,prop=true"),
    ("tome_r8_noprop", "tome:r=8,prop=false"),
    ("tome_rlist", "tome:r=20/18/16/14/12/10"),
    ("tome_r60_clamp", "tome:r=60,prop=true"),
    ("tome_r16_decreasing", "tome:r=16,schedule=decreasing"),
    ("evit_k07_fuse", "evit:keep=0.7,at=1/3/4,fuse=true"),
    ("evit_k07_nofuse", "evit:keep=0.7,at=1/3/4,fuse=false"),
    ("evit_k05_at2_fuse", "evit:keep=0.5,at=2,fuse=true"),
    ("cropr_R8_llf", "cropr:R=8,llf=true"),
    ("cropr_R8_nollf", "cropr:R=8,llf=false"),
    ("cropr_R30_llf", "cropr:R=30,llf=true"),
    ("cropr_R8_llf_invert", "cropr:R=8,llf=true,invert=true"),
    ("cropr_R10_llf_multiple8", "cropr:R=10,llf=true,multiple=8"),
    ("attn_k08_04", "attn:keep=0.8..0.4,start=1,min=0.2,avg=3"),
    # mass=0.8: per-image counts differ after blocks 1-3; the mass rule decides after blocks 1-2,
    # the c_i cap after block 3, the floor (40 patches) after block 4.
    ("attn_k08_04_mass08", "attn:keep=0.8..0.4,start=1,min=0.2,avg=3,mass=0.8"),
    # mass=0.5: counts differ after block 1 only, then the floor.
    ("attn_k08_04_mass05", "attn:keep=0.8..0.4,start=1,min=0.2,avg=3,mass=0.5"),
    ("attn_k09_05_min30", "attn:keep=0.9..0.5,start=2,min=30,avg=1"),
]

# Specs that must leave the model unchanged (checked, not written).
IDENTITY_SPECS = [
    "tome:r=0,prop=true", "tome:r=0,prop=false", "tome:r=0/0/0/0/0/0",
    "evit:keep=1,at=1/3/4,fuse=true", "evit:keep=1.0,at=0/1/2/3/4/5,fuse=false",
    "cropr:R=0,llf=true", "cropr:R=0,llf=false",
    "attn:keep=1..1,start=0,min=0.2,avg=3", "attn:keep=1..1,start=1,min=0.2,avg=2,mass=1.0",
]


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
def to_t64(d):
    return {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in d.items()}


def make_cropr_queries(w, depth, seed=1234, n_queries=3, std=0.5):
    r = np.random.RandomState(seed)
    D = w["cls_token"].shape[-1]
    return {f"cropr.{i}.cross_attn.queries": (r.standard_normal((1, n_queries, D)) * std).astype(np.float32)
            for i in range(depth - 1)}


def merge_unit(name, seed, r, n=11, d=5, c=3, sizes=None):
    """Standalone merge fixture: x [2, n, d], size [2, n], metric [2, n, c] -> merged."""
    rs = np.random.RandomState(seed)
    x = rs.standard_normal((2, n, d)).astype(np.float32)
    metric = rs.standard_normal((2, n, c)).astype(np.float32)
    size = np.ones((2, n), np.float32) if sizes is None else sizes.astype(np.float32)
    outs_x, outs_s, info = [], [], []
    for b in range(2):
        run = Run()
        match = bipartite_soft_matching(torch.from_numpy(metric[b]).double(), r, run, "unit")
        xm, sm = tome_merge_wavg(torch.from_numpy(x[b]).double(), torch.from_numpy(size[b]).double(), match)
        r_eff, unm, src, dst = match
        origin = torch.cat([2 * unm, 2 * torch.arange((n) // 2) + 1])   # original index of each output token
        outs_x.append(xm.numpy())
        outs_s.append(sm.numpy())
        info.append({"r_eff": r_eff,
                     "unmerged_A": [int(2 * u) for u in unm],
                     "merged_src": [int(2 * s) for s in src],
                     "merged_dst": [int(2 * t + 1) for t in dst],
                     "output_origin": [int(o) for o in origin],
                     "min_margin": min(m[1] for m in run.margins)})
        assert abs(sm.sum() - size[b].sum()) < 1e-9
    np.save(os.path.join(OUT, name + ".x.npy"), x)
    np.save(os.path.join(OUT, name + ".size.npy"), size)
    np.save(os.path.join(OUT, name + ".metric.npy"), metric)
    np.save(os.path.join(OUT, name + ".expected_x.npy"), np.stack(outs_x).astype(np.float32))
    np.save(os.path.join(OUT, name + ".expected_size.npy"), np.stack(outs_s).astype(np.float32))
    meta = {"r": r, "class_token": True, "n": n, "shapes": {"x": [2, n, d], "size": [2, n], "metric": [2, n, c],
                                                            "expected_x": list(np.stack(outs_x).shape),
                                                            "expected_size": list(np.stack(outs_s).shape)},
            "images": info}
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


def main():
    os.makedirs(OUT, exist_ok=True)
    w, _, _ = st.load_file(os.path.join(GOLDEN, "deep197.safetensors"))
    images = torch.from_numpy(np.load(os.path.join(GOLDEN, "input224_b2.npy")).astype(np.float64))
    expected_plain = np.load(os.path.join(GOLDEN, "deep197.logits.npy"))
    model = Model(to_t64(w))
    assert model.depth == 6

    # Cropr checkpoint: deep197 + queries (F32, timm names)
    qw = make_cropr_queries(w, model.depth)
    cropr_w = dict(w)
    cropr_w.update(qw)
    st.save_file(cropr_w, os.path.join(OUT, "deep197_cropr.safetensors"), metadata={"format": "pt"})
    cw, _, _ = st.load_file(os.path.join(OUT, "deep197_cropr.safetensors"))
    queries = {i: torch.from_numpy(cw[f"cropr.{i}.cross_attn.queries"].astype(np.float64))
               for i in range(model.depth - 1)}

    # float32 twin of the model, to check that a float32 implementation makes the same decisions
    model32 = Model({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in w.items()})
    queries32 = {i: q.float() for i, q in queries.items()}
    images32 = images.float()

    # --- sanity: plain forward and identity specs ------------------------------------------
    plain = torch.stack([forward_plain(model, images[b]) for b in range(2)])
    full_ref = ref.vit_forward(model.sd, images, HEADS, EPS)
    print("plain vs reference_vit (f64): %.3g" % (plain - full_ref).abs().max())
    print("plain vs deep197.logits.npy:  %.3g" % np.abs(plain.numpy() - expected_plain).max())
    assert (plain - full_ref).abs().max() < 1e-12
    assert np.abs(plain.numpy().astype(np.float32) - expected_plain).max() == 0.0
    for spec in IDENTITY_SPECS:
        fn, _ = make_runner(spec, model.depth, queries)
        runs = [Run() for _ in range(2)]
        y = torch.stack([fn(model, images[b], runs[b]) for b in range(2)])
        d = float((y - plain).abs().max())
        assert d < 1e-12, (spec, d)
        assert all(blk["tokens"] == 197 for r_ in runs for blk in r_.blocks), spec
        print(f"identity {spec}: max diff {d:.3g}")

    # --- cases ----------------------------------------------------------------------------
    manifest = []
    for name, spec in CASES:
        fn, sched = make_runner(spec, model.depth, queries)
        fn32, _ = make_runner(spec, model.depth, queries32)
        runs = [Run() for _ in range(2)]
        logits = torch.stack([fn(model, images[b], runs[b]) for b in range(2)])
        runs32 = [Run() for _ in range(2)]
        logits32 = torch.stack([fn32(model32, images32[b], runs32[b]) for b in range(2)])
        same = all(a.blocks == b.blocks for a, b in zip(runs, runs32))
        err32 = float((logits32.double() - logits).abs().max())
        assert same, f"{name}: float32 run makes different decisions"
        assert err32 < 2e-5, f"{name}: float32 logits differ by {err32}"
        diff_plain = float((logits - plain).abs().max())
        np.save(os.path.join(OUT, name + ".logits.npy"), logits.numpy().astype(np.float32))
        trace = {"spec": spec, "images": [{"blocks": r_.blocks} for r_ in runs]}
        with open(os.path.join(OUT, name + ".trace.json"), "w") as f:
            json.dump(trace, f, separators=(",", ":"))
            f.write("\n")
        min_abs = min((m[1] for r_ in runs for m in r_.margins), default=None)
        min_rel = min((m[2] for r_ in runs for m in r_.margins), default=None)
        counts = [[blk["tokens"] for blk in r_.blocks] for r_ in runs]
        manifest.append({"case": name, "spec": spec, "schedule": sched, "counts": counts,
                         "min_margin_abs": min_abs, "min_margin_rel": min_rel,
                         "f32_max_err": err32, "diff_vs_unreduced": diff_plain})
        print(f"{name:22s} {spec:48s} {counts[0]} {counts[1] if counts[1] != counts[0] else ''}"
              f" margin {min_abs:.2e} (rel {min_rel:.2e}) f32err {err32:.1e} |d| {diff_plain:.3f}")

    # --- merge unit fixtures ----------------------------------------------------------------
    units = [("tome_merge_unit", merge_unit("tome_merge_unit", 77, r=3)),
             ("tome_merge_unit_sized",
              merge_unit("tome_merge_unit_sized", 78, r=4,
                         sizes=np.random.RandomState(79).randint(1, 6, size=(2, 11)))),
             ("tome_merge_unit_clamp", merge_unit("tome_merge_unit_clamp", 80, r=7))]
    for name, meta in units:
        print(name, [(im["r_eff"], im["min_margin"]) for im in meta["images"]])

    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"model": "../deep197.safetensors", "cropr_model": "deep197_cropr.safetensors",
                   "input": "../input224_b2.npy", "tolerance": 1e-4,
                   "cases": [{k: m[k] for k in ("case", "spec", "counts")} for m in manifest]},
                  f, indent=2)
        f.write("\n")
    write_readme(manifest)


def write_readme(manifest):
    lines = [
        "# Token-reduction golden fixtures",
        "",
        "Generated by `/usr/bin/python3 tools/reference_reduce.py` (from the repository root); the",
        "reference implementations live in that file (hand-written, torch + numpy only, float64).",
        "",
        "* Model: `../deep197.safetensors` (timm names, image 224, patch 16, 197 tokens, D=64, 4 heads,",
        "  depth 6, mlp 256, 10 classes, LayerNorm eps 1e-6). Cropr cases use `deep197_cropr.safetensors`",
        "  = the same tensors + `cropr.{i}.cross_attn.queries` [1, 3, 64] for i = 0..4 (F32, normal std 0.5,",
        "  RandomState(1234)).",
        "* Input: `../input224_b2.npy` [2, 3, 224, 224]. Unreduced output: `../deep197.logits.npy`.",
        "* `<case>.logits.npy` [2, 10] float32 (computed in float64). Tolerance: max abs error <= 1e-4.",
        "* `<case>.trace.json` = `{\"spec\", \"images\": [{\"blocks\": [{\"block\", \"tokens\", \"positions\"}]}]}`:",
        "  the sorted original positions present AFTER block i (after any reduction done in or after",
        "  block i). CLS = 0, patch (row, col) = 1 + 14*row + col. ToMe merged tokens report their",
        "  destination (B) token's position; EViT fused tokens report -1; Cropr-LLF's last block reports",
        "  all 197 tokens.",
        "* `cases.json`: the case list (case, spec, per-image per-block token counts), machine readable.",
        "",
        "Every case was also run with a float32 copy of the reference: identical traces and logits within",
        "2e-5 of the float64 values (column f32 err). `min margin` = smallest gap between the last selected",
        "and the first rejected candidate score of any decision (ToMe: node_max at the r boundary and each",
        "merged row's best-vs-second-best similarity; others: score at the keep boundary; mass: |cumsum-P|).",
        "",
        "| case | spec | tokens after blocks 0..5 (image 0; image 1 if different) | min margin | f32 err |",
        "|---|---|---|---|---|",
    ]
    for m in manifest:
        c0, c1 = m["counts"]
        counts = "/".join(map(str, c0)) + ("" if c1 == c0 else " ; img1 " + "/".join(map(str, c1)))
        lines.append(f"| {m['case']} | `{m['spec']}` | {counts} | {m['min_margin_abs']:.1e} | {m['f32_max_err']:.1e} |")
    lines += [
        "",
        "## Method definitions used (see tools/reference_reduce.py)",
        "",
        "* **ToMe** (`tome:r=R[,prop=true|false]`, `tome:r=r0/../r5`, `tome:r=R,schedule=decreasing`; prop",
        "  defaults to true when absent, as in `tome_rlist` and `tome_r16_decreasing`). In every block:",
        "  `x += attn(norm1(x))` with proportional attention if prop",
        "  (log(size_j) added to key j's logits after scaling); then bipartite soft matching on the keys",
        "  averaged over heads (L2-normalised): A = even tokens, B = odd tokens, CLS (A[0]) row = -inf,",
        "  r_eff = min(r, (N-1)//2), the r_eff A tokens with the highest best-match similarity merge",
        "  (size-weighted sum, many-to-one) into their best B token; output = [unmerged A ascending, all B];",
        "  then `x += mlp(norm2(x))`. Sizes are always tracked (weighted average) even with prop=false.",
        "  Decreasing schedule: r_i = int(round(2R*(L-1-i)/(L-1))) (R=16, L=6: 32/26/19/13/6/0). NOTE: official",
        "  tome.utils.parse_r with (r, -1) truncates instead (32/25/19/12/6/0); these fixtures use round.",
        "  `tome_r60_clamp`: r_eff per block = 60/60/38/19/9/5 (clamped to (N-1)//2 from block 2 on).",
        "* **EViT** (`evit:keep=K,at=i/j,fuse=..`): in listed blocks, after the attention residual:",
        "  cls_attn = attn[:, 0, 1:] mean over heads; left = ceil(K*(N-1)); keep topk (sorted); fuse: the",
        "  dropped tokens become one token sum_j cls_attn_j x_j (not renormalised), appended last (pos -1);",
        "  a fused token is an ordinary token in later stages. keep=1 (left = N-1) changes nothing.",
        "* **Cropr** (`cropr:R=R,llf=..`): modules after blocks 0..L-3 (llf) or 0..L-2 (no llf), after the MLP",
        "  residual; score = x . sum_q(queries) (no norm, no scale), CLS +inf; first module prunes R+1,",
        "  later ones R; keep top M-R_i (CLS first). LLF: before the last block x = cat([x, stash_1, ...]).",
        "  R=0 means no pruning at all (the '+1' of the first module applies only when R > 0).",
        "* **attn** (`attn:keep=K0..K1,start=S,min=F,avg=A[,mass=P]`): imp_i = attn[:, 0, 1:] mean over heads,",
        "  renormalised over present patches; after block i in S..L-2: score = mean imp over blocks",
        "  max(0,i-A+1)..i; f_i = K0+(K1-K0)(i-S)/(L-1-S); c_i = min(M, max(floor, ceil(f_i*M - 1e-9)));",
        "  floor = ceil(F*196 - 1e-9) if F <= 1 else F. Keep top c_i; with mass: per image, sorted scores",
        "  normalised to sum 1, fewest n with cumsum >= P, n clamped to [floor, c_i]. In `attn_k08_04_mass08`",
        "  the mass rule decides after blocks 1-2 (different counts per image), the c_i cap after block 3",
        "  (47 resp. 43 patches), the floor (40 patches) after block 4.",
        "",
        "## Merge unit fixtures (no model)",
        "",
        "`tome_merge_unit.*` (r=3, sizes 1), `tome_merge_unit_sized.*` (r=4, sizes random integers 1..5) and",
        "`tome_merge_unit_clamp.*` (r=7 clamped to r_eff=(11-1)//2=5, sizes 1):",
        "`x.npy` [2,11,5], `size.npy` [2,11], `metric.npy` [2,11,3] (raw, NOT normalised;",
        "the merge normalises it), CLS = token 0 protected -> `expected_x.npy` [2,N-r_eff,5] and",
        "`expected_size.npy` [2,N-r_eff] in ToMe output order ([unmerged A ascending, all B]). The `.json`",
        "holds r, and per image r_eff, the merged src/dst token indices (original indices) and",
        "`output_origin` (original index of each output row; a merged row reports its B token).",
        "",
    ]
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
