package dev.vitrim.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.dense.DenseEvaluator;
import dev.vitrim.dense.DenseExample;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.PatchLabels;
import dev.vitrim.engine.Torch;
import dev.vitrim.io.SafeTensorsFile;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dense training with Token Cropr (two tiny epochs): the saved file keeps only the queries of the Cropr tensors and
 * records the schedule that {@code --reduce cropr} then runs, and a run stopped after an epoch and resumed ends
 * exactly where the uninterrupted run does.
 */
class CroprDenseTrainerTest {
    /** DenseTrainerTest's squares on a 3-block backbone: 64 patches, one Cropr module (after block 0) with LLF. */
    static VitConfig arch() {
        return ArchSpec.toConfig("width=32,depth=3,heads=2,patch=4", DenseTrainerTest.S, 0, List.of(),
                s -> DenseTrainerTest.arch().preprocess());
    }

    static final String SPEC = "cropr:R=6,llf=true,ramp=true";

    static DenseTrainer.Job job(Path out, boolean resume, int stopAfter, CroprTraining.Task task) {
        TrainConfig cfg = new TrainConfig(2, 16, 3e-3, 1e-5, 0.5, 0.05, 0.9, 0.999, 1e-8, 0.0, 1.0, 3, 0, false);
        return new DenseTrainer.Job(arch(), DenseTrainerTest.CLASSES, null,
                e -> DenseTrainerTest.squares(32, 100 + e, "squares:train"),
                DenseTrainerTest.squares(8, 7, "squares:val"), 0, "squares", cfg, out, resume, !resume, 8, stopAfter,
                SPEC, task, PatchLabels.Mode.MAJORITY);
    }

    @Test
    void savesOnlyTheQueriesRunsTheTrainedScheduleAndResumesExactly(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a.safetensors");
        DenseTrainer.run(job(a, false, 0, CroprTraining.Task.SEGMENT), null);
        List<JsonNode> log = readLog(dir.resolve("a.log.jsonl"));
        assertThat(log).hasSize(2);
        for (JsonNode l : log) {
            assertThat(l.get("aux_loss").asDouble()).isPositive().isFinite();
            // the total counts the auxiliary loss (one module, weight 1) on top of the dense terms
            double dense = l.get("seg_loss").asDouble() + l.get("heat_loss").asDouble()
                    + l.get("size_loss").asDouble() + l.get("offset_loss").asDouble()
                    + l.get("center_loss").asDouble();
            assertThat(l.get("train_loss").asDouble()).isCloseTo(dense + l.get("aux_loss").asDouble(),
                    org.assertj.core.data.Offset.offset(1e-3));
        }
        // (a) the file keeps the backbone, the decoder and the queries [1, 64, 32]: no aggregator, no auxiliary head
        for (Path f : List.of(a, dir.resolve("a.last.safetensors"))) {
            try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
                List<String> cropr = new ArrayList<>();
                for (String n : st.names()) {
                    if (n.startsWith("cropr.")) {
                        cropr.add(n);
                    }
                }
                assertThat(cropr).containsExactly("cropr.0.cross_attn.queries");
                assertThat(st.info("cropr.0.cross_attn.queries").shape()).containsExactly(1, 64, 32);
                assertThat(st.names()).contains(DenseModel.WEIGHT, DenseModel.BIAS, "blocks.2.mlp.fc2.weight");
                assertThat(st.metadata().get(Checkpoint.REDUCE_KEY)).isEqualTo("cropr:R=6,llf=true");
            }
        }
        // the state keeps everything, for --resume
        try (SafeTensorsFile st = SafeTensorsFile.open(dir.resolve("a.state.safetensors"))) {
            assertThat(st.names()).anyMatch(n -> n.contains("cropr.0.head.weight"));
        }
        // (b) reloaded, '--reduce cropr' runs the trained schedule: tokens after each block, 65 - 7 after block 0's
        // module, all 65 back for the last block (LLF)
        try (DenseModel m = DenseModel.load(a)) {
            TokenReducer r = Reducers.parse("cropr", m.backbone());
            assertThat(r.spec()).isEqualTo("cropr:R=6,llf=true");
            try (NDManager nm = m.backbone().manager().newSubManager()) {
                Torch.inference();
                DenseExample e = DenseTrainerTest.squares(2, 7, "v").get(0);
                int s = DenseTrainerTest.S;
                float[] x = new float[3 * s * s];
                DenseEvaluator.normalise(e.rgb(), m.config().preprocess(), x, 0);
                NDArray img = nm.create(x, new Shape(1, 3, s, s));
                Trace trace = new Trace(false);
                m.backbone().forwardTokens(img, r, trace, false, true);
                List<Integer> counts = new ArrayList<>();
                trace.images().get(0).forEach(blk -> counts.add(blk.tokens()));
                assertThat(counts).containsExactly(58, 58, 65);
                // and the dense maps use it: they differ from the unreduced model's
                float[] pruned = m.maps(img, r).toFloatArray();
                float[] full = m.maps(img, Reducers.NONE).toFloatArray();
                assertThat(pruned).hasSize(full.length).isNotEqualTo(full);
            }
            DenseEvaluator.Metrics v = DenseEvaluator.evaluate(m, DenseTrainerTest.squares(8, 7, "squares:val"), r, 4,
                    0, false, null);
            assertThat(v.meanIou()).isBetween(0.0, 1.0);
        }
        // (c) one epoch, stop, resume: the same log (timings aside) and the same file as the uninterrupted run
        Path b = dir.resolve("b.safetensors");
        DenseTrainer.run(job(b, false, 1, CroprTraining.Task.SEGMENT), null);
        assertThat(readLog(dir.resolve("b.log.jsonl"))).hasSize(1);
        DenseTrainer.run(job(b, true, 0, CroprTraining.Task.SEGMENT), null);
        List<JsonNode> logB = readLog(dir.resolve("b.log.jsonl"));
        assertThat(logB).hasSize(2);
        for (int i = 0; i < 2; i++) {
            for (String k : List.of("train_loss", "aux_loss", "seg_loss", "val_miou", "val_box_ap", "grad_norm", "lr")) {
                assertThat(logB.get(i).get(k).asDouble()).as("epoch %d %s", i + 1, k)
                        .isEqualTo(log.get(i).get(k).asDouble());
            }
        }
        assertThat(Files.readAllBytes(dir.resolve("b.last.safetensors")))
                .isEqualTo(Files.readAllBytes(dir.resolve("a.last.safetensors")));
        // a resume with another Cropr task is refused, naming both
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> DenseTrainer.run(
                job(b, true, 0, CroprTraining.Task.PRESENCE), null))
                .hasMessageContaining("segment").hasMessageContaining("presence");
    }

    @Test
    void presenceTrainsOneQueryPerModule(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("p.safetensors");
        DenseTrainer.Job j = job(a, false, 0, CroprTraining.Task.PRESENCE);
        TrainConfig one = new TrainConfig(1, 16, 3e-3, 1e-5, 0.5, 0.05, 0.9, 0.999, 1e-8, 0.0, 1.0, 3, 0, false);
        DenseTrainer.run(new DenseTrainer.Job(j.arch(), j.classes(), null, e -> DenseTrainerTest.squares(16, 3,
                "squares:train"), j.val(), 0, "squares", one, a, false, true, 8, 0, SPEC, CroprTraining.Task.PRESENCE,
                null), null);
        assertThat(readLog(dir.resolve("p.log.jsonl")).get(0).get("aux_loss").asDouble()).isPositive();
        try (SafeTensorsFile st = SafeTensorsFile.open(a)) {
            assertThat(st.info("cropr.0.cross_attn.queries").shape()).containsExactly(1, 1, 32);
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
