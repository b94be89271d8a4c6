package dev.vitrim.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.SafeTensorsFile;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.model.VisionTransformer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training loop on a tiny synthetic problem: learning, files, exact resume, crashes, divergence, bad input. */
class TrainerTest {
    @TempDir
    Path tmp;

    @Test
    void learnsAndWritesLoadableFiles() throws IOException {
        Path out = tmp.resolve("models/q.safetensors");
        List<Double> losses = new ArrayList<>();
        Trainer.Summary s = Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), TrainTestSupport.cfg(8), out,
                false), new Trainer.Listener() {
                    @Override
                    public void step(int epoch, int step, int steps, double loss, double acc, double ips, double lr) {
                        if (step == 1) {
                            losses.add(loss);
                        }
                    }
                });
        assertThat(s.epochs()).hasSize(8);
        assertThat(s.epochs().get(7).trainLoss()).isLessThan(s.epochs().get(0).trainLoss() - 0.3);
        assertThat(s.bestValAcc()).isGreaterThan(0.8);
        assertThat(out).exists();
        assertThat(s.last()).exists();
        assertThat(s.state()).exists();
        List<String> log = Files.readAllLines(s.log());
        assertThat(log).hasSize(8);
        JsonNode first = new ObjectMapper().readTree(log.get(0));
        for (String k : List.of("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s",
                "seconds")) {
            assertThat(first.has(k)).as(k).isTrue();
        }
        // the best model: timm names, config, labels and preprocessing in the metadata, loads in vitrim
        try (Checkpoint ck = Checkpoint.open(out, 0)) {
            VitConfig c = ck.config();
            assertThat(c.labels()).containsExactlyElementsOf(TrainTestSupport.CLASSES);
            assertThat(c.heads()).isEqualTo(2);
            assertThat(c.preprocess()).isEqualTo(TrainTestSupport.pre());
            assertThat(c.numClasses()).isEqualTo(4);
            JsonNode meta = new ObjectMapper().readTree(ck.source().metadata().get(Checkpoint.METADATA_KEY));
            assertThat(meta.path("timm_model_args").path("embed_dim").asInt()).isEqualTo(16);
            assertThat(meta.path("timm_model_args").path("mlp_ratio").asDouble()).isEqualTo(2.0);
            assertThat(meta.path("extra").path("epoch").asInt()).isEqualTo(s.bestEpoch());
            assertThat(meta.path("extra").path("val_acc").asDouble()).isEqualTo(s.bestValAcc());
        }
        try (SafeTensorsFile f = SafeTensorsFile.open(out)) {
            assertThat(f.names()).contains("patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "head.bias");
        }
        // the reported validation accuracy is what the saved file scores
        try (VisionTransformer vit = VisionTransformer.load(out, 0)) {
            double acc = Evaluator.evaluate(vit, TrainTestSupport.quadrants(64, 2, "val"),
                    new ImageTransform(TrainTestSupport.pre(), 0, false), 64).accuracy();
            assertThat(acc).isEqualTo(s.bestValAcc());
        }
    }

    @Test
    void resumeContinuesExactly() {
        TrainConfig cfg = TrainTestSupport.cfg(3);
        Path a = tmp.resolve("a/m.safetensors");
        Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), cfg, a, false), null);
        // the same run, killed in its second epoch, then resumed
        Path b = tmp.resolve("b/m.safetensors");
        RuntimeException kill = new IllegalStateException("killed");
        assertThatThrownBy(() -> Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), cfg, b, false),
                new Trainer.Listener() {
                    @Override
                    public void step(int epoch, int step, int steps, double loss, double acc, double ips, double lr) {
                        if (epoch == 2 && step == 5) {
                            throw kill;
                        }
                    }
                })).isSameAs(kill);
        List<String> messages = new ArrayList<>();
        Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), cfg, b, true), new Trainer.Listener() {
            @Override
            public void message(String line) {
                messages.add(line);
            }
        });
        assertThat(messages).anyMatch(m -> m.startsWith("resuming after epoch 1 of 3"));
        TrainState sa = TrainState.read(Trainer.Files4.of(a).state());
        TrainState sb = TrainState.read(Trainer.Files4.of(b).state());
        assertThat(sb.epochsDone()).isEqualTo(3);
        assertThat(sb.steps()).isEqualTo(sa.steps());
        for (Map.Entry<String, FloatTensor> e : sa.model().entrySet()) {
            assertThat(sb.model().get(e.getKey()).data()).as(e.getKey()).containsExactly(e.getValue().data());
        }
        for (Map.Entry<String, FloatTensor> e : sa.optim().entrySet()) {
            assertThat(sb.optim().get(e.getKey()).data()).as(e.getKey()).containsExactly(e.getValue().data());
        }
        assertThat(sb.bestValAcc()).isEqualTo(sa.bestValAcc());
    }

    @Test
    void aCrashMidRunLeavesTheLastEpochIntactAndResumable() throws IOException {
        Path out = tmp.resolve("m.safetensors");
        Trainer.Files4 f = Trainer.Files4.of(out);
        TrainConfig cfg = TrainTestSupport.cfg(3);
        RuntimeException boom = new IllegalStateException("simulated crash");
        assertThatThrownBy(() -> Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), cfg, out, false),
                new Trainer.Listener() {
                    @Override
                    public void step(int epoch, int step, int steps, double loss, double acc, double ips, double lr) {
                        if (epoch == 2 && step == 3) {
                            throw boom;
                        }
                    }
                })).isSameAs(boom);
        TrainState st = TrainState.read(f.state());
        assertThat(st.epochsDone()).isEqualTo(1);
        try (VisionTransformer vit = VisionTransformer.load(out, 0)) {
            assertThat(vit.config().numClasses()).isEqualTo(4);
        }
        assertThat(Files.readAllLines(f.log())).hasSize(1);
        try (var files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
        }
        Trainer.Summary s = Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), cfg, out, true), null);
        assertThat(s.epochs()).hasSize(2);
        assertThat(Files.readAllLines(f.log())).hasSize(3);
    }

    @Test
    void divergenceStopsWithAClearMessageAndSavesNothing() {
        Path out = tmp.resolve("nan.safetensors");
        TrainConfig wild = new TrainConfig(2, 32, 1e30, 0, 0, 0, 0.9, 0.999, 1e-8, 0, 0, 7, 0, false);
        assertThatThrownBy(() -> Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), wild, out, false), null))
                .isInstanceOf(VitrimException.class).hasMessageStartingWith("training diverged: the ")
                .hasMessageContaining("at epoch 1").hasMessageContaining("no model was saved")
                .hasMessageContaining("lower lr");
        assertThat(out).doesNotExist();
    }

    @Test
    void moduleLearningRateWithoutModulesIsAnError() {
        Path out = tmp.resolve("mlr.safetensors");
        TrainConfig c = TrainTestSupport.cfg(1);
        TrainConfig withModuleLr = new TrainConfig(c.epochs(), c.batch(), c.lr(), c.minLr(), c.warmupEpochs(),
                c.weightDecay(), c.beta1(), c.beta2(), c.adamEps(), c.labelSmoothing(), c.clipNorm(), c.seed(),
                c.translate(), c.flip(), c.microBatch(), 1e-2);
        assertThatThrownBy(() -> Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), withModuleLr, out, false),
                null)).isInstanceOf(VitrimException.class).hasMessageContaining("moduleLr")
                .hasMessageContaining("only cropr");
        assertThat(out).doesNotExist();
    }

    @Test
    void resumeRefusesAnotherArchitectureOrDataSet() {
        Path out = tmp.resolve("m.safetensors");
        Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), TrainTestSupport.cfg(1), out, false), null);
        VitConfig wider = TrainTestSupport.tiny("width=32,depth=1,heads=2,patch=4,mlp=32");
        assertThatThrownBy(() -> Trainer.run(TrainTestSupport.job(wider, TrainTestSupport.cfg(2), out, true), null))
                .isInstanceOf(VitrimException.class).hasMessageContaining("resume: ")
                .hasMessageContaining("holds a different architecture (width 16,")
                .hasMessageContaining("than requested (width 32,");
        Trainer.Job other = new Trainer.Job(TrainTestSupport.tiny(), null, false,
                TrainTestSupport.quadrants(64, 1, "t"), TrainTestSupport.quadrants(32, 2, "v"), "elsewhere",
                TrainTestSupport.cfg(2), out, true, false, 64, null);
        assertThatThrownBy(() -> Trainer.run(other, null)).hasMessageContaining("was trained on quadrants, not elsewhere");
        Trainer.Job fresh = new Trainer.Job(TrainTestSupport.tiny(), null, false,
                TrainTestSupport.quadrants(64, 1, "t"), TrainTestSupport.quadrants(32, 2, "v"), "quadrants",
                TrainTestSupport.cfg(2), out, false, false, 64, null);
        assertThatThrownBy(() -> Trainer.run(fresh, null)).hasMessageContaining("exists: resume");
        Path none = tmp.resolve("none.safetensors");
        assertThatThrownBy(() -> Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), TrainTestSupport.cfg(1),
                none, true), null)).hasMessageContaining("none.state.safetensors not found");
    }

    @Test
    void labelCountMustMatchTheModel() {
        VitConfig three = TrainTestSupport.tiny().withClasses(3, List.of("a", "b", "c"));
        assertThatThrownBy(() -> Trainer.run(TrainTestSupport.job(three, TrainTestSupport.cfg(1),
                tmp.resolve("x.safetensors"), false), null)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("has 4 classes but the model has 3 outputs");
    }

    @Test
    void fineTuningFromACheckpointWithAnotherClassCountGetsANewHead() {
        Path first = tmp.resolve("four.safetensors");
        Trainer.run(TrainTestSupport.job(TrainTestSupport.tiny(), TrainTestSupport.cfg(2), first, false), null);
        // the same images, relabelled into two classes (dark / bright)
        var train = TrainTestSupport.quadrants(256, 1, "t");
        var val = TrainTestSupport.quadrants(64, 2, "v");
        var two = List.of("darker", "brighter");
        VitConfig arch;
        try (Checkpoint ck = Checkpoint.open(first, 0)) {
            arch = ck.config().withClasses(2, two);
        }
        Trainer.Job ft = new Trainer.Job(arch, first, false, relabel(train, two), relabel(val, two), "halves",
                TrainTestSupport.cfg(2), tmp.resolve("two.safetensors"), false, false, 64, null);
        Trainer.Summary s = Trainer.run(ft, null);
        assertThat(s.bestValAcc()).isGreaterThan(0.8);
        try (VisionTransformer a = VisionTransformer.load(first, 0);
             VisionTransformer b = VisionTransformer.load(tmp.resolve("two.safetensors"), 0)) {
            assertThat(b.config().numClasses()).isEqualTo(2);
            assertThat(b.config().labels()).containsExactly("darker", "brighter");
            // the backbone started from the checkpoint: its patch embedding moved only a little
            float[] pa = a.parameters().get("patch_embed.proj.weight").toFloatArray();
            float[] pb = b.parameters().get("patch_embed.proj.weight").toFloatArray();
            double diff = 0;
            double norm = 0;
            for (int i = 0; i < pa.length; i++) {
                diff += (pa[i] - pb[i]) * (pa[i] - pb[i]);
                norm += pa[i] * pa[i];
            }
            assertThat(Math.sqrt(diff / norm)).isLessThan(0.5);
        }
    }

    static dev.vitrim.data.LabeledImages relabel(dev.vitrim.data.LabeledImages d, List<String> two) {
        int[] lab = new int[d.size()];
        for (int i = 0; i < lab.length; i++) {
            lab[i] = d.label(i) / 2;
        }
        return new dev.vitrim.data.LabeledImages(d.name(), two, d.channels(), d.height(), d.width(), d.pixels(), lab);
    }
}
