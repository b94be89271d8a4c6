package dev.vitrim.reduce;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.Golden;
import dev.vitrim.engine.Torch;
import dev.vitrim.io.FloatTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ToMe's merge: against the PyTorch reference's unit fixtures and against a plain Java loop. */
class BipartiteMergeTest {

    @ParameterizedTest
    @ValueSource(strings = {"tome_merge_unit", "tome_merge_unit_sized", "tome_merge_unit_clamp"})
    void matchesReferenceFixtures(String name) throws Exception {
        String base = "reduce/" + name;
        int r = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Golden.path(base + ".json").toFile())
                .get("r").asInt();
        FloatTensor x = Golden.npy(base + ".x.npy");
        FloatTensor size = Golden.npy(base + ".size.npy");
        FloatTensor metric = Golden.npy(base + ".metric.npy");
        try (NDManager m = Torch.newManager()) {
            Torch.inference();
            Tokens t = tokens(m, x, size);
            Tokens out = BipartiteMerge.merge(t, m.create(metric.data(), new Shape(metric.shape())), r);
            Golden.assertClose(new FloatTensor(out.x.getShape().getShape(), out.x.toFloatArray()),
                    Golden.npy(base + ".expected_x.npy"), 1e-5);
            FloatTensor wantSize = Golden.npy(base + ".expected_size.npy");
            assertThat(out.sizes).containsExactly(wantSize.data(), org.assertj.core.data.Offset.offset(1e-6f));
        }
    }

    static Tokens tokens(NDManager m, FloatTensor x, FloatTensor size) {
        long b = x.shape()[0];
        long n = x.shape()[1];
        NDArray xs = m.create(x.data(), new Shape(x.shape()));
        return new Tokens(xs, size.data().clone(), arange(b, n), 1, List.of(), null, null, null);
    }

    @Test
    void fastPathEqualsPlainLoopOnRandomInputs() {
        Random rnd = new Random(7);
        try (NDManager m = Torch.newManager()) {
            Torch.inference();
            for (int trial = 0; trial < 20; trial++) {
                int b = 1 + rnd.nextInt(3);
                int n = 3 + rnd.nextInt(30);
                int c = 1 + rnd.nextInt(8);
                int k = 2 + rnd.nextInt(6); // k = 1 makes every similarity ±1: ties, and tie order is unspecified
                int prefix = 1 + rnd.nextInt(2);
                int r = rnd.nextInt(n);
                float[] x = gauss(rnd, b * n * c);
                float[] metric = gauss(rnd, b * n * k);
                float[] size = new float[b * n];
                for (int i = 0; i < size.length; i++) {
                    size[i] = 1 + rnd.nextInt(4);
                }
                Tokens t = new Tokens(m.create(x, new Shape(b, n, c)), size, arange(b, n), prefix, List.of(), null, null,
                        null);
                Tokens out = BipartiteMerge.merge(t, m.create(metric, new Shape(b, n, k)), r);
                int rr = Math.min(r, (n - prefix) / 2);
                float[][] want = plainMerge(x, size, metric, b, n, c, k, rr, prefix);
                assertThat(out.x.toFloatArray()).as("trial %d x (b=%d n=%d c=%d k=%d prefix=%d r=%d)", trial, b, n, c, k, prefix, r)
                        .containsExactly(want[0], org.assertj.core.data.Offset.offset(1e-4f));
                assertThat(out.sizes).as("trial %d sizes", trial).containsExactly(want[1]);
            }
        }
    }

    /**
     * Training backpropagates through the merge (one {@code embedding_bag}): the merge is linear in x once the metric
     * has fixed the matching, so for L = ⟨g, merge(x)⟩ the gradient must satisfy ⟨dL/dx, v⟩ = ⟨g, merge(v)⟩ for every
     * v, with merge(v) from the plain loop.
     */
    @Test
    void gradientIsThePlainLoopsTranspose() {
        Random rnd = new Random(5);
        try (NDManager m = Torch.newManager()) {
            for (int trial = 0; trial < 10; trial++) {
                int b = 1 + rnd.nextInt(3);
                int n = 4 + rnd.nextInt(30);
                int c = 1 + rnd.nextInt(8);
                int k = 2 + rnd.nextInt(6);
                int prefix = 1 + rnd.nextInt(2);
                int r = 1 + rnd.nextInt(n);
                float[] metric = gauss(rnd, b * n * k);
                float[] size = new float[b * n];
                for (int i = 0; i < size.length; i++) {
                    size[i] = 1 + rnd.nextInt(4);
                }
                int rr = Math.min(r, (n - prefix) / 2);
                float[] g = gauss(rnd, b * (n - rr) * c);
                NDArray x = m.create(gauss(rnd, b * n * c), new Shape(b, n, c));
                x.setRequiresGradient(true);
                try (ai.djl.training.GradientCollector gc =
                             ai.djl.engine.Engine.getEngine("PyTorch").newGradientCollector()) {
                    Tokens t = new Tokens(x, size, arange(b, n), prefix, List.of(), null, null, null);
                    Tokens out = BipartiteMerge.merge(t, m.create(metric, new Shape(b, n, k)), r);
                    gc.backward(out.x.mul(m.create(g, out.x.getShape())).sum());
                } finally {
                    Torch.grad(false);
                }
                float[] grad = x.getGradient().toFloatArray();
                for (int probe = 0; probe < 3; probe++) {
                    float[] v = gauss(rnd, b * n * c);
                    float[] merged = plainMerge(v, size, metric, b, n, c, k, rr, prefix)[0];
                    double want = dot(g, merged);
                    assertThat(dot(grad, v)).as("trial %d probe %d (b=%d n=%d c=%d prefix=%d r=%d)", trial, probe, b,
                            n, c, prefix, rr)
                            .isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4 * (1 + Math.abs(want))));
                }
            }
        }
    }

    private static double dot(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }

    /** Positions 0..n-1 for each of b images. */
    static long[] arange(long b, long n) {
        long[] pos = new long[(int) (b * n)];
        for (int i = 0; i < pos.length; i++) {
            pos[i] = i % n;
        }
        return pos;
    }

    @Test
    void mergedSourcesAreTheSumOfWhatEachTokenHolds() {
        Random rnd = new Random(11);
        try (NDManager m = Torch.newManager()) {
            Torch.inference();
            for (int trial = 0; trial < 20; trial++) {
                int b = 1 + rnd.nextInt(3);
                int n = 3 + rnd.nextInt(30);
                int k = 2 + rnd.nextInt(6);
                int n0 = 1 + rnd.nextInt(40);
                int prefix = 1 + rnd.nextInt(2);
                int r = rnd.nextInt(n);
                float[] src = new float[b * n * n0];
                for (int i = 0; i < src.length; i++) {
                    src[i] = rnd.nextInt(2);
                }
                float[] metric = gauss(rnd, b * n * k);
                float[] ones = new float[b * n];
                Arrays.fill(ones, 1f);
                Tokens t = new Tokens(m.create(gauss(rnd, b * n * 4), new Shape(b, n, 4)), null, arange(b, n), prefix,
                        List.of(), null, null, m.create(src, new Shape(b, n, n0)));
                Tokens out = BipartiteMerge.merge(t, m.create(metric, new Shape(b, n, k)), r);
                int rr = Math.min(r, (n - prefix) / 2);
                // with unit sizes the size-weighted mean times the merged size is the plain sum
                float[][] mean = plainMerge(src, ones, metric, b, n, n0, k, rr, prefix);
                float[] want = new float[mean[0].length];
                for (int i = 0; i < want.length; i++) {
                    want[i] = Math.round(mean[0][i] * mean[1][i / n0]);
                }
                assertThat(out.source.toFloatArray()).as("trial %d (b=%d n=%d prefix=%d r=%d)", trial, b, n, prefix, r)
                        .containsExactly(want, org.assertj.core.data.Offset.offset(1e-4f));
            }
        }
    }

    static float[] gauss(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    /** ToMe's algorithm written out with loops, one image at a time. Returns {x, sizes}. */
    static float[][] plainMerge(float[] x, float[] size, float[] metric, int b, int n, int c, int k, int r,
                                int prefix) {
        if (r == 0) { // ToMe skips the merge entirely: the order stays as it was
            return new float[][] {x.clone(), size.clone()};
        }
        List<Float> xs = new ArrayList<>();
        List<Float> ss = new ArrayList<>();
        for (int img = 0; img < b; img++) {
            double[][] mt = new double[n][k];
            for (int i = 0; i < n; i++) {
                double norm = 0;
                for (int j = 0; j < k; j++) {
                    mt[i][j] = metric[(img * n + i) * k + j];
                    norm += mt[i][j] * mt[i][j];
                }
                for (int j = 0; j < k; j++) {
                    mt[i][j] /= Math.sqrt(norm);
                }
            }
            int na = (n + 1) / 2;
            int nb = n / 2;
            double[] best = new double[na];
            int[] match = new int[na];
            for (int a = 0; a < na; a++) {
                best[a] = Double.NEGATIVE_INFINITY;
                for (int bb = 0; bb < nb; bb++) {
                    double s = 0;
                    for (int j = 0; j < k; j++) {
                        s += mt[2 * a][j] * mt[2 * bb + 1][j];
                    }
                    boolean protectedPair = 2 * a < prefix || 2 * bb + 1 < prefix;
                    if (protectedPair) {
                        s = Double.NEGATIVE_INFINITY;
                    }
                    if (s > best[a] || (bb == 0 && best[a] == Double.NEGATIVE_INFINITY)) {
                        if (s > best[a]) {
                            best[a] = s;
                            match[a] = bb;
                        }
                    }
                }
            }
            Integer[] order = new Integer[na];
            for (int a = 0; a < na; a++) {
                order[a] = a;
            }
            Arrays.sort(order, Comparator.comparingDouble((Integer a) -> -best[a]));
            boolean[] merged = new boolean[na];
            double[][] dst = new double[nb][c + 1];
            for (int bb = 0; bb < nb; bb++) {
                int tok = img * n + 2 * bb + 1;
                for (int j = 0; j < c; j++) {
                    dst[bb][j] = x[tok * c + j] * size[tok];
                }
                dst[bb][c] = size[tok];
            }
            for (int i = 0; i < r; i++) {
                int a = order[i];
                merged[a] = true;
                int tok = img * n + 2 * a;
                for (int j = 0; j < c; j++) {
                    dst[match[a]][j] += x[tok * c + j] * size[tok];
                }
                dst[match[a]][c] += size[tok];
            }
            // ToMe's merge: cat([unm, dst]), or with a distillation token cat([unm[:1], dst[:1], unm[1:], dst[1:]])
            List<Integer> unm = new ArrayList<>();
            for (int a = 0; a < na; a++) {
                if (!merged[a]) {
                    unm.add(a);
                }
            }
            int split = prefix == 2 ? 1 : 0;
            for (int u = 0; u < split; u++) {
                addA(xs, ss, x, size, img * n + 2 * unm.get(u), c);
            }
            for (int bb = 0; bb < split; bb++) {
                addB(xs, ss, dst[bb], c);
            }
            for (int u = split; u < unm.size(); u++) {
                addA(xs, ss, x, size, img * n + 2 * unm.get(u), c);
            }
            for (int bb = split; bb < nb; bb++) {
                addB(xs, ss, dst[bb], c);
            }
        }
        float[] xo = new float[xs.size()];
        for (int i = 0; i < xo.length; i++) {
            xo[i] = xs.get(i);
        }
        float[] so = new float[ss.size()];
        for (int i = 0; i < so.length; i++) {
            so[i] = ss.get(i);
        }
        return new float[][] {xo, so};
    }

    private static void addA(List<Float> xs, List<Float> ss, float[] x, float[] size, int tok, int c) {
        for (int j = 0; j < c; j++) {
            xs.add(x[tok * c + j]);
        }
        ss.add(size[tok]);
    }

    private static void addB(List<Float> xs, List<Float> ss, double[] dst, int c) {
        for (int j = 0; j < c; j++) {
            xs.add((float) (dst[j] / dst[c]));
        }
        ss.add((float) dst[c]);
    }
}
