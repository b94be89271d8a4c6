package dev.vitrim.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.dense.Box;
import dev.vitrim.dense.DenseLoss;
import dev.vitrim.dense.PatchLabels;
import dev.vitrim.engine.Torch;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Tokens;
import dev.vitrim.reduce.Trace;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Token Cropr's dense auxiliary heads: the logits of one module and their losses against a plain-Java computation of
 * the definitions (REFERENCE §1.2), and pruning with one query per patch as inference prunes with the summed queries.
 */
class CroprDenseTrainingTest {
    @TempDir
    Path tmp;

    static final int K = 3;

    /** 4 blocks, patch 2 on 8x8 images: 16 patches, width 16 (the classifier's classes do not matter here). */
    static VitConfig arch() {
        return CroprTrainingTest.arch();
    }

    /** Every parameter redrawn with std 0.5 (the fresh ones are too small to tell a wrong formula from a right one). */
    static Map<String, FloatTensor> randomise(CroprTraining ct, long seed) {
        Random r = new Random(seed);
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, FloatTensor> e : ct.stateTensors().entrySet()) {
            float[] v = new float[e.getValue().data().length];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (0.5 * r.nextGaussian()) + (e.getKey().contains("norm") && e.getKey().endsWith("weight")
                        ? 1f : 0f);
            }
            out.put(e.getKey(), new FloatTensor(e.getValue().shape(), v));
        }
        ct.restoreState(out);
        return out;
    }

    /** Module 0's auxiliary logits on tokens x [B,N,D], through the training pass. */
    static float[] auxLogits(VisionTransformer vit, CroprTraining ct, NDArray x, long[] shape) {
        TokenReducer.Pass pass = ct.begin(vit, Tokens.initial(x, 1));
        pass.afterBlock(0, Tokens.initial(x, 1));
        List<NDArray> aux = ct.takeAuxLogits();
        assertThat(aux).hasSize(1);
        assertThat(aux.get(0).getShape().getShape()).containsExactly(shape);
        return aux.get(0).toFloatArray();
    }

    // ---------------------------------------------------------------- plain reference of one module

    /** logits [B,q,C] of module 0 from its parameters p, tokens x [B,N,D]: the definitions, loop by loop. */
    static double[][][] reference(Map<String, FloatTensor> p, float[] x, int b, int n, int d) {
        float[] q = p.get("cropr.0.cross_attn.queries").data();
        int nq = (int) p.get("cropr.0.cross_attn.queries").shape()[1];
        int c = (int) p.get("cropr.0.head.weight").shape()[0];
        int h = 4 * d;
        double[][][] out = new double[b][nq][c];
        for (int bi = 0; bi < b; bi++) {
            for (int qi = 0; qi < nq; qi++) {
                double[] a = new double[n];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < n; t++) {
                    for (int k = 0; k < d; k++) {
                        a[t] += q[qi * d + k] * x[(bi * n + t) * d + k];
                    }
                    a[t] /= Math.sqrt(d);
                    max = Math.max(max, a[t]);
                }
                double z = 0;
                for (int t = 0; t < n; t++) {
                    a[t] = Math.exp(a[t] - max);
                    z += a[t];
                }
                double[] pooled = new double[d];
                for (int t = 0; t < n; t++) {
                    for (int k = 0; k < d; k++) {
                        pooled[k] += a[t] / z * x[(bi * n + t) * d + k];
                    }
                }
                double[] y = layerNorm(pooled, p, "cropr.0.aggregator.norm1");
                double[] hid = linear(y, p, "cropr.0.aggregator.mlp.fc1", h);
                for (int k = 0; k < h; k++) {
                    hid[k] = 0.5 * hid[k] * (1 + erf(hid[k] / Math.sqrt(2)));
                }
                double[] mlp = linear(hid, p, "cropr.0.aggregator.mlp.fc2", d);
                double[] res = new double[d];
                for (int k = 0; k < d; k++) {
                    res[k] = pooled[k] + mlp[k];
                }
                out[bi][qi] = linear(layerNorm(res, p, "cropr.0.aggregator.norm2"), p, "cropr.0.head", c);
            }
        }
        return out;
    }

    static double[] layerNorm(double[] v, Map<String, FloatTensor> p, String name) {
        double mean = 0;
        for (double f : v) {
            mean += f / v.length;
        }
        double var = 0;
        for (double f : v) {
            var += (f - mean) * (f - mean) / v.length;
        }
        float[] w = p.get(name + ".weight").data();
        float[] bias = p.get(name + ".bias").data();
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (v[i] - mean) / Math.sqrt(var + 1e-6) * w[i] + bias[i];
        }
        return out;
    }

    static double[] linear(double[] v, Map<String, FloatTensor> p, String name, int outs) {
        float[] w = p.get(name + ".weight").data();
        float[] bias = p.get(name + ".bias").data();
        double[] out = new double[outs];
        for (int o = 0; o < outs; o++) {
            out[o] = bias[o];
            for (int i = 0; i < v.length; i++) {
                out[o] += w[o * v.length + i] * v[i];
            }
        }
        return out;
    }

    /** erf by its Maclaurin series (|x| small) or continued fraction tail; plenty for a 1e-4 comparison. */
    static double erf(double x) {
        if (Math.abs(x) > 4) {
            return Math.signum(x);
        }
        double sum = 0;
        double term = x;
        for (int k = 0; k < 200; k++) {
            sum += term / (2 * k + 1);
            term *= -x * x / (k + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    // ---------------------------------------------------------------- tests

    static float[] tokens(int b, int n, int d, long seed) {
        Random r = new Random(seed);
        float[] x = new float[b * n * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    @Test
    void segmentationHeadsGiveOneRowOfClassLogitsPerPatchAndTheLossIsTheIgnoringMeanCrossEntropy() {
        Torch.engine();
        VitConfig a = arch();
        int b = 2;
        int n = a.tokens(); // 17
        int d = a.width();
        int q = a.numPatches(); // 16
        try (VisionTransformer vit = VisionTransformer.random(a, 1);
             CroprTraining ct = new CroprTraining(CroprTrainingTest.cropr("cropr:R=2,llf=true"), a,
                     CroprTraining.Task.SEGMENT, K, 3);
             NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            assertThat(ct.queries()).isEqualTo(q);
            assertThat(ct.parameters().get("cropr.0.cross_attn.queries").getShape().getShape())
                    .containsExactly(1, q, d);
            assertThat(ct.parameters().get("cropr.0.head.weight").getShape().getShape()).containsExactly(K + 1, d);
            Map<String, FloatTensor> p = randomise(ct, 11);
            float[] xs = tokens(b, n, d, 5);
            NDArray x = m.create(xs, new Shape(b, n, d));
            float[] got = auxLogits(vit, ct, x, new long[] {b, q, K + 1});
            double[][][] want = reference(p, xs, b, n, d);
            for (int bi = 0; bi < b; bi++) {
                for (int qi = 0; qi < q; qi++) {
                    for (int c = 0; c <= K; c++) {
                        assertThat((double) got[(bi * q + qi) * (K + 1) + c]).as("image %d patch %d class %d", bi, qi, c)
                                .isCloseTo(want[bi][qi][c], org.assertj.core.data.Offset.offset(1e-4));
                    }
                }
            }
            // the loss: labels 0..K with some ignored; plain mean over the labelled patches of −log softmax
            Random r = new Random(8);
            int[] labels = new int[b * q];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = r.nextInt(5) == 0 ? DenseLoss.IGNORE : r.nextInt(K + 1);
            }
            double sum = 0;
            int cnt = 0;
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] == DenseLoss.IGNORE) {
                    continue;
                }
                double[] z = want[i / q][i % q];
                double lse = 0;
                for (double v : z) {
                    lse += Math.exp(v);
                }
                sum += Math.log(lse) - z[labels[i]];
                cnt++;
            }
            NDArray logits = m.create(got, new Shape(b, q, K + 1));
            assertThat((double) CroprDenseLoss.segment(logits, labels).getFloat())
                    .isCloseTo(sum / cnt, org.assertj.core.data.Offset.offset(1e-4));
            // every patch ignored: no signal, and no NaN
            int[] none = new int[b * q];
            java.util.Arrays.fill(none, DenseLoss.IGNORE);
            assertThat(CroprDenseLoss.segment(logits, none).getFloat()).isZero();
        }
    }

    @Test
    void presenceHeadsGiveOneLogitPerClassAndTheLossIsTheMeanSigmoidCrossEntropy() {
        Torch.engine();
        VitConfig a = arch();
        int b = 3;
        int n = a.tokens();
        int d = a.width();
        try (VisionTransformer vit = VisionTransformer.random(a, 1);
             CroprTraining ct = new CroprTraining(CroprTrainingTest.cropr("cropr:R=2,llf=true"), a,
                     CroprTraining.Task.PRESENCE, K, 3);
             NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            assertThat(ct.queries()).isEqualTo(1);
            Map<String, FloatTensor> p = randomise(ct, 12);
            float[] xs = tokens(b, n, d, 6);
            float[] got = auxLogits(vit, ct, m.create(xs, new Shape(b, n, d)), new long[] {b, K});
            double[][][] want = reference(p, xs, b, n, d);
            for (int bi = 0; bi < b; bi++) {
                for (int c = 0; c < K; c++) {
                    assertThat((double) got[bi * K + c]).isCloseTo(want[bi][0][c],
                            org.assertj.core.data.Offset.offset(1e-4));
                }
            }
            // targets from the boxes: image 0 holds classes 0 and 2 (twice), image 1 none, image 2 class 1
            List<DenseLoss.Sample> samples = List.of(
                    new DenseLoss.Sample(new byte[64], new int[64], List.of(new Box(0, 0, 0, 2, 2), new Box(2, 1, 1, 2,
                            2), new Box(2, 3, 3, 2, 2))),
                    new DenseLoss.Sample(new byte[64], new int[64], List.of()),
                    new DenseLoss.Sample(new byte[64], new int[64], List.of(new Box(1, 0, 0, 4, 4))));
            CroprDenseLoss.Targets t = CroprDenseLoss.targets(CroprTraining.Task.PRESENCE, samples, 8, 8, 2, K,
                    PatchLabels.Mode.NEAREST);
            assertThat(t.presence()).containsExactly(1, 0, 1, 0, 0, 0, 0, 1, 0);
            double sum = 0;
            for (int i = 0; i < b * K; i++) {
                double z = want[i / K][0][i % K];
                double s = 1 / (1 + Math.exp(-z));
                sum += -(t.presence()[i] * Math.log(s) + (1 - t.presence()[i]) * Math.log(1 - s));
            }
            NDArray logits = m.create(got, new Shape(b, K));
            assertThat((double) CroprDenseLoss.of(logits, t).getFloat())
                    .isCloseTo(sum / (b * K), org.assertj.core.data.Offset.offset(1e-5));
            // large logits stay finite (the stable form)
            NDArray big = m.create(new float[] {80f, -80f, 80f}, new Shape(1, 3));
            assertThat((double) CroprDenseLoss.presence(big, new float[] {0, 1, 1}).getFloat())
                    .isCloseTo(160.0 / 3, org.assertj.core.data.Offset.offset(1e-3));
        }
    }

    @Test
    void segmentationTargetsAreThePatchLabelsOfEachImageInTurn() {
        byte[] l0 = PatchLabelsFixture.map(8, 8, 1);
        byte[] l1 = PatchLabelsFixture.map(8, 8, 2);
        List<DenseLoss.Sample> samples = List.of(new DenseLoss.Sample(l0, new int[64], List.of()),
                new DenseLoss.Sample(l1, new int[64], List.of()));
        for (PatchLabels.Mode mode : PatchLabels.Mode.values()) {
            CroprDenseLoss.Targets t = CroprDenseLoss.targets(CroprTraining.Task.SEGMENT, samples, 8, 8, 2, K, mode);
            int[] a = PatchLabels.of(l0, 8, 8, 2, mode);
            int[] b = PatchLabels.of(l1, 8, 8, 2, mode);
            assertThat(java.util.Arrays.copyOfRange(t.patchLabels(), 0, 16)).containsExactly(a);
            assertThat(java.util.Arrays.copyOfRange(t.patchLabels(), 16, 32)).containsExactly(b);
        }
        byte[] bad = new byte[64];
        bad[0] = 7;
        assertThatThrownBy(() -> CroprDenseLoss.targets(CroprTraining.Task.SEGMENT,
                List.of(new DenseLoss.Sample(bad, new int[64], List.of())), 8, 8, 2, K, PatchLabels.Mode.NEAREST))
                .isInstanceOf(VitrimException.class).hasMessageContaining("label 7");
    }

    /** Small label maps for the targets test. */
    static final class PatchLabelsFixture {
        static byte[] map(int h, int w, long seed) {
            Random r = new Random(seed);
            byte[] l = new byte[h * w];
            for (int i = 0; i < l.length; i++) {
                l[i] = (byte) (r.nextInt(6) == 0 ? 255 : r.nextInt(K + 1));
            }
            return l;
        }
    }

    @Test
    void onePerPatchQueriesPruneAsTheirSumDoesAtInference() {
        Torch.engine();
        VitConfig a = arch();
        Path file = tmp.resolve("seg.safetensors");
        try (VisionTransformer vit = VisionTransformer.random(a, 4);
             CroprTraining ct = new CroprTraining(CroprTrainingTest.cropr("cropr:R=3,llf=true"), a,
                     CroprTraining.Task.SEGMENT, K, 5);
             NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            randomise(ct, 13); // distinct queries: their sum is not any one of them
            NDArray x = CroprTrainingTest.images(m, 4, 9);
            Trace trained = new Trace(false);
            float[] before = vit.forward(x, ct, trained).toFloatArray();
            Map<String, FloatTensor> tensors = vit.exportTensors();
            Map<String, FloatTensor> kept = ct.inferenceTensors();
            assertThat(kept.keySet()).containsExactly("cropr.0.cross_attn.queries", "cropr.1.cross_attn.queries");
            assertThat(kept.get("cropr.0.cross_attn.queries").shape()).containsExactly(1, a.numPatches(), a.width());
            tensors.putAll(kept);
            ModelFiles.save(tensors, a, null, ct.spec(), file);
            try (VisionTransformer back = VisionTransformer.load(file, 0)) {
                Trace inferred = new Trace(false);
                float[] after = back.forward(x.duplicate(), Reducers.parse("cropr", back), inferred).toFloatArray();
                for (int i = 0; i < after.length; i++) {
                    assertThat((double) after[i]).isCloseTo(before[i], org.assertj.core.data.Offset.offset(1e-4));
                }
                ObjectMapper om = new ObjectMapper();
                assertThat(inferred.toJson(om).toString()).isEqualTo(trained.toJson(om).toString());
            }
        }
    }

    @Test
    void classificationIsNotADenseTask() {
        assertThatThrownBy(() -> CroprTraining.Task.parse("boxes")).isInstanceOf(VitrimException.class)
                .hasMessageContaining("segment or presence");
        assertThatThrownBy(() -> new DenseTrainer.Job(DenseTrainerTest.arch(), DenseTrainerTest.CLASSES, null,
                e -> null, null, 0, "x", null, tmp.resolve("a.safetensors"), false, true, 1, 0, "cropr",
                CroprTraining.Task.CLASSIFY, PatchLabels.Mode.NEAREST)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("segment or presence");
    }
}
