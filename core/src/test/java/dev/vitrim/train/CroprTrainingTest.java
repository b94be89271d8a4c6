package dev.vitrim.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Torch;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.SafeTensorsFile;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Cropr;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.Trace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Token Cropr training: auxiliary losses, the stop-gradient, what the saved file keeps, and reloading. */
class CroprTrainingTest {
    @TempDir
    Path tmp;

    /** 4 blocks, patch 2 on 8x8 images: 16 patches, Cropr modules after blocks 0 and 1 (with LLF). */
    static VitConfig arch() {
        return TrainTestSupport.tiny("width=16,depth=4,heads=2,patch=2,mlp=32");
    }

    static Cropr cropr(String spec) {
        return (Cropr) Reducers.parse(spec);
    }

    static NDArray images(NDManager m, int b, long seed) {
        Random r = new Random(seed);
        float[] v = new float[b * 3 * 64];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return m.create(v, new Shape(b, 3, 8, 8));
    }

    /** One-hot targets for the 6 images of {@link #images}: image i is of class i mod 4. */
    static NDArray targets(NDManager m) {
        float[] t = new float[6 * 4];
        for (int i = 0; i < 6; i++) {
            t[i * 4 + i % 4] = 1f;
        }
        return m.create(t, new Shape(6, 4));
    }

    /** Backbone gradients (by name) of main loss [+ auxiliary losses] on one batch; queries' gradient under "q". */
    static Map<String, float[]> gradients(VisionTransformer vit, CroprTraining ct, boolean withAux) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (NDManager m = vit.manager().newSubManager()) {
            NDArray x = images(m, 6, 3);
            NDArray target = targets(m);
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray loss = vit.forward(x, ct, null).logSoftmax(1).mul(target).sum().neg();
                List<NDArray> aux = ct.takeAuxLogits();
                assertThat(aux).hasSize(2);
                if (withAux) {
                    for (NDArray a : aux) {
                        loss = loss.add(a.logSoftmax(1).mul(target).sum().neg());
                    }
                }
                gc.backward(loss);
            } finally {
                Torch.grad(false);
            }
            for (Map.Entry<String, NDArray> e : vit.parameters().entrySet()) {
                out.put(e.getKey(), e.getValue().getGradient().toFloatArray());
            }
            out.put("q", gradientOrZeros(ct.parameters().get("cropr.0.cross_attn.queries")));
            for (NDArray p : vit.parameters().values()) {
                JniUtils.zeroGrad((PtNDArray) p);
            }
            for (NDArray p : ct.parameters().values()) {
                if (norm(gradientOrZeros(p)) > 0) {
                    JniUtils.zeroGrad((PtNDArray) p);
                }
            }
        }
        return out;
    }

    @Test
    void theBackboneLearnsOnlyFromTheMainLoss() {
        Torch.engine();
        try (VisionTransformer vit = VisionTransformer.random(arch(), 1);
             CroprTraining ct = new CroprTraining(cropr("cropr:R=3,llf=true"), arch(), 2);
             AdamW opt = new AdamW(vit, ct.parameters(), TrainTestSupport.cfg(1))) { // makes everything trainable
            Map<String, float[]> main = gradients(vit, ct, false);
            Map<String, float[]> all = gradients(vit, ct, true);
            double mainNorm = 0;
            for (String n : vit.parameters().keySet()) {
                assertThat(all.get(n)).as(n).containsExactly(main.get(n));
                for (float f : main.get(n)) {
                    mainNorm += f * f;
                }
            }
            assertThat(mainNorm).as("the backbone does get gradients").isGreaterThan(0);
            // the queries learn from their auxiliary loss, and only from it
            assertThat(norm(main.get("q"))).isZero();
            assertThat(norm(all.get("q"))).isGreaterThan(0);
        }
    }

    /** A parameter's gradient; zeros when no backward pass reached it (libtorch leaves it undefined). */
    private static float[] gradientOrZeros(NDArray p) {
        try {
            return p.getGradient().toFloatArray();
        } catch (RuntimeException e) {
            return new float[(int) p.getShape().size()];
        }
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float f : v) {
            s += f * f;
        }
        return s;
    }

    @Test
    void trainingPrunesAsInferenceAndTheSavedFileReproducesIt() {
        Torch.engine();
        Path file = tmp.resolve("c.safetensors");
        VitConfig a = arch();
        try (VisionTransformer vit = VisionTransformer.random(a, 4);
             CroprTraining ct = new CroprTraining(cropr("cropr:R=3,llf=false"), a, 5);
             NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            NDArray x = images(m, 5, 9);
            Trace trained = new Trace(false);
            float[] before = vit.forward(x, ct, trained).toFloatArray();
            Map<String, FloatTensor> tensors = vit.exportTensors();
            tensors.putAll(ct.inferenceTensors());
            ModelFiles.save(tensors, a, null, ct.spec(), file);
            try (VisionTransformer back = VisionTransformer.load(file, 0)) {
                assertThat(back.recordedReduce()).isEqualTo("cropr:R=3,llf=false");
                Trace inferred = new Trace(false);
                NDArray y = back.forward(x.duplicate(), Reducers.parse("cropr", back), inferred);
                float[] after = y.toFloatArray();
                assertThat(after.length).isEqualTo(before.length);
                for (int i = 0; i < after.length; i++) {
                    assertThat((double) after[i]).isCloseTo(before[i], org.assertj.core.data.Offset.offset(1e-5));
                }
                // the same tokens were kept, image by image: 17 → 13 → 10 → 7 (no LLF: modules after blocks 0..2)
                ObjectMapper om = new ObjectMapper();
                assertThat(inferred.toJson(om).toString()).isEqualTo(trained.toJson(om).toString());
                assertThat(inferred.images().get(0).get(2).tokens()).isEqualTo(17 - 4 - 3 - 3);
            }
        }
    }

    @Test
    void auxiliaryLossesFallAndTheFileKeepsOnlyTheQueries() throws IOException {
        Path out = tmp.resolve("models/c.safetensors");
        VitConfig a = arch();
        Trainer.Job job = new Trainer.Job(a, null, false, TrainTestSupport.quadrants(256, 1, "quadrants (train)"),
                TrainTestSupport.quadrants(64, 2, "quadrants (val)"), "quadrants", TrainTestSupport.cfg(4), out, false,
                true, 64, null, "cropr:R=2,llf=true,multiple=2");
        Trainer.Summary s = Trainer.run(job, null);
        List<Trainer.EpochResult> e = s.epochs();
        assertThat(e.get(3).auxLoss()).isLessThan(e.get(0).auxLoss() - 0.2);
        JsonNode log = new ObjectMapper().readTree(Files.readAllLines(s.log()).get(0));
        assertThat(log.has("aux_loss")).isTrue();
        try (SafeTensorsFile f = SafeTensorsFile.open(out)) {
            List<String> cropr = new ArrayList<>();
            f.names().stream().filter(n -> n.startsWith("cropr.")).forEach(cropr::add);
            assertThat(cropr).containsExactly("cropr.0.cross_attn.queries", "cropr.1.cross_attn.queries");
            assertThat(f.info("cropr.0.cross_attn.queries").shape()).containsExactly(1, 1, 16);
            assertThat(f.metadata().get(Checkpoint.REDUCE_KEY)).isEqualTo("cropr:R=2,llf=true,multiple=2");
        }
        // the training state keeps the aggregators and heads, for --resume
        try (SafeTensorsFile f = SafeTensorsFile.open(s.state())) {
            assertThat(f.names()).anyMatch(n -> n.contains("cropr.1.aggregator.mlp.fc1.weight"));
            assertThat(f.names()).anyMatch(n -> n.contains("cropr.0.head.weight"));
        }
        // validation ran the saved file with its schedule: the same accuracy comes out of a plain load
        try (VisionTransformer vit = VisionTransformer.load(out, 0)) {
            double acc = Evaluator.evaluate(vit, TrainTestSupport.quadrants(64, 2, "val"),
                    new dev.vitrim.data.ImageTransform(TrainTestSupport.pre(), 0, false), 64,
                    Reducers.parse("cropr", vit)).accuracy();
            assertThat(acc).isEqualTo(s.bestValAcc());
        }
        // resuming with another reduction is refused
        Trainer.Job other = new Trainer.Job(a, null, false, job.train(), job.val(), "quadrants",
                TrainTestSupport.cfg(5), out, true, false, 64, null, "cropr:R=1,llf=true");
        assertThatThrownBy(() -> Trainer.run(other, null)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("reducer cropr:R=2,llf=true,multiple=2");
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"attn:start=1,keep=0.8..0.5", "attn:start=1,mass=0.7",
        "evit:keep=0.7,at=1/2", "tome:r=2", "random:keep=0.5,at=1"})
    void fineTuningRunsTheReducerInTrainingAndValidation(String spec) throws IOException {
        Path out = tmp.resolve("ft.safetensors");
        VitConfig a = arch();
        Trainer.Job job = new Trainer.Job(a, null, false, TrainTestSupport.quadrants(128, 1, "quadrants (train)"),
                TrainTestSupport.quadrants(64, 2, "quadrants (val)"), "quadrants", TrainTestSupport.cfg(2), out, false,
                true, 64, null, spec);
        Trainer.Summary s = Trainer.run(job, null);
        assertThat(s.epochs().get(1).trainLoss()).isLessThan(s.epochs().get(0).trainLoss());
        assertThat(s.epochs().get(0).auxLoss()).isNaN();
        String canonical = Reducers.parse(spec).spec();
        try (VisionTransformer vit = VisionTransformer.load(out, 0)) {
            assertThat(vit.recordedReduce()).isEqualTo(canonical);
            double acc = Evaluator.evaluate(vit, TrainTestSupport.quadrants(64, 2, "val"),
                    new dev.vitrim.data.ImageTransform(TrainTestSupport.pre(), 0, false), 64,
                    Reducers.parse(canonical, vit)).accuracy();
            assertThat(acc).isEqualTo(s.bestValAcc());
        }
    }

    @Test
    void rampGrowsRoverTheFirstHalf() {
        Torch.engine();
        try (CroprTraining ct = new CroprTraining(cropr("cropr:R=4,ramp=true"), arch(), 0)) {
            assertThat(ct.rampedR(0, 100)).isZero();
            assertThat(ct.rampedR(25, 100)).isEqualTo(2);
            assertThat(ct.rampedR(50, 100)).isEqualTo(4);
            assertThat(ct.rampedR(99, 100)).isEqualTo(4);
        }
        try (CroprTraining ct = new CroprTraining(cropr("cropr:R=4"), arch(), 0)) {
            assertThat(ct.rampedR(0, 100)).isEqualTo(4);
        }
    }

    /**
     * Gradients of the training loss (main + auxiliary, as {@link Trainer} sums them) with the JVM's freed direct
     * buffers reused between the forward and the backward pass when {@code churn}: a tensor the forward made over a
     * Java buffer and let go of (DJL's {@code mul(Number)} does) would then be read as 1e30 by autograd.
     */
    static Map<String, float[]> trainingGradients(VisionTransformer vit, CroprTraining ct, boolean churn) {
        Map<String, float[]> out = new LinkedHashMap<>();
        List<java.nio.ByteBuffer> hold = new ArrayList<>();
        try (NDManager m = vit.manager().newSubManager()) {
            NDArray x = images(m, 6, 3);
            NDArray target = targets(m);
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray loss = Trainer.crossEntropy(vit.forward(x, ct, null), target, 6);
                for (NDArray a : ct.takeAuxLogits()) {
                    loss = loss.add(Trainer.crossEntropy(a, target, 6));
                }
                if (churn) { // collect what the forward let go of, then reuse its native memory
                    System.gc();
                    try {
                        Thread.sleep(50); // the cleaner thread frees the collected buffers
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    for (int i = 0; i < 20_000; i++) {
                        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(4 << (i % 4))
                                .order(java.nio.ByteOrder.nativeOrder());
                        while (b.remaining() >= 4) {
                            b.putFloat(1e30f);
                        }
                        hold.add(b);
                    }
                }
                gc.backward(loss);
            } finally {
                Torch.grad(false);
            }
            for (Map.Entry<String, NDArray> e : vit.parameters().entrySet()) {
                out.put(e.getKey(), e.getValue().getGradient().toFloatArray());
                JniUtils.zeroGrad((PtNDArray) e.getValue());
            }
            for (Map.Entry<String, NDArray> e : ct.parameters().entrySet()) {
                out.put(e.getKey(), gradientOrZeros(e.getValue()));
                if (norm(out.get(e.getKey())) > 0) {
                    JniUtils.zeroGrad((PtNDArray) e.getValue());
                }
            }
        }
        assertThat(hold).hasSizeGreaterThanOrEqualTo(churn ? 1 : 0);
        return out;
    }

    @Test
    void gradientsDoNotReadJavaMemoryFreedAfterTheForward() {
        Torch.engine();
        try (VisionTransformer vit = VisionTransformer.random(arch(), 1);
             CroprTraining ct = new CroprTraining(cropr("cropr:R=3,llf=false,qstd=0.5"), arch(), 2);
             AdamW opt = new AdamW(vit, ct.parameters(), TrainTestSupport.cfg(1))) {
            Map<String, float[]> want = trainingGradients(vit, ct, false);
            assertThat(norm(want.get("cropr.0.cross_attn.queries"))).isGreaterThan(0);
            for (int trial = 0; trial < 5; trial++) {
                Map<String, float[]> got = trainingGradients(vit, ct, true);
                for (Map.Entry<String, float[]> e : want.entrySet()) {
                    assertThat(got.get(e.getKey())).as("trial %d: %s", trial, e.getKey())
                            .containsExactly(e.getValue());
                }
            }
        }
    }

    @Test
    void qstdSetsHowLargeTheFreshQueriesAreAndOnlyThem() {
        Torch.engine();
        float[][] q = new float[2][];
        float[][] fc1 = new float[2][];
        String[] specs = {"cropr:R=3", "cropr:R=3,qstd=0.5"};
        for (int i = 0; i < 2; i++) {
            try (CroprTraining ct = new CroprTraining(cropr(specs[i]), arch(), 4)) {
                q[i] = ct.stateTensors().get("cropr.0.cross_attn.queries").data();
                fc1[i] = ct.stateTensors().get("cropr.0.aggregator.mlp.fc1.weight").data();
            }
        }
        for (int j = 0; j < q[0].length; j++) { // same draws, 25 times the scale, clamped at two deviations
            assertThat(q[1][j]).isCloseTo(q[0][j] * 25f, org.assertj.core.api.Assertions.within(1e-5f));
            assertThat(Math.abs(q[1][j])).isLessThanOrEqualTo(1.0f);
        }
        assertThat(fc1[1]).containsExactly(fc1[0]);
        assertThat(Reduction.of("cropr:R=3,llf=false,qstd=0.5", arch(), 0).spec())
                .isEqualTo("cropr:R=3,llf=false,qstd=0.5");
        assertThatThrownBy(() -> cropr("cropr:R=3,qstd=0")).isInstanceOf(VitrimException.class)
                .hasMessageContaining("qstd=0");
    }

    @Test
    void croprTrainsAlone() {
        assertThatThrownBy(() -> Reduction.of("random:R=1+cropr:R=2", arch(), 0)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("train alone");
    }
}
