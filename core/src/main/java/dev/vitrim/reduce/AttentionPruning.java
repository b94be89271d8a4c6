package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.arch.VitConfig;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;
import java.util.Set;

/**
 * Seed 000: attention-guided dynamic pruning. Importance of a patch = the CLS token's attention to it,
 * averaged over heads and renormalised over the patches present, averaged over the last {@code avg} blocks.
 * After each block from {@code start} on, keep a fraction of the patches entering that step that falls
 * linearly from {@code keep0} to {@code keep1} between the start block and the last block, never below the
 * floor; with {@code mass}, each image keeps the fewest patches whose importance sums to the mass (clamped
 * between the floor and the schedule), so counts differ per image. Prefix tokens are never pruned. With
 * {@code llf} (Last Layer Fusion, generalised from Token Cropr) the pruned patches are set aside and rejoin the
 * kept ones before the last block.
 */
public final class AttentionPruning implements TokenReducer {
    static final Set<String> KEYS = Set.of("keep", "start", "min", "avg", "mass", "llf");

    final double keep0;
    final double keep1;
    final int start;
    final double min;
    final int avg;
    final double mass; // NaN: off
    final boolean llf;

    /** The spec as the user wrote it, for error messages. */
    final String given;

    AttentionPruning(SpecParams p) {
        given = p.spec;
        double[] k = p.range("keep", 0.8, 0.4);
        keep0 = k[0];
        keep1 = k[1];
        start = p.integer("start", 3);
        min = p.dbl("min", 0.2);
        avg = p.integer("avg", 3);
        mass = p.has("mass") ? p.fraction("mass", 0.9) : Double.NaN;
        llf = p.bool("llf", false);
        if (llf && !Double.isNaN(mass)) {
            throw p.error("llf=true needs the same token count in every image; it cannot be combined with mass");
        }
        if (start < 0) {
            throw p.error("start=" + start + " must be a block index >= 0");
        }
        if (!(min > 0)) {
            throw p.error("min=" + min + " must be a fraction in (0, 1] or a token count >= 1");
        }
        if (min > 1 && min != Math.floor(min)) {
            throw p.error("min=" + min + " must be a fraction in (0, 1] or a whole token count");
        }
        if (avg < 1) {
            throw p.error("avg=" + avg + " must be at least 1");
        }
    }

    @Override
    public String spec() {
        return String.format(Locale.ROOT, "attn:keep=%s..%s,start=%d,min=%s,avg=%d%s", num(keep0), num(keep1), start,
                num(min), avg, Double.isNaN(mass) ? "" : ",mass=" + num(mass)) + (llf ? ",llf=true" : "");
    }

    static String num(double v) {
        return v == Math.floor(v) && v >= 1 ? Long.toString((long) v) : Double.toString(v);
    }

    @Override
    public void validate(VitConfig c) {
        if (start > c.depth() - 1) {
            throw new dev.vitrim.VitrimException("reducer '" + given + "': start=" + start
                    + " is beyond the last block (blocks 0.." + (c.depth() - 1) + ")");
        }
    }

    @Override
    public boolean perImageCounts() {
        return !Double.isNaN(mass);
    }

    /** Minimum patches kept: a fraction of the original patches (rounded up) or an absolute count. */
    int floor(int originalPatches) {
        int f = min <= 1 ? (int) Math.ceil(min * originalPatches - 1e-9) : (int) min;
        return Math.max(1, f);
    }

    boolean prunesAfter(int block, int depth) {
        return block >= start && block <= depth - 2;
    }

    double fraction(int block, int depth) {
        int span = depth - 1 - start;
        return span <= 0 ? keep0 : keep0 + (keep1 - keep0) * (block - start) / span;
    }

    /** Patches kept after {@code block} from {@code m} entering it (the schedule, without mass). */
    int scheduleCount(int block, int depth, int m, int originalPatches) {
        int c = (int) Math.ceil(fraction(block, depth) * m - 1e-9);
        return Math.min(m, Math.max(floor(originalPatches), c));
    }

    @Override
    public int countAfterBlock(VitConfig c, int block, int n, int[] stash) {
        if (!prunesAfter(block, c.depth())) {
            return n;
        }
        int m = n - c.prefixTokens();
        int k = scheduleCount(block, c.depth(), m, c.numPatches());
        if (llf) {
            stash[0] += m - k;
        }
        return c.prefixTokens() + k;
    }

    @Override
    public int countBeforeLastBlock(VitConfig c, int n, int[] stash) {
        return llf ? n + stash[0] : n;
    }

    @Override
    public long overheadMacs(VitConfig c, int block, int n) {
        boolean rows = block >= start - avg + 1 && block <= c.depth() - 2;
        return rows && !settled(n - c.prefixTokens(), c.numPatches()) ? (long) c.heads() * n : 0;
    }

    /** No later step can prune {@code m} patches: the floor is reached (pruning never goes below it). */
    boolean settled(int m, int originalPatches) {
        return m <= floor(originalPatches);
    }

    @Override
    public Pass begin(ModelView model, Tokens initial) {
        validate(model.config());
        return new AttnPass(model.config().depth(), initial.patches());
    }

    /**
     * Per image (rows of {@code score} [b,m], -inf where padded): how many of its patches, taken by importance from
     * the highest, hold less than {@code mass} of the total importance together (the cumulative share before
     * the patch that reaches the mass). In Java on the copied scores: a sort of a few hundred values, where
     * the engine would need ten calls.
     */
    static int[] belowMass(float[] score, int b, int m, double mass) {
        int[] out = new int[b];
        float[] row = new float[m];
        for (int i = 0; i < b; i++) {
            double total = 0;
            for (int j = 0; j < m; j++) {
                row[j] = Math.max(0f, score[i * m + j]);
                total += row[j];
            }
            java.util.Arrays.sort(row);
            double cum = 0;
            int n = 0;
            for (int j = m - 1; j >= 0; j--) {
                cum += row[j] / total;
                if (cum < mass) {
                    n++;
                }
            }
            out[i] = n;
        }
        return out;
    }

    /**
     * One forward. The CLS rows come to Java once per block ([B,M] floats); averaging, the mass cut-off, the top-k
     * and carrying the history along are plain loops, and the engine only gathers the kept tokens: at batch 1 an
     * engine call costs as much as all that arithmetic.
     */
    private final class AttnPass implements Pass {
        final int depth;
        final int originalPatches;
        /** Importance [B·M] of the patches present, per recent block, renormalised per image. */
        final Deque<float[]> history = new ArrayDeque<>();
        int historyPatches;
        /**
         * Every image is at the floor, so no later step prunes: the CLS rows, the scores and the gathers that would
         * change nothing are skipped (with the seed's defaults, the last three steps on a 197-token ViT).
         */
        boolean settled;

        AttnPass(int depth, int originalPatches) {
            this.depth = depth;
            this.originalPatches = originalPatches;
            this.settled = AttentionPruning.this.settled(originalPatches, originalPatches);
        }

        @Override
        public boolean needsClsAttention(int block) {
            return !settled && block >= start - avg + 1 && block <= depth - 2;
        }

        @Override
        public Tokens afterAttention(int block, Tokens t, AttentionView view) {
            if (!needsClsAttention(block)) {
                return t;
            }
            int b = t.batch();
            int m = t.patches();
            float[] row = view.clsAttention().toFloatArray(); // [B, prefix + M]
            float[] imp = new float[b * m];
            int n = t.prefix + m;
            for (int i = 0; i < b; i++) { // the patches' share, renormalised over the patches present
                float sum = 0;
                for (int j = 0; j < m; j++) {
                    sum += row[i * n + t.prefix + j];
                }
                for (int j = 0; j < m; j++) {
                    imp[i * m + j] = row[i * n + t.prefix + j] / sum;
                }
            }
            history.addLast(imp);
            historyPatches = m;
            if (history.size() > avg) {
                history.removeFirst();
            }
            return t;
        }

        @Override
        public Tokens afterBlock(int block, Tokens t) {
            if (!prunesAfter(block, depth) || settled) {
                return t;
            }
            int b = t.batch();
            int m = t.patches();
            if (historyPatches != m) {
                throw new dev.vitrim.VitrimException("reducer '" + given + "': another reducer changed the tokens of "
                        + "block " + block + " after attention; attn needs blocks of its own (e.g. tome:r=0/0/.../8)");
            }
            float[] score = new float[b * m];
            for (float[] h : history) {
                for (int j = 0; j < score.length; j++) {
                    score[j] += h[j];
                }
            }
            int[] entering = new int[b];
            int[] keep = new int[b];
            for (int i = 0; i < b; i++) {
                entering[i] = t.counts == null ? m : t.counts[i] - t.prefix;
                for (int j = 0; j < m; j++) {
                    score[i * m + j] = j < entering[i] ? score[i * m + j] / history.size() : Float.NEGATIVE_INFINITY;
                }
                keep[i] = scheduleCount(block, depth, entering[i], originalPatches);
            }
            if (!Double.isNaN(mass)) {
                int[] below = belowMass(score, b, m, mass);
                for (int i = 0; i < b; i++) {
                    keep[i] = Math.max(floor(originalPatches), Math.min(keep[i], below[i] + 1));
                }
            }
            int kmax = 0;
            boolean ragged = false;
            boolean prunes = false;
            boolean atFloor = true;
            for (int i = 0; i < b; i++) {
                kmax = Math.max(kmax, keep[i]);
                ragged |= keep[i] != keep[0];
                prunes |= keep[i] < entering[i];
                atFloor &= settled(keep[i], originalPatches);
            }
            settled = atFloor;
            if (!prunes) { // every image keeps all its patches: the tokens (and their history) stay as they are
                return t;
            }
            long[] idx = topK(score, b, m, kmax);
            Deque<float[]> kept = new ArrayDeque<>();
            for (float[] h : history) {
                float[] g = new float[b * kmax];
                for (int i = 0; i < b; i++) {
                    for (int j = 0; j < kmax; j++) {
                        g[i * kmax + j] = h[i * m + (int) idx[i * kmax + j]];
                    }
                }
                kept.addLast(g);
            }
            history.clear();
            history.addAll(kept);
            historyPatches = kmax;
            if (!ragged) {
                return llf ? t.keepPatchesStashingRest(idx, kmax) : t.keepPatches(idx, kmax);
            }
            Tokens out = t.keepPatches(idx, kmax);
            float[] mask = new float[b * (t.prefix + kmax)];
            for (int i = 0; i < b; i++) {
                for (int j = t.prefix + keep[i]; j < t.prefix + kmax; j++) {
                    mask[i * (t.prefix + kmax) + j] = Float.NEGATIVE_INFINITY;
                }
            }
            int[] counts = new int[b];
            for (int i = 0; i < b; i++) {
                counts[i] = t.prefix + keep[i];
            }
            NDArray maskArr = t.x.getManager().create(mask, new Shape(b, 1, 1, t.prefix + kmax));
            Tokens masked = out.withMask(maskArr, counts);
            if (!t.keepsPruned) {
                return masked;
            }
            long[][] gone = new long[b][]; // rows kept for the batch's width but masked out of image i: pruned there
            for (int i = 0; i < b; i++) {
                long[] g = new long[kmax - keep[i]];
                int c = 0;
                for (int j = keep[i]; j < kmax; j++) {
                    if (idx[i * kmax + j] < entering[i]) {
                        g[c++] = j;
                    }
                }
                gone[i] = java.util.Arrays.copyOf(g, c);
            }
            return masked.stashingForGrid(gone);
        }

        @Override
        public Tokens beforeLastBlock(Tokens t) {
            return llf ? t.rejoinStash() : t;
        }
    }

    /**
     * Per image (rows of {@code score} [b,m]), the indices of the k highest scores, highest first (ties: lower index
     * first). Each (score, index) pair is packed into one long whose natural order is that order, so this is a
     * primitive sort: cheap even before the JIT has compiled it, unlike a sort of boxed indices with a comparator
     * (which cost ~100 ms per batch-8 ViT-S forward until compiled, and compiling waits for a free core).
     */
    static long[] topK(float[] score, int b, int m, int k) {
        long[] out = new long[b * k];
        long[] keys = new long[m];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < m; j++) {
                keys[j] = ((long) ~sortable(score[i * m + j]) << 32) | j; // ascending = score descending, then index
            }
            java.util.Arrays.sort(keys);
            for (int j = 0; j < k; j++) {
                out[i * k + j] = keys[j] & 0xffffffffL;
            }
        }
        return out;
    }

    /** An int whose signed order is the float order (-inf lowest). */
    static int sortable(float f) {
        int bits = Float.floatToIntBits(f);
        return bits < 0 ? bits ^ 0x7fffffff : bits;
    }
}
