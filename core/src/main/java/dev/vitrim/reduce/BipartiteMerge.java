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
 * <p>DJL has no scatter-add, so the many-to-one accumulation is a product with a one-hot matrix, which sums
 * exactly. The matching (best match, ordering, indices, sizes and positions) runs in Java on the copied
 * similarities: a dozen engine calls fewer per block, which is what ToMe's time at batch 1 was made of.
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
        // Similarities on the engine, the matching itself in Java: at small batches every engine call costs about
        // as much as the arithmetic of a whole sort or one-hot build, and these are tiny arrays.
        NDArray m = metric.div(metric.norm(new int[] {2}, true));
        float[] scores = m.get(new NDIndex(":, ::2, :")).matMul(m.get(new NDIndex(":, 1::2, :")).transpose(0, 2, 1))
                .toFloatArray(); // [B,na,nb]
        long[] pos0 = t.positions.toLongArray();
        float[] size0 = t.sizes == null ? null : t.sizes.toFloatArray();
        long[] rowsA = new long[b * na]; // A tokens in the order [unmerged; sources], as rows of x viewed as [B*N, C]
        float[] toDst = new float[b * nb * r]; // [B,nb,r] one-hot: source q goes to B token j
        long[] pos = new long[b * out];
        float[] sizes = new float[b * out];
        Match match = new Match(na, nb, t.prefix);
        for (int i = 0; i < b; i++) {
            match.run(scores, i * na * nb, r);
            int tok = i * n;
            int o = i * out;
            for (int k = 0; k < keep; k++) {
                int a = match.order[r + k]; // the unmerged A tokens, in index order
                rowsA[i * na + k] = tok + 2L * a;
                pos[o + k] = pos0[tok + 2 * a];
                sizes[o + k] = size0 == null ? 1f : size0[tok + 2 * a];
            }
            for (int j = 0; j < nb; j++) {
                pos[o + keep + j] = pos0[tok + 2 * j + 1];
                sizes[o + keep + j] = size0 == null ? 1f : size0[tok + 2 * j + 1];
            }
            for (int q = 0; q < r; q++) {
                int src = match.order[q];
                int dst = match.best[src];
                rowsA[i * na + keep + q] = tok + 2L * src;
                toDst[(i * nb + dst) * r + q] = 1f;
                sizes[o + keep + dst] += size0 == null ? 1f : size0[tok + 2 * src];
            }
        }
        NDArray xw = t.sizes == null ? t.x : t.x.mul(t.sizes);
        NDArray rows = mgr.create(rowsA);
        NDArray xa = Tokens.rowsOf(xw, rows, na);
        NDArray hot = mgr.create(toDst, new Shape(b, nb, r));
        NDArray x = xa.get(new NDIndex(":, :{}, :", keep)).concat(xw.get(new NDIndex(":, 1::2, :"))
                .add(hot.matMul(xa.get(new NDIndex(":, {}:, :", keep)))), 1);
        NDArray sizeArr = mgr.create(sizes, new Shape(b, out, 1));
        NDArray source = null;
        if (t.source != null) { // which original tokens each token holds: merged by summing, like the sizes
            NDArray sra = Tokens.rowsOf(t.source, rows, na);
            source = sra.get(new NDIndex(":, :{}, :", keep)).concat(t.source.get(new NDIndex(":, 1::2, :"))
                    .add(hot.matMul(sra.get(new NDIndex(":, {}:, :", keep)))), 1);
        }
        return new Tokens(x.div(sizeArr), sizeArr, mgr.create(pos, new Shape(b, out)), t.prefix, t.stash, null, null,
                source);
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
