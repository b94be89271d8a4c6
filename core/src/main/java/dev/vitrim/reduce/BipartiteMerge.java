package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * ToMe's bipartite soft matching (Bolya et al., ICLR 2023): tokens alternate into sets A (even) and B (odd);
 * each A token finds its most similar B token by cosine similarity of the metric; the r best-matched A tokens
 * merge into their matches (many-to-one) with a size-weighted average; prefix tokens never merge. Output
 * order: the unmerged A tokens in their original order, then all B tokens.
 *
 * <p>DJL has no scatter-add, so the many-to-one accumulation is a product with a one-hot matrix, which sums
 * exactly.
 */
public final class BipartiteMerge {
    private BipartiteMerge() {}

    /** The largest r that can be merged from {@code n} tokens with {@code prefix} protected ones. */
    public static int maxR(int n, int prefix) {
        return Math.max(0, (n - prefix) / 2);
    }

    /**
     * @param t      tokens (x [B,N,C], sizes [B,N,1] or null, positions [B,N])
     * @param metric [B,N,K] similarity metric (ToMe: the keys averaged over heads), not yet normalised
     * @param r      tokens to remove; clamped to {@link #maxR}
     */
    public static Tokens merge(Tokens t, NDArray metric, int r) {
        int n = t.count();
        r = Math.min(r, maxR(n, t.prefix));
        if (r <= 0) {
            return t;
        }
        long b = t.batch();
        NDManager mgr = t.x.getManager();
        NDArray m = metric.div(metric.square().sum(new int[] {-1}, true).sqrt());
        NDArray a = m.get(new NDIndex(":, ::2, :"));
        NDArray bb = m.get(new NDIndex(":, 1::2, :"));
        int na = (n + 1) / 2;
        int nb = n / 2;
        NDArray scores = a.matMul(bb.transpose(0, 2, 1)); // [B,na,nb]
        protect(scores, t.prefix);
        NDArray nodeMax = scores.max(new int[] {-1});
        NDArray nodeIdx = scores.argMax(-1);
        NDArray edge = nodeMax.argSort(-1, false);
        NDArray unm = edge.get(new NDIndex(":, {}:", r)).sort(-1);
        NDArray src = edge.get(new NDIndex(":, :{}", r));
        NDArray dst = nodeIdx.gather(src, 1);

        // One gather of the A tokens in the order [unmerged; sources], straight from the contiguous arrays
        // (A token i sits at 2i, B token j at 2j+1); weighted features and sizes are handled alike.
        NDArray order = unm.concat(src, 1).mul(2);
        NDArray s = t.sizesOrOnes();
        NDArray xw = t.sizes == null ? t.x : t.x.mul(s);
        NDArray toDst = dst.expandDims(2).eq(mgr.arange(0, nb, 1, DataType.INT64).reshape(1, 1, nb))
                .toType(DataType.FLOAT32, false).transpose(0, 2, 1); // [B,nb,r] one-hot
        int keep = na - r;
        NDArray xa = Tokens.gather(xw, order);
        NDArray x = xa.get(new NDIndex(":, :{}, :", keep)).concat(xw.get(new NDIndex(":, 1::2, :"))
                .add(toDst.matMul(xa.get(new NDIndex(":, {}:, :", keep)))), 1);
        NDArray sa = Tokens.gather(s, order);
        NDArray sizes = sa.get(new NDIndex(":, :{}, :", keep)).concat(s.get(new NDIndex(":, 1::2, :"))
                .add(toDst.matMul(sa.get(new NDIndex(":, {}:, :", keep)))), 1);
        NDArray source = null;
        if (t.source != null) { // which original tokens each token holds: merged by summing, like the sizes
            NDArray sra = Tokens.gather(t.source, order);
            source = sra.get(new NDIndex(":, :{}, :", keep)).concat(t.source.get(new NDIndex(":, 1::2, :"))
                    .add(toDst.matMul(sra.get(new NDIndex(":, {}:, :", keep)))), 1);
        }
        NDArray pos = t.positions.gather(order.get(new NDIndex(":, :{}", keep)), 1)
                .concat(t.positions.get(new NDIndex(":, 1::2")), 1);
        return new Tokens(x.div(sizes), sizes, pos, t.prefix, t.stash, null, null, source);
    }

    /** -inf where a prefix token would merge: prefix tokens in A never leave, prefix tokens in B never receive. */
    private static void protect(NDArray scores, int prefix) {
        for (int i = 0; i < prefix; i++) {
            NDIndex at = i % 2 == 0 ? new NDIndex(":, {}, :", i / 2) : new NDIndex(":, :, {}", i / 2);
            scores.set(at, Float.NEGATIVE_INFINITY);
        }
    }
}
