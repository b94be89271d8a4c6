package dev.vitrim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.coco.CocoJson;
import dev.vitrim.coco.Rle;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.Overlay;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.train.ArchSpec;
import dev.vitrim.train.ModelFiles;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * segment, detect, eval --task and the COCO folder data set on a small dense model (random weights: the test is about
 * the files, formats and errors, not the predictions).
 */
class DenseCliTest {
    static final List<String> CLASSES = List.of("square", "disc");
    static final int S = 32;

    @TempDir
    static Path dir;

    static Path model;
    static Path coco;

    @BeforeAll
    static void setUp() throws Exception {
        PreprocessConfig pre = new PreprocessConfig(S, 1.0, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD,
                Interpolation.BILINEAR);
        VitConfig arch = ArchSpec.toConfig("width=32,depth=3,heads=2,patch=4", S, 0, List.of(), s -> pre);
        model = dir.resolve("dense.safetensors");
        dev.vitrim.engine.Torch.engine();
        try (DenseModel m = DenseModel.fresh(VisionTransformer.random(arch, 1), CLASSES, 1)) {
            ModelFiles.saveDense(m, null, model);
        }
        coco = writeCoco(dir.resolve("coco"));
    }

    /** A COCO folder of four 32x32 images, one square each; label maps for the first two only. */
    static Path writeCoco(Path coco) throws Exception {
        Files.createDirectories(coco.resolve("images"));
        Files.createDirectories(coco.resolve("labels"));
        List<CocoJson.Image> images = new ArrayList<>();
        List<CocoJson.Annotation> anns = new ArrayList<>();
        Random r = new Random(2);
        for (int i = 0; i < 4; i++) {
            String name = "img" + i + ".png";
            BufferedImage img = new BufferedImage(S, S, BufferedImage.TYPE_INT_RGB);
            boolean[] mask = new boolean[S * S];
            byte[] labels = new byte[S * S];
            int x0 = 4 + r.nextInt(10);
            int y0 = 4 + r.nextInt(10);
            for (int y = 0; y < S; y++) {
                for (int x = 0; x < S; x++) {
                    boolean in = x >= x0 && x < x0 + 12 && y >= y0 && y < y0 + 12;
                    img.setRGB(x, y, in ? 0xf0f0f0 : 0x406080);
                    mask[y * S + x] = in;
                    labels[y * S + x] = (byte) (in ? 1 : 0);
                }
            }
            ImageIO.write(img, "png", coco.resolve("images").resolve(name).toFile());
            if (i < 2) {
                Overlay.writeLabelPng(labels, S, S, coco.resolve("labels").resolve("img" + i + ".png"));
            }
            images.add(new CocoJson.Image(i + 1, name, S, S));
            Rle rle = Rle.encode(mask, S, S);
            anns.add(new CocoJson.Annotation(i + 1, i + 1, 1, new double[] {x0, y0, 12, 12}, rle.area(), false,
                    new CocoJson.Mask(rle, true)));
        }
        CocoJson.writeInstances(new CocoJson.Dataset("instances.json", images,
                List.of(new CocoJson.Category(1, "square"), new CocoJson.Category(2, "disc")), anns),
                coco.resolve("instances.json"));
        return coco;
    }

    @Test
    void segmentWritesOverlaysAndLabelMapsAtEachImagesSizeAndKeepsGoodImagesWhenOneFails() throws Exception {
        Path out = dir.resolve("out");
        Path bad = dir.resolve("broken.png");
        Files.writeString(bad, "not an image");
        // a 48x40 image: outputs come back at its own size
        BufferedImage wide = new BufferedImage(48, 40, BufferedImage.TYPE_INT_RGB);
        Path widePng = dir.resolve("wide.png");
        ImageIO.write(wide, "png", widePng.toFile());
        Path montage = dir.resolve("montage.png");
        CliTest.Run r = CliTest.run("segment", "--model", model.toString(), "-o", out.toString(), "--json",
                "--montage", montage.toString(), coco.resolve("images/img0.png").toString(), bad.toString(),
                widePng.toString());
        assertThat(r.status()).as(r.err()).isEqualTo(2);
        JsonNode arr = new ObjectMapper().readTree(r.out());
        assertThat(arr).hasSize(3);
        assertThat(arr.get(0).get("width").asInt()).isEqualTo(S);
        assertThat(arr.get(1).get("error").asText()).contains("broken.png");
        assertThat(arr.get(2).get("width").asInt()).isEqualTo(48);
        assertThat(arr.get(2).get("height").asInt()).isEqualTo(40);
        assertThat(Overlay.readLabelPng(out.resolve("wide.labels.png"), 40, 48)).hasSize(48 * 40);
        BufferedImage overlay = ImageIO.read(out.resolve("img0.overlay.png").toFile());
        assertThat(overlay.getWidth()).isGreaterThanOrEqualTo(S);
        assertThat(Files.exists(out.resolve("broken.overlay.png"))).isFalse();
        // the two readable images side by side
        assertThat(ImageIO.read(montage.toFile()).getWidth()).isGreaterThanOrEqualTo(2 * overlay.getWidth());
    }

    @Test
    void detectWritesCocoResultsThatEvalCocoReads() throws Exception {
        Path results = dir.resolve("results.json");
        List<String> args = new ArrayList<>(List.of("detect", "--model", model.toString(), "--coco", results.toString(),
                "--gt", coco.resolve("instances.json").toString(), "--min-score", "0"));
        for (int i = 3; i >= 0; i--) { // reversed: image ids must come from file_name, not the order
            args.add(coco.resolve("images/img" + i + ".png").toString());
        }
        CliTest.Run r = CliTest.run(args.toArray(new String[0]));
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode res = new ObjectMapper().readTree(results.toFile());
        assertThat(res.size()).isPositive();
        for (JsonNode d : res) {
            assertThat(d.get("image_id").asLong()).isBetween(1L, 4L);
            assertThat(d.get("category_id").asInt()).isBetween(1, 2);
        }
        CliTest.Run e = CliTest.run("eval-coco", "--gt", coco.resolve("instances.json").toString(), "--results",
                results.toString(), "--json");
        assertThat(e.status()).as(e.err()).isZero();
        assertThat(new ObjectMapper().readTree(e.out()).get("AP50").asDouble()).isBetween(0.0, 1.0);
        // an image the ground truth does not name: one clear line
        Path stray = dir.resolve("stray.png");
        Files.copy(coco.resolve("images/img0.png"), stray);
        CliTest.assertBadInput(CliTest.run("detect", "--model", model.toString(), "--coco",
                dir.resolve("r2.json").toString(), "--gt", coco.resolve("instances.json").toString(), stray.toString()),
                "stray.png", "file_name");
    }

    @Test
    void evalOnACocoFolderLeavesOutWhatItCannotReadAndCountsTheRest() throws Exception {
        Path broken = dir.resolve("coco-broken");
        Files.createDirectories(broken.resolve("images"));
        Files.createDirectories(broken.resolve("labels"));
        for (int i = 0; i < 4; i++) {
            if (i != 1) { // image 1 is missing
                Files.copy(coco.resolve("images/img" + i + ".png"), broken.resolve("images/img" + i + ".png"));
            }
        }
        Files.copy(coco.resolve("instances.json"), broken.resolve("instances.json"));
        // image 2's label map has the wrong size
        Overlay.writeLabelPng(new byte[16 * 16], 16, 16, broken.resolve("labels/img2.png"));
        CliTest.Run r = CliTest.run("eval", "--model", model.toString(), "--data", "coco:" + broken, "--task",
                "instances", "--json");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("img1.png").contains("not found").contains("img2.png").contains("16x16");
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("images").asInt()).isEqualTo(2);
        assertThat(o.get("miou").asDouble()).isBetween(0.0, 1.0);
        assertThat(o.get("box").get("AP").asDouble()).isBetween(0.0, 1.0);
        assertThat(o.get("mask").get("AP50").asDouble()).isBetween(0.0, 1.0);
        // a malformed RLE or an unknown category in instances.json: one line naming the file and the field
        Path bad = dir.resolve("coco-bad");
        Files.createDirectories(bad);
        String json = Files.readString(coco.resolve("instances.json")).replaceFirst("\"category_id\"\\s*:\\s*1",
                "\"category_id\":7");
        Files.writeString(bad.resolve("instances.json"), json);
        CliTest.assertBadInput(CliTest.run("eval", "--model", model.toString(), "--data", "coco:" + bad, "--task",
                "segment"), "instances.json", "category");
    }

    @Test
    void denseEvalReportsTheTokensEachBlockKept() throws Exception {
        ObjectMapper om = new ObjectMapper();
        for (String spec : List.of("none", "tome:r=4", "random:R=3,llf=true,seed=2")) {
            CliTest.Run e = CliTest.run("eval", "--model", model.toString(), "--data", "coco:" + coco, "--task",
                    "segment", "--reduce", spec, "--json");
            assertThat(e.status()).as(e.err()).isZero();
            JsonNode measured = om.readTree(e.out()).get("tokens_per_block");
            CliTest.Run f = CliTest.run("flops", "--model", model.toString(), "--reduce", spec, "--json");
            JsonNode planned = om.readTree(f.out()).get("tokens_after_block");
            assertThat(measured).as(spec).hasSameSizeAs(planned);
            for (int i = 0; i < planned.size(); i++) {
                assertThat(measured.get(i).asDouble()).as("%s block %d", spec, i).isEqualTo(planned.get(i).asDouble());
            }
        }
        // per-image counts: each image keeps what its attention mass asks, never more than the schedule
        CliTest.Run e = CliTest.run("eval", "--model", model.toString(), "--data", "coco:" + coco, "--task",
                "segment", "--reduce", "attn:start=0,mass=0.5", "--json");
        JsonNode measured = om.readTree(e.out()).get("tokens_per_block");
        JsonNode bound = om.readTree(CliTest.run("flops", "--model", model.toString(), "--reduce",
                "attn:start=0,mass=0.5", "--json").out()).get("tokens_after_block");
        for (int i = 0; i < bound.size(); i++) {
            assertThat(measured.get(i).asDouble()).as("mass block %d", i).isLessThanOrEqualTo(bound.get(i).asDouble());
        }
        assertThat(om.readTree(e.out()).get("precision").asText()).isEqualTo("fp32");
        // the format a dense evaluation ran in is named, as for classification
        CliTest.Run q = CliTest.run("eval", "--model", model.toString(), "--data", "coco:" + coco, "--task", "segment",
                "--precision", "int8", "--json");
        assertThat(q.status()).as(q.err()).isZero();
        assertThat(om.readTree(q.out()).get("precision").asText()).isEqualTo("int8");
        assertThat(om.readTree(q.out()).get("precision_reason").asText()).contains("int8");
    }

    @Test
    void denseTrainingOnACocoFolderStopsAfterAnEpochAndResumes() throws Exception {
        Path out = dir.resolve("trained/dense.safetensors");
        CliTest.Run first = CliTest.run("train", "--data", "coco:" + coco, "--val", "coco:" + coco, "--config",
                "width=16,depth=1,heads=2,patch=4,image=32", "--epochs", "2", "--stop-after", "1", "--batch", "4",
                "--eval-batch", "4", "-o", out.toString());
        assertThat(first.status()).as(first.err()).isZero();
        assertThat(Files.readAllLines(dir.resolve("trained/dense.log.jsonl"))).hasSize(1);
        CliTest.Run second = CliTest.run("train", "--resume", "-o", out.toString());
        assertThat(second.status()).as(second.err()).isZero();
        assertThat(second.out()).contains("resuming after epoch 1 of 2");
        assertThat(Files.readAllLines(dir.resolve("trained/dense.log.jsonl"))).hasSize(2);
        CliTest.Run info = CliTest.run("info", "--model", out.toString());
        assertThat(info.out()).contains("dense heads", "square", "disc");
    }

    @Test
    void everyReducerRunsOnDenseModelsAndAnImpossibleCombinationIsRefusedClearly() {
        String img = coco.resolve("images/img0.png").toString();
        for (String spec : List.of("tome:r=4", "random:R=4,llf=true,seed=1", "random:keep=0.5,at=0",
                "attn:start=0,mass=0.8", "evit:at=0/1,llf=true")) {
            CliTest.Run r = CliTest.run("segment", "--model", model.toString(), "--reduce", spec, img);
            assertThat(r.status()).as(spec + ": " + r.err()).isZero();
        }
        CliTest.assertBadInput(CliTest.run("segment", "--model", model.toString(), "--reduce",
                "attn:start=0,mass=0.8,llf=true", img), "attn:start=0,mass=0.8,llf=true", "mass");
    }

    @Test
    void segmentNeedsADenseModel() {
        CliTest.assertBadInput(CliTest.run("segment", "--model", CliTest.VIT.toString(), "x.png"),
                "not a dense model");
    }
}
