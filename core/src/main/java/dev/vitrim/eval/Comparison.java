package dev.vitrim.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.VitrimException;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.engine.Torch;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Token-reduction methods side by side on one model and one labelled data set. For each method: top-1 accuracy
 * and mean GMACs per image ({@link Evaluation}), and its speed measured against the unreduced model in the same
 * process ({@link Benchmark#interleaved}: unreduced, reduced, unreduced, …, medians after warm-up) on a fixed batch
 * of the data's first images. The unreduced model's own row reports the median of its interleaved timings.
 */
public final class Comparison {
    /** Images per forward in the accuracy passes (the speed runs use {@link Timing#batch()}). */
    public static final int EVAL_BATCH = 64;

    private Comparison() {}

    /**
     * A method to compare: a short name for tables, the reducer, and the model it runs on: {@code null} for the
     * compared model, or another checkpoint of the same architecture (e.g. one trained with the reducer on, such as a
     * Token Cropr model whose queries the reducer needs). Its speed is still measured against the compared model,
     * unreduced.
     */
    public record Method(String name, TokenReducer reducer, VisionTransformer model) {
        /** A method that runs on the compared model. */
        public Method(String name, TokenReducer reducer) {
            this(name, reducer, null);
        }

        /** The spec that re-creates the reducer ({@code vitrim eval --reduce SPEC}). */
        public String spec() {
            return reducer.spec();
        }

        /** The model this method runs on, given the compared one. */
        public VisionTransformer on(VisionTransformer compared) {
            return model != null ? model : compared;
        }
    }

    /**
     * How speed is measured: batch size, unmeasured warm-up pairs, minimum measured pairs and minimum seconds per
     * method.
     */
    public record Timing(int batch, int warmup, int minRuns, double minSeconds) {
        public Timing {
            if (batch < 1 || warmup < 0 || minRuns < 1 || minSeconds < 0) {
                throw new VitrimException("timing: batch and runs must be at least 1, warm-up and seconds at least 0"
                        + " (got batch " + batch + ", warm-up " + warmup + ", runs " + minRuns + ", seconds "
                        + minSeconds + ")");
            }
        }
    }

    /**
     * One method's figures. {@code gmacs} is the measured mean per image (exact per image for reducers whose
     * counts depend on the image); {@code imagesPerS} and {@code baselineImagesPerS} are medians at the timing
     * batch size, {@code speedup} their ratio; {@code runs} measured pairs.
     */
    public record Row(String name, String spec, double top1, double gmacs, double[] meanTokens, double imagesPerS,
                      double baselineImagesPerS, double speedup, int runs) {}

    /**
     * All rows, in the order the methods were given, with what they were measured on: the data set's name and
     * image count, the timing batch size, and the unreduced model's GMACs per image.
     */
    public record Result(String data, int images, int batch, double baselineGmacs, List<Row> rows) {}

    /** Progress of a long run: {@code done} of {@code total} units of {@code task} ("accuracy" or "speed"). */
    public interface Progress {
        void update(String task, long done, long total);
    }

    /**
     * A seeded sample of {@code limit} images, kept in data order ({@code limit <= 0} or not smaller than the data:
     * all of it).
     */
    public static LabeledImages sample(LabeledImages data, int limit, long seed) {
        int n = data.size();
        if (limit <= 0 || limit >= n) {
            return data;
        }
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Random r = new Random(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int[] pick = Arrays.copyOf(order, limit);
        Arrays.sort(pick);
        return data.subset(pick, data.name() + " (" + limit + " of " + n + ", seed " + seed + ")");
    }

    /** Measures every method on all of {@code data}; {@code progress} may be null. */
    public static Result run(VisionTransformer vit, LabeledImages data, List<Method> methods, Timing timing,
                             Progress progress) {
        if (methods.isEmpty()) {
            throw new VitrimException("comparison: no methods given");
        }
        if (data.size() == 0) {
            throw new VitrimException(data.name() + ": no images to compare on");
        }
        for (Method m : methods) {
            check(vit, m);
        }
        ImageTransform t = new ImageTransform(vit.config().preprocess(), 0, false);
        Progress p = progress != null ? progress : (task, done, total) -> { };
        int n = data.size();
        long total = (long) n * methods.size();
        List<Evaluation.Result> acc = new ArrayList<>();
        for (int i = 0; i < methods.size(); i++) {
            long before = (long) i * n;
            Method m = methods.get(i);
            acc.add(Evaluation.run(m.on(vit), data, t, m.reducer(), EVAL_BATCH,
                    done -> p.update("accuracy", before + done, total)));
        }
        Benchmark.Timing[][] speed = time(vit, data, t, methods, timing, p);
        double[] baselineMedians = new double[methods.size()];
        int timed = 0;
        for (Benchmark.Timing[] s : speed) {
            if (s != null) {
                baselineMedians[timed++] = s[0].medianMs();
            }
        }
        double[] sorted = Arrays.copyOf(baselineMedians, timed);
        Arrays.sort(sorted);
        double b = timing.batch();
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < methods.size(); i++) {
            Method m = methods.get(i);
            Evaluation.Result e = acc.get(i);
            Benchmark.Timing[] s = speed[i];
            double base = b / ((s == null ? Benchmark.median(sorted) : s[0].medianMs()) / 1e3);
            double ips = s == null ? base : b / (s[1].medianMs() / 1e3);
            int runs = s == null ? (int) Arrays.stream(speed).filter(x -> x != null).mapToInt(x -> x[0].runs()).sum()
                    : s[0].runs();
            rows.add(new Row(m.name(), m.spec(), e.top1(), e.gmacs(), e.meanTokens(), ips, base, ips / base, runs));
        }
        return new Result(data.name(), n, timing.batch(), Macs.unreduced(vit.config()) / 1e9, rows);
    }

    /**
     * Checks that {@code m} can run here: its reducer fits its model, and a model of its own has the compared model's
     * architecture ({@link dev.vitrim.arch.VitConfig#networkShape}) and preprocessing (otherwise neither its accuracy nor its speed
     * would be comparable).
     */
    public static void check(VisionTransformer vit, Method m) {
        VisionTransformer own = m.on(vit);
        if (own != vit) {
            String a = vit.config().networkShape();
            String b = own.config().networkShape();
            if (!a.equals(b) || !vit.config().preprocess().equals(own.config().preprocess())) {
                throw new VitrimException("method " + m.name() + ": its model (" + b + ") is not the compared model's "
                        + "architecture (" + a + ") or expects other preprocessing");
            }
        }
        m.reducer().validate(own.config());
    }

    /**
     * Each reduced method interleaved with the unreduced model; {@code null} for the unreduced method itself (its
     * figure is the median of the others' baselines). With no reduced method, the unreduced model is timed alone.
     */
    private static Benchmark.Timing[][] time(VisionTransformer vit, LabeledImages data, ImageTransform t,
                                             List<Method> methods, Timing timing, Progress p) {
        Benchmark.Timing[][] out = new Benchmark.Timing[methods.size()][];
        int s = t.pre().size();
        int per = 3 * s * s;
        float[] x = new float[timing.batch() * per];
        for (int i = 0; i < timing.batch(); i++) {
            t.apply(data, i % data.size(), x, i * per, null);
        }
        long reduced = methods.stream().filter(m -> m.reducer() != Reducers.NONE).count();
        try (NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            NDArray input = m.create(x, new Shape(timing.batch(), 3, s, s));
            Runnable none = Benchmark.forward(m, input, vit, Reducers.NONE);
            if (reduced == 0) {
                Benchmark.Timing alone = Benchmark.time(none, timing.warmup(), timing.minRuns(), 1000,
                        timing.minSeconds());
                Arrays.fill(out, new Benchmark.Timing[] {alone, alone});
                p.update("speed", 1, 1);
                return out;
            }
            int done = 0;
            for (int i = 0; i < methods.size(); i++) {
                TokenReducer r = methods.get(i).reducer();
                if (r == Reducers.NONE) {
                    continue;
                }
                out[i] = Benchmark.interleaved(none, Benchmark.forward(m, input, methods.get(i).on(vit), r),
                        timing.warmup(),
                        timing.minRuns(), 1000, timing.minSeconds());
                p.update("speed", ++done, reduced);
            }
        }
        return out;
    }
}
