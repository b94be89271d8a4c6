package dev.vitrim.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.Presets;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.DataHome;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.engine.Torch;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.train.ArchSpec;
import dev.vitrim.train.ModelFiles;
import dev.vitrim.train.TrainConfig;
import dev.vitrim.train.TrainState;
import dev.vitrim.train.TrainingData;
import dev.vitrim.train.Trainer;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a ViT classifier, from scratch or from a checkpoint, on CPU.",
                "",
                "AdamW (no weight decay on norms, biases, tokens and position embeddings), linear warm-up then cosine "
                        + "decay, label smoothing, global-norm gradient clipping, fixed seeds. Mini-batches are "
                        + "prepared and augmented (random shifts; flips except for digits) in a background thread.",
                "",
                "The validation split is held out from the training data (a fixed, seeded, per-class "
                        + "--val-fraction) and picks the best epoch; test splits are refused here.",
                "",
                "Writes, for -o DIR/NAME.safetensors:",
                "  NAME.safetensors        the model with the best validation accuracy (timm names; config, class "
                        + "names and preprocessing in the metadata; loads in vitrim and timm)",
                "  NAME.last.safetensors   the model after the latest epoch",
                "  NAME.state.safetensors  weights + AdamW moments + counters, for --resume",
                "  NAME.log.jsonl          one JSON line per epoch (train/val loss and accuracy, lr, images/s, "
                        + "seconds)",
                "All are replaced atomically after every epoch: an interrupted run loses at most one epoch.",
                "",
                "With --reduce the tokens are reduced in every training forward, exactly as inference will run them, "
                        + "and validation runs the saved file with that reduction:",
                "  cropr:R=…   trains Token Cropr's pruning modules: per module, learnable queries plus a "
                        + "training-only aggregator and auxiliary head on the detached module input (stop-gradient: "
                        + "the backbone learns from the main loss only); main and auxiliary losses add up with weight "
                        + "1; top-k pruning inside the forward; ramp=true grows R from 0 over the first half of "
                        + "training; multiple=8 rounds kept counts down to multiples of 8; qstd=S draws the fresh queries with "
                        + "standard deviation S (default 0.02; the authors' code uses D^-1/2). The saved model keeps only "
                        + "the queries (cropr.{i}.cross_attn.queries) and records the schedule, so '--reduce cropr' "
                        + "runs it.",
                "  attn:…, evit:…, tome:…, random:…   fine-tune the backbone with that reducer on (seed 000); the "
                        + "spec is recorded in the model's metadata.",
                "",
                "Dense training (--data scenes:train or coco:DIR) takes --reduce too. With cropr:…,llf=true (Last Layer "
                        + "Fusion brings every pruned token back before the last block, so the heads see the whole "
                        + "grid) the auxiliary heads learn the dense task (--cropr-task):",
                "  segment    one query per patch; each query's head gives its patch's 1+K class logits; cross-entropy "
                        + "against the label map reduced to the patch grid (--patch-labels), ignored patches left out",
                "  presence   one query; a multi-label head says which classes the image holds (sigmoid binary "
                        + "cross-entropy), as the authors train Cropr for detection and instance segmentation",
                "--patch-labels picks a patch's label from its pixels: nearest takes one pixel, the patch's top-left "
                        + "(PyTorch's nearest downsampling, as the authors do: thin or small objects can vanish); "
                        + "majority takes the patch's most frequent label (ties: the lower; ignored pixels left out). "
                        + "Add ramp=true to grow R from 0 over the first half of training, as the authors' "
                        + "segmentation recipe does. The saved model keeps the queries and records the schedule: "
                        + "'vitrim segment --reduce cropr' and 'vitrim eval --task segment --reduce cropr' run it."},
        footer = {"", "Architecture (--config): comma-separated key=value pairs",
                "  width=D, depth=L, heads=H, patch=P   required (H divides D)",
                "  image=S     input size (default: the data set's, e.g. 28 for MNIST)",
                "  mlp=M       MLP hidden width (default 4*D)",
                "  pool=token|avg, eps=1e-6, name=vit_custom",
                "",
                "Data sets: mnist[:train], fashion-mnist[:train], cats-dogs[:train] (fetch them first with "
                        + "'vitrim data fetch'), folder:PATH (one sub-folder per class).",
                "",
                "Examples:",
                "  vitrim train --data mnist --config width=64,depth=6,heads=4,patch=2,mlp=128 --epochs 10 "
                        + "--batch 128 -o models/mnist.safetensors",
                "  vitrim train --data folder:pets/ --init deit_tiny.safetensors --epochs 5 --lr 2e-4 "
                        + "-o models/pets.safetensors",
                "  vitrim train --resume -o models/mnist.safetensors",
                "  vitrim train --data mnist --init models/mnist-vit.safetensors --reduce cropr:R=40,llf=true "
                        + "--epochs 2 --lr 5e-4 -o models/mnist-cropr.safetensors",
                "  vitrim train --data scenes:train --init runs/scenes-vit.safetensors "
                        + "--reduce cropr:R=8,llf=true,ramp=true --cropr-task segment --patch-labels nearest "
                        + "--epochs 5 --lr 2e-4 -o runs/scenes-cropr.safetensors"})
public final class TrainCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--data", paramLabel = "DATASET",
            description = "Training data: mnist, fashion-mnist, cats-dogs (their train split) or folder:PATH "
                    + "(with --resume: default the run's).")
    String data;

    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", description = "Token reduction while training and "
            + "validating (default: none, or the run's with --resume): cropr:R=8,llf=true[,ramp=true][,multiple=8][,qstd=S] "
            + "trains Cropr's modules; attn/evit/tome/random specs fine-tune with that reducer on (see below).")
    String reduce;

    @Option(names = "--cropr-task", paramLabel = "TASK", description = "Dense training with --reduce cropr: what "
            + "Cropr's auxiliary heads learn, segment (per-patch classes) or presence (which classes the image holds) "
            + "(default: segment, or the run's with --resume).")
    String croprTask;

    @Option(names = "--patch-labels", paramLabel = "MODE", description = "Dense training with --reduce cropr and "
            + "--cropr-task segment: a patch's label, nearest (its top-left pixel, as the authors) or majority (its "
            + "most frequent label) (default: nearest, or the run's with --resume).")
    String patchLabels;

    @Option(names = "--val", paramLabel = "DATASET",
            description = "Validation data instead of a hold-out, e.g. folder:PATH/val (same classes).")
    String val;

    @Option(names = "--val-fraction", paramLabel = "F", description = "Fraction of each class held out for "
            + "validation (default: 0.1).")
    Double valFraction;

    @Option(names = "--limit", paramLabel = "N", description = "Train on a seeded slice of N images (default: all).")
    Integer limit;

    @Option(names = "--val-limit", paramLabel = "N", description = "Validate on a seeded slice of N images.")
    Integer valLimit;

    static final class ArchChoice {
        @Option(names = "--config", paramLabel = "SPEC",
                description = "A custom architecture, e.g. width=64,depth=6,heads=4,patch=2,mlp=128 (see below).")
        String config;

        @Option(names = "--arch", paramLabel = "NAME", description = "A preset, e.g. deit_tiny_patch16_224 "
                + "(random weights).")
        String arch;

        @Option(names = "--init", paramLabel = "PATH", description = "Start from a checkpoint (any file or folder "
                + "vitrim loads); a new classifier head when the class count differs.")
        Path init;
    }

    @ArgGroup(exclusive = true)
    ArchChoice archChoice;

    @Option(names = "--heads", paramLabel = "N", description = "Heads of the --init checkpoint, when its file does not "
            + "say.")
    int heads;

    @Option(names = "--new-head", description = "With --init: a fresh classifier head even if the class count matches.")
    boolean newHead;

    @Option(names = "--epochs", paramLabel = "N", description = "Epochs (default: 10).")
    Integer epochs;

    @Option(names = "--batch", paramLabel = "B", description = "Images per step (default: 128).")
    Integer batch;

    @Option(names = "--micro-batch", paramLabel = "N", description = "Images per forward/backward pass; gradients of "
            + "the passes add up to the batch's (default: 32, fastest on CPU; 0: the whole batch at once).")
    Integer microBatch;

    @Option(names = "--lr", paramLabel = "LR", description = "Peak learning rate (default: 1e-3).")
    Double lr;

    @Option(names = "--module-lr", paramLabel = "LR", description = "Peak learning rate of the modules --reduce cropr "
            + "adds for training (queries, aggregators, auxiliary heads), on the same warm-up and decay; they start from "
            + "scratch while the backbone is only fine-tuned (default: the same as --lr).")
    Double moduleLr;

    @Option(names = "--layer-decay", paramLabel = "F", description = "Layer-wise learning-rate decay for fine-tuning: "
            + "the head trains at --lr, each block below it at F times the one above, the embeddings last (BEiT, DeiT "
            + "III and Cropr fine-tune with 0.65-0.75; default: 1, off).")
    Double layerDecay;

    @Option(names = "--min-lr", paramLabel = "LR", description = "Final learning rate of the cosine (default: 1e-5).")
    Double minLr;

    @Option(names = "--warmup", paramLabel = "EPOCHS", description = "Linear warm-up in epochs, fractions allowed "
            + "(default: 10%% of --epochs, at most 5).")
    Double warmup;

    @Option(names = "--weight-decay", paramLabel = "WD", description = "AdamW weight decay (default: 0.05).")
    Double weightDecay;

    @Option(names = "--label-smoothing", paramLabel = "E", description = "Label smoothing (default: 0.1).")
    Double labelSmoothing;

    @Option(names = "--clip-grad", paramLabel = "NORM", description = "Clip the global gradient norm; 0 disables "
            + "(default: 1.0).")
    Double clipGrad;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of initialisation, data order and augmentation "
            + "(default: 0).")
    Long seed;

    @Option(names = "--translate", paramLabel = "PX", description = "Maximum random shift of training images "
            + "(default: 2 for MNIST/Fashion-MNIST, 4 for cats-dogs, size/8 for folders).")
    Integer translate;

    @Option(names = "--flip", negatable = true, description = "Random horizontal flips (default: on, except MNIST).")
    Boolean flip;

    @Option(names = {"-o", "--output"}, paramLabel = "PATH", required = true,
            description = "Where the best model goes (NAME.safetensors); the other files sit next to it.")
    Path output;

    @Option(names = "--resume", description = "Continue the run of -o from NAME.state.safetensors, exactly; "
            + "options not given are taken from the run.")
    boolean resume;

    @Option(names = "--overwrite", description = "Start over even if files of an earlier run exist at -o.")
    boolean overwrite;

    @Option(names = "--precision", paramLabel = "fp32|bf16|auto", defaultValue = "fp32", description = "Arithmetic "
            + "of training: fp32 (default), bf16 (mixed precision: the blocks' linear layers compute forward and "
            + "backward products in bfloat16, while weights, gradients, optimizer state, LayerNorm, attention and the "
            + "residual stream stay float32; fast on CPUs with AMX or AVX512_BF16, emulated and slower elsewhere, "
            + "with a warning), auto (bf16 where the CPU has AMX or AVX512_BF16, else fp32). Validation and the "
            + "saved model are float32. docs/precision.md.")
    String precision;

    @Option(names = "--eval-batch", paramLabel = "B", defaultValue = "256",
            description = "Validation batch size (default: ${DEFAULT-VALUE}).")
    int evalBatch;

    @Option(names = "--stop-after", paramLabel = "N", description = "End this run after N epochs (the schedule "
            + "stays that of --epochs); --resume continues it exactly. For long runs in chunks.")
    int stopAfter;

    @Option(names = "--progress", negatable = true, description = "Progress bar on stderr (default: on when "
            + "attached to a terminal).")
    Boolean progress;

    @Mixin
    CommonOptions common;

    /** "1 thread" or "N threads": the intra-op threads training runs on. */
    private static String threads() {
        return BenchCommand.threads(ai.djl.pytorch.jni.JniUtils.getNumThreads());
    }

    private boolean given(String option) {
        return spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    @Override
    public Integer call() {
        trainingPrecision(); // a bad --precision fails before anything loads
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Torch.engine(common.threads);
        Trainer.Files4 files = Trainer.Files4.of(output);
        TrainState state = null;
        ObjectNode savedData = null;
        if (resume) {
            if (!Files.exists(files.state())) {
                throw new VitrimException("--resume: " + files.state() + " not found (it is written after every epoch "
                        + "of a run with -o " + output + ")");
            }
            state = TrainState.read(files.state());
            savedData = state.info().path("data_options").isObject() ? (ObjectNode) state.info().path("data_options")
                    : null;
        }
        // data options: given > saved run > defaults
        String dataName = data != null ? data : savedData != null && savedData.has("data")
                ? savedData.path("data").asText(null) : state != null ? state.data() : null;
        if (dataName == null) {
            throw new VitrimException("--data is required (e.g. --data mnist; allowed: " + Datasets.USAGE + ")");
        }
        String valName = val != null ? val : savedData != null ? savedData.path("val").asText(null)
                : state != null ? state.info().path("val_data").asText(null) : null;
        if (valName == null && !isDense(dataName) && TrainingData.isScenes1(Datasets.parse(dataName))) {
            valName = "scenes-1:val"; // generated scenes have their own validation split (recorded for --resume)
        }
        if (!isDense(dataName) && (croprTask != null || patchLabels != null)) {
            throw new VitrimException((croprTask != null ? "--cropr-task" : "--patch-labels") + " applies to dense "
                    + "training (--data scenes:train or coco:DIR); classification's Cropr heads learn the class");
        }
        if (isDense(dataName)) {
            return trainDense(state, savedData, dataName, valName, out);
        }
        double fraction = valFraction != null ? valFraction : savedData != null
                ? savedData.path("val_fraction").asDouble(0.1) : 0.1;
        int trainLimit = limit != null ? limit : savedData != null ? savedData.path("limit").asInt(0) : 0;
        int vLimit = valLimit != null ? valLimit : savedData != null ? savedData.path("val_limit").asInt(0) : 0;
        if (!(fraction > 0 && fraction < 1)) {
            throw new VitrimException("--val-fraction must be between 0 and 1 (exclusive), got " + fraction);
        }
        if (trainLimit < 0 || vLimit < 0) {
            throw new VitrimException("--limit and --val-limit must be positive");
        }
        Datasets.Spec spec0 = Datasets.parse(dataName);
        Datasets.Info info = Datasets.info(spec0);
        List<String> classes = info.classes();
        int k = classes.size();

        VitConfig arch = architecture(state, info, classes, k);
        if (arch.numClasses() != k) {
            throw new VitrimException("the model has " + arch.numClasses() + " outputs but " + spec0 + " has " + k
                    + " classes");
        }

        TrainConfig cfg = trainConfig(state, err, info.translateFor(arch.imageSize()), info.flip(), 128, 32);
        TrainingData sets = TrainingData.load(spec0, valName, fraction, trainLimit, vLimit, arch.preprocess(),
                DataHome.root());
        LabeledImages trainSet = sets.train();
        LabeledImages valSet = sets.val();
        ObjectNode dataOptions = JSON.createObjectNode();
        dataOptions.put("data", dataName).put("val", valName).put("val_fraction", fraction).put("limit", trainLimit)
                .put("val_limit", vLimit);

        out.printf(Locale.ROOT, "model: %s (%,d parameters)%n", describe(arch), arch.parameterCount());
        out.printf(Locale.ROOT, "data: %,d training and %,d validation images from %s, %d classes, %s%n",
                trainSet.size(), valSet.size(), spec0, k, threads());
        out.flush();

        boolean bar = progress != null ? progress : System.console() != null;
        Path initPath = archChoice != null ? archChoice.init : null;
        if (initPath == null && state != null && !state.info().path("init").isNull()
                && !state.info().path("init").isMissingNode()) {
            initPath = Path.of(state.info().path("init").asText());
        }
        String reduceSpec = reduce != null ? reduce : state != null ? state.info().path("reduce").asText("none") : "none";
        if (!reduceSpec.equals("none")) {
            out.println("reduce: " + reduceSpec);
        }
        Trainer.Job job = new Trainer.Job(arch, initPath, newHead, trainSet, valSet, spec0.toString(),
                cfg, output, resume, overwrite, evalBatch, dataOptions, reduceSpec, sets.epochData());
        Trainer.Summary sum = Trainer.run(job, new Listener(out, bar, trainingPrecision(),
                spec.commandLine().getErr()), stopAfter);
        out.printf(Locale.ROOT, "best: epoch %d, val acc %.2f%% -> %s%n", sum.bestEpoch(), 100 * sum.bestValAcc(),
                sum.model());
        out.printf("last epoch: %s; resume state: %s; log: %s%n", sum.last(), sum.state(), sum.log());
        return 0;
    }

    /** Hyperparameters: given &gt; the saved run's &gt; defaults; a resumed run with changed ones gets a note. */
    private TrainConfig trainConfig(TrainState state, PrintWriter err, int translateDefault, boolean flipDefault,
                                    int batchDefault, int microDefault) {
        TrainConfig base = state != null ? TrainConfig.fromJson(state.info().path("train")) : null;
        int ep = epochs != null ? epochs : base != null ? base.epochs() : 10;
        double wu = warmup != null ? warmup : base != null && !given("--epochs") ? base.warmupEpochs()
                : Math.min(5.0, 0.1 * ep);
        TrainConfig cfg = new TrainConfig(ep,
                batch != null ? batch : base != null ? base.batch() : batchDefault,
                lr != null ? lr : base != null ? base.lr() : 1e-3,
                minLr != null ? minLr : base != null ? base.minLr() : 1e-5,
                wu,
                weightDecay != null ? weightDecay : base != null ? base.weightDecay() : 0.05,
                0.9, 0.999, 1e-8,
                labelSmoothing != null ? labelSmoothing : base != null ? base.labelSmoothing() : 0.1,
                clipGrad != null ? clipGrad : base != null ? base.clipNorm() : 1.0,
                seed != null ? seed : base != null ? base.seed() : 0,
                translate != null ? translate : base != null ? base.translate() : translateDefault,
                flip != null ? flip : base != null ? base.flip() : flipDefault,
                microBatch != null ? microBatch : base != null ? base.microBatch() : microDefault,
                moduleLr != null ? moduleLr : base != null ? base.moduleLr() : 0,
                layerDecay != null ? layerDecay : base != null ? base.layerDecay() : 1.0);
        if (base != null) {
            List<String> changed = new ArrayList<>();
            ObjectNode a = base.toJson();
            ObjectNode b = cfg.toJson();
            a.fieldNames().forEachRemaining(f -> {
                if (!a.get(f).equals(b.get(f))) {
                    changed.add(f + " " + a.get(f) + " -> " + b.get(f));
                }
            });
            if (!changed.isEmpty()) {
                err.println("vitrim: note: resuming with changed settings (" + String.join(", ", changed)
                        + "); the result differs from an uninterrupted run");
            }
        }
        return cfg;
    }

    private static boolean isDense(String dataName) {
        String t = dataName.strip().toLowerCase(Locale.ROOT);
        return t.startsWith("coco:") || t.equals("scenes") || t.startsWith("scenes:");
    }

    /**
     * Dense training (segmentation, detection, instance grouping in one model) on scenes (a fresh stream of
     * --limit scenes per epoch, validation on the first --val-limit of the fixed validation set) or a COCO folder.
     */
    private int trainDense(TrainState state, ObjectNode savedData, String dataName, String valName, PrintWriter out) {
        PrintWriter err = spec.commandLine().getErr();
        String reduceSpec = reduce != null ? reduce : state != null ? state.info().path("reduce").asText("none")
                : "none";
        dev.vitrim.train.CroprTraining.Task task = dev.vitrim.train.CroprTraining.Task.parse(croprTask != null
                ? croprTask : state != null ? state.info().path("cropr_task").asText("segment") : "segment");
        dev.vitrim.dense.PatchLabels.Mode labelMode = dev.vitrim.dense.PatchLabels.Mode.parse(patchLabels != null
                ? patchLabels : state != null ? state.info().path("patch_labels").asText("nearest") : "nearest");
        if (task == dev.vitrim.train.CroprTraining.Task.CLASSIFY) {
            throw new VitrimException("--cropr-task classify: dense training's Cropr heads learn segment or presence");
        }
        boolean croprRun = reduceSpec.strip().toLowerCase(Locale.ROOT).startsWith("cropr");
        if (!croprRun && (croprTask != null || patchLabels != null)) {
            throw new VitrimException((croprTask != null ? "--cropr-task" : "--patch-labels") + " applies to "
                    + "--reduce cropr:… only (the reduction is " + reduceSpec + ")");
        }
        int perEpoch = limit != null ? limit : state != null ? state.info().path("train_images").asInt(0) : 0;
        int vLimit = valLimit != null ? valLimit : state != null ? state.info().path("val_images").asInt(500) : 500;
        Path root = DataHome.root();
        String lower = dataName.strip().toLowerCase(Locale.ROOT);
        java.util.function.IntFunction<dev.vitrim.dense.DenseDataset> trainFor;
        dev.vitrim.dense.DenseDataset valSet;
        List<String> classes;
        int size;
        VitConfig arch;
        if (lower.startsWith("coco:")) {
            if (valName == null) {
                throw new VitrimException("--data " + dataName + ": give validation images too, --val coco:DIR");
            }
            arch = denseArchitecture(state, 112, Datasets.FASHION);
            size = arch.imageSize();
            dev.vitrim.dense.DenseDataset train = dev.vitrim.data.DenseData.open(dataName, root, size);
            trainFor = e -> train;
            valSet = dev.vitrim.data.DenseData.open(valName, root, size);
            classes = train.classes();
            perEpoch = train.size();
        } else {
            Datasets.Spec sp = Datasets.parse(dataName);
            dataName = sp.toString();
            if (!sp.split().equals("train")) {
                throw new VitrimException("--data " + dataName + ": train on scenes:train (validation is the fixed "
                        + "scenes:val set; test is only for final numbers)");
            }
            dev.vitrim.data.scenes.SceneGenerator gen = dev.vitrim.data.scenes.SceneGenerator.open(root);
            arch = denseArchitecture(state, dev.vitrim.data.scenes.SceneGenerator.SIZE, Datasets.FASHION);
            classes = Datasets.FASHION;
            int n = perEpoch > 0 ? perEpoch : dev.vitrim.data.scenes.SceneGenerator.TRAIN_SCENES;
            perEpoch = n;
            long dataSeed = dev.vitrim.data.scenes.SceneGenerator.TRAIN_SEED;
            trainFor = e -> dev.vitrim.data.scenes.SceneDenseData.trainEpoch(gen, dataSeed, e, n, false);
            valSet = dev.vitrim.data.scenes.SceneDenseData.fixed(gen, dev.vitrim.data.scenes.SceneSplit.VAL, false);
        }
        TrainConfig cfg = trainConfig(state, err, 0, false, 64, 32);
        out.printf(Locale.ROOT, "model: %s (%,d parameters) with dense heads for %d classes%n", describe(arch),
                arch.parameterCount(), classes.size());
        out.printf(Locale.ROOT, "data: %,d training images per epoch from %s, validation on %,d of %s, %s%n",
                perEpoch, dataName, vLimit > 0 ? Math.min(vLimit, valSet.size()) : valSet.size(), valSet.name(),
                threads());
        out.flush();
        Path initPath = archChoice != null ? archChoice.init : null;
        if (initPath == null && state != null && state.info().hasNonNull("init")) {
            initPath = Path.of(state.info().path("init").asText());
        }
        boolean bar = progress != null ? progress : System.console() != null;
        dev.vitrim.train.DenseTrainer.Job job = new dev.vitrim.train.DenseTrainer.Job(arch, classes, initPath,
                trainFor, valSet, vLimit, dataName.strip(), cfg, output, resume, overwrite,
                evalBatch, stopAfter, reduceSpec, task, labelMode);
        if (!reduceSpec.equals("none")) {
            out.println("reduce: " + reduceSpec + (croprRun ? " (Cropr heads: " + task.id()
                    + (task == dev.vitrim.train.CroprTraining.Task.SEGMENT ? ", " + labelMode.id() + " patch labels"
                    : "") + ")" : ""));
        }
        dev.vitrim.train.DenseTrainer.Summary sum = dev.vitrim.train.DenseTrainer.run(job, new Listener(out, bar,
                trainingPrecision(), spec.commandLine().getErr()));
        out.printf(Locale.ROOT, "best: epoch %d (mean of val mIoU and box AP %.4f) -> %s; log: %s%n", sum.bestEpoch(),
                sum.bestScore(), sum.model(), sum.log());
        return 0;
    }

    private VitConfig denseArchitecture(TrainState state, int nativeSize, List<String> classes) {
        java.util.function.IntFunction<dev.vitrim.image.PreprocessConfig> pre = sz -> new dev.vitrim.image.PreprocessConfig(
                sz, 1.0, dev.vitrim.image.PreprocessConfig.IMAGENET_MEAN, dev.vitrim.image.PreprocessConfig.IMAGENET_STD,
                dev.vitrim.image.Interpolation.BILINEAR);
        if (state != null && (archChoice == null || archChoice.init != null)) {
            return ModelFiles.configFromJson(state.arch());
        }
        if (archChoice == null) {
            throw new VitrimException("give an architecture: --config SPEC or --init PATH");
        }
        if (archChoice.config != null) {
            return ArchSpec.toConfig(archChoice.config, nativeSize, 0, List.of(), pre);
        }
        if (archChoice.arch != null) {
            VitConfig p = Presets.get(archChoice.arch);
            return p.withClasses(0, List.of()).withPreprocess(pre.apply(p.imageSize()));
        }
        try (Checkpoint ck = Checkpoint.open(archChoice.init, heads)) {
            return ck.config().withClasses(0, List.of());
        }
    }

    private VitConfig architecture(TrainState state, Datasets.Info info, List<String> classes, int k) {
        if (archChoice == null) {
            if (state != null) {
                return ModelFiles.configFromJson(state.arch());
            }
            throw new VitrimException("give an architecture: --config SPEC, --arch NAME or --init PATH");
        }
        if (archChoice.config != null) {
            return ArchSpec.toConfig(archChoice.config, info.nativeSize(), k, classes, info::preprocess);
        }
        if (archChoice.arch != null) {
            VitConfig p = Presets.get(archChoice.arch);
            return p.withClasses(k, classes).withPreprocess(info.preprocess(p.imageSize()));
        }
        try (Checkpoint ck = Checkpoint.open(archChoice.init, heads)) {
            // a model without classifier (e.g. a dense model's backbone) gets a fresh head for the data's classes
            return ck.config().withClasses(k, classes);
        }
    }

    static String describe(VitConfig c) {
        return c.name() + " (" + c.networkShape() + ")";
    }

    /**
     * One progress bar per epoch on stderr with the running numbers as its message; without a bar (logs, pipes), a
     * plain line on stderr every tenth of an epoch, so a long run in the background can be followed.
     */
    static final class EpochBar {
        private final boolean on;
        private ProgressBar pb;
        private int epoch;
        private int epochs;
        private int steps;
        private int lastTenth;

        EpochBar(boolean on) {
            this.on = on;
        }

        void start(int epoch, int epochs, int steps) {
            this.epoch = epoch;
            this.epochs = epochs;
            this.steps = steps;
            this.lastTenth = 0;
            if (on) {
                pb = new ProgressBarBuilder().setTaskName(String.format(Locale.ROOT, "epoch %d/%d", epoch, epochs))
                        .setInitialMax(steps).setUpdateIntervalMillis(500)
                        .setConsumer(new ConsoleProgressBarConsumer(System.err)).build();
            }
        }

        void step(int step, String message) {
            if (pb != null) {
                pb.stepTo(step);
                pb.setExtraMessage(message);
                return;
            }
            int tenth = steps >= 10 ? step * 10 / steps : 0;
            if (tenth > lastTenth && step < steps) {
                lastTenth = tenth;
                System.err.printf(Locale.ROOT, "epoch %d/%d: step %d/%d, %s%n", epoch, epochs, step, steps, message);
                System.err.flush();
            }
        }

        void end() {
            if (pb != null) {
                pb.close();
                pb = null;
            }
        }
    }

    /** {@code --precision} for training: int8 is refused before anything loads. */
    private dev.vitrim.engine.Precision trainingPrecision() {
        dev.vitrim.engine.Precision p = dev.vitrim.engine.Precision.parse(precision);
        if (p == dev.vitrim.engine.Precision.INT8) {
            throw new VitrimException("--precision int8 is for inference: training runs fp32, bf16 or auto");
        }
        return p;
    }

    /** Sets the model's training precision and says on {@code err} what runs, with a warning where it is emulated. */
    static void applyTrainingPrecision(dev.vitrim.model.VisionTransformer vit, dev.vitrim.engine.Precision p,
                                       PrintWriter err) {
        dev.vitrim.engine.Precision.Choice c = vit.useTrainingPrecision(p);
        if (p != dev.vitrim.engine.Precision.FP32) {
            err.println("vitrim: training precision " + c.reason());
            if (c.reason().contains("emulated")) {
                err.println("vitrim: warning: bf16 training on this CPU is slower than fp32; use it to check results, "
                        + "or --precision auto");
            }
            err.flush();
        }
    }

    /** Progress bar on stderr and one summary line per epoch on stdout, for classifier and dense training. */
    static final class Listener implements Trainer.Listener, dev.vitrim.train.DenseTrainer.Listener {
        private final PrintWriter out;
        private final EpochBar bar;
        private final dev.vitrim.engine.Precision precision;
        private final PrintWriter err;

        Listener(PrintWriter out, boolean bar, dev.vitrim.engine.Precision precision, PrintWriter err) {
            this.out = out;
            this.bar = new EpochBar(bar);
            this.precision = precision;
            this.err = err;
        }

        @Override
        public void modelReady(dev.vitrim.model.VisionTransformer vit) {
            applyTrainingPrecision(vit, precision, err);
        }

        @Override
        public void epochStart(int epoch, int epochs, int steps, int images) {
            bar.start(epoch, epochs, steps);
        }

        @Override
        public void step(int epoch, int step, int steps, double loss, double accuracy, double imagesPerSec, double lr) {
            bar.step(step, String.format(Locale.ROOT, "loss %.4f acc %.1f%% %.0f img/s", loss, 100 * accuracy,
                    imagesPerSec));
        }

        @Override
        public void epochEnd(Trainer.EpochResult r) {
            bar.end();
            String aux = Double.isNaN(r.auxLoss()) ? "" : String.format(Locale.ROOT, " aux %.4f", r.auxLoss());
            out.printf(Locale.ROOT, "epoch %d/%d: train loss %.4f%s acc %.2f%% | val loss %.4f acc %.2f%%%s | lr %.2e | "
                            + "%.0f img/s | %.0f s%n", r.epoch(), r.epochs(), r.trainLoss(), aux, 100 * r.trainAcc(),
                    r.valLoss(), 100 * r.valAcc(), r.best() ? " (best)" : "", r.lr(), r.imagesPerSec(), r.seconds());
            out.flush();
        }

        @Override
        public void step(int epoch, int step, int steps, double loss, double imagesPerSec, double lr) {
            bar.step(step, String.format(Locale.ROOT, "loss %.4f %.1f img/s", loss, imagesPerSec));
        }

        @Override
        public void epochEnd(ObjectNode r) {
            bar.end();
            out.printf(Locale.ROOT, "epoch %d/%d: loss %.4f (seg %.3f heat %.3f size %.3f offset %.3f centre %.3f) | "
                            + "val mIoU %.2f box AP %.2f AP50 %.2f%s | lr %.2e | %.1f img/s | %.0f s%n",
                    r.get("epoch").asInt(), r.get("epochs").asInt(), r.get("train_loss").asDouble(),
                    r.get("seg_loss").asDouble(), r.get("heat_loss").asDouble(), r.get("size_loss").asDouble(),
                    r.get("offset_loss").asDouble(), r.get("center_loss").asDouble(),
                    100 * r.get("val_miou").asDouble(), 100 * r.get("val_box_ap").asDouble(),
                    100 * r.get("val_box_ap50").asDouble(), r.get("best").asBoolean() ? " (best)" : "",
                    r.get("lr").asDouble(), r.get("images_per_s").asDouble(), r.get("seconds").asDouble());
            if (r.has("aux_loss")) {
                out.printf(Locale.ROOT, "  Cropr auxiliary loss %.4f (mean over modules)%n", r.get("aux_loss").asDouble());
            }
            out.flush();
        }

        @Override
        public void message(String line) {
            out.println(line);
            out.flush();
        }
    }
}
