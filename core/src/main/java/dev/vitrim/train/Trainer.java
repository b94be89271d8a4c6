package dev.vitrim.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.BatchLoader;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.engine.Torch;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Trains a {@link VisionTransformer} classifier: AdamW with warm-up and cosine decay, label smoothing, global-norm
 * gradient clipping, seeded data order and augmentation prepared in a background thread.
 *
 * <p>Files, for {@code -o DIR/NAME.safetensors}:
 * <ul>
 *   <li>{@code NAME.safetensors} — the model with the best validation accuracy so far (ties keep the earlier
 *       epoch), in timm layout with config, class names and preprocessing in the metadata;</li>
 *   <li>{@code NAME.last.safetensors} — the model after the latest epoch (its validation numbers are measured on
 *       this file as reloaded);</li>
 *   <li>{@code NAME.state.safetensors} — the {@link TrainState} to {@code --resume} from;</li>
 *   <li>{@code NAME.log.jsonl} — one JSON line per epoch.</li>
 * </ul>
 * Every file is replaced atomically after each epoch (model files first, the state last), so a crash or kill loses at
 * most the epoch in progress and never leaves a partial file. A non-finite loss, or a non-finite gradient norm on
 * {@value #MAX_SKIPPED_IN_A_ROW} steps in a row, stops training with a {@link VitrimException} and writes nothing
 * for that epoch; a lone non-finite gradient norm skips that update and is counted in the log
 * ({@code skipped_steps}).
 */
public final class Trainer {
    private Trainer() {}

    /** Progress callbacks (all on the training thread). */
    public interface Listener {
        default void epochStart(int epoch, int epochs, int steps, int images) {}

        /** After every step: running means over the epoch so far. */
        default void step(int epoch, int step, int steps, double loss, double accuracy, double imagesPerSec,
                          double lr) {}

        default void epochEnd(EpochResult r) {}

        default void message(String line) {}

        /**
         * Once the model is built, before the first step: where a caller sets what the model needs for the run,
         * e.g. its training precision ({@link VisionTransformer#useTrainingPrecision}).
         */
        default void modelReady(VisionTransformer vit) {}
    }

    /**
     * What to train.
     *
     * @param arch      the architecture, classes, labels and preprocessing of the model to train
     * @param init      checkpoint to start from (null: random initialisation with the seed)
     * @param newHead   with {@code init}: replace the classifier even if the class count matches
     * @param train     training images
     * @param val       validation images (model selection)
     * @param dataName  the training data set's name, e.g. "mnist:train" (recorded, checked on resume)
     * @param cfg       hyperparameters
     * @param output    where the best model goes ({@code NAME.safetensors})
     * @param resume    continue from {@code NAME.state.safetensors}
     * @param overwrite start over even if files of an earlier run exist
     * @param evalBatch batch size of validation
     * @param dataOptions how train and val were drawn (recorded in the state for --resume; may be null)
     * @param reduce    token reduction active while training and validating (a {@code --reduce} spec; null or
     *                  "none": none). {@code cropr} trains Cropr's modules; any other reducer fine-tunes the backbone
     *                  with it on
     * @param epochData the training images of each epoch (fresh ones, e.g. generated scenes), or null to use
     *                  {@code train} every epoch; epoch 0 uses {@code train}, and every epoch must have its size
     */
    public record Job(VitConfig arch, Path init, boolean newHead, LabeledImages train, LabeledImages val,
                      String dataName, TrainConfig cfg, Path output, boolean resume, boolean overwrite, int evalBatch,
                      JsonNode dataOptions, String reduce, java.util.function.IntFunction<LabeledImages> epochData) {
        /** A run on fixed training images. */
        public Job(VitConfig arch, Path init, boolean newHead, LabeledImages train, LabeledImages val, String dataName,
                   TrainConfig cfg, Path output, boolean resume, boolean overwrite, int evalBatch, JsonNode dataOptions,
                   String reduce) {
            this(arch, init, newHead, train, val, dataName, cfg, output, resume, overwrite, evalBatch, dataOptions,
                    reduce, null);
        }

        /** The training images of epoch {@code e} (0-based): fresh ones when {@code epochData} is set. */
        LabeledImages trainFor(int e) {
            return epochData == null || e == 0 ? train : epochData.apply(e);
        }

        /** A run without token reduction. */
        public Job(VitConfig arch, Path init, boolean newHead, LabeledImages train, LabeledImages val, String dataName,
                   TrainConfig cfg, Path output, boolean resume, boolean overwrite, int evalBatch, JsonNode dataOptions) {
            this(arch, init, newHead, train, val, dataName, cfg, output, resume, overwrite, evalBatch, dataOptions, null);
        }
    }

    /** Result of one epoch (epoch is 1-based). */
    public record EpochResult(int epoch, int epochs, double trainLoss, double trainAcc, double valLoss, double valAcc,
                              double lr, double imagesPerSec, double seconds, boolean best, double gradNorm,
                              double auxLoss, int skippedSteps) {
        public ObjectNode toJson() {
            ObjectNode o = ModelFiles.JSON.createObjectNode();
            o.put("epoch", epoch).put("epochs", epochs).put("train_loss", trainLoss).put("train_acc", trainAcc)
                    .put("val_loss", valLoss).put("val_acc", valAcc).put("lr", lr).put("images_per_s", imagesPerSec)
                    .put("seconds", seconds).put("best", best).put("grad_norm", gradNorm);
            if (!Double.isNaN(auxLoss)) {
                o.put("aux_loss", auxLoss); // mean over Cropr modules of their auxiliary losses
            }
            if (skippedSteps > 0) {
                o.put("skipped_steps", skippedSteps); // updates dropped for a non-finite gradient norm
            }
            return o;
        }
    }

    /** Outcome of a run. */
    public record Summary(int epochsDone, int bestEpoch, double bestValAcc, Path model, Path last, Path state,
                          Path log, List<EpochResult> epochs) {}

    /** Sibling files of an output model. */
    public record Files4(Path model, Path last, Path state, Path log) {
        public static Files4 of(Path output) {
            Path abs = output.toAbsolutePath();
            String n = abs.getFileName().toString();
            String stem = n.endsWith(".safetensors") ? n.substring(0, n.length() - ".safetensors".length()) : n;
            Path dir = abs.getParent();
            return new Files4(abs, dir.resolve(stem + ".last.safetensors"), dir.resolve(stem + ".state.safetensors"),
                    dir.resolve(stem + ".log.jsonl"));
        }
    }

    /** Consecutive steps with a non-finite gradient norm that stop training as diverged. */
    static final int MAX_SKIPPED_IN_A_ROW = 3;

    public static Summary run(Job job, Listener listener) {
        return run(job, listener, 0);
    }

    /**
     * As {@link #run(Job, Listener)}, ending this invocation after {@code stopAfter} epochs (0: run to the end); the
     * schedule stays that of the config's epochs, and {@code resume} continues it exactly. For long runs in chunks.
     */
    public static Summary run(Job job, Listener listener, int stopAfter) {
        if (stopAfter < 0) {
            throw new VitrimException("stopAfter must be 0 (run to the end) or a number of epochs, not " + stopAfter);
        }
        Listener l = listener == null ? new Listener() { } : listener;
        TrainConfig cfg = job.cfg();
        Files4 files = Files4.of(job.output());
        checkData(job);
        TrainState state = openState(files, job.resume(), job.overwrite());
        if (state != null) {
            checkResumable(state, files.state(), job);
        }
        removeStaleTemporaries(files);
        Torch.engine();
        Reduction red = Reduction.of(job.reduce(), job.arch(), cfg.seed());
        VisionTransformer vit;
        try {
            if (red.reducer().parameters().isEmpty() && cfg.moduleLr() > 0) {
                throw new VitrimException("moduleLr " + cfg.moduleLr() + ": reducer " + job.reduce()
                        + " adds no modules to train (only cropr does)");
            }
            checkSameReducer(state, files, red.spec(), null);
            vit = buildModel(job, state);
            l.modelReady(vit);
            if (state != null) {
                red.reducer().restoreState(state.model());
            }
        } catch (RuntimeException e) {
            red.close();
            throw e;
        }
        try (vit; red; AdamW opt = new AdamW(vit, red.reducer().parameters(), cfg)) {
            ClassifierRun run = new ClassifierRun(job, l, files, vit, red, opt);
            int start = run.resume(state);
            int end = stopAfter > 0 ? Math.min(cfg.epochs(), start + stopAfter) : cfg.epochs();
            List<EpochResult> results = new ArrayList<>();
            for (int epoch = start; epoch < end; epoch++) {
                results.add(run.epoch(epoch));
            }
            return new Summary(Math.max(start, end), run.bestEpoch, run.bestAcc, files.model(), files.last(),
                    files.state(), files.log(), results);
        }
    }

    /**
     * The training state to resume from (null for a new run), after checking what an earlier run left: a resumed run
     * needs its state file; a new one must not silently replace another run's files.
     */
    static TrainState openState(Files4 files, boolean resume, boolean overwrite) {
        if (!files.model().getFileName().toString().endsWith(".safetensors")) {
            throw new VitrimException("output " + files.model() + ": the model file name must end in .safetensors");
        }
        if (resume) {
            if (!Files.exists(files.state())) {
                throw new VitrimException("resume: " + files.state() + " not found (it is written after every epoch "
                        + "of a run writing " + files.model() + ")");
            }
            return TrainState.read(files.state());
        }
        if (!overwrite) {
            for (Path p : List.of(files.state(), files.model())) {
                if (Files.exists(p)) {
                    throw new VitrimException(p + " exists: resume to continue that run, or overwrite to start over");
                }
            }
        }
        return null;
    }

    /** A resumed run must continue with the reducer (and what else {@code other} names) it was trained with. */
    static void checkSameReducer(TrainState state, Files4 files, String spec, String other) {
        if (state == null) {
            return;
        }
        String was = state.info().path("reduce").asText("none");
        String msg = !was.equals(spec) ? "reducer " + was + ", not " + spec : other;
        if (msg != null) {
            throw new VitrimException("resume: " + files.state() + " was trained with " + msg + "; use the same, or a "
                    + "new output file for a new run");
        }
    }

    /** The epochs of one classifier run: the model, its reducer and optimiser, the schedule and the best so far. */
    private static final class ClassifierRun {
        private final Job job;
        private final TrainConfig cfg;
        private final Listener l;
        private final Files4 files;
        private final VisionTransformer vit;
        private final Reduction red;
        private final TrainableReducer reducer;
        private final AdamW opt;
        private final Engine engine = Engine.getEngine("PyTorch");
        private final int n;
        private final int steps;
        private final int k;
        private final LrSchedule schedule;
        private final ImageTransform trainT;
        private final ImageTransform evalT;
        double bestAcc = -1;
        int bestEpoch;

        ClassifierRun(Job job, Listener l, Files4 files, VisionTransformer vit, Reduction red, AdamW opt) {
            this.job = job;
            this.cfg = job.cfg();
            this.l = l;
            this.files = files;
            this.vit = vit;
            this.red = red;
            this.reducer = red.reducer();
            this.opt = opt;
            this.n = job.train().size();
            this.steps = (n + cfg.batch() - 1) / cfg.batch();
            this.k = job.arch().numClasses();
            this.schedule = new LrSchedule(cfg.lr(), cfg.minLr(), Math.round(cfg.warmupEpochs() * steps),
                    (long) cfg.epochs() * steps);
            this.trainT = new ImageTransform(job.arch().preprocess(), cfg.translate(), cfg.flip());
            this.evalT = new ImageTransform(job.arch().preprocess(), 0, false);
        }

        /** The first epoch to run (0-based): after the state's epochs, with its optimiser and best so far. */
        int resume(TrainState state) {
            int start = 0;
            if (state != null) {
                opt.importState(state.optim(), state.steps());
                start = state.epochsDone();
                bestAcc = state.bestValAcc();
                bestEpoch = state.bestEpoch();
                truncateLog(files.log(), start);
                l.message("resuming after epoch " + start + " of " + cfg.epochs() + " (best so far: epoch "
                        + bestEpoch + ", val acc " + pct(bestAcc) + ")");
            } else {
                deleteIfExists(files.log());
            }
            if (start >= cfg.epochs()) {
                l.message("nothing to do: " + start + " epochs already done (raise epochs to train longer)");
            }
            return start;
        }

        /** Trains epoch {@code epoch} (0-based), then saves, validates and records it. */
        EpochResult epoch(int epoch) {
            l.epochStart(epoch + 1, cfg.epochs(), steps, n);
            long t0 = System.nanoTime();
            double lossSum = 0;
            double auxSum = 0;
            long correct = 0;
            long seen = 0;
            double lr = 0;
            StepGuard guard = new StepGuard(files, l::message);
            LabeledImages epochImages = job.trainFor(epoch);
            if (epochImages.size() != n) {
                throw new IllegalStateException("epoch " + (epoch + 1) + " has " + epochImages.size()
                        + " training images, the first had " + n);
            }
            try (BatchLoader loader = new BatchLoader(epochImages, trainT, cfg.batch(), true, cfg.seed(), epoch, 4)) {
                while (loader.hasNext()) {
                    BatchLoader.Batch b = loader.next();
                    long t = (long) epoch * steps + b.index();
                    lr = schedule.at(t);
                    reducer.beginStep(t, (long) cfg.epochs() * steps);
                    float[] logits = new float[b.size() * k];
                    double[] losses = step(b, logits, epoch, lr, guard);
                    for (int i = 0; i < b.size(); i++) {
                        if (Evaluator.argmax(logits, i * k, k) == b.y()[i]) {
                            correct++;
                        }
                    }
                    lossSum += losses[0] * b.size();
                    auxSum += losses[1] * b.size();
                    seen += b.size();
                    double secs = (System.nanoTime() - t0) / 1e9;
                    l.step(epoch + 1, b.index() + 1, steps, lossSum / seen, (double) correct / seen, seen / secs, lr);
                }
            }
            double trainSecs = (System.nanoTime() - t0) / 1e9;
            Evaluator.Metrics val = saveAndValidate(epoch);
            EpochResult r = new EpochResult(epoch + 1, cfg.epochs(), lossSum / seen, (double) correct / seen,
                    val.loss(), val.accuracy(), lr, seen / trainSecs, (System.nanoTime() - t0) / 1e9,
                    bestEpoch == epoch + 1, guard.gradNorm(),
                    reducer.auxiliaryLosses() == 0 ? Double.NaN : auxSum / seen / reducer.auxiliaryLosses(),
                    guard.skipped());
            appendLog(files.log(), r);
            l.epochEnd(r);
            return r;
        }

        /**
         * One optimiser step on a batch, in micro-batches whose gradients accumulate (each pass's loss is its sum
         * over the batch size); fills {@code logits} and returns the main and auxiliary losses.
         */
        private double[] step(BatchLoader.Batch b, float[] logits, int epoch, double lr, StepGuard guard) {
            int bs = b.size();
            int s = job.arch().imageSize();
            int per = 3 * s * s;
            float smooth = (float) cfg.labelSmoothing();
            float[] target = new float[bs * k];
            Arrays.fill(target, smooth / k);
            for (int i = 0; i < bs; i++) {
                target[i * k + b.y()[i]] += 1f - smooth;
            }
            int mb = cfg.microBatch() > 0 ? Math.min(cfg.microBatch(), bs) : bs;
            double loss = 0;
            double aux = 0;
            try (NDManager m = vit.manager().newSubManager()) {
                try (GradientCollector gc = engine.newGradientCollector()) {
                    for (int from = 0; from < bs; from += mb) {
                        int cnt = Math.min(mb, bs - from);
                        try (NDManager p = m.newSubManager()) {
                            NDArray x = p.create(Arrays.copyOfRange(b.x(), from * per, (from + cnt) * per),
                                    new Shape(cnt, 3, s, s));
                            NDArray tg = p.create(Arrays.copyOfRange(target, from * k, (from + cnt) * k),
                                    new Shape(cnt, k));
                            NDArray out = vit.forward(x, reducer, null);
                            NDArray part = crossEntropy(out, tg, bs);
                            loss += part.getFloat();
                            // main + the reducer's auxiliary losses, all weight 1
                            NDArray auxPart = reducer.auxiliaryLoss(a -> crossEntropy(a, tg, bs));
                            if (auxPart != null) {
                                aux += auxPart.getFloat();
                                part = part.add(auxPart);
                            }
                            gc.backward(part);
                            System.arraycopy(out.toFloatArray(), 0, logits, from * k, cnt * k);
                        }
                    }
                } finally {
                    Torch.grad(false);
                }
                guard.checkLoss(loss, aux, epoch, b.index(), lr);
                guard.afterUpdate(opt.step(lr, m).gradNorm(), loss, epoch, b.index(), lr);
            }
            return new double[] {loss, aux};
        }

        /**
         * Saves the model after epoch {@code epoch}, validates the saved file as inference will run it (with its
         * recorded reduction), keeps it as the best if it is, and writes the state to resume from.
         */
        private Evaluator.Metrics saveAndValidate(int epoch) {
            vit.refreshCaches(); // the in-memory model answers with this epoch's weights
            Map<String, FloatTensor> timm = vit.exportTensors();
            timm.putAll(reducer.inferenceTensors()); // e.g. Cropr's queries, without what only training uses
            ObjectNode extra = trainingInfo(job, epoch + 1, red);
            VitConfig arch = job.arch();
            ModelFiles.save(timm, arch, extra, red.recorded(), files.last());
            Evaluator.Metrics val;
            try (VisionTransformer saved = VisionTransformer.load(files.last(), 0)) {
                val = Evaluator.evaluate(saved, job.val(), evalT, job.evalBatch(),
                        Reducers.parse(red.validationSpec(), saved));
            }
            if (val.accuracy() > bestAcc) {
                bestAcc = val.accuracy();
                bestEpoch = epoch + 1;
                extra.put("val_acc", val.accuracy()).put("val_loss", val.loss());
                ModelFiles.save(timm, arch, extra, red.recorded(), files.model());
            }
            ObjectNode info = TrainState.newInfo();
            info.put("epochs_done", epoch + 1);
            info.put("steps", opt.steps());
            info.put("best_val_acc", bestAcc);
            info.put("best_epoch", bestEpoch);
            info.put("data", job.dataName());
            info.put("train_images", job.train().size());
            info.put("val_images", job.val().size());
            info.set("arch", ModelFiles.configToJson(arch));
            info.set("train", cfg.toJson());
            info.put("init", job.init() == null ? null : job.init().toString());
            info.put("reduce", red.spec());
            if (job.dataOptions() != null) {
                info.set("data_options", job.dataOptions());
            }
            Map<String, FloatTensor> weights = ModelFiles.internalTensors(vit);
            weights.putAll(reducer.stateTensors());
            new TrainState(info, weights, opt.exportState()).write(files.state());
            return val;
        }
    }

    /** Mean cross-entropy of logits against (smoothed) targets, summed over the pass and divided by the batch. */
    static NDArray crossEntropy(NDArray logits, NDArray target, int batch) {
        return logits.logSoftmax(1).mul(target).sum().neg().div(Torch.scalar(logits.getManager(), batch));
    }

    private static ObjectNode trainingInfo(Job job, int epoch, Reduction red) {
        ObjectNode o = ModelFiles.JSON.createObjectNode();
        o.put("trained_by", "vitrim train");
        if (!red.spec().equals("none")) {
            o.put("reduce", red.spec());
        }
        o.put("data", job.dataName());
        o.put("epoch", epoch);
        o.put("train_images", job.train().size());
        o.put("val_images", job.val().size());
        if (job.init() != null) {
            o.put("init", job.init().toString());
        }
        o.set("train", job.cfg().toJson());
        return o;
    }

    private static void checkData(Job job) {
        VitConfig a = job.arch();
        for (LabeledImages d : List.of(job.train(), job.val())) {
            if (d.numClasses() != a.numClasses()) {
                throw new VitrimException(d.name() + " has " + d.numClasses() + " classes but the model has "
                        + a.numClasses() + " outputs");
            }
            if (d.size() == 0) {
                throw new VitrimException(d.name() + ": no images");
            }
        }
        if (job.evalBatch() < 1) {
            throw new VitrimException("evaluation batch must be positive");
        }
    }

    private static void checkResumable(TrainState st, Path file, Job job) {
        VitConfig saved;
        try {
            saved = ModelFiles.configFromJson(st.arch());
        } catch (RuntimeException e) {
            throw new VitrimException(file + ": the architecture in the training state is unreadable (" + e.getMessage()
                    + ")");
        }
        String want = job.arch().networkShape();
        String have = saved.networkShape();
        if (!want.equals(have)) {
            throw new VitrimException("resume: " + file + " holds a different architecture (" + have
                    + ") than requested (" + want + "); use the same architecture, or a new output file for a new run");
        }
        if (!st.data().equals(job.dataName())) {
            throw new VitrimException("resume: " + file + " was trained on " + st.data() + ", not " + job.dataName()
                    + "; use the same data set, or start from " + file.getParent().resolve(
                    file.getFileName().toString().replace(".state.", ".")) + " with a new output file to fine-tune");
        }
    }

    private static VisionTransformer buildModel(Job job, TrainState state) {
        VitConfig arch = job.arch();
        if (state != null) {
            VisionTransformer vit = VisionTransformer.random(arch, job.cfg().seed());
            try {
                ModelFiles.assignInternal(vit, state.model(), "");
                return vit;
            } catch (RuntimeException e) {
                vit.close();
                throw e;
            }
        }
        if (job.init() == null) {
            VisionTransformer vit = VisionTransformer.random(arch, job.cfg().seed());
            TimmInit.apply(vit, job.cfg().seed());
            return vit;
        }
        VisionTransformer loaded;
        try (Checkpoint ck = Checkpoint.open(job.init(), arch.heads())) {
            loaded = VisionTransformer.load(ck);
        }
        VitConfig lc = loaded.config();
        boolean sameHead = lc.numClasses() == arch.numClasses() && !job.newHead();
        if (sameHead && lc.networkShape().equals(arch.networkShape())) {
            return loaded;
        }
        try (loaded) {
            VisionTransformer vit = VisionTransformer.random(arch, job.cfg().seed());
            try {
                ModelFiles.copyParameters(loaded, vit, !sameHead);
                return vit;
            } catch (RuntimeException e) {
                vit.close();
                throw e;
            }
        }
    }

    private static void appendLog(Path log, EpochResult r) {
        appendLog(log, r.toJson());
    }

    /** Appends one JSON line to a training log. */
    static void appendLog(Path log, JsonNode line) {
        try {
            Files.writeString(log, line.toString() + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new VitrimException(log + ": cannot write (" + e.getMessage() + ")", e);
        }
    }

    /** Keeps the log lines of epochs up to {@code epochs} (a resumed run rewrites the rest). */
    static void truncateLog(Path log, int epochs) {
        if (!Files.exists(log)) {
            return;
        }
        try {
            List<String> keep = new ArrayList<>();
            for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                if (line.isBlank()) {
                    continue;
                }
                try {
                    JsonNode o = ModelFiles.JSON.readTree(line);
                    if (o.path("epoch").asInt(Integer.MAX_VALUE) <= epochs) {
                        keep.add(line);
                    }
                } catch (IOException e) {
                    // a torn last line from a crash: dropped
                }
            }
            Files.write(log, keep, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new VitrimException(log + ": cannot rewrite (" + e.getMessage() + ")", e);
        }
    }

    /** Temporary files that a killed atomic write of one of our outputs left behind (".NAME.*.tmp"). */
    private static void removeStaleTemporaries(Files4 f) {
        Path dir = f.model().getParent();
        if (!Files.isDirectory(dir)) {
            return;
        }
        List<String> prefixes = new ArrayList<>();
        for (Path p : List.of(f.model(), f.last(), f.state())) {
            prefixes.add("." + p.getFileName() + ".");
        }
        try (var ds = Files.newDirectoryStream(dir, ".*.tmp")) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (prefixes.stream().anyMatch(n::startsWith)) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            // harmless leftovers; the run itself does not depend on them
        }
    }

    static void deleteIfExists(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new VitrimException(p + ": cannot delete (" + e.getMessage() + ")", e);
        }
    }

    static String pct(double acc) {
        return acc < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f%%", 100 * acc);
    }
}
