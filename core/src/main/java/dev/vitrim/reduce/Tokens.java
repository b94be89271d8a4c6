package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The token state between blocks: an immutable value. {@code x} [B,N,D] lives on the engine; the bookkeeping
 * lives in Java, because at small batches every engine call costs as much as the arithmetic it would do:
 * {@code sizes} [B·N] (how many original tokens each token stands for; null while every size is 1),
 * {@code positions} [B·N] (original index: CLS 0, patches 1..N, -1 for a fused token), both row-major per image.
 * {@code prefix} tokens (CLS, distillation) are never pruned or merged; the {@code stash} holds pruned tokens
 * (for Last Layer Fusion); an optional additive {@code keyMask} [B,1,1,N] (0 or -inf) when images of one batch
 * keep different numbers of tokens — padded tokens are masked out of every attention, so each image computes
 * exactly what it would alone; and, only when explaining, {@code source} [B,N,N0]: which original tokens each
 * token holds (merged like the sizes). The arrays are never written after construction.
 *
 * <p>With {@code keepsPruned} (dense outputs) every token a reducer prunes without stashing it itself goes to the
 * stash anyway, as it is at that moment, so {@link #patchGrid} finds a value for every patch: a pruned token's output
 * is its last value before it was pruned. Those stash entries are for the grid only: Last Layer Fusion
 * ({@link #rejoinStash}) brings back what a reducer stashed itself, and the grid-only entries stay.
 */
public final class Tokens {
    public final NDArray x;
    public final float[] sizes;
    public final long[] positions;
    public final int prefix;
    public final List<Stashed> stash;
    public final NDArray keyMask;
    /** Real (unpadded) token count per image when {@link #keyMask} is set; null otherwise. */
    public final int[] counts;
    public final NDArray source;
    /** Whether pruned tokens are kept for the output grid (dense models) even when the reducer drops them. */
    public final boolean keepsPruned;

    /**
     * Pruned tokens set aside, in the state they were in when pruned ({@code sizes}, {@code positions} [B·k]).
     * {@code gridOnly}: stashed for the output grid only ({@code keepsPruned}), not for Last Layer Fusion; its rows
     * may include filler rows at position -1 where images of a batch pruned different numbers of tokens.
     */
    public record Stashed(NDArray x, float[] sizes, long[] positions, NDArray source, boolean gridOnly) {
        public Stashed(NDArray x, float[] sizes, long[] positions, NDArray source) {
            this(x, sizes, positions, source, false);
        }

        int count() {
            return (int) x.getShape().get(1);
        }
    }

    public Tokens(NDArray x, float[] sizes, long[] positions, int prefix, List<Stashed> stash, NDArray keyMask,
                  int[] counts, NDArray source) {
        this(x, sizes, positions, prefix, stash, keyMask, counts, source, false);
    }

    public Tokens(NDArray x, float[] sizes, long[] positions, int prefix, List<Stashed> stash, NDArray keyMask,
                  int[] counts, NDArray source, boolean keepsPruned) {
        long want = x.getShape().get(0) * x.getShape().get(1);
        if (positions.length != want || (sizes != null && sizes.length != want)) {
            throw new IllegalArgumentException("tokens " + x.getShape() + " with " + positions.length + " positions"
                    + (sizes == null ? "" : " and " + sizes.length + " sizes"));
        }
        this.x = x;
        this.sizes = sizes;
        this.positions = positions;
        this.prefix = prefix;
        this.stash = Collections.unmodifiableList(stash);
        this.keyMask = keyMask;
        this.counts = counts;
        this.source = source;
        this.keepsPruned = keepsPruned;
    }

    /** Fresh tokens straight after the embedding: positions 0..N-1 (prefix first). */
    public static Tokens initial(NDArray x, int prefix) {
        return initial(x, prefix, false);
    }

    /** Fresh tokens; with {@code trackSource} each token also records which original tokens it holds. */
    public static Tokens initial(NDArray x, int prefix, boolean trackSource) {
        Shape s = x.getShape();
        int b = (int) s.get(0);
        int n = (int) s.get(1);
        long[] pos = new long[b * n];
        for (int i = 0; i < pos.length; i++) {
            pos[i] = i % n;
        }
        NDArray source = null;
        if (trackSource) {
            source = x.getManager().eye(n).expandDims(0).repeat(0, b);
        }
        return new Tokens(x, null, pos, prefix, List.of(), null, null, source);
    }

    /** This state with pruned tokens kept for the output grid from now on (see {@link #keepsPruned}). */
    public Tokens keepingPruned() {
        return keepsPruned ? this : new Tokens(x, sizes, positions, prefix, stash, keyMask, counts, source, true);
    }

    public int batch() {
        return (int) x.getShape().get(0);
    }

    /** Tokens per image including padding. */
    public int count() {
        return (int) x.getShape().get(1);
    }

    /** Non-prefix tokens per image including padding. */
    public int patches() {
        return count() - prefix;
    }

    public int width() {
        return (int) x.getShape().get(2);
    }

    public Tokens withX(NDArray nx) {
        return new Tokens(nx, sizes, positions, prefix, stash, keyMask, counts, source, keepsPruned);
    }

    /** The size of token {@code row} (of all tokens, row-major per image): 1 while no sizes are kept. */
    public float size(int row) {
        return sizes == null ? 1f : sizes[row];
    }

    /** log(size) of every token, row-major per image; null while every size is 1 (log 1 = 0). */
    public double[] logSizes() {
        if (sizes == null) {
            return null;
        }
        double[] log = new double[sizes.length];
        for (int i = 0; i < log.length; i++) {
            log[i] = Math.log(sizes[i]);
        }
        return log;
    }

    /**
     * Proportional attention's bias, log(size) of every key, as [B,1,1,N]; null while every size is 1 (log 1 = 0).
     */
    public NDArray logSizeBias() {
        if (sizes == null) {
            return null;
        }
        float[] log = new float[sizes.length];
        for (int i = 0; i < log.length; i++) {
            log[i] = (float) Math.log(sizes[i]);
        }
        return x.getManager().create(log, new Shape(batch(), 1, 1, count()));
    }

    /**
     * Keeps the prefix tokens plus the non-prefix tokens at {@code patchIdx} [B,k] (indices counted among
     * the non-prefix tokens), in that order.
     */
    public Tokens keepPatches(NDArray patchIdx) {
        return keepPatches(patchIdx.toLongArray(), (int) patchIdx.getShape().get(1));
    }

    /**
     * Keeps, per image i, the prefix tokens plus the non-prefix tokens {@code patchIdx[i*k .. i*k+k)} (indices
     * counted among the non-prefix tokens), in that order. The index arithmetic is done here in Java and each
     * tensor is then one gather of rows: at batch 1 every engine call costs as much as a small gather itself.
     */
    public Tokens keepPatches(long[] patchIdx, int k) {
        int b = batch();
        int n = count();
        int w = prefix + k;
        long[] rows = new long[b * w];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < prefix; j++) {
                rows[i * w + j] = (long) i * n + j;
            }
            for (int j = 0; j < k; j++) {
                rows[i * w + prefix + j] = (long) i * n + prefix + patchIdx[i * k + j];
            }
        }
        List<Stashed> s = stash;
        if (keepsPruned) {
            s = withDropped(patchIdx, k);
        }
        return new Tokens(rowsOf(x, rows, w), pick(sizes, rows), pick(positions, rows), prefix, s, null, null,
                rowsOf(source, rows, w), keepsPruned);
    }

    /**
     * The stash plus, as a grid-only entry, the real non-prefix tokens of each image that {@code patchIdx} (k per
     * image) does not keep; the stash alone when that is none.
     */
    private List<Stashed> withDropped(long[] patchIdx, int k) {
        int b = batch();
        int m = patches();
        long[][] gone = new long[b][];
        for (int i = 0; i < b; i++) {
            int real = counts == null ? m : counts[i] - prefix;
            boolean[] kept = new boolean[m];
            for (int j = 0; j < k; j++) {
                kept[(int) patchIdx[i * k + j]] = true;
            }
            long[] g = new long[real];
            int c = 0;
            for (int j = 0; j < real; j++) {
                if (!kept[j]) {
                    g[c++] = j;
                }
            }
            gone[i] = java.util.Arrays.copyOf(g, c);
        }
        return stashGridOnly(gone);
    }

    /**
     * This state with, per image i, the non-prefix tokens {@code gone[i]} (indices among the non-prefix tokens)
     * added to the stash as a grid-only entry (images with fewer get filler rows at position -1); unchanged unless
     * {@link #keepsPruned}. For reducers that stop attending to tokens without removing their rows (per-image
     * counts): the masked rows are pruned for the grid from that moment.
     */
    public Tokens stashingForGrid(long[][] gone) {
        if (!keepsPruned) {
            return this;
        }
        return new Tokens(x, sizes, positions, prefix, stashGridOnly(gone), keyMask, counts, source, true);
    }

    private List<Stashed> stashGridOnly(long[][] gone) {
        int b = batch();
        int n = count();
        int k = 0;
        for (long[] g : gone) {
            k = Math.max(k, g.length);
        }
        if (k == 0) {
            return stash;
        }
        long[] rows = new long[b * k];
        long[] pos = new long[b * k];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < k; j++) {
                boolean real = j < gone[i].length;
                long row = (long) i * n + prefix + (real ? gone[i][j] : 0);
                rows[i * k + j] = row;
                pos[i * k + j] = real ? positions[(int) row] : -1;
            }
        }
        List<Stashed> s = new ArrayList<>(stash);
        s.add(new Stashed(rowsOf(x, rows, k), pick(sizes, rows), pos, rowsOf(source, rows, k), true));
        return s;
    }

    /**
     * Keeps the non-prefix tokens at {@code patchIdx} (k per image, as {@link #keepPatches(long[], int)}) and stashes
     * every other one for Last Layer Fusion. Every image must keep the same count.
     */
    public Tokens keepPatchesStashingRest(long[] patchIdx, int k) {
        if (counts != null) {
            throw new IllegalStateException("stashing for Last Layer Fusion needs the same token count in every image");
        }
        int b = batch();
        int m = patches();
        int p = m - k;
        long[] gone = new long[b * p];
        for (int i = 0; i < b; i++) {
            boolean[] kept = new boolean[m];
            for (int j = 0; j < k; j++) {
                kept[(int) patchIdx[i * k + j]] = true;
            }
            int c = 0;
            for (int j = 0; j < m; j++) {
                if (!kept[j]) {
                    gone[i * p + c++] = j;
                }
            }
        }
        return stashing(gone, p, keepPatches(patchIdx, k));
    }

    /**
     * {@code kept} with the non-prefix tokens {@code patchIdx[i*k .. i*k+k)} of this state (indices among the
     * non-prefix tokens, per image i) added to the stash, as they are now.
     */
    public Tokens stashing(long[] patchIdx, int k, Tokens kept) {
        int b = batch();
        int n = count();
        long[] rows = new long[b * k];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < k; j++) {
                rows[i * k + j] = (long) i * n + prefix + patchIdx[i * k + j];
            }
        }
        List<Stashed> s = new ArrayList<>(stash);
        s.add(new Stashed(rowsOf(x, rows, k), pick(sizes, rows), pick(positions, rows), rowsOf(source, rows, k)));
        return new Tokens(kept.x, kept.sizes, kept.positions, prefix, s, kept.keyMask, kept.counts, kept.source,
                keepsPruned);
    }

    /**
     * Last Layer Fusion: the stash joins the kept tokens again (after them, per image), and the stash empties.
     * Grid-only entries ({@link Stashed#gridOnly}) stay in the stash and do not join.
     */
    public Tokens rejoinStash() {
        List<Stashed> gridOnly = new ArrayList<>();
        List<Stashed> joining = new ArrayList<>();
        for (Stashed s : stash) {
            (s.gridOnly() ? gridOnly : joining).add(s);
        }
        if (joining.isEmpty()) {
            return this;
        }
        if (counts != null) {
            throw new IllegalStateException("Last Layer Fusion with per-image token counts is not supported");
        }
        int b = batch();
        NDList xs = new NDList(x);
        NDList src = new NDList(source);
        int total = count();
        boolean anySizes = sizes != null;
        for (Stashed s : joining) {
            xs.add(s.x());
            src.add(s.source());
            total += s.count();
            anySizes |= s.sizes() != null;
        }
        long[] pos = new long[b * total];
        float[] sz = anySizes ? new float[b * total] : null;
        for (int i = 0; i < b; i++) {
            int at = i * total;
            at = append(positions, sizes, i, count(), pos, sz, at);
            for (Stashed s : joining) {
                at = append(s.positions(), s.sizes(), i, s.count(), pos, sz, at);
            }
        }
        return new Tokens(concat(xs), sz, pos, prefix, gridOnly, null, null, source == null ? null : concat(src),
                keepsPruned);
    }

    /** Copies image {@code i}'s {@code n} positions and sizes (ones when null) to {@code at}; returns the end. */
    private static int append(long[] pos, float[] sz, int i, int n, long[] toPos, float[] toSz, int at) {
        System.arraycopy(pos, i * n, toPos, at, n);
        if (toSz != null) {
            if (sz == null) {
                java.util.Arrays.fill(toSz, at, at + n, 1f);
            } else {
                System.arraycopy(sz, i * n, toSz, at, n);
            }
        }
        return at + n;
    }

    /**
     * The patch tokens back on the original grid, in original order: [B, patches, D], row p holding what stands at
     * original position {@code prefix + p}. A kept token is itself; a pruned token that was stashed stands at its
     * position with the value it had when pruned; a merged token's value is copied to every position it absorbed
     * (ToMe's unmerge; this needs the sources, {@code Tokens.initial(x, prefix, true)}). Padded rows (per-image
     * counts) and fused tokens are not part of the grid. A position held by no token is an error: the reducer
     * dropped it without stashing.
     */
    public NDArray patchGrid(int patches) {
        int b = batch();
        int n = count();
        if (stash.isEmpty() && sizes == null && counts == null && n == prefix + patches && isIdentity()) {
            return x.get(new ai.djl.ndarray.index.NDIndex(":, {}:, :", prefix));
        }
        NDList xs = new NDList(x);
        int total = n;
        for (Stashed s : stash) {
            xs.add(s.x());
            total += s.count();
        }
        long[] rows = new long[b * patches];
        java.util.Arrays.fill(rows, -1);
        if (sizes != null || stash.stream().anyMatch(s -> s.sizes() != null)) {
            if (source == null) {
                throw new IllegalStateException("merged tokens go back to the grid only with their sources tracked "
                        + "(Tokens.initial(x, prefix, true))");
            }
            NDList src = new NDList(source);
            for (Stashed s : stash) {
                src.add(s.source());
            }
            // owner of each original token: the one row whose source holds it (real rows only; padding holds none)
            long[] owner = concat(src).argMax(1).toLongArray(); // [B, N0]
            int n0 = owner.length / b;
            for (int i = 0; i < b; i++) {
                for (int p = 0; p < patches; p++) {
                    rows[i * patches + p] = (long) i * total + owner[i * n0 + prefix + p];
                }
            }
        } else {
            for (int i = 0; i < b; i++) {
                int real = counts == null ? n : counts[i];
                place(rows, i, patches, positions, i * n, real, (long) i * total);
                int at = n;
                for (Stashed s : stash) {
                    int k = s.count();
                    place(rows, i, patches, s.positions(), i * k, k, (long) i * total + at);
                    at += k;
                }
            }
        }
        for (int i = 0; i < rows.length; i++) {
            if (rows[i] < 0) {
                throw new IllegalStateException("patch " + (i % patches) + " of image " + (i / patches) + " is held by "
                        + "no token: the reducer dropped it without stashing (dense outputs need every position)");
            }
        }
        return rowsOf(concat(xs), rows, patches);
    }

    private boolean isIdentity() {
        int n = count();
        for (int i = 0; i < positions.length; i++) {
            if (positions[i] != i % n) {
                return false;
            }
        }
        return true;
    }

    /** Rows {@code base + j} hold positions {@code pos[from + j]}, j &lt; len: where each patch of image i stands. */
    private void place(long[] rows, int i, int patches, long[] pos, int from, int len, long base) {
        for (int j = 0; j < len; j++) {
            long p = pos[from + j] - prefix;
            if (p >= 0 && p < patches && rows[i * patches + (int) p] < 0) {
                rows[i * patches + (int) p] = base + j;
            }
        }
    }

    public Tokens withMask(NDArray mask, int[] perImage) {
        return new Tokens(x, sizes, positions, prefix, stash, mask, perImage, source, keepsPruned);
    }

    static NDArray concat(NDList parts) {
        return parts.size() == 1 ? parts.get(0) : ai.djl.ndarray.NDArrays.concat(parts, 1);
    }

    /** {@code a} at {@code rows}; null stays null. */
    static float[] pick(float[] a, long[] rows) {
        if (a == null) {
            return null;
        }
        float[] out = new float[rows.length];
        for (int i = 0; i < rows.length; i++) {
            out[i] = a[(int) rows[i]];
        }
        return out;
    }

    static long[] pick(long[] a, long[] rows) {
        long[] out = new long[rows.length];
        for (int i = 0; i < rows.length; i++) {
            out[i] = a[(int) rows[i]];
        }
        return out;
    }

    /**
     * {@code a} [B,N,…] at {@code rows} (numbers of rows of {@code a} viewed as [B·N, …], k per image) → [B,k,…]:
     * one index-select in one engine call. Null stays null.
     */
    static NDArray rowsOf(NDArray a, long[] rows, int k) {
        return a == null ? null : ReduceKernels.rows(a, rows, k);
    }
}
