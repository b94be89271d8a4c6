package dev.vitrim.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.data.DataHome;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.DenseData;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.dense.DenseDataset;
import dev.vitrim.dense.DenseEvaluator;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.eval.Evaluation;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.TokenReducer;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Measure a model on labelled images, reduced or not: top-1, top-5, per-class accuracy, "
                + "images/s, mean tokens after each block and GMACs per image.", "",
                "Data sets: " + Datasets.USAGE + " (fetch them first with `vitrim data fetch`). Use the test "
                        + "split for final numbers only."},
        footer = {"", "Examples:", "  vitrim eval --model models/mnist-vit.safetensors --data mnist:test",
                "  vitrim eval --model models/mnist-vit.safetensors --data mnist:test --reduce attn --json",
                "  vitrim eval --model models/mnist-vit.safetensors --data mnist:test --reduce attn --runtime onnxruntime",
                "  vitrim eval --model models/scenes-vit.safetensors --data scenes:test --task instances",
                "  vitrim eval --model models/scenes-vit.safetensors --data coco:exported/ --task detect --json"})
public final class EvalCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ReduceOptions reduce;

    @Mixin
    CommonOptions common;

    @Mixin
    RuntimeOption runtime;

    @Option(names = "--data", required = true, paramLabel = "DATASET", description = "e.g. mnist:test")
    String data;

    @Option(names = "--limit", paramLabel = "N", description = "Only the first N images.")
    Integer limit;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "64", description = "Images per forward (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--json", description = "Print {top1, top5, images, images_per_s, gmacs, per_class, tokens_per_block, per_class_tokens, reduce}; with a dense --task {miou, iou, box, mask, images, images_per_s, gmacs, tokens_per_block, reduce}.")
    boolean json;

    @Option(names = "--against-fp32", description = "With --precision bf16, int8 or auto: also run the model in fp32 "
            + "on the same images and report its top-1 and how many top-1 predictions the format changes "
            + "(JSON: fp32_top1, top1_changed, top1_changed_images; logit_abs_diff_mean, logit_abs_diff_max and "
            + "fp32_logit_abs_mean: how far the logits moved).")
    boolean againstFp32;

    @Option(names = "--task", paramLabel = "TASK", defaultValue = "classify",
            description = "classify (top-1; e.g. scenes-1:test), or with a dense model on scenes:test or coco:DIR: "
                    + "segment (mIoU, per class and mean, accumulated over the whole set), detect (COCO box AP: AP, "
                    + "AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl, as pycocotools), instances (mask AP "
                    + "too). Default: ${DEFAULT-VALUE}.")
    String task;

    @Override
    public Integer call() throws Exception {
        if (batch < 1 || (limit != null && limit < 1)) {
            throw new VitrimException("--batch and --limit must be at least 1");
        }
        if (againstFp32 && !task.equals("classify")) {
            throw new VitrimException("--against-fp32 compares top-1 predictions: it needs --task classify");
        }
        switch (task) {
            case "classify":
                break;
            case "segment":
            case "detect":
            case "instances":
                return dense();
            default:
                throw new VitrimException("--task " + task + ": not one of classify, segment, detect, instances");
        }
        if (runtime.onnx(modelOptions.model)) {
            return onnx();
        }
        try (VisionTransformer vit = modelOptions.load(common)) {
            TokenReducer r = reduce.reducer(vit);
            LabeledImages images = Datasets.load(Datasets.parse(data), DataHome.root(), vit.config().preprocess());
            if (limit != null && limit < images.size()) {
                int[] first = new int[limit];
                for (int i = 0; i < limit; i++) {
                    first[i] = i;
                }
                images = images.subset(first, images.name());
            }
            ImageTransform t = new ImageTransform(vit.config().preprocess(), 0, false);
            Evaluation.Result res = Evaluation.run(vit, images, t, r, batch, null);
            Evaluation.Agreement vs = null;
            if (againstFp32) {
                try (VisionTransformer fp32 = VisionTransformer.load(modelOptions.model, modelOptions.heads)) {
                    vs = Evaluation.agreement(vit, fp32, images, t, r, batch);
                }
            }
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ObjectNode o = om.createObjectNode();
                o.put("data", data).put("reduce", r.spec()).put("top1", res.top1()).put("top5", res.top5())
                        .put("images", res.images()).put("images_per_s", res.imagesPerS()).put("gmacs", res.gmacs());
                o.put("precision", vit.precision().chosen().label()).put("precision_reason", vit.precision().reason());
                if (vs != null) {
                    o.put("fp32_top1", vs.refTop1()).put("top1_changed", (double) vs.changed() / vs.images())
                            .put("top1_changed_images", vs.changed()).put("logit_abs_diff_mean", vs.meanAbsDiff())
                            .put("logit_abs_diff_max", vs.maxAbsDiff()).put("fp32_logit_abs_mean", vs.meanAbsRef());
                }
                o.set("per_class", om.valueToTree(res.perClass()));
                o.set("tokens_per_block", om.valueToTree(res.meanTokens()));
                o.set("per_class_tokens", om.valueToTree(res.perClassTokens()));
                out.println(om.writeValueAsString(o));
                return 0;
            }
            out.printf(Locale.ROOT, "%s on %s (%d images), %s%n", modelOptions.model, data, res.images(), r.spec());
            out.printf(Locale.ROOT, "top-1 %.2f%%  top-5 %.2f%%  %.1f images/s  %.4f GMACs/image%n", 100 * res.top1(),
                    100 * res.top5(), res.imagesPerS(), res.gmacs());
            if (vs != null) {
                out.printf(Locale.ROOT, "%s against fp32: fp32 top-1 %.2f%%; %d of %d top-1 predictions changed "
                        + "(%.2f%%); |logit difference| mean %.3g, largest %.3g (fp32 |logit| mean %.3g)%n",
                        vit.precision().chosen().label(), 100 * vs.refTop1(), vs.changed(), vs.images(),
                        100.0 * vs.changed() / vs.images(), vs.meanAbsDiff(), vs.maxAbsDiff(), vs.meanAbsRef());
            }
            StringBuilder pc = new StringBuilder("per class:");
            for (int j = 0; j < res.perClass().length; j++) {
                pc.append(String.format(Locale.ROOT, " %s %.1f%%", vit.config().label(j), 100 * res.perClass()[j]));
            }
            out.println(pc);
            StringBuilder tk = new StringBuilder("mean tokens after each block:");
            for (double v : res.meanTokens()) {
                tk.append(String.format(Locale.ROOT, " %.1f", v));
            }
            out.println(tk);
            if (r.perImageCounts()) { // counts differ per image: show where the reducer spends its tokens
                StringBuilder ct = new StringBuilder("mean tokens per class (fewest an image ran on):");
                for (int j = 0; j < res.perClassTokens().length; j++) {
                    ct.append(String.format(Locale.ROOT, " %s %.1f", vit.config().label(j), res.perClassTokens()[j]));
                }
                out.println(ct);
            }
        }
        return 0;
    }

    private int dense() throws Exception {
        dev.vitrim.engine.Torch.engine(common.threads);
        modelOptions.precision.requested();
        try (DenseModel m = DenseModel.load(modelOptions.model)) {
            modelOptions.precision.apply(m.backbone(), spec.commandLine().getErr());
            TokenReducer r = reduce.reducer(m.backbone());
            DenseDataset d = DenseData.open(data, DataHome.root(), m.config().imageSize());
            List<String> problems = d instanceof DenseData.CocoFolder ? ((DenseData.CocoFolder) d).problems()
                    : List.of();
            for (String p : problems) {
                spec.commandLine().getErr().println("vitrim: " + p + " (left out)");
            }
            boolean masks = task.equals("instances");
            int n = limit != null ? Math.min(limit, d.size()) : d.size();
            boolean bar = System.console() != null && n > batch;
            DenseEvaluator.Metrics res;
            try (me.tongfei.progressbar.ProgressBar pb = bar ? new me.tongfei.progressbar.ProgressBarBuilder()
                    .setTaskName("eval").setInitialMax(n).setConsumer(
                            new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build() : null) {
                res = DenseEvaluator.evaluate(m, d, r, batch, n, masks, done -> {
                    if (pb != null) {
                        pb.stepTo(done);
                    }
                });
            }
            double gmacs = (Macs.plan(m.config(), r).macs()
                    + (long) m.config().numPatches() * m.config().width() * m.channels()) / 1e9;
            PrintWriter out = spec.commandLine().getOut();
            List<String> segClasses = res.segmentation().classNames();
            double[] iou = res.segmentation().iou();
            if (json) {
                ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ObjectNode o = om.createObjectNode();
                o.put("data", d.name()).put("task", task).put("reduce", r.spec()).put("gmacs", gmacs);
                o.put("precision", m.backbone().precision().chosen().label())
                        .put("precision_reason", m.backbone().precision().reason());
                o.setAll(res.toJson());
                out.println(om.writeValueAsString(o));
                return problems.isEmpty() ? 0 : 2;
            }
            out.printf(Locale.ROOT, "%s on %s (%d images), %s: %.1f images/s, %.4f GMACs/image%n", modelOptions.model,
                    d.name(), res.images(), r.spec(), res.imagesPerSecond(), gmacs);
            if (!r.spec().equals("none")) {
                StringBuilder tb = new StringBuilder("mean tokens after each block:");
                for (double v : res.meanTokens()) {
                    tb.append(String.format(Locale.ROOT, " %.1f", v));
                }
                out.println(tb);
            }
            out.printf(Locale.ROOT, "mIoU %.2f  (pixel accuracy %.2f%%)%n", 100 * res.meanIou(),
                    100 * res.segmentation().pixelAccuracy());
            StringBuilder pc = new StringBuilder("IoU per class:");
            for (int k = 0; k < iou.length; k++) {
                pc.append(String.format(Locale.ROOT, " %s %.1f", segClasses.get(k), 100 * iou[k]));
            }
            out.println(pc);
            if (!task.equals("segment")) {
                out.println("box:");
                out.print(res.boxes().summary());
            }
            if (res.masks() != null) {
                out.println("mask:");
                out.print(res.masks().summary());
            }
            return problems.isEmpty() ? 0 : 2;
        }
    }

    /** --runtime onnxruntime: top-1 of the graph (an .onnx file, or the checkpoint exported with its --reduce). */
    private int onnx() throws Exception {
        if (!task.equals("classify")) {
            throw new VitrimException("--task " + task + " needs --runtime vitrim (dense heads do not export yet)");
        }
        String reduceSpec;
        int[] counts = null;
        double gmacs = Double.NaN;
        java.util.List<String> names;
        try (RuntimeOption.Loaded g = RuntimeOption.load(modelOptions, reduce, common)) {
            if (!RuntimeOption.isOnnx(modelOptions.model)) {
                try (dev.vitrim.model.Checkpoint ck = dev.vitrim.model.Checkpoint.open(modelOptions.model,
                        modelOptions.heads)) {
                    TokenReducer r = dev.vitrim.reduce.Reducers.parse(reduce.reduce, ck.recordedReduce());
                    dev.vitrim.reduce.Macs.Plan plan = dev.vitrim.reduce.Macs.plan(ck.config(), r);
                    counts = plan.afterBlock();
                    gmacs = plan.gmacs();
                    reduceSpec = r.spec();
                }
            } else {
                reduceSpec = g.model().reduceSpec() == null ? "(unknown)" : g.model().reduceSpec();
            }
            LabeledImages images = Datasets.load(Datasets.parse(data), DataHome.root(), g.preprocess());
            if (limit != null && limit < images.size()) {
                int[] first = new int[limit];
                for (int i = 0; i < limit; i++) {
                    first[i] = i;
                }
                images = images.subset(first, images.name());
            }
            names = images.classes();
            ImageTransform t = new ImageTransform(g.preprocess(), 0, false);
            Evaluation.Result res = dev.vitrim.onnx.OnnxEvaluation.run(g.model(), images, t, batch, counts, gmacs);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ObjectNode o = om.createObjectNode();
                o.put("data", data).put("reduce", reduceSpec).put("runtime", "onnxruntime").put("top1", res.top1())
                        .put("top5", res.top5()).put("images", res.images()).put("images_per_s", res.imagesPerS());
                if (!Double.isNaN(gmacs)) {
                    o.put("gmacs", gmacs);
                    o.set("tokens_per_block", om.valueToTree(res.meanTokens()));
                }
                o.set("per_class", om.valueToTree(res.perClass()));
                out.println(om.writeValueAsString(o));
                return 0;
            }
            out.printf(Locale.ROOT, "%s on %s (%d images), %s, ONNX Runtime%n", modelOptions.model, data, res.images(),
                    reduceSpec);
            out.printf(Locale.ROOT, "top-1 %.2f%%  top-5 %.2f%%  %.1f images/s%s%n", 100 * res.top1(), 100 * res.top5(),
                    res.imagesPerS(), Double.isNaN(gmacs) ? "" : String.format(Locale.ROOT, "  %.4f GMACs/image", gmacs));
            StringBuilder pc = new StringBuilder("per class:");
            for (int j = 0; j < res.perClass().length; j++) {
                pc.append(String.format(Locale.ROOT, " %s %.1f%%", j < names.size() ? names.get(j) : Integer.toString(j),
                        100 * res.perClass()[j]));
            }
            out.println(pc);
        }
        return 0;
    }
}
