package dev.vitrim.dense;

import dev.vitrim.VitrimException;
import dev.vitrim.image.ImageDecoder;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.Preprocessor;
import dev.vitrim.image.RgbImage;
import dev.vitrim.reduce.TokenReducer;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Segments and detects in image files of any size: each image is resized to the model's input (bilinear, no crop,
 * as {@link Frame} describes), run in batches, and its prediction mapped back to the image's own pixels. An image
 * that cannot be read gets an error entry; the others are still predicted.
 */
public final class DensePredictor {
    private DensePredictor() {}

    /** One file's outcome: the prediction at the file's size and the decoded image, or an error. */
    public record Result(Path file, RgbImage image, DensePrediction prediction, String error) {
        public boolean ok() {
            return error == null;
        }
    }

    public static List<Result> predict(DenseModel model, List<Path> files, TokenReducer reducer, int batch,
                                       IntConsumer progress) {
        int s = model.config().imageSize();
        List<Result> out = new ArrayList<>(files.size());
        for (int from = 0; from < files.size(); from += batch) {
            List<Path> part = files.subList(from, Math.min(files.size(), from + batch));
            List<RgbImage> images = new ArrayList<>();
            List<Integer> ok = new ArrayList<>();
            Result[] results = new Result[part.size()];
            for (int i = 0; i < part.size(); i++) {
                try {
                    images.add(ImageDecoder.read(part.get(i)));
                    ok.add(i);
                } catch (VitrimException e) {
                    results[i] = new Result(part.get(i), null, null, e.getMessage());
                }
            }
            if (!ok.isEmpty()) {
                List<DensePrediction> preds = predictImages(model, images, reducer);
                for (int j = 0; j < ok.size(); j++) {
                    RgbImage img = images.get(j);
                    results[ok.get(j)] = new Result(part.get(ok.get(j)), img, preds.get(j), null);
                }
            }
            for (Result r : results) {
                out.add(r);
            }
            if (progress != null) {
                progress.accept(out.size());
            }
        }
        return out;
    }

    /**
     * Predictions for decoded images of any size, in one batch: each resized to the model's input, predicted, and
     * mapped back to its own pixels.
     */
    public static List<DensePrediction> predictImages(DenseModel model, List<RgbImage> images, TokenReducer reducer) {
        int s = model.config().imageSize();
        float[] x = new float[images.size() * 3 * s * s];
        for (int j = 0; j < images.size(); j++) {
            RgbImage small = Preprocessor.resize(images.get(j), s, s, Interpolation.BILINEAR);
            DenseEvaluator.normalise(chw(small), model.config().preprocess(), x, j * 3 * s * s);
        }
        List<DensePrediction> preds = DenseEvaluator.predict(model, x, images.size(), reducer);
        List<DensePrediction> out = new ArrayList<>(images.size());
        for (int j = 0; j < images.size(); j++) {
            out.add(toImage(preds.get(j), images.get(j)));
        }
        return out;
    }

    /** A prediction in the model's frame moved to an image's own pixels. */
    static DensePrediction toImage(DensePrediction p, RgbImage img) {
        Frame f = new Frame(img.width(), img.height(), p.width(), p.height());
        return new DensePrediction(img.height(), img.width(), f.labelsToImage(p.labels()),
                f.detectionsToImage(p.detections()), f.masksToImage(p.instances()));
    }

    /** Interleaved RGB → CHW planes. */
    public static byte[] chw(RgbImage img) {
        int hw = img.width() * img.height();
        byte[] out = new byte[3 * hw];
        byte[] in = img.rgb();
        for (int i = 0; i < hw; i++) {
            out[i] = in[3 * i];
            out[hw + i] = in[3 * i + 1];
            out[2 * hw + i] = in[3 * i + 2];
        }
        return out;
    }

    /** An RGB raster as a {@link BufferedImage} (for pictures). */
    public static BufferedImage toBufferedImage(RgbImage img) {
        BufferedImage b = new BufferedImage(img.width(), img.height(), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < img.height(); y++) {
            for (int x = 0; x < img.width(); x++) {
                b.setRGB(x, y, img.get(x, y, 0) << 16 | img.get(x, y, 1) << 8 | img.get(x, y, 2));
            }
        }
        return b;
    }
}
