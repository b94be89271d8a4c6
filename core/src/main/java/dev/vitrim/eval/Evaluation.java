package dev.vitrim.eval;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.BatchLoader;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Accuracy and cost of a model, reduced or not, on labelled images: top-1, top-5, per-class accuracy,
 * images/s, mean tokens after each block and GMACs per image (exact per image when the reducer's counts
 * depend on the image, from the schedule otherwise), and per class the mean of the fewest tokens an image ran on
 * (the leanest block), which shows whether a per-image reducer such as {@code attn:mass} spends fewer tokens on
 * some classes.
 */
public final class Evaluation {
    private Evaluation() {}

    public record Result(int images, double top1, double top5, double[] perClass, double imagesPerS,
                         double[] meanTokens, double gmacs, double[] perClassTokens) {}

    public static Result run(VisionTransformer vit, LabeledImages data, ImageTransform transform, TokenReducer reducer,
                             int batch, IntConsumer progress) {
        VitConfig c = vit.config();
        if (c.numClasses() != data.numClasses()) {
            throw new VitrimException(data.name() + " has " + data.numClasses() + " classes but the model has "
                    + c.numClasses() + " outputs");
        }
        int k = c.numClasses();
        int s = transform.pre().size();
        int n = data.size();
        long correct1 = 0;
        long correct5 = 0;
        long[] seen = new long[k];
        long[] right = new long[k];
        double[] tokens = new double[c.depth()];
        double[] classTokens = new double[k];
        Macs.Plan plan = Macs.plan(c, reducer);
        double macs = 0;
        long nanos = 0;
        int done = 0;
        try (BatchLoader loader = new BatchLoader(data, transform, batch, false, 0, 0, 2)) {
            while (loader.hasNext()) {
                BatchLoader.Batch b = loader.next();
                Trace trace = new Trace();
                long t0 = System.nanoTime();
                FloatTensor logits = vit.forward(new FloatTensor(new long[] {b.size(), 3, s, s}, b.x()), reducer, trace);
                nanos += System.nanoTime() - t0;
                for (int i = 0; i < b.size(); i++) {
                    int y = b.y()[i];
                    int rank = 0;
                    float v = logits.data()[i * k + y];
                    for (int j = 0; j < k; j++) {
                        float o = logits.data()[i * k + j];
                        if (o > v || (o == v && j < y)) {
                            rank++;
                        }
                    }
                    seen[y]++;
                    if (rank == 0) {
                        correct1++;
                        right[y]++;
                    }
                    if (rank < 5) {
                        correct5++;
                    }
                    List<Trace.Block> blocks = trace.images().get(i);
                    int fewest = Integer.MAX_VALUE;
                    for (int blk = 0; blk < blocks.size(); blk++) {
                        tokens[blk] += blocks.get(blk).tokens();
                        fewest = Math.min(fewest, blocks.get(blk).tokens());
                    }
                    classTokens[y] += fewest;
                    macs += reducer.perImageCounts() ? perImageMacs(c, blocks, plan) : plan.macs();
                }
                done += b.size();
                if (progress != null) {
                    progress.accept(done);
                }
            }
        }
        double[] perClass = new double[k];
        for (int j = 0; j < k; j++) {
            perClass[j] = seen[j] == 0 ? Double.NaN : (double) right[j] / seen[j];
            classTokens[j] = seen[j] == 0 ? Double.NaN : classTokens[j] / seen[j];
        }
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] /= n;
        }
        return new Result(n, (double) correct1 / n, (double) correct5 / n, perClass, n / (nanos / 1e9), tokens,
                macs / n / 1e9, classTokens);
    }

    /**
     * How far a model's outputs are from a reference model's on the same images, e.g. bf16 or int8 against fp32:
     * {@code changed} top-1 predictions (ties: the lower class), the reference's top-1, and the absolute differences
     * of the logits (mean and largest over every image and class), with the reference's mean absolute logit for
     * scale.
     */
    public record Agreement(int images, int changed, double refTop1, double meanAbsDiff, double maxAbsDiff,
                            double meanAbsRef) {}

    /**
     * Runs {@code vit} and {@code ref} batch by batch on the same decoded images with the same reducer and compares
     * their logits (see {@link Agreement}); the two must have the same number of classes as {@code data}.
     */
    public static Agreement agreement(VisionTransformer vit, VisionTransformer ref, LabeledImages data,
                                      ImageTransform transform, TokenReducer reducer, int batch) {
        for (VisionTransformer m : List.of(vit, ref)) {
            if (m.config().numClasses() != data.numClasses()) {
                throw new VitrimException(data.name() + " has " + data.numClasses() + " classes but the model has "
                        + m.config().numClasses() + " outputs");
            }
        }
        int k = data.numClasses();
        int s = transform.pre().size();
        int changed = 0;
        int right = 0;
        double sumDiff = 0;
        double maxDiff = 0;
        double sumRef = 0;
        try (BatchLoader loader = new BatchLoader(data, transform, batch, false, 0, 0, 2)) {
            while (loader.hasNext()) {
                BatchLoader.Batch b = loader.next();
                FloatTensor x = new FloatTensor(new long[] {b.size(), 3, s, s}, b.x());
                float[] got = vit.forward(x, reducer, null).data();
                float[] want = ref.forward(x, reducer, null).data();
                for (int i = 0; i < b.size(); i++) {
                    int g = argmax(got, i * k, k);
                    int w = argmax(want, i * k, k);
                    changed += g != w ? 1 : 0;
                    right += w == b.y()[i] ? 1 : 0;
                    for (int j = i * k; j < (i + 1) * k; j++) {
                        double d = Math.abs((double) got[j] - want[j]);
                        sumDiff += d;
                        maxDiff = Math.max(maxDiff, d);
                        sumRef += Math.abs(want[j]);
                    }
                }
            }
        }
        int n = data.size();
        return new Agreement(n, changed, (double) right / n, sumDiff / ((double) n * k), maxDiff,
                sumRef / ((double) n * k));
    }

    private static int argmax(float[] v, int from, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) {
            if (v[from + j] > v[from + best]) {
                best = j;
            }
        }
        return best;
    }

    /** For reducers that prune after blocks (attn with mass): each block runs on the tokens that entered it. */
    private static double perImageMacs(VitConfig c, List<Trace.Block> blocks, Macs.Plan plan) {
        double m = Macs.patchEmbed(c, c.numPatches()) + Macs.head(c) + plan.overhead();
        int entering = c.tokens();
        for (Trace.Block b : blocks) {
            m += Macs.attention(c, entering) + Macs.mlp(c, entering);
            entering = b.tokens();
        }
        return m;
    }
}
