package dev.vitrim.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Torch;
import dev.vitrim.model.VisionTransformer;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** AdamW, the schedule and the architecture syntax. */
class OptimTest {
    @Test
    void addedModulesStepWithTheirOwnLearningRate() {
        Torch.engine();
        VitConfig c = TrainTestSupport.tiny();
        double lr = 1e-3;
        double moduleLr = 5e-3;
        double wd = 0.1;
        TrainConfig cfg = new TrainConfig(1, 8, lr, 0, 0, wd, 0.9, 0.999, 1e-8, 0, 0, 0, 0, false, 32, moduleLr);
        assertThat(cfg.moduleLrScale()).isCloseTo(5.0, within(1e-12));
        try (VisionTransformer vit = VisionTransformer.random(c, 3); NDManager m = vit.manager().newSubManager()) {
            NDArray extra = vit.manager().create(new float[] {0.5f, -1f, 2f, 0.25f, -0.75f, 1.5f}, new Shape(2, 3));
            float[] extraBefore = extra.toFloatArray();
            float[] weights = {1f, -2f, 3f, -4f, 5f, -6f}; // d loss / d extra
            try (AdamW opt = new AdamW(vit, Map.of("cropr.0.head.weight", extra), cfg)) {
                NDArray w = m.create(weights, new Shape(2, 3));
                float[] fc1Before = vit.parameters().get("blocks.0.mlp.fc1.weight").toFloatArray();
                float[] fc1Grad;
                try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                    NDArray x = m.randomNormal(0, 1, new Shape(8, 3, 8, 8), DataType.FLOAT32);
                    NDArray loss = vit.forward(x).logSoftmax(1).get(":, 0").neg().mean().add(extra.mul(w).sum());
                    gc.backward(loss);
                }
                Torch.grad(false);
                fc1Grad = vit.parameters().get("blocks.0.mlp.fc1.weight").getGradient().toFloatArray();
                opt.step(lr, m);
                float[] extraAfter = extra.toFloatArray();
                for (int i = 0; i < weights.length; i++) { // first step: the update is lr * sign(g), after decay
                    double want = extraBefore[i] * (1 - moduleLr * wd) - moduleLr * Math.signum(weights[i]);
                    assertThat((double) extraAfter[i]).as("module weight %d", i).isCloseTo(want, within(1e-6));
                }
                float[] fc1After = vit.parameters().get("blocks.0.mlp.fc1.weight").toFloatArray();
                for (int i = 0; i < fc1After.length; i++) { // the backbone keeps --lr
                    if (fc1Grad[i] != 0) {
                        double want = fc1Before[i] * (1 - lr * wd) - lr * Math.signum(fc1Grad[i]);
                        assertThat((double) fc1After[i]).as("fc1 %d", i).isCloseTo(want, within(2e-6));
                    }
                }
            }
        }
        assertThatThrownBy(() -> new TrainConfig(1, 8, 1e-3, 0, 0, 0, 0.9, 0.999, 1e-8, 0, 0, 0, 0, false, 32, -1))
                .isInstanceOf(VitrimException.class).hasMessageContaining("moduleLr");
        assertThat(TrainConfig.fromJson(cfg.toJson())).isEqualTo(cfg);
    }

    @Test
    void layerDecayScalesEachLayersStep() {
        Torch.engine();
        VitConfig c = TrainTestSupport.tiny("width=16,depth=3,heads=2,patch=4,mlp=32");
        double lr = 1e-3;
        double decay = 0.5;
        TrainConfig cfg = new TrainConfig(1, 8, lr, 0, 0, 0, 0.9, 0.999, 1e-8, 0, 0, 0, 0, false, 32, 0, decay);
        // the head (after the 3 blocks) at lr, block i at lr * 0.5^(3 - i), the embeddings at lr * 0.5^4
        Map<String, Double> want = Map.of("head.weight", 1.0, "norm.weight", 1.0, "blocks.2.mlp.fc1.weight", 0.5,
                "blocks.1.attn.proj.weight", 0.25, "blocks.0.mlp.fc2.weight", 0.125, "patch_embed.proj.weight", 0.0625,
                "pos_embed", 0.0625, "cls_token", 0.0625);
        try (VisionTransformer vit = VisionTransformer.random(c, 3); AdamW opt = new AdamW(vit, cfg);
             NDManager m = vit.manager().newSubManager()) {
            Map<String, float[]> before = new HashMap<>();
            want.keySet().forEach(k -> before.put(k, vit.parameters().get(k).toFloatArray()));
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray x = m.randomNormal(0, 1, new Shape(8, 3, 8, 8), DataType.FLOAT32);
                gc.backward(vit.forward(x).logSoftmax(1).get(":, 0").neg().mean());
            }
            Torch.grad(false);
            Map<String, float[]> grads = new HashMap<>();
            want.keySet().forEach(k -> grads.put(k, vit.parameters().get(k).getGradient().toFloatArray()));
            opt.step(lr, m);
            for (Map.Entry<String, Double> e : want.entrySet()) {
                float[] after = vit.parameters().get(e.getKey()).toFloatArray();
                float[] g = grads.get(e.getKey());
                int checked = 0;
                for (int i = 0; i < after.length; i++) { // first step, no decay: lr * scale * sign(g)
                    if (Math.abs(g[i]) > 1e-5) {
                        double step = before.get(e.getKey())[i] - after[i];
                        assertThat(step).as("%s %d", e.getKey(), i)
                                .isCloseTo(lr * e.getValue() * Math.signum(g[i]), within(1e-3 * lr * e.getValue()));
                        checked++;
                    }
                }
                assertThat(checked).as(e.getKey()).isPositive();
            }
        }
        assertThat(cfg.layerLrScale("blocks.2.norm1.bias", 3)).isEqualTo(0.5);
        assertThat(TrainConfig.fromJson(cfg.toJson())).isEqualTo(cfg);
        assertThatThrownBy(() -> new TrainConfig(1, 8, 1e-3, 0, 0, 0, 0.9, 0.999, 1e-8, 0, 0, 0, 0, false, 32, 0, 1.5))
                .isInstanceOf(VitrimException.class).hasMessageContaining("layerDecay");
    }

    @Test
    void firstAdamWStepMovesEachWeightByLrInTimmSpace() {
        Torch.engine();
        VitConfig c = TrainTestSupport.tiny();
        double lr = 1e-3;
        double wd = 0.1;
        TrainConfig cfg = new TrainConfig(1, 8, lr, 0, 0, wd, 0.9, 0.999, 1e-8, 0, 0, 0, 0, false);
        try (VisionTransformer vit = VisionTransformer.random(c, 3); AdamW opt = new AdamW(vit, cfg);
             NDManager m = vit.manager().newSubManager()) {
            Map<String, float[]> before = new HashMap<>();
            vit.parameters().forEach((k, v) -> before.put(k, v.toFloatArray()));
            Map<String, float[]> grads = new HashMap<>();
            NDArray x = m.randomNormal(0, 1, new Shape(8, 3, 8, 8), DataType.FLOAT32);
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray loss = vit.forward(x).logSoftmax(1).get(":, 0").neg().mean();
                gc.backward(loss);
            }
            Torch.grad(false);
            vit.parameters().forEach((k, v) -> {
                NDArray g = v.getGradient();
                grads.put(k, g.toFloatArray());
                g.close();
            });
            opt.step(lr, m);
            double s = Math.pow(c.headDim(), -0.5);
            for (Map.Entry<String, NDArray> e : vit.parameters().entrySet()) {
                String n = e.getKey();
                float[] after = e.getValue().toFloatArray();
                float[] b = before.get(n);
                float[] g = grads.get(n);
                boolean decays = AdamW.decays(n, e.getValue().getShape());
                for (int i = 0; i < after.length; i++) {
                    // first step: m/sqrt(v) = sign(g); query rows move by s * lr in the model's (folded) space
                    double scale = n.contains("attn.qkv") && i / (n.endsWith("weight") ? c.width() : 1) < c.width()
                            ? s : 1.0;
                    double gt = g[i] * scale; // timm-space gradient
                    double want = b[i] * (decays ? 1 - lr * wd : 1) - lr * scale * gt / (Math.abs(gt) + 1e-8);
                    if (g[i] != 0) {
                        assertThat((double) after[i]).as("%s[%d]", n, i).isCloseTo(want, within(2e-6));
                    }
                }
            }
            assertThat(AdamW.decays("pos_embed", new Shape(1, 5, 16))).isFalse();
            assertThat(AdamW.decays("cls_token", new Shape(1, 1, 16))).isFalse();
            assertThat(AdamW.decays("blocks.0.norm1.weight", new Shape(16))).isFalse();
            assertThat(AdamW.decays("blocks.0.attn.qkv.bias", new Shape(48))).isFalse();
            assertThat(AdamW.decays("blocks.0.mlp.fc1.weight", new Shape(32, 16))).isTrue();
            assertThat(AdamW.decays("patch_embed.proj.weight", new Shape(16, 3, 4, 4))).isTrue();
            assertThat(opt.steps()).isEqualTo(1);
        }
    }

    @Test
    void clippingScalesTheGlobalNorm() {
        Torch.engine();
        TrainConfig cfg = new TrainConfig(1, 8, 1e-3, 0, 0, 0, 0.9, 0.999, 1e-8, 0, 0.5, 0, 0, false);
        try (VisionTransformer vit = VisionTransformer.random(TrainTestSupport.tiny(), 3);
             AdamW opt = new AdamW(vit, cfg); NDManager m = vit.manager().newSubManager()) {
            NDArray x = m.randomNormal(0, 1, new Shape(4, 3, 8, 8), DataType.FLOAT32);
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                gc.backward(vit.forward(x).logSoftmax(1).get(":, 1").neg().mean().mul(100));
            }
            AdamW.StepInfo info = opt.step(1e-3, m);
            assertThat(info.gradNorm()).isGreaterThan(0.5);
            assertThat(info.clipScale()).isCloseTo(0.5 / info.gradNorm(), within(1e-6));
            // gradients are zeroed after the step
            NDArray g = vit.parameters().get("head.weight").getGradient();
            assertThat(g.abs().sum().getFloat()).isZero();
            g.close();
        }
    }

    @Test
    void trainingStepsLeaveNoArraysBehindAndTrainThePatchEmbedding() {
        Torch.engine();
        TrainConfig cfg = new TrainConfig(1, 4, 1e-2, 0, 0, 0, 0.9, 0.999, 1e-8, 0, 1.0, 0, 0, false);
        try (VisionTransformer vit = VisionTransformer.random(TrainTestSupport.tiny(), 3);
             AdamW opt = new AdamW(vit, cfg)) {
            float[] patch0 = vit.parameters().get("patch_embed.proj.weight").toFloatArray();
            int[] counts = new int[6];
            for (int it = 0; it < counts.length; it++) {
                try (NDManager m = vit.manager().newSubManager()) {
                    NDArray x = m.randomNormal(0, 1, new Shape(4, 3, 8, 8), DataType.FLOAT32);
                    try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                        gc.backward(vit.forward(x).logSoftmax(1).get(":, 1").neg().mean());
                    }
                    Torch.grad(false);
                    opt.step(1e-2, m);
                }
                counts[it] = vit.manager().getManagedArrays().size();
            }
            assertThat(counts).as("native arrays held by the model after each step").containsOnly(counts[0]);
            float[] patch1 = vit.parameters().get("patch_embed.proj.weight").toFloatArray();
            assertThat(patch1).as("the patch embedding receives gradients").isNotEqualTo(patch0);
        }
    }

    @Test
    void warmupThenCosine() {
        LrSchedule s = new LrSchedule(1e-3, 1e-5, 10, 110);
        assertThat(s.at(0)).isCloseTo(1e-4, within(1e-12));
        assertThat(s.at(9)).isCloseTo(1e-3, within(1e-12));
        assertThat(s.at(10)).isCloseTo(1e-3, within(1e-12));
        assertThat(s.at(109)).isCloseTo(1e-5, within(1e-12));
        assertThat(s.at(60)).isBetween(1e-5, 1e-3);
        for (int t = 10; t < 109; t++) {
            assertThat(s.at(t + 1)).isLessThanOrEqualTo(s.at(t));
        }
    }

    @Test
    void architectureOnTheCommandLine() {
        VitConfig c = ArchSpec.toConfig("width=64,depth=6,heads=4,patch=2,mlp=128", 28, 10, null,
                TrainTestSupport.tiny().preprocess() == null ? null : s -> TrainTestSupport.pre());
        assertThat(c.width()).isEqualTo(64);
        assertThat(c.gridH()).isEqualTo(14);
        assertThat(c.tokens()).isEqualTo(197);
        assertThat(c.mlpHidden()).isEqualTo(128);
        assertThat(c.headDim()).isEqualTo(16);
        VitConfig d = ArchSpec.toConfig("width=32, depth=2, heads=2, patch=4, image=32, pool=avg", 28, 3, null,
                s -> TrainTestSupport.pre());
        assertThat(d.imageSize()).isEqualTo(32);
        assertThat(d.mlpHidden()).isEqualTo(128);
        assertThat(d.globalPool()).isEqualTo("avg");
        for (String[] bad : new String[][] {
                {"width=64,depth=6,patch=2", "missing heads="},
                {"width=64,depth=6,heads=5,patch=2", "heads=5 does not divide width=64"},
                {"width=64,depth=6,heads=4,patch=3", "image=28 is not a multiple of patch=3"},
                {"width=64,depth=x,heads=4,patch=2", "depth must be a positive integer"},
                {"width=64,depth=6,heads=4,patch=2,colour=red", "unknown key 'colour'"},
                {"width=64,depth=6,heads=4,patch=2,width=3", "given twice"},
                {"width64", "is not key=value"}}) {
            assertThatThrownBy(() -> ArchSpec.toConfig(bad[0], 28, 10, null, s -> TrainTestSupport.pre()))
                    .isInstanceOf(VitrimException.class).hasMessageContaining(bad[1]);
        }
    }
}
