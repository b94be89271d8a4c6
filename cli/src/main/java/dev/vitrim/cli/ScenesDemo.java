package dev.vitrim.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.data.DataHome;
import dev.vitrim.data.DataSource;
import dev.vitrim.data.Fetcher;
import dev.vitrim.data.scenes.SceneDenseData;
import dev.vitrim.data.scenes.SceneGenerator;
import dev.vitrim.data.scenes.SceneSplit;
import dev.vitrim.dense.DenseEvaluator;
import dev.vitrim.dense.DenseExample;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.DensePrediction;
import dev.vitrim.dense.DensePredictor;
import dev.vitrim.dense.Overlay;
import dev.vitrim.image.RgbImage;
import dev.vitrim.reduce.Reducers;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * The demo's scenes part: the dense model on the first test scenes (objects on real photos, most of each image
 * background): mIoU, box and mask AP, images per second, and a picture of what it found on the first six.
 */
final class ScenesDemo {
    static final int PICTURES = 6;

    private ScenesDemo() {}

    record Result(Path model, DenseEvaluator.Metrics metrics, double background, Path picture) {
        String text() {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "Scenes: %s on the first %d of scenes:test (Fashion-MNIST items on "
                    + "real photos, 112 px; %.0f%% of their 8x8 patches are background)%n", model, metrics.images(),
                    100 * background));
            sb.append(String.format(Locale.ROOT, "  segmentation  mIoU %.1f%n", 100 * metrics.meanIou()));
            sb.append(String.format(Locale.ROOT, "  detection     box AP %.1f, AP50 %.1f%n", 100 * metrics.boxAp(),
                    100 * metrics.boxAp50()));
            sb.append(String.format(Locale.ROOT, "  instances     mask AP %.1f, AP50 %.1f%n", 100 * metrics.maskAp(),
                    100 * metrics.maskAp50()));
            sb.append(String.format(Locale.ROOT, "  %.1f images/s (forward and decoding)%n", metrics.imagesPerSecond()));
            sb.append("  all test scenes: vitrim eval --model " + model + " --data scenes:test --task instances\n");
            if (picture != null) {
                sb.append("wrote " + picture + " (the first " + PICTURES + " test scenes: class colours, boxes with "
                        + "scores, instance outlines)\n");
            }
            return sb.toString();
        }

        String markdown() {
            return String.format(Locale.ROOT, "| scenes model | test scenes | mIoU | box AP | box AP50 | mask AP | mask AP50 "
                    + "| images/s |%n|---|---|---|---|---|---|---|---|%n| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | "
                    + "%.1f |%n", model.getFileName(), metrics.images(), 100 * metrics.meanIou(), 100 * metrics.boxAp(),
                    100 * metrics.boxAp50(), 100 * metrics.maskAp(), 100 * metrics.maskAp50(),
                    metrics.imagesPerSecond());
        }

        ObjectNode json() {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("model", model.toString()).put("images", metrics.images()).put("background_patches", background)
                    .put("miou", metrics.meanIou()).put("box_ap", metrics.boxAp()).put("box_ap50", metrics.boxAp50())
                    .put("mask_ap", metrics.maskAp()).put("mask_ap50", metrics.maskAp50())
                    .put("images_per_s", metrics.imagesPerSecond())
                    .put("picture", picture == null ? null : picture.toString());
            return o;
        }
    }

    static Result run(Path model, int limit, Path picture, int batch, dev.vitrim.engine.Precision precision,
                      PrintWriter err) {
        Fetcher f = new Fetcher(DataHome.root(), line -> {
            err.println("vitrim: " + line);
            err.flush();
        });
        for (DataSource src : SceneGenerator.SOURCES) {
            if (!f.isComplete(src)) {
                f.fetch(src);
            }
        }
        SceneGenerator gen = SceneGenerator.open(DataHome.root());
        SceneDenseData test = SceneDenseData.fixed(gen, SceneSplit.TEST, false);
        try (DenseModel m = DenseModel.load(model)) {
            m.backbone().usePrecision(precision);
            DenseEvaluator.Metrics metrics = DenseEvaluator.evaluate(m, test, Reducers.NONE, batch, limit, true, null);
            double bg = 0;
            int n = Math.min(limit, test.size());
            for (int i = 0; i < n; i++) {
                DenseExample e = test.get(i);
                bg += SceneGenerator.backgroundPatchFraction(e.labels(), e.height(), e.width(), m.config().patchSize());
            }
            if (picture != null) {
                List<DenseExample> ex = new ArrayList<>();
                for (int i = 0; i < PICTURES; i++) {
                    ex.add(test.get(i));
                }
                List<DensePrediction> preds = DenseEvaluator.predict(m, ex, Reducers.NONE);
                List<BufferedImage> tiles = new ArrayList<>();
                List<String> captions = new ArrayList<>();
                for (int i = 0; i < PICTURES; i++) {
                    DenseExample e = ex.get(i);
                    DensePrediction p = preds.get(i);
                    tiles.add(Overlay.render(DensePredictor.toBufferedImage(rgb(e)), p.labels(), p.detections(),
                            p.instances(), m.classes(), 0.3f));
                    captions.add("test scene " + i + ": " + e.boxes().size() + " object" + (e.boxes().size() == 1 ? ""
                            : "s"));
                }
                try {
                    ImageIO.write(Overlay.grid(tiles, 3, captions), "png", picture.toFile());
                } catch (IOException e) {
                    throw new VitrimException(picture + ": cannot write the picture (" + e.getMessage()
                            + ") (--scenes-out)");
                }
            }
            return new Result(model, metrics, bg / n, picture);
        }
    }

    /** CHW planes → an RGB raster. */
    static RgbImage rgb(DenseExample e) {
        int hw = e.height() * e.width();
        byte[] out = new byte[3 * hw];
        for (int i = 0; i < hw; i++) {
            out[3 * i] = e.rgb()[i];
            out[3 * i + 1] = e.rgb()[hw + i];
            out[3 * i + 2] = e.rgb()[2 * hw + i];
        }
        return new RgbImage(e.width(), e.height(), out);
    }
}
