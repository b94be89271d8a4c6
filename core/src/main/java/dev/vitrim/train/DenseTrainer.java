package dev.vitrim.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.dense.DenseDataset;
import dev.vitrim.dense.DenseEvaluator;
import dev.vitrim.dense.DenseExample;
import dev.vitrim.dense.DenseLoss;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.PatchLabels;
import dev.vitrim.engine.Torch;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

/**
 * Trains a {@link DenseModel}: the backbone and the per-token decoder together, on segmentation, CenterNet detection
 * and centre offsets at once ({@link DenseLoss}), with AdamW, warm-up and cosine decay, and gradient clipping as
 * {@link Trainer} does. Each epoch may draw fresh images ({@code trainForEpoch}); validation measures mIoU and box AP
 * on the saved file, and the best epoch is the one with the highest mean of the two.
 *
 * <p>With a reduction ({@link Job#reduce}) the backbone trains with it on. {@code cropr:…} trains Token Cropr's
 * modules alongside ({@link CroprTraining}): per module the queries, a training-only aggregator and an auxiliary head
 * on the detached module input, whose loss (weight 1 per module) adds to the dense loss; for segmentation one query
 * per patch against the patch labels ({@link PatchLabels}), for detection and instance segmentation one query and
 * "which classes are present". The saved files keep only the queries and record the schedule, so
 * {@code --reduce cropr} runs it; validation runs the saved file with its recorded reduction.
 *
 * <p>Files for {@code -o DIR/NAME.safetensors}: the best model, {@code NAME.last.safetensors},
 * {@code NAME.state.safetensors} (to {@code --resume} from) and {@code NAME.log.jsonl}, each replaced atomically
 * after every epoch, so a killed run loses at most the epoch in progress. Divergence stops a run as in
 * {@link Trainer}: a non-finite loss at once, non-finite gradient norms after {@value Trainer#MAX_SKIPPED_IN_A_ROW} steps
 * in a row (a lone one skips its update and is counted in the log as {@code skipped_steps}).
 */
public final class DenseTrainer {
    private DenseTrainer() {}

    /** Progress callbacks (on the training thread). */
    public interface Listener {
        default void epochStart(int epoch, int epochs, int steps, int images) {}

        default void step(int epoch, int step, int steps, double loss, double imagesPerSec, double lr) {}

        default void epochEnd(ObjectNode log) {}

        default void message(String line) {}

        /** As {@link Trainer.Listener#modelReady}: the backbone, before the first step. */
        default void modelReady(VisionTransformer vit) {}
    }

    /**
     * What to train.
     *
     * @param arch          the backbone's architecture (no classifier: {@code numClasses} 0)
     * @param classes       the object classes
     * @param init          a checkpoint whose backbone starts the run (a classifier's head is dropped; a dense model's
     *                      decoder is kept when its classes match), or null for a random start
     * @param trainForEpoch the training images of epoch e (0-based); fresh per epoch or the same
     * @param val           validation images (model selection)
     * @param valLimit      validate on the first this many (≤ 0: all)
     * @param dataName      the training data's name (recorded, checked on resume)
     * @param stopAfter     end this invocation after so many epochs (0: run to the end); resume continues, on the
     *                      same schedule, as if the run had never stopped
     * @param reduce        token reduction while training and validating (a {@code --reduce} spec; null or "none":
     *                      none): {@code cropr:…} trains Cropr's modules, any other reducer fine-tunes with it on
     * @param croprTask     with {@code cropr}: what the auxiliary heads learn ({@link CroprTraining.Task#SEGMENT} or
     *                      {@link CroprTraining.Task#PRESENCE})
     * @param patchLabels   with {@code cropr} and {@code SEGMENT}: how a patch's label is picked from its pixels
     */
    public record Job(VitConfig arch, List<String> classes, Path init, IntFunction<DenseDataset> trainForEpoch,
                      DenseDataset val, int valLimit, String dataName, TrainConfig cfg, Path output, boolean resume,
                      boolean overwrite, int evalBatch, int stopAfter, String reduce, CroprTraining.Task croprTask,
                      PatchLabels.Mode patchLabels) {
        public Job {
            if (croprTask == CroprTraining.Task.CLASSIFY) {
                throw new VitrimException("dense training: Cropr's auxiliary task is segment or presence, not "
                        + "classify");
            }
        }

        /** A run without token reduction. */
        public Job(VitConfig arch, List<String> classes, Path init, IntFunction<DenseDataset> trainForEpoch,
                   DenseDataset val, int valLimit, String dataName, TrainConfig cfg, Path output, boolean resume,
                   boolean overwrite, int evalBatch, int stopAfter) {
            this(arch, classes, init, trainForEpoch, val, valLimit, dataName, cfg, output, resume, overwrite,
                    evalBatch, stopAfter, null, CroprTraining.Task.SEGMENT, PatchLabels.Mode.NEAREST);
        }
    }

    /** Outcome of a run. */
    public record Summary(int epochsDone, int bestEpoch, double bestScore, Path model, Path log) {}

    public static Summary run(Job job, Listener listener) {
        Listener l = listener == null ? new Listener() { } : listener;
        TrainConfig cfg = job.cfg();
        Trainer.Files4 files = Trainer.Files4.of(job.output());
        TrainState state = Trainer.openState(files, job.resume(), job.overwrite());
        if (state != null) {
            if (!state.data().equals(job.dataName())) {
                throw new VitrimException("resume: " + files.state() + " was trained on " + state.data() + ", not "
                        + job.dataName());
            }
            VitConfig saved = ModelFiles.configFromJson(state.arch());
            if (!saved.networkShape().equals(job.arch().networkShape())) {
                throw new VitrimException("resume: " + files.state() + " holds a different architecture ("
                        + saved.networkShape() + ") than requested (" + job.arch().networkShape() + ")");
            }
        }
        Torch.engine();
        CroprTraining.Task task = job.croprTask() == null ? CroprTraining.Task.SEGMENT : job.croprTask();
        PatchLabels.Mode patchMode = job.patchLabels() == null ? PatchLabels.Mode.NEAREST : job.patchLabels();
        Reduction red = Reduction.of(job.reduce(), job.arch(), cfg.seed(), task, job.classes().size());
        boolean cropr = red.reducer() instanceof CroprTraining;
        DenseModel model;
        try {
            Trainer.checkSameReducer(state, files, red.spec(), cropr ? croprMismatch(state, task, patchMode) : null);
            model = build(job, state);
            if (state != null) {
                red.reducer().restoreState(state.model());
            }
        } catch (RuntimeException e) {
            red.close();
            throw e;
        }
        Map<String, NDArray> trained = new LinkedHashMap<>(model.decoderParameters());
        trained.putAll(red.reducer().parameters());
        l.modelReady(model.backbone());
        ExecutorService loader = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "vitrim-dense-loader");
            t.setDaemon(true);
            return t;
        });
        try (model; red; AdamW opt = new AdamW(model.backbone(), trained, red.reducer().parameters().keySet(), cfg)) {
            DenseRun run = new DenseRun(job, l, files, model, red, cropr ? task : null, patchMode, opt, loader);
            int start = run.resume(state);
            int end = job.stopAfter() > 0 ? Math.min(cfg.epochs(), start + job.stopAfter()) : cfg.epochs();
            for (int epoch = start; epoch < end; epoch++) {
                run.epoch(epoch);
            }
            return new Summary(Math.max(start, end), run.bestEpoch, run.best, files.model(), files.log());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VitrimException("training interrupted");
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof RuntimeException ? (RuntimeException) c : new VitrimException(String.valueOf(c), c);
        } finally {
            loader.shutdownNow();
        }
    }

    /** What differs, for Cropr, between a saved state's run and this one (its auxiliary task, its patch labels). */
    private static String croprMismatch(TrainState state, CroprTraining.Task task, PatchLabels.Mode patchMode) {
        if (state == null) {
            return null;
        }
        String wasAux = state.info().path("cropr_task").asText(null);
        String wasLabels = state.info().path("patch_labels").asText(null);
        if (wasAux != null && !wasAux.equals(task.id())) {
            return "Cropr task " + wasAux + ", not " + task.id();
        }
        if (task == CroprTraining.Task.SEGMENT && wasLabels != null && !wasLabels.equals(patchMode.id())) {
            return "patch labels " + wasLabels + ", not " + patchMode.id();
        }
        return null;
    }

    /** The epochs of one dense run: the model, its reducer and optimiser, the schedule and the best so far. */
    private static final class DenseRun {
        private final Job job;
        private final TrainConfig cfg;
        private final Listener l;
        private final Trainer.Files4 files;
        private final DenseModel model;
        private final VisionTransformer vit;
        private final Reduction red;
        private final TrainableReducer reducer;
        /** Cropr's auxiliary task, or null when the reducer is not Cropr. */
        private final CroprTraining.Task croprTask;
        private final PatchLabels.Mode patchMode;
        private final AdamW opt;
        private final ExecutorService loader;
        private final Engine engine = Engine.getEngine("PyTorch");
        private final int n;
        private final int steps;
        private final LrSchedule schedule;
        double best = -1;
        int bestEpoch;

        DenseRun(Job job, Listener l, Trainer.Files4 files, DenseModel model, Reduction red,
                 CroprTraining.Task croprTask, PatchLabels.Mode patchMode, AdamW opt, ExecutorService loader) {
            this.job = job;
            this.cfg = job.cfg();
            this.l = l;
            this.files = files;
            this.model = model;
            this.vit = model.backbone();
            this.red = red;
            this.reducer = red.reducer();
            this.croprTask = croprTask;
            this.patchMode = patchMode;
            this.opt = opt;
            this.loader = loader;
            this.n = job.trainForEpoch().apply(0).size();
            this.steps = (n + cfg.batch() - 1) / cfg.batch();
            this.schedule = new LrSchedule(cfg.lr(), cfg.minLr(), Math.round(cfg.warmupEpochs() * steps),
                    (long) cfg.epochs() * steps);
        }

        /** The first epoch to run (0-based): after the state's epochs, with its optimiser and best so far. */
        int resume(TrainState state) {
            if (state == null) {
                Trainer.deleteIfExists(files.log());
                return 0;
            }
            opt.importState(state.optim(), state.steps());
            best = state.bestValAcc();
            bestEpoch = state.bestEpoch();
            l.message("resuming after epoch " + state.epochsDone() + " of " + cfg.epochs() + " (best so far: epoch "
                    + bestEpoch + ")");
            Trainer.truncateLog(files.log(), state.epochsDone());
            return state.epochsDone();
        }

        /** Trains epoch {@code epoch} (0-based), batches prepared one ahead off this thread; saves and validates. */
        void epoch(int epoch) throws InterruptedException, java.util.concurrent.ExecutionException {
            DenseDataset data = job.trainForEpoch().apply(epoch);
            l.epochStart(epoch + 1, cfg.epochs(), steps, n);
            long t0 = System.nanoTime();
            double[] sums = new double[7]; // total, the five dense terms, Cropr's auxiliary loss
            long seen = 0;
            double lr = 0;
            StepGuard guard = new StepGuard(files, l::message);
            Future<Batch> next = loader.submit(() -> load(data, 0, cfg.batch(), model, n));
            for (int step = 0; step < steps; step++) {
                Batch b = next.get();
                int from = (step + 1) * cfg.batch();
                next = from < n ? loader.submit(() -> load(data, from, cfg.batch(), model, n)) : null;
                lr = schedule.at((long) epoch * steps + step);
                reducer.beginStep((long) epoch * steps + step, (long) cfg.epochs() * steps);
                step(b, sums, epoch, step, lr, guard);
                seen += b.samples.size();
                double secs = (System.nanoTime() - t0) / 1e9;
                l.step(epoch + 1, step + 1, steps, sums[0] / seen, seen / secs, lr);
            }
            double trainSecs = (System.nanoTime() - t0) / 1e9;
            DenseEvaluator.Metrics val = saveAndValidate(epoch);
            ObjectNode log = ModelFiles.JSON.createObjectNode();
            log.put("epoch", epoch + 1).put("epochs", cfg.epochs()).put("train_loss", sums[0] / seen)
                    .put("seg_loss", sums[1] / seen).put("heat_loss", sums[2] / seen)
                    .put("size_loss", sums[3] / seen).put("offset_loss", sums[4] / seen)
                    .put("center_loss", sums[5] / seen).put("val_miou", val.meanIou())
                    .put("val_box_ap", val.boxAp()).put("val_box_ap50", val.boxAp50()).put("lr", lr)
                    .put("images_per_s", seen / trainSecs).put("seconds", (System.nanoTime() - t0) / 1e9)
                    .put("best", bestEpoch == epoch + 1).put("grad_norm", guard.gradNorm());
            if (croprTask != null) { // mean over the modules of their auxiliary losses
                log.put("aux_loss", sums[6] / seen / reducer.auxiliaryLosses());
            }
            if (guard.skipped() > 0) {
                log.put("skipped_steps", guard.skipped());
            }
            Trainer.appendLog(files.log(), log);
            l.epochEnd(log);
        }

        /**
         * One optimiser step on a batch, in micro-batches whose gradients accumulate (each weighted by its share of
         * the batch); adds the loss terms, times the images, to {@code sums}.
         */
        private void step(Batch b, double[] sums, int epoch, int step, double lr, StepGuard guard) {
            int s = vit.config().imageSize();
            int stride = vit.config().patchSize();
            int bs = b.samples.size();
            int mb = cfg.microBatch() > 0 ? Math.min(cfg.microBatch(), bs) : bs;
            double loss = 0;
            double aux = 0;
            try (NDManager m = vit.manager().newSubManager()) {
                try (GradientCollector gc = engine.newGradientCollector()) {
                    for (int f = 0; f < bs; f += mb) {
                        int cnt = Math.min(mb, bs - f);
                        try (NDManager p = m.newSubManager()) {
                            NDArray x = p.create(Arrays.copyOfRange(b.x, f * 3 * s * s, (f + cnt) * 3 * s * s),
                                    new Shape(cnt, 3, s, s));
                            List<DenseLoss.Sample> part = b.samples.subList(f, f + cnt);
                            NDArray maps = model.maps(x, reducer);
                            DenseLoss.Terms t = DenseLoss.compute(maps, model.layout(), part, stride);
                            NDArray total = t.total();
                            double a = 0;
                            if (croprTask != null) { // the dense loss + every module's auxiliary loss, all weight 1
                                CroprDenseLoss.Targets tg = CroprDenseLoss.targets(croprTask, part, s, s, stride,
                                        job.classes().size(), patchMode);
                                NDArray auxLoss = reducer.auxiliaryLoss(z -> CroprDenseLoss.of(z, tg));
                                a = auxLoss.getFloat();
                                total = total.add(auxLoss);
                            }
                            gc.backward(total.mul(Torch.scalar(p, (float) cnt / bs)));
                            double[] terms = {total.getFloat(), t.segment(), t.heatmap(), t.size(), t.offset(),
                                t.center(), a};
                            for (int i = 0; i < terms.length; i++) {
                                sums[i] += terms[i] * cnt;
                            }
                            loss += terms[0] * cnt / bs;
                            aux += a * cnt / bs;
                        }
                    }
                } finally {
                    Torch.grad(false);
                }
                guard.checkLoss(loss, aux, epoch, step, lr);
                guard.afterUpdate(opt.step(lr, m).gradNorm(), loss, epoch, step, lr);
            }
        }

        /**
         * Saves the model after epoch {@code epoch}, validates the saved file as inference will run it (with its
         * recorded reduction), keeps it as the best by the mean of mIoU and box AP, and writes the state to resume
         * from.
         */
        private DenseEvaluator.Metrics saveAndValidate(int epoch) {
            vit.refreshCaches();
            ObjectNode extra = ModelFiles.JSON.createObjectNode();
            extra.put("trained_by", "vitrim train --task dense").put("data", job.dataName())
                    .put("epoch", epoch + 1).put("train_images_per_epoch", n);
            if (!red.spec().equals("none")) {
                extra.put("reduce", red.spec());
                if (croprTask != null) {
                    extra.put("cropr_task", croprTask.id());
                    if (croprTask == CroprTraining.Task.SEGMENT) {
                        extra.put("patch_labels", patchMode.id());
                    }
                }
            }
            if (job.init() != null) {
                extra.put("init", job.init().toString());
            }
            extra.set("train", cfg.toJson());
            Map<String, FloatTensor> keep = reducer.inferenceTensors(); // Cropr: the queries only
            ModelFiles.saveDense(model, extra, red.recorded(), keep, files.last());
            DenseEvaluator.Metrics val;
            try (DenseModel saved = DenseModel.load(files.last())) {
                val = DenseEvaluator.evaluate(saved, job.val(), Reducers.parse(red.validationSpec(),
                        saved.backbone()), job.evalBatch(), job.valLimit(), false, null);
            }
            double score = (val.meanIou() + Math.max(0, val.boxAp())) / 2;
            if (score > best) {
                best = score;
                bestEpoch = epoch + 1;
                extra.put("val_miou", val.meanIou()).put("val_box_ap", val.boxAp())
                        .put("val_box_ap50", val.boxAp50());
                ModelFiles.saveDense(model, extra, red.recorded(), keep, files.model());
            }
            ObjectNode info = TrainState.newInfo();
            info.put("epochs_done", epoch + 1);
            info.put("steps", opt.steps());
            info.put("best_val_acc", best);
            info.put("best_epoch", bestEpoch);
            info.put("data", job.dataName());
            info.put("train_images", n);
            info.put("val_images", val.images());
            info.put("val_data", job.val().name());
            info.set("arch", ModelFiles.configToJson(vit.config()));
            info.set("train", cfg.toJson());
            info.put("task", "dense");
            info.put("reduce", red.spec());
            if (croprTask != null) {
                info.put("cropr_task", croprTask.id());
                info.put("patch_labels", patchMode.id());
            }
            Map<String, FloatTensor> weights = ModelFiles.internalTensors(vit);
            weights.putAll(model.decoderTensors());
            weights.putAll(reducer.stateTensors());
            new TrainState(info, weights, opt.exportState()).write(files.state());
            return val;
        }
    }

    /** One batch, prepared off the training thread: normalised images and the loss's targets. */
    private record Batch(float[] x, List<DenseLoss.Sample> samples) {}

    private static Batch load(DenseDataset data, int from, int batch, DenseModel model, int n) {
        int cnt = Math.min(batch, n - from);
        int s = model.config().imageSize();
        float[] x = new float[cnt * 3 * s * s];
        List<DenseLoss.Sample> samples = new ArrayList<>(cnt);
        for (int i = 0; i < cnt; i++) {
            DenseExample e = data.get(from + i);
            DenseEvaluator.normalise(e.rgb(), model.config().preprocess(), x, i * 3 * s * s);
            samples.add(new DenseLoss.Sample(e.labels(), e.instanceIds(), e.boxes()));
        }
        return new Batch(x, samples);
    }

    private static DenseModel build(Job job, TrainState state) {
        VitConfig arch = job.arch();
        if (arch.numClasses() != 0) {
            throw new IllegalArgumentException("a dense backbone has no classifier; got " + arch.numClasses()
                    + " classes");
        }
        VisionTransformer vit = VisionTransformer.random(arch, job.cfg().seed());
        DenseModel model;
        try {
            if (state == null) {
                TimmInit.apply(vit, job.cfg().seed());
            }
            model = DenseModel.fresh(vit, job.classes(), job.cfg().seed());
        } catch (RuntimeException e) {
            vit.close();
            throw e;
        }
        try {
            if (state != null) {
                ModelFiles.assignInternal(vit, state.model(), "");
                copyDecoder(model, state.model());
            } else if (job.init() != null) {
                initFrom(model, job.init());
            }
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** The backbone (and a matching decoder) of {@code init}; its classifier, if any, is left out. */
    private static void initFrom(DenseModel model, Path init) {
        VitConfig arch = model.config();
        try (Checkpoint ck = Checkpoint.open(init, arch.heads()); VisionTransformer from = VisionTransformer.load(ck)) {
            if (!from.config().withClasses(0, List.of()).networkShape().equals(arch.networkShape())) {
                throw new VitrimException("init " + init + ": its backbone (" + from.config().networkShape()
                        + ") is not the one being trained (" + arch.networkShape() + ")");
            }
            Map<String, FloatTensor> values = ModelFiles.internalTensors(from);
            ModelFiles.assignInternal(model.backbone(), values, "");
            NDArray w = from.extra(DenseModel.WEIGHT);
            if (w != null && w.getShape().get(0) == model.channels()) {
                Map<String, FloatTensor> dec = new LinkedHashMap<>();
                dec.put(DenseModel.WEIGHT, new FloatTensor(w.getShape().getShape(), w.toFloatArray()));
                NDArray b = from.extra(DenseModel.BIAS);
                dec.put(DenseModel.BIAS, new FloatTensor(b.getShape().getShape(), b.toFloatArray()));
                copyDecoder(model, dec);
            }
        }
    }

    private static void copyDecoder(DenseModel model, Map<String, FloatTensor> values) {
        boolean grad = ai.djl.pytorch.jni.JniUtils.isGradMode();
        Torch.grad(false);
        try {
            for (Map.Entry<String, NDArray> e : model.decoderParameters().entrySet()) {
                AdamW.copyInto(e.getValue(), values.get(e.getKey()), e.getKey());
            }
        } finally {
            Torch.grad(grad);
        }
    }
}
