"""Independent numpy reference of COCO mask RLE and COCO detection evaluation,
plus the fixtures under core/src/test/resources/coco/.

Usage (from the repository root):
    python3 tools/coco_reference.py           # self-check, then rewrite the fixtures
    python3 tools/coco_reference.py --check   # self-check only (prints the golden case)

Needs only numpy.  Deterministic: every random number comes from
numpy.random.RandomState(seed).  Written from the published algorithm of the
COCO API (maskApi's RLE and polygon rasteriser, COCOeval's evaluate /
accumulate / summarize), in a deliberately different style from the Java code:
masks are dense numpy arrays here, so union, intersection, area, bbox and IoU
are computed pixel by pixel rather than on runs.

RLE (COCO's run-length encoding)
    A mask of h rows and w columns is read in column-major order (x outer,
    y inner).  counts alternate runs of 0s and 1s and always start with a run
    of 0s (possibly of length 0).  The compressed string writes each count
    (for i > 2 as the difference to counts[i-2]) as a little-endian series of
    5-bit chunks in characters 48 + chunk, bit 0x20 meaning "more chunks
    follow", bit 0x10 of the last chunk being the sign.

Polygon rasterisation (rleFrPoly)
    Vertices are scaled by 5 and rounded with int(5*v + .5) (truncation toward
    zero); every edge is walked one step at a time along its longer axis,
    rounding the other coordinate with int(. + .5); wherever the walk changes
    x, the crossing is mapped back to the pixel grid ((x + .5)/5 - .5 must be
    a whole column within [0, w-1]; y likewise, clamped to [0, h], then
    ceil).  Each crossing toggles the mask at column-major position x*h + y;
    sorting the positions and differencing them gives the counts.  Several
    polygons of one object are united.

COCOeval
    Thresholds are numpy's linspace(.5, .95, 10) and linspace(0, 1, 101);
    maxDets [1, 10, 100]; area ranges (inclusive at both ends) all [0, 1e10],
    small [0, 32^2], medium [32^2, 96^2], large [96^2, 1e10].  Results are
    loaded like loadRes: if the first result has a non-empty bbox, every
    result's area is bbox w*h and a result without a segmentation gets its box
    as a polygon; otherwise areas are mask areas and missing boxes are the
    masks' tight boxes.  Result ids are 1.. in file order.  Per image and
    category: detections sorted by descending score (stable), at most 100;
    ground truth with the crowd flag or an area outside the range is
    "ignored", sorted last (stable); greedy matching per IoU threshold, a
    detection takes the unmatched (or crowd) ground truth of highest IoU >=
    min(t, 1-1e-10), scanning in order, stopping once it holds a non-ignored
    match and reaches the ignored ones; crowd IoU divides by the detection's
    area.  Unmatched detections with an area outside the range are ignored.
    A match is recorded as the ground-truth id, and id 0 reads as "no match"
    (as in COCOeval).  Accumulation concatenates the images' detections (first
    maxDet per image), stable-sorts by descending score, cumulates true and
    false positives, precision = tp / (tp + fp + eps) made non-increasing from
    the right and read at the first index whose recall >= each recall point
    (0 beyond the last), recall = final tp / number of non-ignored ground
    truth; categories without non-ignored ground truth stay -1.  The twelve
    stats are means over entries > -1 (-1 if none).
"""
import json
import math
import os
import sys
from collections import defaultdict

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "core", "src", "test", "resources", "coco")

IOU_THRS = np.linspace(.5, .95, 10)
REC_THRS = np.linspace(0.0, 1.0, 101)
MAX_DETS = [1, 10, 100]
AREA_RNG = [[0.0, 1e10], [0.0, 32.0 ** 2], [32.0 ** 2, 96.0 ** 2], [96.0 ** 2, 1e10]]
AREA_LBL = ["all", "small", "medium", "large"]
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


# ----------------------------------------------------------------------------------------- RLE
def rle_encode(mask):
    """Dense [h, w] mask -> counts (list of int), column-major, starting with zeros."""
    flat = np.asarray(mask, dtype=bool).flatten(order="F").astype(np.int8)
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(np.diff(flat)) + 1           # positions where the value changes
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat[0] == 1:
        runs = [0] + runs
    return [int(r) for r in runs]


def rle_decode(h, w, counts):
    flat = np.zeros(h * w, dtype=bool)
    pos, val = 0, False
    for c in counts:
        if val:
            flat[pos:pos + c] = True
        pos += c
        val = not val
    return flat.reshape((w, h)).T.copy()                  # column-major back to [h, w]


def rle_to_string(counts):
    out = []
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        while True:
            chunk = x & 0x1F
            x >>= 5                                       # Python ints shift arithmetically
            more = (x != -1) if (chunk & 0x10) else (x != 0)
            if more:
                chunk |= 0x20
            out.append(chr(chunk + 48))
            if not more:
                break
    return "".join(out)


def rle_from_string(s):
    counts, p = [], 0
    while p < len(s):
        x, k = 0, 0
        while True:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            p += 1
            k += 1
            if not c & 0x20:
                if c & 0x10:
                    x -= 1 << (5 * k)                     # sign-extend
                break
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _trunc(v):
    return int(math.trunc(v))


def poly_to_counts(xy, h, w):
    """One polygon [x0, y0, x1, y1, ...] -> RLE counts (the maskApi rasteriser)."""
    k = len(xy) // 2
    scale = 5.0
    xs = [_trunc(scale * xy[2 * j] + .5) for j in range(k)]
    ys = [_trunc(scale * xy[2 * j + 1] + .5) for j in range(k)]
    xs.append(xs[0])
    ys.append(ys[0])
    u, v = [], []
    for j in range(k):
        x0, x1, y0, y1 = xs[j], xs[j + 1], ys[j], ys[j + 1]
        dx, dy = abs(x1 - x0), abs(y0 - y1)
        flip = (dx >= dy and x0 > x1) or (dx < dy and y0 > y1)
        if flip:
            x0, x1, y0, y1 = x1, x0, y1, y0
        if dx >= dy:
            s = (y1 - y0) / dx if dx else 0.0              # dx == dy == 0: a single point, s unused
            for d in range(dx + 1):
                t = dx - d if flip else d
                u.append(t + x0)
                v.append(_trunc(y0 + s * t + .5))
        else:
            s = (x1 - x0) / dy
            for d in range(dy + 1):
                t = dy - d if flip else d
                v.append(t + y0)
                u.append(_trunc(x0 + s * t + .5))
    pos = []
    for j in range(1, len(u)):
        if u[j] == u[j - 1]:
            continue
        xd = float(u[j] if u[j] < u[j - 1] else u[j] - 1)
        xd = (xd + .5) / scale - .5
        if math.floor(xd) != xd or xd < 0 or xd > w - 1:
            continue
        yd = float(v[j] if v[j] < v[j - 1] else v[j - 1])
        yd = (yd + .5) / scale - .5
        yd = 0.0 if yd < 0 else (float(h) if yd > h else yd)
        yd = math.ceil(yd)
        pos.append(int(xd) * h + int(yd))
    pos.append(h * w)
    pos.sort()
    deltas = np.diff([0] + pos).tolist()
    counts = [deltas[0]]
    j = 1
    while j < len(deltas):
        if deltas[j] > 0:
            counts.append(deltas[j])
            j += 1
        else:                                             # two toggles at one place cancel
            j += 1
            if j < len(deltas):
                counts[-1] += deltas[j]
                j += 1
    return [int(c) for c in counts]


def segm_to_mask(segm, h, w):
    """A COCO segmentation (polygons, RLE with list counts, RLE with string counts) -> dense mask."""
    if isinstance(segm, list):
        m = np.zeros((h, w), dtype=bool)
        for poly in segm:
            m |= rle_decode(h, w, poly_to_counts(poly, h, w))
        return m
    sh, sw = segm["size"]
    counts = segm["counts"]
    if isinstance(counts, str):
        counts = rle_from_string(counts)
    assert (sh, sw) == (h, w) and sum(counts) == h * w
    return rle_decode(sh, sw, counts)


def mask_bbox(m):
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


# ----------------------------------------------------------------------------------------- IoU
def box_iou(d, g, crowd):
    w = min(d[2] + d[0], g[2] + g[0]) - max(d[0], g[0])
    if w <= 0:
        return 0.0
    hh = min(d[3] + d[1], g[3] + g[1]) - max(d[1], g[1])
    if hh <= 0:
        return 0.0
    inter = w * hh
    da, ga = d[2] * d[3], g[2] * g[3]
    union = da if crowd else da + ga - inter
    return inter / union


def mask_iou(d, g, crowd):
    inter = int(np.count_nonzero(d & g))
    if inter == 0:
        return 0.0
    union = int(np.count_nonzero(d)) if crowd else int(np.count_nonzero(d | g))
    return inter / union


# ------------------------------------------------------------------------------------ COCOeval
def load_results(gt, results):
    img_ids = {im["id"] for im in gt["images"]}
    dets = []
    if not results:
        return dets
    by_box = "bbox" in results[0] and results[0]["bbox"] != []
    imgs = {im["id"]: im for im in gt["images"]}
    for i, r in enumerate(results):
        assert r["image_id"] in img_ids
        d = dict(r)
        d["id"] = i + 1
        d["iscrowd"] = 0
        if by_box:
            x, y, bw, bh = r["bbox"]
            if "segmentation" not in r:
                d["segmentation"] = [[x, y, x, y + bh, x + bw, y + bh, x + bw, y]]
            d["area"] = bw * bh
        else:
            im = imgs[r["image_id"]]
            m = segm_to_mask(r["segmentation"], im["height"], im["width"])
            d["area"] = float(np.count_nonzero(m))
            if "bbox" not in r:
                d["bbox"] = mask_bbox(m)
        dets.append(d)
    return dets


def coco_eval(gt, results, iou_type):
    """Returns (stats[12], {category id: AP}, precision[T,R,K,A,M], recall[T,K,A,M])."""
    imgs = {im["id"]: im for im in gt["images"]}
    img_ids = sorted(imgs)
    cat_ids = sorted(c["id"] for c in gt["categories"])
    dets = load_results(gt, results)
    gts_of, dts_of = defaultdict(list), defaultdict(list)
    for a in gt["annotations"]:
        gts_of[a["image_id"], a["category_id"]].append(a)
    for d in dets:
        dts_of[d["image_id"], d["category_id"]].append(d)

    def geometry(ann):
        if iou_type == "bbox":
            return ann["bbox"]
        im = imgs[ann["image_id"]]
        return segm_to_mask(ann["segmentation"], im["height"], im["width"])

    def by_score(ds):
        return [ds[i] for i in np.argsort([-d["score"] for d in ds], kind="stable")]

    ious = {}
    for i in img_ids:
        for c in cat_ids:
            g, d = gts_of[i, c], dts_of[i, c]
            if not g or not d:
                ious[i, c] = None
                continue
            d = by_score(d)[:MAX_DETS[-1]]
            gg = [geometry(a) for a in g]
            dg = [geometry(a) for a in d]
            f = box_iou if iou_type == "bbox" else mask_iou
            ious[i, c] = np.array([[f(dg[a], gg[b], bool(g[b].get("iscrowd", 0))) for b in range(len(g))]
                                   for a in range(len(d))])

    T = len(IOU_THRS)

    def evaluate_img(i, c, rng):
        g, d = gts_of[i, c], dts_of[i, c]
        if not g and not d:
            return None
        ign = [1 if (a.get("iscrowd", 0) or a["area"] < rng[0] or a["area"] > rng[1]) else 0 for a in g]
        gorder = np.argsort(ign, kind="stable")
        g = [g[k] for k in gorder]
        gt_ig = np.array([ign[k] for k in gorder])
        crowd = [bool(a.get("iscrowd", 0)) for a in g]
        d = by_score(d)[:MAX_DETS[-1]]
        G, D = len(g), len(d)
        gtm = np.zeros((T, G))
        dtm = np.zeros((T, D))
        dt_ig = np.zeros((T, D), dtype=bool)
        if ious[i, c] is not None:
            iou = ious[i, c][:, gorder]
            for t, thr in enumerate(IOU_THRS):
                for di in range(D):
                    best, m = min(thr, 1 - 1e-10), -1
                    for gi in range(G):
                        if gtm[t, gi] > 0 and not crowd[gi]:
                            continue
                        if m > -1 and gt_ig[m] == 0 and gt_ig[gi] == 1:
                            break
                        if iou[di, gi] < best:
                            continue
                        best, m = iou[di, gi], gi
                    if m == -1:
                        continue
                    dt_ig[t, di] = gt_ig[m] == 1
                    dtm[t, di] = g[m]["id"]
                    gtm[t, m] = d[di]["id"]
        out_of_range = np.array([a["area"] < rng[0] or a["area"] > rng[1] for a in d], dtype=bool)
        dt_ig = dt_ig | ((dtm == 0) & out_of_range[None, :])
        return {"scores": np.array([a["score"] for a in d], dtype=float), "dtm": dtm, "dt_ig": dt_ig,
                "gt_ig": gt_ig}

    E = {(c, a, i): evaluate_img(i, c, rng)
         for c in cat_ids for a, rng in enumerate(AREA_RNG) for i in img_ids}

    R, K, A, M = len(REC_THRS), len(cat_ids), len(AREA_RNG), len(MAX_DETS)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for k, c in enumerate(cat_ids):
        for a in range(A):
            for mi, max_det in enumerate(MAX_DETS):
                es = [E[c, a, i] for i in img_ids if E[c, a, i] is not None]
                if not es:
                    continue
                scores = np.concatenate([e["scores"][:max_det] for e in es])
                order = np.argsort(-scores, kind="stable")
                dtm = np.concatenate([e["dtm"][:, :max_det] for e in es], axis=1)[:, order]
                dt_ig = np.concatenate([e["dt_ig"][:, :max_det] for e in es], axis=1)[:, order]
                gt_ig = np.concatenate([e["gt_ig"] for e in es])
                npig = int(np.count_nonzero(gt_ig == 0))
                if npig == 0:
                    continue
                tps = (dtm != 0) & ~dt_ig
                fps = (dtm == 0) & ~dt_ig
                tp_sum = np.cumsum(tps, axis=1).astype(float)
                fp_sum = np.cumsum(fps, axis=1).astype(float)
                for t in range(T):
                    tp, fp = tp_sum[t], fp_sum[t]
                    nd = len(tp)
                    rc = tp / npig
                    pr = tp / (fp + tp + np.spacing(1))
                    recall[t, k, a, mi] = rc[-1] if nd else 0
                    pr = np.maximum.accumulate(pr[::-1])[::-1] if nd else pr   # non-increasing from the right
                    q = np.zeros(R)
                    idx = np.searchsorted(rc, REC_THRS, side="left")
                    ok = idx < nd
                    q[ok] = pr[idx[ok]]
                    precision[t, :, k, a, mi] = q

    def summarize(ap, thr=None, area="all", max_det=100):
        ai, mi = AREA_LBL.index(area), MAX_DETS.index(max_det)
        if ap:
            s = precision
            if thr is not None:
                s = s[np.where(IOU_THRS == thr)[0]]
            s = s[:, :, :, ai, mi]
        else:
            s = recall
            if thr is not None:
                s = s[np.where(IOU_THRS == thr)[0]]
            s = s[:, :, ai, mi]
        v = s[s > -1]
        return -1.0 if v.size == 0 else float(np.mean(v))

    stats = [summarize(1), summarize(1, .5), summarize(1, .75), summarize(1, area="small"),
             summarize(1, area="medium"), summarize(1, area="large"), summarize(0, max_det=1),
             summarize(0, max_det=10), summarize(0), summarize(0, area="small"), summarize(0, area="medium"),
             summarize(0, area="large")]
    per_cat = {}
    for k, c in enumerate(cat_ids):
        s = precision[:, :, k, 0, 2]
        v = s[s > -1]
        per_cat[c] = -1.0 if v.size == 0 else float(np.mean(v))
    return stats, per_cat, precision, recall


def summary_text(stats):
    lines = []
    specs = [(1, None, "all", 100), (1, .5, "all", 100), (1, .75, "all", 100), (1, None, "small", 100),
             (1, None, "medium", 100), (1, None, "large", 100), (0, None, "all", 1), (0, None, "all", 10),
             (0, None, "all", 100), (0, None, "small", 100), (0, None, "medium", 100), (0, None, "large", 100)]
    for (ap, thr, area, md), v in zip(specs, stats):
        title = "Average Precision" if ap else "Average Recall"
        kind = "(AP)" if ap else "(AR)"
        iou = "{:0.2f}:{:0.2f}".format(IOU_THRS[0], IOU_THRS[-1]) if thr is None else "{:0.2f}".format(thr)
        lines.append(" {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}".format(
            title, kind, iou, area, md, v))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ golden
def golden_case():
    """REFERENCE.md section 5: 3 images, categories 1 and 2, boxes only, area = w*h."""
    gt_rows = [(1, 1, 1, [1, 1, 5, 5], 0), (2, 1, 1, [8, 8, 6, 6], 0), (3, 1, 2, [0, 9, 4, 6], 0),
               (4, 2, 1, [3, 3, 8, 8], 0), (5, 2, 2, [10, 0, 6, 6], 1)]
    dt_rows = [(1, 1, [1, 1, 5, 4], .9), (1, 1, [1, 1, 5, 5], .6), (1, 1, [9, 9, 6, 6], .8),
               (1, 2, [0, 10, 4, 5], .7), (2, 1, [4, 4, 8, 8], .95), (2, 2, [11, 1, 4, 4], .5),
               (3, 1, [2, 2, 4, 4], .85), (2, 1, [0, 0, 3, 3], .8)]
    gt = {"images": [{"id": i, "file_name": "img%d.png" % i, "height": 20, "width": 20} for i in (1, 2, 3)],
          "categories": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}],
          "annotations": [{"id": a, "image_id": im, "category_id": c, "bbox": [float(v) for v in b],
                           "area": float(b[2] * b[3]), "iscrowd": cr} for a, im, c, b, cr in gt_rows]}
    res = [{"image_id": im, "category_id": c, "bbox": [float(v) for v in b], "score": s} for im, c, b, s in dt_rows]
    return gt, res


GOLDEN = [.504208, .957921, .584158, .504208, -1, -1, .516667, .583333, .583333, .583333, -1, -1]


def self_check():
    gt, res = golden_case()
    stats, per_cat, _, _ = coco_eval(gt, res, "bbox")
    print("golden case (REFERENCE.md section 5), bbox:")
    print(summary_text(stats), end="")
    print("stats:", " ".join("%.6f" % s for s in stats))
    for s, want in zip(stats, GOLDEN):
        assert abs(s - want) < 1e-6, (s, want)
    # RLE sanity: encode/decode/string round trips on random masks, and exact rectangles
    rs = np.random.RandomState(0)
    for _ in range(200):
        h, w = rs.randint(1, 30), rs.randint(1, 30)
        m = rs.rand(h, w) < rs.rand()
        c = rle_encode(m)
        assert sum(c) == h * w and (rle_decode(h, w, c) == m).all()
        assert rle_from_string(rle_to_string(c)) == c
    for x, y, bw, bh in [(0, 0, 10, 10), (3, 4, 7, 2), (5, 0, 1, 1)]:
        c = poly_to_counts([x, y, x, y + bh, x + bw, y + bh, x + bw, y], 20, 20)
        m = rle_decode(20, 20, c)
        want = np.zeros((20, 20), dtype=bool)
        want[y:y + bh, x:x + bw] = True
        assert (m == want).all(), (x, y, bw, bh)
    print("self-check passed (golden stats within 1e-6, RLE round trips, integer rectangles rasterise exactly)")


# ------------------------------------------------------------------------------------ fixtures
def r2(v):
    return float(round(v, 2))


def star_polygon(rs, cx, cy, rx, ry):
    n = rs.randint(5, 13)
    ang = np.sort(rs.rand(n)) * 2 * np.pi
    rad = 0.6 + 0.4 * rs.rand(n)
    pts = []
    for a, r in zip(ang, rad):
        pts += [r2(cx + rx * r * math.cos(a)), r2(cy + ry * r * math.sin(a))]
    return pts


def blob_mask(rs, h, w, cx, cy, rx, ry):
    yy, xx = np.mgrid[0:h, 0:w]
    m = np.zeros((h, w), dtype=bool)
    for _ in range(rs.randint(1, 4)):
        ox, oy = cx + rs.uniform(-rx / 3, rx / 3), cy + rs.uniform(-ry / 3, ry / 3)
        ax, ay = rx * rs.uniform(.5, 1), ry * rs.uniform(.5, 1)
        m |= ((xx - ox) / ax) ** 2 + ((yy - oy) / ay) ** 2 <= 1
    return m


def poly_bbox(polys):
    xs = [v for p in polys for v in p[0::2]]
    ys = [v for p in polys for v in p[1::2]]
    return [r2(min(xs)), r2(min(ys)), r2(max(xs) - min(xs)), r2(max(ys) - min(ys))]


def shift_mask(m, dx, dy):
    out = np.zeros_like(m)
    h, w = m.shape
    ys, xs = np.nonzero(m)
    ys, xs = ys + dy, xs + dx
    ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    out[ys[ok], xs[ok]] = True
    return out


def make_case(seed, n_images, n_cats, results_form, many=False, zero_id=False):
    """results_form: 'both' (bbox + segmentation), 'segm' (segmentation only), 'bbox' (boxes only)."""
    rs = np.random.RandomState(seed)
    images, anns, res = [], [], []
    cats = [{"id": c, "name": "cat%d" % c} for c in range(1, n_cats + 1)]
    if n_cats >= 3:
        cats.append({"id": 90 + n_cats, "name": "never-annotated"})   # no ground truth anywhere
    next_id = 0 if zero_id else 1
    size_of = {"small": (6, 30), "medium": (34, 90), "large": (125, 210)}
    for i in range(n_images):
        img_id = 10 * (i + 1) + seed % 7
        h, w = int(rs.randint(160, 241)), int(rs.randint(160, 241))
        images.append({"id": img_id, "file_name": "%06d.jpg" % img_id, "height": h, "width": w})
        if i == n_images - 1 and not many:
            # an image without ground truth, only false positives
            for _ in range(3):
                bw, bh = r2(rs.uniform(5, 60)), r2(rs.uniform(5, 60))
                x, y = r2(rs.uniform(0, w - bw)), r2(rs.uniform(0, h - bh))
                res.append(_result(rs, img_id, int(rs.randint(1, n_cats + 1)), [x, y, bw, bh],
                                   r2(rs.uniform(.05, .9)), None, h, w, results_form))
            continue
        n_obj = rs.randint(3, 9) if not many else 12
        for _ in range(n_obj):
            cat = int(rs.randint(1, n_cats + 1)) if not many else 1 + i % n_cats
            kind = rs.choice(["small", "medium", "large"], p=[.4, .35, .25])
            lo, hi = size_of[kind]
            rx, ry = rs.uniform(lo, hi) / 2, rs.uniform(lo, hi) / 2
            cx, cy = rs.uniform(-5, w + 5), rs.uniform(-5, h + 5)   # sometimes partly outside the image
            crowd = int(rs.rand() < .12)
            form = "rle" if crowd else rs.choice(["poly", "poly2", "rle", "rlestr"], p=[.5, .15, .15, .2])
            if form in ("poly", "poly2"):
                polys = [star_polygon(rs, cx, cy, rx, ry)]
                if form == "poly2":
                    polys.append(star_polygon(rs, cx + rx * .8, cy + ry * .3, rx * .6, ry * .6))
                mask = segm_to_mask(polys, h, w)
                segm, bbox = polys, poly_bbox(polys)
            else:
                mask = blob_mask(rs, h, w, cx, cy, rx, ry)
                counts = rle_encode(mask)
                segm = {"size": [h, w], "counts": counts if form == "rle" else rle_to_string(counts)}
                bbox = mask_bbox(mask)
            area = float(np.count_nonzero(mask))
            if area == 0:
                continue
            anns.append({"id": next_id, "image_id": img_id, "category_id": cat, "bbox": bbox, "area": area,
                         "iscrowd": crowd, "segmentation": segm})
            next_id += 1
            # detections of this object: none, one or a few, jittered
            n_det = rs.choice([0, 1, 1, 1, 2, 3]) if not many else rs.randint(8, 16)
            for _ in range(n_det):
                j = max(2.0, .15 * (bbox[2] + bbox[3]) / 2)
                dx, dy = int(round(rs.uniform(-j, j))), int(round(rs.uniform(-j, j)))
                db = [r2(bbox[0] + dx), r2(bbox[1] + dy), r2(max(1.0, bbox[2] * rs.uniform(.8, 1.2))),
                      r2(max(1.0, bbox[3] * rs.uniform(.8, 1.2)))]
                score = r2(rs.uniform(.05, 1.0)) if not many else float(round(rs.uniform(.05, 1.0), 1))
                dcat = cat if rs.rand() > .08 else int(rs.randint(1, n_cats + 1))
                res.append(_result(rs, img_id, dcat, db, score, shift_mask(mask, dx, dy), h, w, results_form,
                                   poly_segm=many))
        # false positives
        for _ in range(rs.randint(0, 4) if not many else 20):
            bw, bh = r2(rs.uniform(4, 120)), r2(rs.uniform(4, 120))
            x, y = r2(rs.uniform(0, w - bw)), r2(rs.uniform(0, h - bh))
            score = r2(rs.uniform(.05, .95)) if not many else float(round(rs.uniform(.05, 1.0), 1))
            res.append(_result(rs, img_id, int(rs.randint(1, n_cats + 1)), [x, y, bw, bh], score, None, h, w,
                               results_form, poly_segm=many))
    # boundary areas: a 32x32 and a 96x96 box object (area exactly 32^2 and 96^2) with exact detections
    im = images[0]
    for side, cat in ((32, 1), (96, 2 if n_cats > 1 else 1)):
        x, y = 2.0, float(im["height"] - side - 2)
        poly = [[x, y, x, y + side, x + side, y + side, x + side, y]]
        anns.append({"id": next_id, "image_id": im["id"], "category_id": cat, "bbox": [x, y, float(side), float(side)],
                     "area": float(side * side), "iscrowd": 0, "segmentation": poly})
        next_id += 1
        m = segm_to_mask(poly, im["height"], im["width"])
        res.append(_result(rs, im["id"], cat, [x, y, float(side), float(side)], .5, m, im["height"], im["width"],
                           results_form))
    order = rs.permutation(len(res))                    # results in no particular order
    res = [res[k] for k in order]
    gt = {"info": {"description": "vitrim COCO fixture, seed %d" % seed}, "images": images,
          "categories": cats, "annotations": anns}
    return gt, res


def edge_case():
    """Hand-made: the "break" rule (crowd and out-of-range ground truth with a higher IoU than the regular
    match), a ground truth with id 0 (COCOeval reads its matches as "no match"), a -0.0 / 0.0 score tie."""
    def box_poly(b):
        x, y, bw, bh = b
        return [[x, y, x, y + bh, x + bw, y + bh, x + bw, y]]

    def gt_box(aid, img, b, h, w):
        return {"id": aid, "image_id": img, "category_id": 1, "bbox": b, "area": float(b[2] * b[3]),
                "iscrowd": 0, "segmentation": box_poly(b)}

    crowd = np.zeros((100, 100), dtype=bool)
    crowd[5:45, 5:45] = True
    anns = [gt_box(5, 1, [10.0, 10.0, 20.0, 20.0], 100, 100),
            {"id": 6, "image_id": 1, "category_id": 1, "bbox": [5.0, 5.0, 40.0, 40.0], "area": 1600.0,
             "iscrowd": 1, "segmentation": {"size": [100, 100], "counts": rle_encode(crowd)}},
            gt_box(7, 1, [60.0, 60.0, 30.0, 30.0], 100, 100),        # small (900)
            gt_box(8, 1, [58.0, 58.0, 36.0, 36.0], 100, 100),        # medium (1296), overlaps 7
            gt_box(0, 2, [10.0, 10.0, 20.0, 20.0], 60, 60),
            gt_box(9, 2, [35.0, 35.0, 15.0, 15.0], 60, 60)]
    dets = [(1, [11.0, 11.0, 20.0, 20.0], .9), (1, [12.0, 12.0, 20.0, 20.0], .9), (1, [59.0, 59.0, 34.0, 34.0], .8),
            (1, [70.0, 5.0, 20.0, 20.0], .3),
            (2, [10.0, 10.0, 20.0, 20.0], .7), (2, [35.0, 35.0, 15.0, 15.0], -0.0), (2, [0.0, 45.0, 8.0, 8.0], 0.0)]
    gt = {"images": [{"id": 1, "file_name": "a.png", "height": 100, "width": 100},
                     {"id": 2, "file_name": "b.png", "height": 60, "width": 60}],
          "categories": [{"id": 1, "name": "thing"}, {"id": 2, "name": "other"}], "annotations": anns}
    res = [{"image_id": i, "category_id": 1, "bbox": b, "score": s, "segmentation": box_poly(b)} for i, b, s in dets]
    return gt, res


def _result(rs, img_id, cat, box, score, mask, h, w, form, poly_segm=False):
    r = {"image_id": img_id, "category_id": cat, "score": score}
    if form in ("both", "bbox"):
        r["bbox"] = box
    if form in ("both", "segm"):
        if poly_segm and form == "both":
            x, y, bw, bh = box
            r["segmentation"] = [[x, y, r2(x + bw * .9), y, x + bw, r2(y + bh * .5), r2(x + bw * .9), y + bh,
                                  x, y + bh]]
        else:
            if mask is None:
                x, y, bw, bh = box
                mask = segm_to_mask([[x, y, x, y + bh, x + bw, y + bh, x + bw, y]], h, w)
            r["segmentation"] = {"size": [h, w], "counts": rle_to_string(rle_encode(mask))}
    return r


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def rle_fixture():
    rs = np.random.RandomState(11)
    masks = []
    for n in range(12):
        h, w = int(rs.randint(1, 40)), int(rs.randint(1, 40))
        if n == 0:
            m = np.zeros((h, w), dtype=bool)
        elif n == 1:
            m = np.ones((h, w), dtype=bool)
        else:
            m = rs.rand(h, w) < rs.rand()
        counts = rle_encode(m)
        masks.append({"height": h, "width": w,
                      "rows": ["".join("1" if b else "0" for b in row) for row in m],
                      "counts": counts, "string": rle_to_string(counts), "area": int(m.sum()), "bbox": mask_bbox(m)})
    # long runs make multi-chunk and negative deltas
    h, w = 300, 400
    m = np.zeros((h, w), dtype=bool)
    m[10:290, 5:390] = True
    m[100:110, 200:300] = False
    counts = rle_encode(m)
    masks.append({"height": h, "width": w, "rows": None, "counts": counts, "string": rle_to_string(counts),
                  "area": int(m.sum()), "bbox": mask_bbox(m)})
    polys = []
    for n in range(25):
        h, w = int(rs.randint(10, 80)), int(rs.randint(10, 80))
        parts = []
        for _ in range(1 + (n % 3 == 0)):
            cx, cy = rs.uniform(-5, w + 5), rs.uniform(-5, h + 5)
            pts = star_polygon(rs, cx, cy, rs.uniform(2, w), rs.uniform(2, h))
            if n % 4 == 1:
                pts = [float(round(v * 3) / 3) for v in pts]          # thirds: many .5 roundings after x5
            parts.append(pts)
        if n == 24:
            parts = [[-3.2, -1.7, 12.6, 4.4, 3.3, 30.1], [0.0, 0.0, 5.0, 0.0, 5.0, 5.0, 0.0, 5.0]]
        per_part = [poly_to_counts(p, h, w) for p in parts]
        union = rle_encode(segm_to_mask(parts, h, w))
        polys.append({"height": h, "width": w, "polygons": parts, "part_counts": per_part, "counts": union,
                      "area": int(sum(union[1::2])), "bbox": mask_bbox(rle_decode(h, w, union))})
    return {"masks": masks, "polygons": polys}


def main():
    self_check()
    if "--check" in sys.argv[1:]:
        return
    os.makedirs(OUT, exist_ok=True)
    gt, res = golden_case()
    os.makedirs(os.path.join(OUT, "golden"), exist_ok=True)
    write_json(os.path.join(OUT, "golden", "instances.json"), gt)
    write_json(os.path.join(OUT, "golden", "results.json"), res)
    cases = {"mixed": make_case(1, 8, 3, "both"),
             "segm_results": make_case(2, 5, 2, "segm"),
             "box_results": make_case(3, 5, 4, "bbox", zero_id=True),
             "many": make_case(4, 2, 2, "both", many=True),
             "edge": edge_case()}
    for name, (gt, res) in cases.items():
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        write_json(os.path.join(d, "instances.json"), gt)
        write_json(os.path.join(d, "results.json"), res)
        expected = {}
        for iou_type in ("bbox", "segm"):
            stats, per_cat, _, _ = coco_eval(gt, res, iou_type)
            expected[iou_type] = {"stats": dict(zip(STAT_NAMES, stats)),
                                  "per_category": {str(c): v for c, v in per_cat.items()},
                                  "summary": summary_text(stats)}
        write_json(os.path.join(d, "expected.json"), expected)
        per_img = defaultdict(int)
        for r in res:
            per_img[r["image_id"]] += 1
        print("%-13s %d images, %d gt (%d crowd), %d results (max %d in one image); bbox AP %.4f, segm AP %.4f" % (
            name, len(gt["images"]), len(gt["annotations"]), sum(a["iscrowd"] for a in gt["annotations"]),
            len(res), max(per_img.values()), expected["bbox"]["stats"]["AP"], expected["segm"]["stats"]["AP"]))
    write_json(os.path.join(OUT, "rle.json"), rle_fixture())
    write_json(os.path.join(OUT, "thresholds.json"), {"iou": IOU_THRS.tolist(), "recall": REC_THRS.tolist()})
    print("wrote", os.path.relpath(OUT, ROOT))


if __name__ == "__main__":
    main()
