package dev.vitrim.dense;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.VitrimException;
import dev.vitrim.coco.CocoEval;
import dev.vitrim.coco.CocoJson;
import dev.vitrim.coco.Rle;
import dev.vitrim.coco.SegmentationMetrics;
import dev.vitrim.engine.Torch;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Dense evaluation of a {@link DenseModel} on a {@link DenseDataset}: mIoU as mmseg accumulates it (histograms summed
 * over the whole set), and COCO box and mask AP exactly as pycocotools computes them ({@link CocoEval}), with the
 * ground truth taken from the data set's boxes and instance masks.
 */
public final class DenseEvaluator {
    private DenseEvaluator() {}

    /**
     * The numbers of one evaluation; {@code masks} is null when instance masks were not evaluated. {@code meanTokens}:
     * the tokens after each block, averaged over the images (measured, so per-image counts such as {@code attn:mass}
     * show what they spent).
     */
    public record Metrics(String data, long images, SegmentationMetrics segmentation, CocoEval.Result boxes,
                          CocoEval.Result masks, double imagesPerSecond, double[] meanTokens) {
        public double meanIou() {
            return segmentation.meanIou();
        }

        public double boxAp() {
            return boxes.stat("AP");
        }

        public double boxAp50() {
            return boxes.stat("AP50");
        }

        public double maskAp() {
            return masks == null ? Double.NaN : masks.stat("AP");
        }

        public double maskAp50() {
            return masks == null ? Double.NaN : masks.stat("AP50");
        }

        /**
         * The numbers as JSON, under the keys {@code vitrim eval --task … --json} prints: {@code images},
         * {@code images_per_s}, {@code miou}, {@code pixel_accuracy}, {@code iou} (per class, background first),
         * {@code box} and {@code mask} (pycocotools' twelve numbers by name; {@code mask} only when evaluated) and
         * {@code tokens_per_block}.
         */
        public ObjectNode toJson() {
            JsonNodeFactory f = JsonNodeFactory.instance;
            ObjectNode o = f.objectNode();
            o.put("images", images).put("images_per_s", imagesPerSecond).put("miou", meanIou())
                    .put("pixel_accuracy", segmentation.pixelAccuracy());
            ObjectNode per = o.putObject("iou");
            double[] iou = segmentation.iou();
            for (int k = 0; k < iou.length; k++) {
                per.put(segmentation.classNames().get(k), iou[k]);
            }
            o.set("box", stats(boxes));
            if (masks != null) {
                o.set("mask", stats(masks));
            }
            ArrayNode t = o.putArray("tokens_per_block");
            for (double v : meanTokens) {
                t.add(v);
            }
            return o;
        }

        private static ObjectNode stats(CocoEval.Result r) {
            ObjectNode o = JsonNodeFactory.instance.objectNode();
            for (int i = 0; i < CocoEval.STAT_NAMES.size(); i++) {
                o.put(CocoEval.STAT_NAMES.get(i), r.stats()[i]);
            }
            return o;
        }
    }

    /**
     * Evaluates the first {@code limit} images (all when {@code limit} ≤ 0) in batches, with {@code reducer}.
     * {@code progress} (may be null) hears the number of images done.
     */
    public static Metrics evaluate(DenseModel model, DenseDataset data, TokenReducer reducer, int batch, int limit,
                                   boolean masks, IntConsumer progress) {
        int n = limit > 0 ? Math.min(limit, data.size()) : data.size();
        if (n == 0) {
            throw new VitrimException(data.name() + ": no images to evaluate");
        }
        return combine(data.name(), model.classes(), List.of(part(model, data, reducer, batch, 0, n, masks, progress)),
                masks);
    }

    /**
     * What images {@code [from, to)} of a data set contribute to an evaluation: the segmentation counts, the ground
     * truth and detections (image ids {@code index + 1}, so parts of one set never collide), the forward time and
     * the tokens per block summed over the images. {@link #combine} merges parts exactly: evaluating a set in parts
     * (on other machines, e.g. Spark executors) gives the numbers of evaluating it whole.
     */
    public record Part(long images, SegmentationMetrics segmentation, List<CocoJson.Image> cocoImages,
                       List<CocoJson.Annotation> truth, List<CocoJson.Detection> boxes, List<CocoJson.Detection> masks,
                       long nanos, double[] tokenSums) implements java.io.Serializable {}

    /** The part of images {@code [from, to)}, in batches of {@code batch}; see {@link Part}. */
    public static Part part(DenseModel model, DenseDataset data, TokenReducer reducer, int batch, int from, int to,
                            boolean masks, IntConsumer progress) {
        if (from < 0 || to > data.size() || from >= to || batch < 1) {
            throw new VitrimException(data.name() + ": cannot evaluate images [" + from + ", " + to + ") of "
                    + data.size() + " in batches of " + batch);
        }
        if (!data.classes().equals(model.classes())) {
            throw new VitrimException(data.name() + " has classes " + data.classes() + " but the model predicts "
                    + model.classes());
        }
        SegmentationMetrics seg = new SegmentationMetrics(withBackground(model.classes()));
        List<CocoJson.Image> images = new ArrayList<>();
        List<CocoJson.Annotation> gt = new ArrayList<>();
        List<CocoJson.Detection> boxDets = new ArrayList<>();
        List<CocoJson.Detection> maskDets = new ArrayList<>();
        long nanos = 0;
        double[] tokens = new double[model.config().depth()];
        for (int at = from; at < to; at += batch) {
            int cnt = Math.min(batch, to - at);
            List<DenseExample> ex = new ArrayList<>(cnt);
            for (int i = 0; i < cnt; i++) {
                ex.add(data.get(at + i));
            }
            Trace trace = new Trace();
            long t0 = System.nanoTime();
            List<DensePrediction> preds = predict(model, ex, reducer, trace);
            nanos += System.nanoTime() - t0;
            for (List<Trace.Block> blocks : trace.images()) {
                for (Trace.Block blk : blocks) {
                    tokens[blk.block()] += blk.tokens();
                }
            }
            for (int i = 0; i < cnt; i++) {
                DenseExample e = ex.get(i);
                DensePrediction p = preds.get(i);
                long id = at + i + 1;
                images.add(new CocoJson.Image(id, e.name(), e.height(), e.width()));
                seg.add(unsigned(p.labels()), unsigned(e.labels()));
                addGroundTruth(e, id, gt);
                for (Detection d : p.detections()) {
                    boxDets.add(new CocoJson.Detection(id, d.category() + 1L, new double[] {d.x(), d.y(), d.w(), d.h()},
                            d.score(), null));
                }
                if (masks) {
                    for (InstanceMask m : p.instances()) {
                        maskDets.add(new CocoJson.Detection(id, m.category() + 1L, null, m.score(),
                                new CocoJson.Mask(Rle.encode(m.mask(), e.height(), e.width()), true)));
                    }
                }
            }
            if (progress != null) {
                progress.accept(at + cnt - from);
            }
        }
        return new Part(to - from, seg, images, gt, boxDets, maskDets, nanos, tokens);
    }

    /**
     * The metrics of a data set evaluated in parts (any order): segmentation counts summed, the COCO evaluation run
     * once over every part's ground truth and detections (annotation ids renumbered), the rate and the tokens per
     * block over all images. {@code masks}: evaluate instance masks (each part must have been made with them).
     */
    public static Metrics combine(String name, List<String> classes, List<Part> parts, boolean masks) {
        if (parts.isEmpty()) {
            throw new VitrimException(name + ": no images to evaluate");
        }
        List<Part> ordered = new ArrayList<>(parts);
        ordered.sort(java.util.Comparator.comparingLong(p -> p.cocoImages().isEmpty() ? 0 : p.cocoImages().get(0).id()));
        SegmentationMetrics seg = new SegmentationMetrics(withBackground(classes));
        List<CocoJson.Image> images = new ArrayList<>();
        List<CocoJson.Annotation> gt = new ArrayList<>();
        List<CocoJson.Detection> boxDets = new ArrayList<>();
        List<CocoJson.Detection> maskDets = new ArrayList<>();
        long n = 0;
        long nanos = 0;
        double[] tokens = null;
        for (Part p : ordered) {
            seg = seg.merge(p.segmentation());
            images.addAll(p.cocoImages());
            for (CocoJson.Annotation a : p.truth()) {
                gt.add(new CocoJson.Annotation(gt.size() + 1L, a.imageId(), a.categoryId(), a.bbox(), a.area(),
                        a.crowd(), a.segmentation()));
            }
            boxDets.addAll(p.boxes());
            maskDets.addAll(p.masks());
            n += p.images();
            nanos += p.nanos();
            if (tokens == null) {
                tokens = new double[p.tokenSums().length];
            }
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] += p.tokenSums()[i];
            }
        }
        CocoJson.Dataset truth = new CocoJson.Dataset(name, images, categories(classes), gt);
        CocoEval.Result box = CocoEval.evaluate(truth, boxDets, CocoEval.IouType.BBOX);
        CocoEval.Result mask = masks ? CocoEval.evaluate(truth, maskDets, CocoEval.IouType.SEGM) : null;
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] /= n;
        }
        return new Metrics(name, n, seg, box, mask, n / (nanos / 1e9), tokens);
    }

    /** Predictions for examples at the model's input size (their own size must be the model's). */
    public static List<DensePrediction> predict(DenseModel model, List<DenseExample> ex, TokenReducer reducer) {
        return predict(model, ex, reducer, null);
    }

    /** As {@link #predict(DenseModel, List, TokenReducer)}, recording each block's tokens in {@code trace}. */
    static List<DensePrediction> predict(DenseModel model, List<DenseExample> ex, TokenReducer reducer, Trace trace) {
        int s = model.config().imageSize();
        float[] x = new float[ex.size() * 3 * s * s];
        for (int i = 0; i < ex.size(); i++) {
            DenseExample e = ex.get(i);
            if (e.height() != s || e.width() != s) {
                throw new VitrimException(e.name() + ": " + e.width() + "x" + e.height() + " pixels, the model takes "
                        + s + "x" + s);
            }
            normalise(e.rgb(), model.config().preprocess(), x, i * 3 * s * s);
        }
        return predict(model, x, ex.size(), reducer, trace);
    }

    /** Predictions for normalised images {@code x} [n,3,S,S] at the model's input size. */
    public static List<DensePrediction> predict(DenseModel model, float[] x, int n, TokenReducer reducer) {
        return predict(model, x, n, reducer, null);
    }

    private static List<DensePrediction> predict(DenseModel model, float[] x, int n, TokenReducer reducer,
                                                 Trace trace) {
        int s = model.config().imageSize();
        int p = model.config().patchSize();
        int g = s / p;
        int c = model.channels();
        float[] maps;
        try (NDManager m = model.backbone().manager().newSubManager()) {
            Torch.inference();
            NDArray out = model.maps(m.create(x, new Shape(n, 3, s, s)), reducer, trace);
            maps = out.toFloatArray();
        }
        List<DensePrediction> preds = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            float[] one = java.util.Arrays.copyOfRange(maps, i * c * g * g, (i + 1) * c * g * g);
            preds.add(DenseDecoding.decode(new Maps(c, g, g, one), model.layout(), p, CenterNetDecoder.TOP_K));
        }
        return preds;
    }

    /** 8-bit CHW samples → normalised floats (x/255 − mean) / std at {@code at}. */
    public static void normalise(byte[] rgb, PreprocessConfig pre, float[] out, int at) {
        int hw = rgb.length / 3;
        for (int ch = 0; ch < 3; ch++) {
            float mean = pre.mean()[ch];
            float std = pre.std()[ch];
            for (int i = 0; i < hw; i++) {
                out[at + ch * hw + i] = ((rgb[ch * hw + i] & 0xff) / 255f - mean) / std;
            }
        }
    }

    static void addGroundTruth(DenseExample e, long imageId, List<CocoJson.Annotation> out) {
        for (int k = 0; k < e.boxes().size(); k++) {
            Box b = e.boxes().get(k);
            Rle rle = Rle.encode(e.mask(k), e.height(), e.width());
            out.add(new CocoJson.Annotation(out.size() + 1L, imageId, b.category() + 1L,
                    new double[] {b.x(), b.y(), b.w(), b.h()}, rle.area(), false, new CocoJson.Mask(rle, true)));
        }
    }

    /** COCO categories: id k + 1 for class k. */
    public static List<CocoJson.Category> categories(List<String> classes) {
        List<CocoJson.Category> out = new ArrayList<>();
        for (int k = 0; k < classes.size(); k++) {
            out.add(new CocoJson.Category(k + 1L, classes.get(k)));
        }
        return out;
    }

    /** Segmentation classes: "background" followed by the object classes. */
    public static List<String> withBackground(List<String> classes) {
        List<String> out = new ArrayList<>();
        out.add("background");
        out.addAll(classes);
        return out;
    }

    private static int[] unsigned(byte[] b) {
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] & 0xff;
        }
        return out;
    }
}
