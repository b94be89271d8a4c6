"""Hand-written reference of timm / Hugging Face Vision Transformer inference.

Deliberately plain: every step is an explicit tensor op (no nn.Module, no
F.layer_norm / F.gelu / F.conv2d), so it can be read top to bottom against
timm's VisionTransformer.  Call it with float64 tensors for golden values.

State dicts are {name: torch.Tensor} using timm key names (see vit_forward) or
Hugging Face ViTForImageClassification key names (see hf_vit_forward).
"""
import math

import torch
import torch.nn.functional as F


# --------------------------------------------------------------------------
# elementary ops
# --------------------------------------------------------------------------
def layer_norm(x, weight, bias, eps):
    """LayerNorm over the last dim, biased variance (as torch.nn.LayerNorm)."""
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def linear(x, weight, bias):
    """y = x W^T + b, W is [out, in] (torch / safetensors layout)."""
    y = x @ weight.transpose(0, 1)
    return y + bias if bias is not None else y


def gelu_exact(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def softmax_last(x):
    x = x - x.max(dim=-1, keepdim=True).values
    e = torch.exp(x)
    return e / e.sum(dim=-1, keepdim=True)


def patch_embed(x, weight, bias):
    """Conv2d(C, D, kernel=p, stride=p) written as "cut into patches + matmul".

    x [B, C, H, W], weight [D, C, p, p] -> tokens [B, gh*gw, D], row-major
    over the patch grid (token index = row * gw + col).
    """
    B, C, H, W = x.shape
    D, C2, p, p2 = weight.shape
    assert C == C2 and p == p2 and H % p == 0 and W % p == 0
    gh, gw = H // p, W // p
    patches = x.reshape(B, C, gh, p, gw, p)            # b c row i col j
    patches = patches.permute(0, 2, 4, 1, 3, 5)        # b row col c i j
    patches = patches.reshape(B, gh * gw, C * p * p)   # flatten (c, i, j) like weight
    return linear(patches, weight.reshape(D, C * p * p), bias), (gh, gw)


# --------------------------------------------------------------------------
# position embedding resampling (timm resample_abs_pos_embed)
# --------------------------------------------------------------------------
def resample_patch_pos_embed(pos_patches, old_grid, new_grid, antialias=False):
    """pos_patches [1, gh*gw, D] -> [1, nh*nw, D] by 2-D bicubic interpolation.

    Same as timm.layers.resample_abs_pos_embed on the patch part:
    reshape to [1, D, gh, gw], F.interpolate(mode='bicubic',
    align_corners=False, antialias=antialias), reshape back row-major.
    NOTE: timm's own default is antialias=True; the vitrim brief uses False.
    """
    if tuple(old_grid) == tuple(new_grid):
        return pos_patches
    D = pos_patches.shape[-1]
    grid = pos_patches.reshape(1, old_grid[0], old_grid[1], D).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(new_grid), mode="bicubic",
                         align_corners=False, antialias=antialias)
    return grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], D)


def bicubic_matrix(in_size, out_size, antialias=False):
    """Explicit 1-D interpolation matrix M [out, in] equal to torch's bicubic
    (align_corners=False), so that 2-D resampling is  M_h @ G @ M_w^T  per channel.

    antialias=False: upsample_bicubic2d, cubic convolution a=-0.75, taps at
      floor(src)-1 .. floor(src)+2 with src=(i+0.5)*in/out-0.5, indices
      clamped to [0, in-1] (edge replicate).
    antialias=True: _upsample_bicubic2d_aa (PIL style), cubic a=-0.5,
      support 2*max(scale,1), taps outside the image dropped and the weights
      renormalised to sum 1.
    """
    scale = in_size / out_size
    M = torch.zeros(out_size, in_size, dtype=torch.float64)

    def cubic(t, a):
        t = abs(t)
        if t <= 1.0:
            return ((a + 2) * t - (a + 3)) * t * t + 1
        if t < 2.0:
            return (((t - 5) * t + 8) * t - 4) * a
        return 0.0

    for i in range(out_size):
        if not antialias:
            src = (i + 0.5) * scale - 0.5
            i0 = math.floor(src)
            t = src - i0
            for k in range(-1, 3):
                w = cubic(k - t, -0.75)
                j = min(max(i0 + k, 0), in_size - 1)
                M[i, j] += w
        else:
            support = 2.0 * scale if scale >= 1.0 else 2.0
            inv = 1.0 / scale if scale >= 1.0 else 1.0
            center = scale * (i + 0.5)
            xmin = max(int(center - support + 0.5), 0)
            xmax = min(int(center + support + 0.5), in_size)
            ws = [cubic((j - center + 0.5) * inv, -0.5) for j in range(xmin, xmax)]
            total = sum(ws)
            for j, w in zip(range(xmin, xmax), ws):
                M[i, j] = w / total
    return M


# --------------------------------------------------------------------------
# timm VisionTransformer
# --------------------------------------------------------------------------
def attention(x, qkv_w, qkv_b, proj_w, proj_b, num_heads):
    """timm Attention: fused qkv Linear(D, 3D), rows ordered q | k | v, each
    head-major ([h0 dims | h1 dims | ...])."""
    B, N, D = x.shape
    hd = D // num_heads
    assert hd * num_heads == D
    qkv = linear(x, qkv_w, qkv_b)                          # [B, N, 3D]
    q, k, v = qkv[..., 0:D], qkv[..., D:2 * D], qkv[..., 2 * D:3 * D]

    def heads(t):                                          # [B, N, D] -> [B, H, N, hd]
        return t.reshape(B, N, num_heads, hd).transpose(1, 2)

    q, k, v = heads(q), heads(k), heads(v)
    attn = softmax_last((q @ k.transpose(-2, -1)) * hd ** -0.5)   # [B, H, N, N]
    out = (attn @ v).transpose(1, 2).reshape(B, N, D)             # concat heads
    return linear(out, proj_w, proj_b)


def vit_forward(sd, x, num_heads, eps=1e-6, no_embed_class=False,
                global_pool="token", antialias=False):
    """timm VisionTransformer.forward (eval) with timm key names.

    sd: {timm name: tensor}; x: [B, 3, H, W].  Returns logits [B, classes].
    Prefix tokens: cls_token, then dist_token if present.
    no_embed_class: pos_embed covers patches only and is added before the
      prefix tokens are concatenated (DeiT-III).
    global_pool: 'token' (norm -> token 0) or 'avg' (no norm, mean over patch
      tokens, fc_norm).  If head_dist.* exists the result is the mean of
      head(token 0) and head_dist(token 1) (timm distilled eval mode).
    """
    tokens, grid = patch_embed(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"])
    B, N, D = tokens.shape

    prefix = []
    if "cls_token" in sd:
        prefix.append(sd["cls_token"].expand(B, 1, D))
    if "dist_token" in sd:
        prefix.append(sd["dist_token"].expand(B, 1, D))
    n_prefix = len(prefix)

    pos = sd["pos_embed"]
    if no_embed_class:
        pos_prefix, pos_patches = None, pos
    else:
        pos_prefix, pos_patches = pos[:, :n_prefix], pos[:, n_prefix:]
    old = int(round(math.sqrt(pos_patches.shape[1])))
    assert old * old == pos_patches.shape[1]
    pos_patches = resample_patch_pos_embed(pos_patches, (old, old), grid, antialias)

    if no_embed_class:
        x = torch.cat(prefix + [tokens + pos_patches], dim=1)
    else:
        x = torch.cat(prefix + [tokens], dim=1) + torch.cat([pos_prefix, pos_patches], dim=1)

    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        p = f"blocks.{i}."
        ls1 = sd.get(p + "ls1.gamma", 1.0)
        ls2 = sd.get(p + "ls2.gamma", 1.0)
        h = layer_norm(x, sd[p + "norm1.weight"], sd[p + "norm1.bias"], eps)
        h = attention(h, sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"],
                      sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"], num_heads)
        x = x + ls1 * h
        h = layer_norm(x, sd[p + "norm2.weight"], sd[p + "norm2.bias"], eps)
        h = linear(gelu_exact(linear(h, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"])),
                   sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
        x = x + ls2 * h
        i += 1
    assert i > 0

    if global_pool == "avg":
        assert "norm.weight" not in sd and "fc_norm.weight" in sd
        pooled = x[:, n_prefix:].mean(dim=1)
        pooled = layer_norm(pooled, sd["fc_norm.weight"], sd["fc_norm.bias"], eps)
        return linear(pooled, sd["head.weight"], sd["head.bias"])

    assert global_pool == "token"
    x = layer_norm(x, sd["norm.weight"], sd["norm.bias"], eps)
    logits = linear(x[:, 0], sd["head.weight"], sd["head.bias"])
    if "head_dist.weight" in sd:
        logits_dist = linear(x[:, 1], sd["head_dist.weight"], sd["head_dist.bias"])
        logits = (logits + logits_dist) / 2
    return logits


# --------------------------------------------------------------------------
# Hugging Face ViTForImageClassification (written separately, HF structure)
# --------------------------------------------------------------------------
def hf_vit_forward(sd, x, num_heads, eps=1e-12):
    """transformers ViTForImageClassification.forward (eval, no interpolation)."""
    e = "vit.embeddings."
    tokens, _ = patch_embed(x, sd[e + "patch_embeddings.projection.weight"],
                            sd[e + "patch_embeddings.projection.bias"])
    B, N, D = tokens.shape
    x = torch.cat([sd[e + "cls_token"].expand(B, 1, D), tokens], dim=1)
    x = x + sd[e + "position_embeddings"]
    hd = D // num_heads

    def heads(t):
        return t.reshape(B, N + 1, num_heads, hd).permute(0, 2, 1, 3)

    i = 0
    while f"vit.encoder.layer.{i}.layernorm_before.weight" in sd:
        p = f"vit.encoder.layer.{i}."
        h = layer_norm(x, sd[p + "layernorm_before.weight"], sd[p + "layernorm_before.bias"], eps)
        a = p + "attention.attention."
        q = heads(linear(h, sd[a + "query.weight"], sd[a + "query.bias"]))
        k = heads(linear(h, sd[a + "key.weight"], sd[a + "key.bias"]))
        v = heads(linear(h, sd[a + "value.weight"], sd[a + "value.bias"]))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        ctx = (softmax_last(scores) @ v).permute(0, 2, 1, 3).reshape(B, N + 1, D)
        x = x + linear(ctx, sd[p + "attention.output.dense.weight"], sd[p + "attention.output.dense.bias"])
        h = layer_norm(x, sd[p + "layernorm_after.weight"], sd[p + "layernorm_after.bias"], eps)
        h = gelu_exact(linear(h, sd[p + "intermediate.dense.weight"], sd[p + "intermediate.dense.bias"]))
        x = x + linear(h, sd[p + "output.dense.weight"], sd[p + "output.dense.bias"])
        i += 1
    assert i > 0
    x = layer_norm(x, sd["vit.layernorm.weight"], sd["vit.layernorm.bias"], eps)
    return linear(x[:, 0], sd["classifier.weight"], sd["classifier.bias"])


def timm_to_hf(sd):
    """Rename a plain timm ViT state dict to HF ViTForImageClassification names
    (splitting the fused qkv into query/key/value)."""
    out = {
        "vit.embeddings.cls_token": sd["cls_token"],
        "vit.embeddings.position_embeddings": sd["pos_embed"],
        "vit.embeddings.patch_embeddings.projection.weight": sd["patch_embed.proj.weight"],
        "vit.embeddings.patch_embeddings.projection.bias": sd["patch_embed.proj.bias"],
        "vit.layernorm.weight": sd["norm.weight"],
        "vit.layernorm.bias": sd["norm.bias"],
        "classifier.weight": sd["head.weight"],
        "classifier.bias": sd["head.bias"],
    }
    i = 0
    while f"blocks.{i}.norm1.weight" in sd:
        t, h = f"blocks.{i}.", f"vit.encoder.layer.{i}."
        D = sd[t + "attn.proj.weight"].shape[0]
        qkv_w, qkv_b = sd[t + "attn.qkv.weight"], sd[t + "attn.qkv.bias"]
        for j, name in enumerate(["query", "key", "value"]):
            out[h + f"attention.attention.{name}.weight"] = qkv_w[j * D:(j + 1) * D].clone()
            out[h + f"attention.attention.{name}.bias"] = qkv_b[j * D:(j + 1) * D].clone()
        pairs = [("norm1", "layernorm_before"), ("attn.proj", "attention.output.dense"),
                 ("norm2", "layernorm_after"), ("mlp.fc1", "intermediate.dense"),
                 ("mlp.fc2", "output.dense")]
        for a, b in pairs:
            out[h + b + ".weight"] = sd[t + a + ".weight"]
            out[h + b + ".bias"] = sd[t + a + ".bias"]
        i += 1
    return out
