package dev.vitrim.spark;

import dev.vitrim.arch.VitConfig;
import dev.vitrim.eval.Evaluation;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.Trace;
import java.io.Serializable;
import java.util.List;

/**
 * The sufficient statistics of an evaluation as integer sums, so partitions merge exactly in any order: images,
 * top-1 and top-5 hits, per-class counts and hits, tokens after each block, per class the fewest tokens an image ran
 * on, MACs, and the forward time. {@link #result()} turns them into the numbers {@link Evaluation#run} reports.
 */
final class EvalStats implements Serializable {
    private static final long serialVersionUID = 1L;

    long images;
    long correct1;
    long correct5;
    final long[] seen;
    final long[] right;
    final long[] tokens;
    final long[] classTokens;
    long macs;
    long nanos;

    EvalStats(int classes, int depth) {
        seen = new long[classes];
        right = new long[classes];
        tokens = new long[depth];
        classTokens = new long[classes];
    }

    /**
     * Adds one image: its logits row {@code logits[offset .. offset + classes)}, its label and the blocks the trace
     * recorded for it.
     */
    void add(VitConfig c, Macs.Plan plan, boolean perImageCounts, float[] logits, int offset, int y,
             List<Trace.Block> blocks) {
        int k = seen.length;
        int rank = 0;
        float v = logits[offset + y];
        for (int j = 0; j < k; j++) {
            float o = logits[offset + j];
            if (o > v || (o == v && j < y)) {
                rank++;
            }
        }
        images++;
        seen[y]++;
        if (rank == 0) {
            correct1++;
            right[y]++;
        }
        if (rank < 5) {
            correct5++;
        }
        int fewest = Integer.MAX_VALUE;
        for (int b = 0; b < blocks.size(); b++) {
            tokens[b] += blocks.get(b).tokens();
            fewest = Math.min(fewest, blocks.get(b).tokens());
        }
        classTokens[y] += fewest;
        macs += perImageCounts ? perImageMacs(c, blocks, plan) : plan.macs();
    }

    /** Each block runs on the tokens that entered it (reducers whose counts depend on the image). */
    static long perImageMacs(VitConfig c, List<Trace.Block> blocks, Macs.Plan plan) {
        long m = Macs.patchEmbed(c, c.numPatches()) + Macs.head(c) + plan.overhead();
        int entering = c.tokens();
        for (Trace.Block b : blocks) {
            m += Macs.attention(c, entering) + Macs.mlp(c, entering);
            entering = b.tokens();
        }
        return m;
    }

    /** Adds {@code o} into this (and returns this). */
    EvalStats merge(EvalStats o) {
        images += o.images;
        correct1 += o.correct1;
        correct5 += o.correct5;
        macs += o.macs;
        nanos += o.nanos;
        for (int j = 0; j < seen.length; j++) {
            seen[j] += o.seen[j];
            right[j] += o.right[j];
            classTokens[j] += o.classTokens[j];
        }
        for (int b = 0; b < tokens.length; b++) {
            tokens[b] += o.tokens[b];
        }
        return this;
    }

    /**
     * The evaluation's numbers; {@code imagesPerS} is images per second of forward time summed over the tasks, that
     * is per task slot.
     */
    Evaluation.Result result() {
        int k = seen.length;
        double n = images;
        double[] perClass = new double[k];
        double[] perClassTokens = new double[k];
        for (int j = 0; j < k; j++) {
            perClass[j] = seen[j] == 0 ? Double.NaN : (double) right[j] / seen[j];
            perClassTokens[j] = seen[j] == 0 ? Double.NaN : (double) classTokens[j] / seen[j];
        }
        double[] meanTokens = new double[tokens.length];
        for (int b = 0; b < tokens.length; b++) {
            meanTokens[b] = tokens[b] / n;
        }
        return new Evaluation.Result((int) images, correct1 / n, correct5 / n, perClass, n / (nanos / 1e9),
                meanTokens, macs / n / 1e9, perClassTokens);
    }
}
