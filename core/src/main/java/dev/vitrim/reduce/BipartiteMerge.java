package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;

/**
 * ToMe's bipartite soft matching (Bolya et al., ICLR 2023): tokens alternate into sets A (even) and B (odd);
 * each A token finds its most similar B token by cosine similarity of the metric; the r best-matched A tokens
 * merge into their matches (many-to-one) with a size-weighted average; prefix tokens never merge. Output
 * order: the prefix tokens in their original order, then the other unmerged A tokens in order, then the other B
 * tokens (as ToMe's own code does for a distilled DeiT, so CLS and the distillation token stay at 0 and 1).
 *
 * <p>The similarities come from the attention kernel and the merge is one TorchScript call ({@link RowMerge}: a
 * weighted embedding-bag sum, which DJL lacks), or none of its own when the model runs it inside the MLP call that
 * follows; the matching (best match, ordering, indices, weights, sizes and positions) runs in Java on the copied
 * similarities: engine calls, not arithmetic, are what ToMe's time at batch 1 was made of.
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
        return Math.min(r, maxR(t.count(), t.prefix)) <= 0 ? t : mergeScored(t, ReduceKernels.similarity(metric), r);
    }

    /**
     * {@link #merge} from the similarities themselves, [B,⌈N/2⌉,⌊N/2⌋] (cosine of token 2a to token 2j+1), as the
     * attention kernel computes them ({@link AttentionView#keySimilarity}).
     */
    public static Tokens mergeScored(Tokens t, NDArray similarity, int r) {
        RowMerge plan = plan(t, similarity, r);
        return plan == null ? t : plan.apply(t);
    }

    /**
     * The merge {@link #mergeScored} applies, planned but not yet run: null when nothing merges ({@code r} clamped to
     * {@link #maxR} is 0).
     */
    public static RowMerge plan(Tokens t, NDArray similarity, int r) {
        int n = t.count();
        r = Math.min(r, maxR(n, t.prefix));
        if (r <= 0) {
            return null;
        }
        int b = t.batch();
        int na = (n + 1) / 2;
        int nb = n / 2;
        int keep = na - r;
        int out = n - r;
        float[] scores = similarity.toFloatArray();
        // Per image: output row o = w·x[own row of o] + Σ over the sources merged into it of w·x[source], each
        // output's rows contiguous (its own first, then its sources in match order), then one offset per output
        // (RowMerge's layout). The output tokens are the unmerged A in order (weight 1), then every B; a B token that
        // receives sources weighs its share of the merged size, and so does each source: ToMe's size-weighted
        // average. The indices (rows of x viewed as [B·N, C]) and weights go to the engine as lists; one
        // gather-and-sum there.
        int members = b * (out + r);
        long[] index = new long[members + b * out];
        double[] w = new double[members];
        long[] pos = new long[b * out];
        float[] sizes = new float[b * out];
        long[] own = new long[out];
        int[] start = new int[out];
        int[] fill = new int[out];
        Match match = new Match(na, nb, t.prefix);
        int[] bSlot = new int[nb];
        int[] aSlot = new int[keep];
        int prefixA = (t.prefix + 1) / 2; // prefix token 2a is A token a, prefix token 2j+1 is B token j
        int prefixB = t.prefix / 2;
        for (int k = 0; k < keep; k++) {
            aSlot[k] = k < prefixA ? 2 * k : t.prefix + k - prefixA;
        }
        for (int j = 0; j < nb; j++) {
            bSlot[j] = j < prefixB ? 2 * j + 1 : t.prefix + keep - prefixA + j - prefixB;
        }
        for (int i = 0; i < b; i++) {
            match.run(scores, i * na * nb, r);
            int tok = i * n;
            int o = i * out;
            for (int k = 0; k < keep; k++) {
                own[aSlot[k]] = tok + 2L * match.order[r + k]; // the unmerged A tokens, in index order
            }
            for (int j = 0; j < nb; j++) {
                own[bSlot[j]] = tok + 2L * j + 1;
            }
            for (int k = 0; k < out; k++) {
                pos[o + k] = t.positions[(int) own[k]];
                sizes[o + k] = t.size((int) own[k]);
                fill[k] = 1;
            }
            for (int q = 0; q < r; q++) {
                int src = match.order[q];
                sizes[o + bSlot[match.best[src]]] += t.size(tok + 2 * src);
                fill[bSlot[match.best[src]]]++;
            }
            int at = i * (out + r);
            for (int k = 0; k < out; k++) {
                index[members + o + k] = at;
                start[k] = at;
                index[at] = own[k];
                w[at] = t.size((int) own[k]) / sizes[o + k];
                at += fill[k];
                fill[k] = 1;
            }
            for (int q = 0; q < r; q++) {
                int src = tok + 2 * match.order[q];
                int d = bSlot[match.best[match.order[q]]];
                int p = start[d] + fill[d]++;
                index[p] = src;
                w[p] = t.size(src) / sizes[o + d];
            }
        }
        return new RowMerge(index, w, out, r, sizes, pos);
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
