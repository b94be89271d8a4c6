package dev.vitrim.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.vitrim.arch.VitConfig;
import dev.vitrim.coco.CocoJson;
import dev.vitrim.coco.Rle;
import dev.vitrim.data.DataHome;
import dev.vitrim.data.DenseData;
import dev.vitrim.dense.DenseEvaluator;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.DensePrediction;
import dev.vitrim.dense.DensePredictor;
import dev.vitrim.dense.Detection;
import dev.vitrim.dense.InstanceMask;
import dev.vitrim.engine.Torch;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.train.ArchSpec;
import dev.vitrim.train.ModelFiles;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Segmentation, detection and dense evaluation on {@code local[2]} against the single-machine path: the same rows
 * image by image, an error row for a broken image, and the same mIoU and COCO numbers from per-partition parts.
 */
class DenseSparkTest {
    private static final int S = 32;
    private static final List<String> CLASSES = List.of("square", "disc");

    @TempDir
    static Path dir;
    static Path model;
    static Path coco;
    static List<Path> files;
    static Path broken;

    @BeforeAll
    static void setUp() throws Exception {
        PreprocessConfig pre = new PreprocessConfig(S, 1.0, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD,
                Interpolation.BILINEAR);
        VitConfig arch = ArchSpec.toConfig("width=32,depth=3,heads=2,patch=4", S, 0, List.of(), s -> pre);
        model = dir.resolve("dense.safetensors");
        Torch.engine();
        try (DenseModel m = DenseModel.fresh(VisionTransformer.random(arch, 3), CLASSES, 3)) {
            ModelFiles.saveDense(m, null, model);
        }
        coco = dir.resolve("coco");
        Files.createDirectories(coco.resolve("images"));
        List<CocoJson.Image> images = new ArrayList<>();
        List<CocoJson.Annotation> anns = new ArrayList<>();
        files = new ArrayList<>();
        Random r = new Random(5);
        for (int i = 0; i < 14; i++) {
            // sizes other than the model's, so predictions are mapped back to each image's pixels
            int w = S + 8 * (i % 3);
            int h = S + 4 * (i % 2);
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            boolean[] mask = new boolean[w * h];
            int x0 = 2 + r.nextInt(w - 16);
            int y0 = 2 + r.nextInt(h - 16);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    boolean in = x >= x0 && x < x0 + 12 && y >= y0 && y < y0 + 12;
                    img.setRGB(x, y, in ? 0xf0e0d0 : (r.nextInt(0x404040) + 0x203040));
                    mask[y * w + x] = in;
                }
            }
            String name = "img" + i + ".png";
            Path f = coco.resolve("images").resolve(name);
            ImageIO.write(img, "png", f.toFile());
            files.add(f);
            images.add(new CocoJson.Image(i + 1, name, h, w));
            Rle rle = Rle.encode(mask, h, w);
            anns.add(new CocoJson.Annotation(i + 1, i + 1, 1 + i % 2, new double[] {x0, y0, 12, 12}, rle.area(), false,
                    new CocoJson.Mask(rle, true)));
        }
        CocoJson.writeInstances(new CocoJson.Dataset("instances.json", images,
                List.of(new CocoJson.Category(1, "square"), new CocoJson.Category(2, "disc")), anns),
                coco.resolve("instances.json"));
        broken = dir.resolve("bad").resolve("broken.png");
        Files.createDirectories(broken.getParent());
        Files.writeString(broken, "not a PNG", StandardCharsets.UTF_8);
    }

    private static Map<String, Row> byFile(List<Row> rows) {
        Map<String, Row> out = new HashMap<>();
        for (Row r : rows) {
            assertThat(out.put(r.getAs("file"), r)).as("one row per file").isNull();
        }
        return out;
    }

    @Test
    void segmentAndDetectEqualTheSingleMachinePredictionsAndABrokenImageLosesOnlyItsRow() throws Exception {
        ModelSpec spec = ModelSpec.of(model.toString()).withReduce("tome:r=4").withBatch(4);
        var in = VitrimSpark.images(SparkTestSupport.spark(), coco.resolve("images").toString(),
                broken.getParent().toString()).repartition(3);
        Map<String, Row> seg = byFile(VitrimSpark.segment(in, spec).collectAsList());
        Map<String, Row> det = byFile(VitrimSpark.detect(in, spec).collectAsList());
        assertThat(seg).hasSize(files.size() + 1);
        assertThat(det).hasSize(files.size() + 1);

        List<DensePredictor.Result> ref;
        try (DenseModel m = DenseModel.load(model)) {
            ref = DensePredictor.predict(m, files, Reducers.parse("tome:r=4", m.backbone()), 4, null);
        }
        int detections = 0;
        for (DensePredictor.Result want : ref) {
            DensePrediction p = want.prediction();
            String f = want.file().toString();
            Row s = seg.get(f);
            assertThat((String) s.getAs("error")).isNull();
            assertThat((int) s.getAs("width")).isEqualTo(p.width());
            assertThat((int) s.getAs("height")).isEqualTo(p.height());
            BufferedImage labels = ImageIO.read(new ByteArrayInputStream(s.getAs("labels")));
            byte[] got = new byte[p.width() * p.height()];
            labels.getRaster().getDataElements(0, 0, p.width(), p.height(), got);
            // the partitions batch other images together than the reference does, which moves float rounding (~1e-7):
            // a pixel whose two best classes tie that closely may flip, nothing more
            int same = 0;
            for (int k = 0; k < got.length; k++) {
                same += got[k] == p.labels()[k] ? 1 : 0;
            }
            assertThat((double) same / got.length).as(f).isGreaterThanOrEqualTo(0.995);
            scala.collection.Map<String, Double> pixels = s.getMap(s.fieldIndex("pixels"));
            double total = 0;
            for (String k : scala.jdk.javaapi.CollectionConverters.asJava(pixels.keySet())) {
                total += pixels.apply(k);
            }
            assertThat(total).isCloseTo(1.0, within(1e-9));

            Row d = det.get(f);
            assertThat((String) d.getAs("error")).isNull();
            List<Row> dets = d.getList(d.fieldIndex("detections"));
            assertThat(dets).hasSize(p.detections().size());
            Map<Detection, InstanceMask> masks = new HashMap<>();
            for (InstanceMask im : p.instances()) {
                masks.put(im.from(), im);
            }
            for (int k = 0; k < dets.size(); k++) {
                Detection x = p.detections().get(k);
                Row e = dets.get(k);
                assertThat(e.getString(0)).isEqualTo(CLASSES.get(x.category()));
                assertThat(e.getInt(1)).isEqualTo(x.category() + 1);
                InstanceMask im = masks.get(x);
                assertThat(e.getDouble(2)).isCloseTo(im == null ? x.score() : im.score(), within(1e-5));
                List<Double> bbox = e.getList(3);
                double[] box = {x.x(), x.y(), x.w(), x.h()};
                for (int c = 0; c < 4; c++) {
                    assertThat(bbox.get(c)).as("%s detection %d bbox", f, k).isCloseTo(box[c], within(1e-4));
                }
                if (im == null) {
                    assertThat(e.isNullAt(4)).isTrue();
                } else {
                    assertThat(Rle.fromCompressedString(e.getString(4), p.height(), p.width()).decode())
                            .isEqualTo(im.mask());
                }
                detections++;
            }
        }
        assertThat(detections).as("detections compared").isPositive();
        for (Map<String, Row> rows : List.of(seg, det)) {
            Row bad = rows.get(broken.toString());
            assertThat((String) bad.getAs("error")).startsWith(broken.toString());
            assertThat(bad.isNullAt(bad.fieldIndex("width"))).isTrue();
        }
    }

    @Test
    void denseEvaluationInPartsEqualsTheSingleMachineNumbers() {
        ModelSpec spec = ModelSpec.of(model.toString()).withReduce("tome:r=4").withBatch(4);
        DenseEvaluator.Metrics spark = VitrimSpark.evaluateDense(SparkTestSupport.spark(), "coco:" + coco, spec, 0, 3,
                true);
        DenseEvaluator.Metrics one;
        try (DenseModel m = DenseModel.load(model)) {
            one = DenseEvaluator.evaluate(m, DenseData.open("coco:" + coco, DataHome.root(), S),
                    Reducers.parse("tome:r=4", m.backbone()), 4, 0, true, null);
        }
        assertThat(spark.images()).isEqualTo(files.size());
        assertThat(spark.segmentation().intersection()).isEqualTo(one.segmentation().intersection());
        assertThat(spark.segmentation().union()).isEqualTo(one.segmentation().union());
        assertThat(spark.meanIou()).isEqualTo(one.meanIou());
        assertThat(spark.boxes().stats()).isEqualTo(one.boxes().stats());
        assertThat(spark.masks().stats()).isEqualTo(one.masks().stats());
        assertThat(spark.meanTokens()).isEqualTo(one.meanTokens());
        assertThat(one.boxes().stats()[0]).as("a number that can differ: box AP is defined").isGreaterThanOrEqualTo(0);

        // the command line prints the same numbers, under the keys of 'vitrim eval --task instances --json'
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int rc = SparkMain.run(new String[] {"eval", "--master", "local[2]", "--model", model.toString(), "--data",
            "coco:" + coco, "--reduce", "tome:r=4", "--batch", "4", "--partitions", "2", "--json"},
                new java.io.PrintWriter(out), new java.io.PrintWriter(err));
        assertThat(rc).as(err.toString()).isZero();
        com.fasterxml.jackson.databind.JsonNode j;
        try {
            j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.toString());
        } catch (java.io.IOException e) {
            throw new AssertionError(out.toString(), e);
        }
        assertThat(j.get("miou").asDouble()).isEqualTo(one.meanIou());
        assertThat(j.get("box").get("AP50").asDouble()).isEqualTo(one.boxes().stat("AP50"));
        assertThat(j.get("mask").get("AP").asDouble()).isEqualTo(one.masks().stat("AP"));
        assertThat(j.get("images").asInt()).isEqualTo(files.size());
    }

    @Test
    void aDenseModelIsLoadedOncePerJvmAndTheWrongKindOfModelIsAClearError() {
        ModelSpec spec = ModelSpec.of(model.toString()).withBatch(4);
        VitrimSpark.evaluateDense(SparkTestSupport.spark(), "coco:" + coco, spec, 4, 2, false);
        int loads = ModelCache.loads();
        VitrimSpark.evaluateDense(SparkTestSupport.spark(), "coco:" + coco, spec.withReduce("tome:r=2"), 8, 2, false);
        assertThat(ModelCache.loads()).as("the same file again: no new load").isEqualTo(loads);

        String classifier = SparkTestSupport.model("mnist-vit.safetensors");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> VitrimSpark.evaluateDense(SparkTestSupport.spark(),
                        "coco:" + coco, ModelSpec.of(classifier), 0, 1, false))
                .isInstanceOf(dev.vitrim.VitrimException.class).hasMessageContaining("is a classifier");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ModelCache.model(spec))
                .isInstanceOf(dev.vitrim.VitrimException.class).hasMessageContaining("is a dense model");
    }
}
