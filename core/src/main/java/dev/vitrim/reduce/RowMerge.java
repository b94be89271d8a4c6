package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;

/**
 * A many-to-one merge of token rows, planned in Java (ToMe's matching, {@link BipartiteMerge#plan}) and applied on
 * the engine: on its own ({@link #apply}) or, when a pass hands it to the model
 * ({@link TokenReducer.Pass#mergeBeforeMlp}), inside the block's MLP call, one engine crossing fewer per block —
 * at batch 1 a crossing with these index lists costs about as much as the merge's arithmetic.
 *
 * <p>Output row o (of the [B·out] rows) = Σ over j from {@code index[M+o]} up to the next bag's start of
 * {@code weight[j]}·x[{@code index[j]}], where M = B·(out+r) is the number of merged rows (the last bag ends at M):
 * each output's own row first, then the sources merged into it. Rows of x [B,N,…] are counted as in [B·N, …]. That
 * is {@code torch.embedding_bag}'s layout (the indices, then each bag's offset; a weight per index): the gather, the
 * weighting and the sum in one operator, where they were three (a gather, a product and an index-add).
 */
public final class RowMerge {
    /**
     * The merge as a TorchScript method {@code merge(a, index, weight, out, r)} of class {@code cls}: the one text both
     * the reducers' kernels and the model's MLP kernel compile.
     */
    public static String torchScript(String cls) {
        return String.join("\n",
                "  def merge(self: __torch__." + cls + ", a: Tensor, index: List[int], weight: List[float], out: int,",
                "      r: int) -> Tensor:",
                "    shape = a.size()",
                "    b = shape[0]",
                "    m = b * (out + r)", // the index list: the m row numbers, then the b * out bag offsets
                "    idx = torch.tensor(index, dtype=4, device=a.device)",
                "    w = torch.tensor(weight, dtype=6, device=a.device)",
                "    y = torch.embedding_bag(a.flatten(0, 1), idx.narrow(0, 0, m), idx.narrow(0, m, b * out),",
                "        False, 0, False, w, False)[0]",
                "    return y.reshape([b, out] + shape[2:])",
                "");
    }

    public final long[] index;
    public final double[] weight;
    /** Tokens per image after the merge. */
    public final int out;
    /** Sources merged away per image. */
    public final int r;
    private final float[] sizes;
    private final long[] positions;

    RowMerge(long[] index, double[] weight, int out, int r, float[] sizes, long[] positions) {
        this.index = index;
        this.weight = weight;
        this.out = out;
        this.r = r;
        this.sizes = sizes;
        this.positions = positions;
    }

    /** {@code t} merged, in one engine call. */
    public Tokens apply(Tokens t) {
        return merged(t, ReduceKernels.merge(t.x, index, weight, out, r));
    }

    /**
     * The state after this merge of {@code t}, with {@code x} as its tokens (the merged rows, or what the model made
     * of them in the same call): sizes and positions as merged, the source matrix (when tracked) merged by summing.
     */
    public Tokens merged(Tokens t, NDArray x) {
        NDArray source = null;
        if (t.source != null) { // which original tokens each token holds
            double[] ones = new double[weight.length];
            java.util.Arrays.fill(ones, 1.0);
            source = ReduceKernels.merge(t.source, index, ones, out, r);
        }
        return new Tokens(x, sizes, positions, t.prefix, t.stash, null, null, source, t.keepsPruned);
    }
}
