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
        VitConfig arch = job.arch();
        Files4 files = Files4.of(job.output());
        if (!job.output().getFileName().toString().endsWith(".safetensors")) {
            throw new VitrimException("output " + job.output() + ": the model file name must end in .safetensors");
        }
        checkData(job);
        TrainState state = null;
        if (job.resume()) {
            if (!Files.exists(files.state())) {
                throw new VitrimException("resume: " + files.state() + " not found (it is written after every epoch "
                        + "of a run writing " + job.output() + ")");
            }
            state = TrainState.read(files.state());
            checkResumable(state, files.state(), job);
        } else if (!job.overwrite()) {
            for (Path p : List.of(files.state(), files.model())) {
                if (Files.exists(p)) {
                    throw new VitrimException(p + " exists: resume to continue that run, or overwrite to start "
                            + "over");
                }
            }
        }
        removeStaleTemporaries(files);
        Torch.engine();
        Reduction red = Reduction.of(job.reduce(), arch, cfg.seed());
        if (red.reducer().parameters().isEmpty() && cfg.moduleLr() > 0) {
            red.close();
            throw new VitrimException("moduleLr " + cfg.moduleLr() + ": reducer " + job.reduce()
                    + " adds no modules to train (only cropr does)");
        }
        if (state != null) {
            String was = state.info().path("reduce").asText("none");
            if (!was.equals(red.spec())) {
                red.close();
                throw new VitrimException("resume: " + files.state() + " was trained with reducer " + was
                        + ", not " + red.spec() + "; use the same reducer, or a new output file for a new run");
            }
        }
        VisionTransformer vit;
        try {
            vit = buildModel(job, state);
            l.modelReady(vit);
            if (state != null) {
                red.reducer().restoreState(state.model());
            }
        } catch (RuntimeException e) {
            red.close();
            throw e;
        }
        int n = job.train().size();
        int steps = (n + cfg.batch() - 1) / cfg.batch();
        LrSchedule schedule = new LrSchedule(cfg.lr(), cfg.minLr(), Math.round(cfg.warmupEpochs() * steps),
                (long) cfg.epochs() * steps);
        int s = arch.imageSize();
        int k = arch.numClasses();
        ImageTransform trainT = new ImageTransform(arch.preprocess(), cfg.translate(), cfg.flip());
        ImageTransform evalT = new ImageTransform(arch.preprocess(), 0, false);
        List<EpochResult> results = new ArrayList<>();
        int start = 0;
        double bestAcc = -1;
        int bestEpoch = 0;
        long totalSteps = (long) cfg.epochs() * steps;
        TrainableReducer reducer = red.reducer();
        try (vit; red; AdamW opt = new AdamW(vit, reducer.parameters(), cfg)) {
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
            Engine engine = Engine.getEngine("PyTorch");
            float smooth = (float) cfg.labelSmoothing();
            int end = stopAfter > 0 ? Math.min(cfg.epochs(), start + stopAfter) : cfg.epochs();
            for (int epoch = start; epoch < end; epoch++) {
                l.epochStart(epoch + 1, cfg.epochs(), steps, n);
                long t0 = System.nanoTime();
                double lossSum = 0;
                long correct = 0;
                long seen = 0;
                double lr = 0;
                double gradNorm = 0;
                double auxSum = 0;
                int skipped = 0;
                int badInARow = 0;
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
                        reducer.beginStep(t, totalSteps);
                        int bs = b.size();
                        float[] target = new float[bs * k];
                        java.util.Arrays.fill(target, smooth / k);
                        for (int i = 0; i < bs; i++) {
                            target[i * k + b.y()[i]] += 1f - smooth;
                        }
                        float[] logits = new float[bs * k];
                        double loss = 0;
                        double aux = 0;
                        int mb = cfg.microBatch() > 0 ? Math.min(cfg.microBatch(), bs) : bs;
                        int per = 3 * s * s;
                        try (NDManager m = vit.manager().newSubManager()) {
                            try (GradientCollector gc = engine.newGradientCollector()) {
                                // passes of mb images; gradients accumulate, each pass's loss is sum/bs
                                for (int from = 0; from < bs; from += mb) {
                                    int cnt = Math.min(mb, bs - from);
                                    try (NDManager p = m.newSubManager()) {
                                        NDArray x = p.create(java.util.Arrays.copyOfRange(b.x(), from * per,
                                                (from + cnt) * per), new Shape(cnt, 3, s, s));
                                        NDArray tg = p.create(java.util.Arrays.copyOfRange(target, from * k,
                                                (from + cnt) * k), new Shape(cnt, k));
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
                            if (!Double.isFinite(loss) || !Double.isFinite(aux)) {
                                throw diverged("the loss became " + (Double.isFinite(loss) ? aux + " (auxiliary)" : loss),
                                        epoch, b.index(), lr, files);
                            }
                            AdamW.StepInfo info = opt.step(lr, m);
                            if (!Double.isFinite(info.gradNorm())) {
                                // a lone overflow skips its update (AdamW left the weights untouched); a run of them
                                // means divergence
                                if (++badInARow >= MAX_SKIPPED_IN_A_ROW) {
                                    throw diverged("the gradient norm became " + info.gradNorm() + " on "
                                            + badInARow + " steps in a row", epoch, b.index(), lr, files);
                                }
                                skipped++;
                                l.message(String.format(Locale.ROOT, "note: step %d of epoch %d skipped: gradient norm "
                                        + "%s (the loss was %.4f)", b.index() + 1, epoch + 1, info.gradNorm(), loss));
                            } else {
                                badInARow = 0;
                                gradNorm = info.gradNorm();
                            }
                        }
                        for (int i = 0; i < bs; i++) {
                            if (Evaluator.argmax(logits, i * k, k) == b.y()[i]) {
                                correct++;
                            }
                        }
                        lossSum += loss * bs;
                        auxSum += aux * bs;
                        seen += bs;
                        double secs = (System.nanoTime() - t0) / 1e9;
                        l.step(epoch + 1, b.index() + 1, steps, lossSum / seen, (double) correct / seen, seen / secs, lr);
                    }
                }
                double trainSecs = (System.nanoTime() - t0) / 1e9;
                vit.refreshCaches(); // the in-memory model answers with this epoch's weights
                // the model after this epoch, saved and reloaded: validation measures the file itself
                Map<String, FloatTensor> timm = vit.exportTensors();
                timm.putAll(reducer.inferenceTensors()); // e.g. Cropr's queries, without what only training uses
                ObjectNode extra = trainingInfo(job, epoch + 1, red);
                ModelFiles.save(timm, arch, extra, red.recorded(), files.last());
                Evaluator.Metrics val;
                try (VisionTransformer saved = VisionTransformer.load(files.last(), 0)) {
                    // validation runs the saved file as inference will: with its recorded reduction
                    val = Evaluator.evaluate(saved, job.val(), evalT, job.evalBatch(),
                            Reducers.parse(red.validationSpec(), saved));
                }
                boolean best = val.accuracy() > bestAcc;
                if (best) {
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
                EpochResult r = new EpochResult(epoch + 1, cfg.epochs(), lossSum / seen, (double) correct / seen,
                        val.loss(), val.accuracy(), lr, seen / trainSecs, (System.nanoTime() - t0) / 1e9, best,
                        gradNorm, reducer.auxiliaryLosses() == 0 ? Double.NaN : auxSum / seen / reducer.auxiliaryLosses(), skipped);
                appendLog(files.log(), r);
                results.add(r);
                l.epochEnd(r);
            }
            int done = Math.max(start, end);
            return new Summary(done, bestEpoch, bestAcc, files.model(), files.last(), files.state(), files.log(),
                    results);
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

    private static VitrimException diverged(String what, int epoch, int step, double lr, Files4 files) {
        String kept = Files.exists(files.model()) ? files.model() + " still holds the best model so far"
                : "no model was saved";
        return new VitrimException(String.format(Locale.ROOT, "training diverged: %s at epoch %d, step %d (lr %.3g); "
                + "nothing was saved for this epoch and %s; lower lr, lengthen the warm-up or keep gradient clipping on",
                what, epoch + 1, step + 1, lr, kept));
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
