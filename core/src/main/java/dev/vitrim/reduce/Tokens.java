package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The token state between blocks: an immutable value. {@code x} [B,N,D]; {@code sizes} [B,N,1] (how many
 * original tokens each token stands for; null while every size is 1); {@code positions} [B,N] int64 (original
 * index: CLS 0, patches 1..N, -1 for a fused token); {@code prefix} tokens (CLS, distillation) that are never
 * pruned or merged; the {@code stash} of pruned tokens (for Last Layer Fusion); an optional additive
 * {@code keyMask} [B,1,1,N] (0 or -inf) when images of one batch keep different numbers of tokens — padded
 * tokens are masked out of every attention, so each image computes exactly what it would alone; and, only when
 * explaining, {@code source} [B,N,N0]: which original tokens each token holds (merged like the sizes).
 */
public final class Tokens {
    public final NDArray x;
    public final NDArray sizes;
    public final NDArray positions;
    public final int prefix;
    public final List<Stashed> stash;
    public final NDArray keyMask;
    /** Real (unpadded) token count per image when {@link #keyMask} is set; null otherwise. */
    public final int[] counts;
    public final NDArray source;

    /** Pruned tokens set aside, in the state they were in when pruned. */
    public record Stashed(NDArray x, NDArray sizes, NDArray positions, NDArray source) {}

    public Tokens(NDArray x, NDArray sizes, NDArray positions, int prefix, List<Stashed> stash, NDArray keyMask,
                  int[] counts, NDArray source) {
        this.x = x;
        this.sizes = sizes;
        this.positions = positions;
        this.prefix = prefix;
        this.stash = Collections.unmodifiableList(stash);
        this.keyMask = keyMask;
        this.counts = counts;
        this.source = source;
    }

    /** Fresh tokens straight after the embedding: positions 0..N-1 (prefix first). */
    public static Tokens initial(NDArray x, int prefix) {
        return initial(x, prefix, false);
    }

    /** Fresh tokens; with {@code trackSource} each token also records which original tokens it holds. */
    public static Tokens initial(NDArray x, int prefix, boolean trackSource) {
        Shape s = x.getShape();
        NDManager m = x.getManager();
        NDArray pos = m.arange(0, (int) s.get(1), 1, DataType.INT64).expandDims(0).repeat(0, s.get(0));
        NDArray source = null;
        if (trackSource) {
            source = m.eye((int) s.get(1)).expandDims(0).repeat(0, s.get(0));
        }
        return new Tokens(x, null, pos, prefix, List.of(), null, null, source);
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
        return new Tokens(nx, sizes, positions, prefix, stash, keyMask, counts, source);
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
        NDArray r = x.getManager().create(rows);
        return new Tokens(rowsOf(x, r, w), rowsOf(sizes, r, w), rowsOf(positions, r, w), prefix, stash, null, null,
                rowsOf(source, r, w));
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
        NDArray r = x.getManager().create(rows);
        List<Stashed> s = new ArrayList<>(stash);
        s.add(new Stashed(rowsOf(x, r, k), rowsOf(sizes, r, k), rowsOf(positions, r, k), rowsOf(source, r, k)));
        return new Tokens(kept.x, kept.sizes, kept.positions, prefix, s, kept.keyMask, kept.counts, kept.source);
    }

    /** Last Layer Fusion: the stash joins the kept tokens again (after them), and the stash empties. */
    public Tokens rejoinStash() {
        if (stash.isEmpty()) {
            return this;
        }
        NDList xs = new NDList(x);
        NDList ps = new NDList(positions);
        NDList src = new NDList(source);
        boolean anySizes = sizes != null || stash.stream().anyMatch(s -> s.sizes() != null);
        NDList ss = new NDList(anySizes ? sizesOrOnes() : null);
        for (Stashed s : stash) {
            xs.add(s.x());
            ps.add(s.positions());
            src.add(s.source());
            if (anySizes) {
                ss.add(s.sizes() != null ? s.sizes() : s.x().getManager().ones(
                        new Shape(s.x().getShape().get(0), s.x().getShape().get(1), 1)));
            }
        }
        return new Tokens(concat(xs), anySizes ? concat(ss) : null, concat(ps), prefix, List.of(), null, null,
                source == null ? null : concat(src));
    }

    public Tokens withMask(NDArray mask, int[] perImage) {
        return new Tokens(x, sizes, positions, prefix, stash, mask, perImage, source);
    }

    public NDArray sizesOrOnes() {
        return sizes != null ? sizes : x.getManager().ones(new Shape(batch(), count(), 1));
    }

    static NDArray concat(NDList parts) {
        return parts.size() == 1 ? parts.get(0) : ai.djl.ndarray.NDArrays.concat(parts, 1);
    }

    /**
     * {@code a} [B,N,…] at {@code rows} (numbers of rows of {@code a} viewed as [B·N, …], k per image) → [B,k,…]:
     * one index-select, about twice as fast in libtorch as a gather with an expanded index. Null stays null.
     */
    static NDArray rowsOf(NDArray a, NDArray rows, int k) {
        if (a == null) {
            return null;
        }
        long[] s = a.getShape().getShape();
        long[] flat = java.util.Arrays.copyOfRange(s, 1, s.length);
        flat[0] = s[0] * s[1];
        long[] out = s.clone();
        out[1] = k;
        return a.reshape(new Shape(flat)).get(rows).reshape(new Shape(out));
    }
}
