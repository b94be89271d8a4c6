package dev.vitrim.train;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.dense.Box;
import dev.vitrim.dense.DenseDataset;
import dev.vitrim.dense.DenseEvaluator;
import dev.vitrim.dense.DenseExample;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.reduce.Reducers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dense training end to end on a tiny learnable problem (bright and dark squares on noise): the loss falls, the
 * saved file loads as a dense model and is evaluated, and a run stopped after an epoch and resumed ends exactly where
 * an uninterrupted run does.
 */
class DenseTrainerTest {
    static final List<String> CLASSES = List.of("bright", "dark");
    static final int S = 32;

    /** Squares of 8..14 px, class by brightness, on a mid-grey noise background; deterministic per (seed, i). */
    static DenseDataset squares(int n, long seed, String name) {
        return new DenseDataset() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public List<String> classes() {
                return CLASSES;
            }

            @Override
            public int size() {
                return n;
            }

            @Override
            public DenseExample get(int index) {
                Random r = new Random(seed * 1_000_003L + index);
                byte[] rgb = new byte[3 * S * S];
                for (int i = 0; i < rgb.length; i++) {
                    rgb[i] = (byte) (100 + r.nextInt(56));
                }
                byte[] labels = new byte[S * S];
                int[] ids = new int[S * S];
                List<Box> boxes = new ArrayList<>();
                int k = r.nextInt(2);
                int side = 8 + r.nextInt(7);
                int x0 = r.nextInt(S - side);
                int y0 = r.nextInt(S - side);
                for (int y = y0; y < y0 + side; y++) {
                    for (int x = x0; x < x0 + side; x++) {
                        for (int c = 0; c < 3; c++) {
                            rgb[c * S * S + y * S + x] = (byte) (k == 0 ? 240 : 10);
                        }
                        labels[y * S + x] = (byte) (k + 1);
                        ids[y * S + x] = 1;
                    }
                }
                boxes.add(new Box(k, x0, y0, side, side));
                return new DenseExample(name + "-" + index, S, S, rgb, labels, ids, boxes);
            }
        };
    }

    static VitConfig arch() {
        PreprocessConfig pre = new PreprocessConfig(S, 1.0, new float[] {0.5f, 0.5f, 0.5f},
                new float[] {0.25f, 0.25f, 0.25f}, Interpolation.BILINEAR);
        return ArchSpec.toConfig("width=32,depth=2,heads=2,patch=4", S, 0, List.of(), s -> pre);
    }

    static DenseTrainer.Job job(Path out, int epochs, boolean resume, int stopAfter) {
        TrainConfig cfg = new TrainConfig(epochs, 16, 3e-3, 1e-5, 0.5, 0.05, 0.9, 0.999, 1e-8, 0.0, 1.0, 3, 0, false);
        return new DenseTrainer.Job(arch(), CLASSES, null, e -> squares(128, 100 + e, "squares:train"),
                squares(32, 7, "squares:val"), 0, "squares", cfg, out, resume, !resume, 16, stopAfter);
    }

    @Test
    void learnsSavesEvaluatesAndResumesExactly(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a.safetensors");
        DenseTrainer.run(job(a, 8, false, 0), null);
        List<JsonNode> log = readLog(dir.resolve("a.log.jsonl"));
        assertThat(log).hasSize(8);
        assertThat(log.get(7).get("train_loss").asDouble()).isLessThan(log.get(0).get("train_loss").asDouble());
        // above predicting background everywhere (IoU ~0.89 for background, 0 for both classes: mIoU ~0.30)
        assertThat(log.get(7).get("val_miou").asDouble()).isGreaterThan(0.5);
        try (DenseModel m = DenseModel.load(a)) {
            assertThat(m.classes()).isEqualTo(CLASSES);
            DenseEvaluator.Metrics v = DenseEvaluator.evaluate(m, squares(32, 7, "squares:val"), Reducers.NONE, 8, 0,
                    true, null);
            assertThat(v.images()).isEqualTo(32);
            assertThat(v.meanIou()).isBetween(0.0, 1.0);
            assertThat(v.boxAp50()).isBetween(0.0, 1.0);
            assertThat(v.maskAp()).isBetween(0.0, 1.0);
        }
        // two epochs, stop, then resume to four: the same weights as the uninterrupted run
        Path b = dir.resolve("b.safetensors");
        DenseTrainer.run(job(b, 8, false, 4), null);
        assertThat(readLog(dir.resolve("b.log.jsonl"))).hasSize(4);
        DenseTrainer.run(job(b, 8, true, 0), null);
        List<JsonNode> logB = readLog(dir.resolve("b.log.jsonl"));
        assertThat(logB).hasSize(8);
        assertThat(logB.get(7).get("train_loss").asDouble()).isEqualTo(log.get(7).get("train_loss").asDouble());
        assertThat(Files.readAllBytes(dir.resolve("b.last.safetensors")))
                .isEqualTo(Files.readAllBytes(dir.resolve("a.last.safetensors")));
    }

    @Test
    void divergenceStopsWithTheSameRuleAsClassifierTraining(@TempDir Path dir) {
        Path out = dir.resolve("nan.safetensors");
        TrainConfig wild = new TrainConfig(1, 16, 1e30, 0, 0, 0, 0.9, 0.999, 1e-8, 0, 0, 3, 0, false);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> DenseTrainer.run(new DenseTrainer.Job(arch(), CLASSES,
                        null, e -> squares(64, 5, "squares:train"), squares(8, 7, "squares:val"), 0, "squares", wild,
                        out, false, true, 8, 0), null))
                .isInstanceOf(dev.vitrim.VitrimException.class).hasMessageStartingWith("training diverged: the ")
                .hasMessageContaining("at epoch 1").hasMessageContaining("no model was saved");
        assertThat(out).doesNotExist();
    }

    @Test
    void startsFromTheBackboneAndMatchingDecoderOfAnotherModel(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a.safetensors");
        DenseTrainer.run(job(a, 1, false, 0), null);
        // one epoch at a vanishing learning rate from a: every weight, decoder included, stays a's
        TrainConfig still = new TrainConfig(1, 16, 1e-12, 1e-12, 0, 0.0, 0.9, 0.999, 1e-8, 0.0, 1.0, 3, 0, false);
        Path b = dir.resolve("b.safetensors");
        DenseTrainer.run(new DenseTrainer.Job(arch(), CLASSES, a, e -> squares(16, 5, "squares:train"),
                squares(8, 7, "squares:val"), 0, "squares", still, b, false, true, 8, 0), null);
        try (DenseModel ma = DenseModel.load(a); DenseModel mb = DenseModel.load(b)) {
            float[] wa = ma.decoderTensors().get(DenseModel.WEIGHT).data();
            float[] wb = mb.decoderTensors().get(DenseModel.WEIGHT).data();
            float[] pa = ma.backbone().exportTensors().get("blocks.1.mlp.fc2.weight").data();
            float[] pb = mb.backbone().exportTensors().get("blocks.1.mlp.fc2.weight").data();
            for (int i = 0; i < wa.length; i++) {
                assertThat(wb[i]).isCloseTo(wa[i], org.assertj.core.api.Assertions.offset(1e-6f));
            }
            for (int i = 0; i < pa.length; i++) {
                assertThat(pb[i]).isCloseTo(pa[i], org.assertj.core.api.Assertions.offset(1e-6f));
            }
        }
    }

    private static List<JsonNode> readLog(Path p) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(p)) {
            out.add(ModelFiles.JSON.readTree(line));
        }
        return out;
    }
}
