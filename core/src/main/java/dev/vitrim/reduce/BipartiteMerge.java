package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * ToMe's bipartite soft matching (Bolya et al., ICLR 2023): tokens alternate into sets A (even) and B (odd);
 * each A token finds its most similar B token by cosine similarity of the metric; the r best-matched A tokens
 * merge into their matches (many-to-one) with a size-weighted average; prefix tokens never merge. Output
 * order: the unmerged A tokens in their original order, then all B tokens.
 *
 * <p>DJL has no scatter-add, so the many-to-one accumulation is one gather of rows and a product with a sparse
 * [out, r] weight matrix built in Java. The matching (best match, ordering, indices, weights, sizes and
 * positions) runs in Java on the copied similarities: engine calls, not arithmetic, are what ToMe's time at
 * batch 1 was made of.
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
        int b = t.batch();
        int na = (n + 1) / 2;
        int nb = n / 2;
        int keep = na - r;
        int out = n - r;
        NDManager mgr = t.x.getManager();
        float[] scores = similarities(metric, b, n, na, nb);
        // Per image, the rows of x (viewed as [B·N, C]) to gather: the output tokens (unmerged A in order, then
        // every B), then the r sources, then the B tokens that receive them (up to r). Output token
        // o = x[self] + Σ_c h[o,c]·x[extra c]: a source weighs its share of the merged size, a receiving token's own
        // row gets its share minus 1. That is ToMe's size-weighted average, with one pass over x for the gather and
        // one for the sum; every other token is copied as it is.
        int extra = 2 * r;
        int g = out + extra;
        long[] rows = new long[b * g];
        float[] h = new float[b * out * extra];
        long[] pos = new long[b * out];
        float[] sizes = new float[b * out];
        float[] oneHot = t.source == null ? null : new float[b * out * extra];
        int[] slot = new int[nb];
        Match match = new Match(na, nb, t.prefix);
        for (int i = 0; i < b; i++) {
            match.run(scores, i * na * nb, r);
            int tok = i * n;
            int o = i * out;
            int ri = i * g;
            for (int k = 0; k < keep; k++) {
                int a = match.order[r + k]; // the unmerged A tokens, in index order
                rows[ri + k] = tok + 2L * a;
                pos[o + k] = t.positions[tok + 2 * a];
                sizes[o + k] = t.size(tok + 2 * a);
            }
            for (int j = 0; j < nb; j++) {
                rows[ri + keep + j] = tok + 2L * j + 1;
                pos[o + keep + j] = t.positions[tok + 2 * j + 1];
                sizes[o + keep + j] = t.size(tok + 2 * j + 1);
                slot[j] = -1;
            }
            int receivers = 0;
            for (int q = 0; q < r; q++) {
                int src = match.order[q];
                int j = match.best[src];
                rows[ri + out + q] = tok + 2L * src;
                sizes[o + keep + j] += t.size(tok + 2 * src);
                if (slot[j] < 0) {
                    slot[j] = receivers;
                    rows[ri + out + r + receivers++] = tok + 2L * j + 1;
                }
            }
            for (int u = receivers; u < r; u++) {
                rows[ri + out + r + u] = tok; // unused: weight 0
            }
            for (int q = 0; q < r; q++) {
                int src = match.order[q];
                int j = match.best[src];
                int row = (o + keep + j) * extra;
                h[row + q] = t.size(tok + 2 * src) / sizes[o + keep + j];
                h[row + r + slot[j]] = t.size(tok + 2 * j + 1) / sizes[o + keep + j] - 1f;
                if (oneHot != null) {
                    oneHot[row + q] = 1f;
                }
            }
        }
        NDArray rowArr = mgr.create(rows);
        NDArray xg = Tokens.rowsOf(t.x, rowArr, g);
        NDArray x = xg.get(new NDIndex(":, :{}, :", out)).add(mgr.create(h, new Shape(b, out, extra))
                .matMul(xg.get(new NDIndex(":, {}:, :", out))));
        NDArray source = null;
        if (t.source != null) { // which original tokens each token holds: merged by summing
            NDArray sg = Tokens.rowsOf(t.source, rowArr, g);
            source = sg.get(new NDIndex(":, :{}, :", out)).add(mgr.create(oneHot, new Shape(b, out, extra))
                    .matMul(sg.get(new NDIndex(":, {}:, :", out))));
        }
        return new Tokens(x, sizes, pos, t.prefix, t.stash, null, null, source);
    }

    /**
     * Cosine similarities of every A token (2a) to every B token (2j+1), [B,na,nb]. At batch 1 one Gram product
     * on the engine normalised here (cosine = g_ij / sqrt(g_ii g_jj)): three engine calls, where the four times
     * larger product costs less than the calls it saves. At larger batches the normalised A·Bᵀ, as ToMe computes
     * it: the quarter-size product and copy win there.
     */
    static float[] similarities(NDArray metric, int b, int n, int na, int nb) {
        if (b > 1) {
            NDArray m = metric.div(metric.norm(new int[] {2}, true));
            return m.get(new NDIndex(":, ::2, :")).matMul(m.get(new NDIndex(":, 1::2, :")).transpose(0, 2, 1))
                    .toFloatArray();
        }
        float[] gram = metric.matMul(metric.transpose(0, 2, 1)).toFloatArray(); // [1,N,N]
        float[] scores = new float[na * nb];
        float[] inv = new float[n];
        for (int u = 0; u < n; u++) {
            inv[u] = (float) (1.0 / Math.sqrt(gram[u * n + u]));
        }
        for (int a = 0; a < na; a++) {
            int row = 2 * a * n;
            for (int j = 0; j < nb; j++) {
                scores[a * nb + j] = gram[row + 2 * j + 1] * inv[2 * a] * inv[2 * j + 1];
            }
        }
        return scores;
    }

    /**
     * One image's matching: each A token's best B token ({@link #best}, the first of equal maxima), then
     * {@link #order}: the {@code r} best-matched A tokens, highest similarity first (ties in index order), followed
     * by the others in index order. Prefix tokens are -inf: an A-side prefix token never leaves (its whole row), a
     * B-side one never receives (its column). Plain loops over primitive arrays, no sort: only r maxima are needed.
     */
    static final class Match {
        final int na;
        final int nb;
        final int prefix;
        final int[] best;
        final int[] order;
        private final float[] max;
        private final boolean[] taken;

        Match(int na, int nb, int prefix) {
            this.na = na;
            this.nb = nb;
            this.prefix = prefix;
            this.best = new int[na];
            this.order = new int[na];
            this.max = new float[na];
            this.taken = new boolean[na];
        }

        void run(float[] scores, int offset, int r) {
            int firstB = prefix / 2; // B tokens 0..firstB-1 are prefix tokens (B token j is token 2j+1)
            for (int a = 0; a < na; a++) {
                float mx = Float.NEGATIVE_INFINITY;
                int arg = 0;
                if (2 * a >= prefix && firstB < nb) {
                    int row = offset + a * nb;
                    arg = firstB;
                    mx = scores[row + firstB];
                    for (int j = firstB + 1; j < nb; j++) {
                        float v = scores[row + j];
                        if (v > mx) {
                            mx = v;
                            arg = j;
                        }
                    }
                }
                max[a] = mx;
                best[a] = arg;
                taken[a] = false;
            }
            for (int q = 0; q < r; q++) {
                int pick = -1;
                for (int a = 0; a < na; a++) {
                    if (!taken[a] && (pick < 0 || max[a] > max[pick])) {
                        pick = a;
                    }
                }
                taken[pick] = true;
                order[q] = pick;
            }
            int k = r;
            for (int a = 0; a < na; a++) {
                if (!taken[a]) {
                    order[k++] = a;
                }
            }
        }
    }
}
