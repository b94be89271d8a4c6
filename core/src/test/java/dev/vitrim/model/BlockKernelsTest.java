package dev.vitrim.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Torch;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.reduce.AttentionView;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Tokens;
import dev.vitrim.reduce.Trace;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The TorchScript block kernels against the plain composition of DJL operators they replace, on random models of
 * every architecture variant, with every kind of attention bias and every view a reducer can ask for, in inference
 * and in training (gradients).
 */
class BlockKernelsTest {
    /** Width 48 (3 heads of 16), 4 blocks, 4x4 patches of 4 px: 17 tokens (18 distilled). */
    static VitConfig arch(boolean qkvBias, boolean layerScale, boolean distilled, boolean avgPool) {
        return new VitConfig("kernels", 48, 4, 3, 4, 4, 4, 96, 5, !avgPool, distilled && !avgPool, avgPool,
                layerScale, qkvBias, avgPool ? "avg" : "token", avgPool, 1e-6, PreprocessConfig.imagenetDefault(16),
                List.of());
    }

    static List<VitConfig> variants() {
        return List.of(arch(true, false, false, false), arch(false, true, true, false), arch(true, true, false, true));
    }

    /** A random model whose attention is far from uniform (random init attends almost evenly to everything). */
    static VisionTransformer peaky(VitConfig c, long seed) {
        VisionTransformer vit = VisionTransformer.random(c, seed);
        for (Map.Entry<String, NDArray> e : vit.parameters().entrySet()) {
            if (e.getKey().endsWith("attn.qkv.weight")) {
                e.getValue().muli(25f);
            }
        }
        return vit;
    }

    static NDArray images(NDManager m, int b, long seed) {
        Random r = new Random(seed);
        float[] v = new float[b * 3 * 16 * 16];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return m.create(v, new Shape(b, 3, 16, 16));
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    static double maxAbs(float[] a) {
        double d = 0;
        for (float v : a) {
            d = Math.max(d, Math.abs(v));
        }
        return d;
    }

    @Test
    void oneDnnAndAtenProductsAgree() {
        for (VitConfig c : variants()) {
            try (VisionTransformer vit = peaky(c, 5); NDManager m = vit.manager().newSubManager()) {
                // GELU inputs of a few units (random init gives ~0.1), where an approximate GELU would show
                vit.parameters().forEach((k, v) -> {
                    if (k.endsWith("mlp.fc1.weight")) {
                        v.muli(20f);
                    }
                });
                try (BlockKernels dnn = new BlockKernels(c, m, vit.parameters(), true);
                     BlockKernels aten = new BlockKernels(c, m, vit.parameters(), false)) {
                    assertThat(aten.onednn()).isFalse();
                    org.junit.jupiter.api.Assumptions.assumeTrue(dnn.onednn(), "this libtorch has no oneDNN");
                    Torch.inference();
                    NDArray x = m.randomNormal(new Shape(2, c.tokens(), c.width()));
                    for (int block = 0; block < c.depth(); block++) {
                        x = compareBlock(c, dnn, aten, block, x);
                    }
                }
            }
        }
    }

    /** One block on both backends; returns the ATen result as the next block's input. */
    private static NDArray compareBlock(VitConfig c, BlockKernels dnn, BlockKernels aten, int block, NDArray x) {
        NDArray[] v1 = new NDArray[3];
        NDArray[] v2 = new NDArray[3];
        List<float[]> got = new ArrayList<>();
        List<float[]> want = new ArrayList<>();
        NDArray a1 = dnn.attention(block, x, null, null, true, true, true, false, v1);
        NDArray a2 = aten.attention(block, x, null, null, true, true, true, false, v2);
        got.add(a1.sub(x).toFloatArray()); // each half's own contribution: the residual would hide a difference
        want.add(a2.sub(x).toFloatArray());
        for (int k = 0; k < 3; k++) {
            got.add(v1[k].toFloatArray());
            want.add(v2[k].toFloatArray());
        }
        got.add(dnn.mlp(block, a2, false, null).sub(a2).toFloatArray()); // fc1 with its fused GELU, fc2
        want.add(aten.mlp(block, a2, false, null).sub(a2).toFloatArray());
        for (int k = 0; k < got.size(); k++) {
            assertThat(maxAbsDiff(got.get(k), want.get(k))).as("%s block %d output %d", c.name(), block, k)
                    .isLessThanOrEqualTo(1e-5 * maxAbs(want.get(k)) + 1e-6);
        }
        return a2;
    }

    @Test
    void everyVariantAndReducerGivesThePlainCompositionsLogitsAndTokens() {
        String[] specs = {"none", "attn:start=0,keep=0.8..0.5,min=3,avg=2,mass=0.7", "tome:r=3", "tome:r=2,prop=false",
                "evit:keep=0.6,at=1/2", "random:R=2,llf=true"};
        for (VitConfig c : variants()) {
            try (VisionTransformer vit = peaky(c, 3); NDManager m = vit.manager().newSubManager()) {
                Torch.inference();
                NDArray x = images(m, 3, 7);
                for (String spec : specs) {
                    TokenReducer red = Reducers.parse(spec);
                    float[][] logits = new float[2][];
                    List<List<List<Trace.Block>>> traces = new ArrayList<>();
                    for (int k = 0; k < 2; k++) {
                        vit.useEagerBlocks(k == 0);
                        Trace trace = new Trace();
                        logits[k] = vit.forward(x, red, trace).toFloatArray();
                        traces.add(trace.images());
                    }
                    vit.useEagerBlocks(false);
                    String what = c.name() + " qkvBias=" + c.qkvBias() + " ls=" + c.layerScale() + " distilled="
                            + c.distilled() + " pool=" + c.globalPool() + " " + spec;
                    assertThat(maxAbsDiff(logits[0], logits[1])).as(what).isLessThan(2e-5);
                    for (int i = 0; i < 3; i++) {
                        List<Trace.Block> plain = traces.get(0).get(i);
                        List<Trace.Block> kernel = traces.get(1).get(i);
                        assertThat(kernel).as(what).hasSameSizeAs(plain);
                        for (int j = 0; j < plain.size(); j++) {
                            assertThat(kernel.get(j).positions()).as(what + " image " + i + " block " + j)
                                    .containsExactly(plain.get(j).positions());
                        }
                    }
                }
            }
        }
    }

    /**
     * What a block's attention exposes: the CLS row, the mean keys and their similarity, with a padding mask and size
     * bias.
     */
    @Test
    void theAttentionViewIsThePlainOne() {
        VitConfig c = arch(true, true, false, false);
        try (VisionTransformer vit = peaky(c, 5); NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            Map<Boolean, List<float[]>> seen = new LinkedHashMap<>();
            for (boolean eager : new boolean[] {true, false}) {
                vit.useEagerBlocks(eager);
                List<float[]> views = new ArrayList<>();
                Tokens t = Tokens.initial(vit.embed(images(m, 2, 11)), c.prefixTokens());
                // sizes > 1 (proportional attention) and the last two tokens of image 1 padded away
                float[] sizes = new float[2 * 17];
                float[] mask = new float[2 * 17];
                for (int i = 0; i < sizes.length; i++) {
                    sizes[i] = 1 + i % 4;
                }
                mask[17 + 15] = Float.NEGATIVE_INFINITY;
                mask[17 + 16] = Float.NEGATIVE_INFINITY;
                t = new Tokens(t.x, sizes, t.positions, t.prefix, List.of(), m.create(mask, new Shape(2, 1, 1, 17)),
                        new int[] {17, 15}, null);
                TokenReducer.Pass look = new TokenReducer.Pass() {
                    @Override
                    public boolean needsClsAttention(int block) {
                        return true;
                    }

                    @Override
                    public boolean needsMeanKeys(int block) {
                        return true;
                    }

                    @Override
                    public boolean needsKeySimilarity(int block) {
                        return true;
                    }

                    @Override
                    public boolean proportionalAttention(int block) {
                        return true;
                    }

                    @Override
                    public Tokens afterAttention(int block, Tokens tk, AttentionView v) {
                        views.add(v.clsAttention().toFloatArray());
                        views.add(v.meanKeys().toFloatArray());
                        views.add(v.keySimilarity().toFloatArray());
                        views.add(tk.x.toFloatArray());
                        return tk;
                    }
                };
                for (int i = 0; i < c.depth(); i++) {
                    t = vit.block(i, t, look, false);
                }
                views.add(t.x.toFloatArray());
                seen.put(eager, views);
            }
            vit.useEagerBlocks(false);
            List<float[]> plain = seen.get(true);
            List<float[]> kernel = seen.get(false);
            assertThat(kernel).hasSameSizeAs(plain);
            for (int i = 0; i < plain.size(); i++) {
                assertThat(maxAbsDiff(plain.get(i), kernel.get(i))).as("view %d", i).isLessThan(1e-5);
            }
            // the padded keys get no attention at all
            float[] cls = kernel.get(0);
            assertThat(cls[17 + 15]).isZero();
            assertThat(cls[17 + 16]).isZero();
        }
    }

    @Test
    void trainingGetsThePlainCompositionsGradients() {
        for (VitConfig c : variants()) {
            for (String spec : new String[] {"none", "tome:r=3"}) {
                try (VisionTransformer vit = peaky(c, 9)) {
                    for (NDArray p : vit.parameters().values()) {
                        p.setRequiresGradient(true);
                    }
                    Map<String, float[]> plain = gradients(vit, spec, true);
                    Map<String, float[]> kernel = gradients(vit, spec, false);
                    for (String name : plain.keySet()) {
                        float[] g = plain.get(name);
                        double scale = 0;
                        for (float v : g) {
                            scale = Math.max(scale, Math.abs(v));
                        }
                        assertThat(maxAbsDiff(g, kernel.get(name))).as(c.globalPool() + " " + spec + " " + name)
                                .isLessThanOrEqualTo(1e-4 * Math.max(1, scale));
                    }
                    assertThat(plain.get("blocks.0.attn.qkv.weight")).as("gradients reach the first block")
                            .matches(g -> maxAbsDiff(g, new float[g.length]) > 0);
                }
            }
        }
    }

    private static Map<String, float[]> gradients(VisionTransformer vit, String spec, boolean eager) {
        vit.useEagerBlocks(eager);
        Map<String, float[]> out = new LinkedHashMap<>();
        try (NDManager m = vit.manager().newSubManager()) {
            NDArray x = images(m, 4, 13);
            NDArray w = images(m, 4, 17).reshape(4, -1).get(":, :" + vit.config().numClasses());
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                gc.backward(vit.forward(x, Reducers.parse(spec), null).mul(w).sum());
            } finally {
                Torch.grad(false);
            }
            for (Map.Entry<String, NDArray> e : vit.parameters().entrySet()) {
                out.put(e.getKey(), e.getValue().getGradient().toFloatArray());
                JniUtils.zeroGrad((PtNDArray) e.getValue());
            }
        } finally {
            vit.useEagerBlocks(false);
        }
        return out;
    }

    /** fp32 inference on oneDNN's blocked weights against plain weights, block by block, on whole and reduced rows. */
    @Test
    void blockedFp32WeightsGiveThePlainWeightsOutputs() {
        String before = System.getProperty("vitrim.measure.fp32");
        try {
            for (VitConfig c : variants()) {
                try (VisionTransformer vit = peaky(c, 11); NDManager m = vit.manager().newSubManager()) {
                    System.setProperty("vitrim.measure.fp32", "plain");
                    try (BlockKernels plain = new BlockKernels(c, m, vit.parameters(), true)) {
                        System.setProperty("vitrim.measure.fp32", "blocked");
                        try (BlockKernels blocked = new BlockKernels(c, m, vit.parameters(), true)) {
                            org.junit.jupiter.api.Assumptions.assumeTrue(blocked.onednn(), "no oneDNN");
                            assertThat(plain.usePrecision(dev.vitrim.engine.Precision.FP32)).startsWith("onednn")
                                    .doesNotContain("packed");
                            assertThat(blocked.usePrecision(dev.vitrim.engine.Precision.FP32))
                                    .isEqualTo("onednn-packed");
                            Torch.inference();
                            // one image's rows, two images', and a pruned block's handful of rows
                            for (long[] shape : new long[][] {{1, c.tokens()}, {2, c.tokens()}, {3, 5}}) {
                                NDArray x = m.randomNormal(new Shape(shape[0], shape[1], c.width()));
                                for (int block = 0; block < c.depth(); block++) {
                                    x = compareBlock(c, blocked, plain, block, x);
                                }
                            }
                        }
                    }
                }
            }
            System.setProperty("vitrim.measure.fp32", "tiled");
            assertThatThrownBy(BlockKernels::blockedFp32FromProperty)
                    .isInstanceOf(dev.vitrim.VitrimException.class).hasMessageContaining("vitrim.measure.fp32=tiled");
        } finally {
            if (before == null) {
                System.clearProperty("vitrim.measure.fp32");
            } else {
                System.setProperty("vitrim.measure.fp32", before);
            }
        }
    }

    /**
     * The blocked weights are copies: after a training step changes the weights in place, inference must answer with
     * the new weights (plain ones until the model is refreshed, new blocked copies after).
     */
    @Test
    void inferenceSeesWeightsChangedByTraining() {
        VitConfig c = arch(true, true, false, false);
        try (VisionTransformer vit = peaky(c, 4); NDManager m = vit.manager().newSubManager()) {
            org.junit.jupiter.api.Assumptions.assumeTrue(vit.usePrecision(dev.vitrim.engine.Precision.FP32).reason()
                    .contains("onednn-packed"), "no oneDNN blocked weights in this libtorch");
            NDArray x = images(m, 2, 3);
            Torch.inference();
            float[] first = vit.forward(x).toFloatArray();
            for (NDArray p : vit.parameters().values()) {
                p.setRequiresGradient(true);
            }
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                gc.backward(vit.forward(x).sum());
            } finally {
                Torch.grad(false);
            }
            for (Map.Entry<String, NDArray> e : vit.parameters().entrySet()) {
                if (e.getKey().endsWith("mlp.fc1.weight") || e.getKey().endsWith("attn.proj.weight")) {
                    e.getValue().subi(e.getValue().getGradient().mul(50f)); // a large step, in place
                }
            }
            Torch.inference();
            float[] afterStep = vit.forward(x).toFloatArray();
            vit.useEagerBlocks(true);
            float[] eager = vit.forward(x).toFloatArray();
            vit.useEagerBlocks(false);
            assertThat(maxAbsDiff(first, eager)).as("the step changed the logits").isGreaterThan(1e-3);
            assertThat(maxAbsDiff(afterStep, eager)).as("inference after the step").isLessThan(2e-5);
            vit.refreshCaches();
            float[] refreshed = vit.forward(x).toFloatArray();
            assertThat(maxAbsDiff(refreshed, eager)).as("inference after refreshCaches").isLessThan(2e-5);
            assertThat(vit.usePrecision(dev.vitrim.engine.Precision.FP32).reason()).contains("onednn-packed");
        }
    }
}
