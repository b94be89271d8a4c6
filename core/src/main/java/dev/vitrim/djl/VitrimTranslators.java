package dev.vitrim.djl;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.output.BoundingBox;
import ai.djl.modality.cv.output.CategoryMask;
import ai.djl.modality.cv.output.DetectedObjects;
import ai.djl.modality.cv.output.Rectangle;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import dev.vitrim.VitrimException;
import dev.vitrim.api.VitrimModel;
import dev.vitrim.dense.CenterNetDecoder;
import dev.vitrim.dense.DenseDecoding;
import dev.vitrim.dense.DenseEvaluator;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.DensePrediction;
import dev.vitrim.dense.DensePredictor;
import dev.vitrim.dense.Detection;
import dev.vitrim.dense.Frame;
import dev.vitrim.dense.Maps;
import dev.vitrim.engine.Torch;
import dev.vitrim.image.ImageDecoder;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.Preprocessor;
import dev.vitrim.image.RgbImage;
import dev.vitrim.infer.Classifier;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * vitrim models behind DJL's {@link ai.djl.inference.Predictor}: a DJL {@link Model} holding a {@link VitrimBlock},
 * and translators from DJL's {@link Image} to {@link Classifications}, {@link DetectedObjects} and
 * {@link CategoryMask}. Preprocessing is the model's own (timm's evaluation transform for a classifier, a bilinear
 * resize for a dense model), so a predictor answers exactly as {@link VitrimModel#classify} and
 * {@link VitrimModel#segment} do.
 *
 * <pre>{@code
 * try (VitrimModel vit = Vitrim.load(path).reduce("tome:r=13");
 *      Model model = VitrimTranslators.newModel(vit);
 *      Predictor<Image, Classifications> p = model.newPredictor(VitrimTranslators.classifications(vit))) {
 *     Classifications c = p.predict(ImageFactory.getInstance().fromFile(Path.of("photo.jpg")));
 * }
 * }</pre>
 */
public final class VitrimTranslators {
    private VitrimTranslators() {}

    /**
     * A DJL model (on the PyTorch engine, CPU) whose block runs {@code model} with its reducer. Closing the DJL model
     * leaves {@code model} open.
     */
    public static Model newModel(VitrimModel model) {
        Torch.engine();
        Model m = Model.newInstance("vitrim", Device.cpu(), "PyTorch");
        m.setBlock(new VitrimBlock(model));
        return m;
    }

    /** Image → the probability of every class of a classifier. */
    public static Translator<Image, Classifications> classifications(VitrimModel model) {
        if (model.isDense()) {
            throw new VitrimException(model.path() + ": a dense model; use detections or segmentation");
        }
        Preprocessor pre = new Preprocessor(model.preprocessConfig());
        int s = model.preprocessConfig().size();
        List<String> labels = List.copyOf(model.labels());
        return new Translator<>() {
            @Override
            public NDList processInput(TranslatorContext ctx, Image input) {
                float[] x = pre.apply(rgb(ctx, input));
                return new NDList(ctx.getNDManager().create(x, new Shape(3, s, s)));
            }

            @Override
            public Classifications processOutput(TranslatorContext ctx, NDList list) {
                double[] p = Classifier.softmax(list.singletonOrThrow().toFloatArray());
                List<Double> probs = new ArrayList<>(p.length);
                for (double v : p) {
                    probs.add(v);
                }
                return new Classifications(labels, probs);
            }
        };
    }

    /**
     * Image → a dense model's detections, boxes relative to the image's size ([0, 1], DJL's convention), class names
     * the model's object classes.
     */
    public static Translator<Image, DetectedObjects> detections(VitrimModel model) {
        DenseModel dense = requireDense(model);
        return new DenseTranslator<>(dense) {
            @Override
            DetectedObjects convert(DensePrediction p) {
                List<String> names = new ArrayList<>();
                List<Double> probs = new ArrayList<>();
                List<BoundingBox> boxes = new ArrayList<>();
                for (Detection d : p.detections()) {
                    names.add(dense.classes().get(d.category()));
                    probs.add((double) d.score());
                    boxes.add(new Rectangle((double) d.x() / p.width(), (double) d.y() / p.height(),
                            (double) d.w() / p.width(), (double) d.h() / p.height()));
                }
                return new DetectedObjects(names, probs, boxes);
            }
        };
    }

    /**
     * Image → a dense model's class of every pixel at the image's size: {@code mask[y][x]}, 0 the background and
     * {@code k} the class {@code classes.get(k)} of the mask (whose first entry is {@code "background"}).
     */
    public static Translator<Image, CategoryMask> segmentation(VitrimModel model) {
        DenseModel dense = requireDense(model);
        List<String> classes = new ArrayList<>();
        classes.add("background");
        classes.addAll(dense.classes());
        return new DenseTranslator<>(dense) {
            @Override
            CategoryMask convert(DensePrediction p) {
                int[][] mask = new int[p.height()][p.width()];
                byte[] l = p.labels();
                for (int y = 0; y < p.height(); y++) {
                    for (int x = 0; x < p.width(); x++) {
                        mask[y][x] = l[y * p.width() + x] & 0xFF;
                    }
                }
                return new CategoryMask(classes, mask);
            }
        };
    }

    /** The dense heads' maps decoded and mapped back to the image's own pixels, as {@link VitrimModel#segment}. */
    private abstract static class DenseTranslator<T> implements Translator<Image, T> {
        private final DenseModel dense;

        DenseTranslator(DenseModel dense) {
            this.dense = dense;
        }

        abstract T convert(DensePrediction p);

        @Override
        public NDList processInput(TranslatorContext ctx, Image input) {
            RgbImage img = rgb(ctx, input);
            int s = dense.config().imageSize();
            RgbImage small = Preprocessor.resize(img, s, s, Interpolation.BILINEAR);
            float[] x = new float[3 * s * s];
            DenseEvaluator.normalise(DensePredictor.chw(small), dense.config().preprocess(), x, 0);
            ctx.setAttachment("vitrim.size", new int[] {img.width(), img.height()});
            return new NDList(ctx.getNDManager().create(x, new Shape(3, s, s)));
        }

        @Override
        public T processOutput(TranslatorContext ctx, NDList list) {
            NDArray maps = list.singletonOrThrow();
            Shape sh = maps.getShape();
            int p = dense.config().patchSize();
            DensePrediction m = DenseDecoding.decode(new Maps((int) sh.get(0), (int) sh.get(1), (int) sh.get(2),
                    maps.toFloatArray()), dense.layout(), p, CenterNetDecoder.TOP_K);
            int[] size = (int[]) ctx.getAttachment("vitrim.size");
            Frame f = new Frame(size[0], size[1], m.width(), m.height());
            return convert(new DensePrediction(size[1], size[0], f.labelsToImage(m.labels()),
                    f.detectionsToImage(m.detections()), f.masksToImage(m.instances())));
        }
    }

    private static DenseModel requireDense(VitrimModel model) {
        if (!model.isDense()) {
            throw new VitrimException(model.path() + ": a classifier; use classifications");
        }
        return model.denseModel();
    }

    /** DJL's image as 8-bit RGB: the samples of a wrapped {@link BufferedImage}, else DJL's own RGB array. */
    static RgbImage rgb(TranslatorContext ctx, Image input) {
        if (input.getWrappedImage() instanceof BufferedImage b) {
            return ImageDecoder.fromBufferedImage(b, "image");
        }
        NDArray hwc = input.toNDArray(ctx.getNDManager(), Image.Flag.COLOR).toType(DataType.UINT8, false);
        byte[] rgb = hwc.toByteArray();
        return new RgbImage(input.getWidth(), input.getHeight(), rgb);
    }
}
