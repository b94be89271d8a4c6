package dev.vitrim.reduce;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.vitrim.engine.Torch;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * EViT's fused token as one TorchScript call ({@link ReduceKernels#fuse}) against plain Java loops on random inputs:
 * the values, and the gradients that fine-tuning needs, into the tokens and into the CLS attention scores.
 */
class EVitFuseTest {

    @Test
    void fusedTokenAndItsGradientsEqualPlainLoops() {
        Random rnd = new Random(11);
        try (NDManager m = Torch.newManager()) {
            for (int trial = 0; trial < 10; trial++) {
                int b = 1 + rnd.nextInt(3);
                int prefix = 1 + rnd.nextInt(2);
                int n = prefix + 2 + rnd.nextInt(20);
                int c = 1 + rnd.nextInt(9);
                int k = 1 + rnd.nextInt(5);
                int mp = n - prefix;
                float[] xs = random(rnd, b * n * c);
                float[] cs = random(rnd, b * n);
                float[] ks = random(rnd, b * k * c);
                double[] drop = new double[b * mp];
                for (int i = 0; i < drop.length; i++) {
                    drop[i] = rnd.nextBoolean() ? 1.0 : 0.0;
                }
                float[] out;
                float[] gx;
                float[] gcls;
                NDArray x = m.create(xs, new Shape(b, n, c));
                NDArray cls = m.create(cs, new Shape(b, n));
                NDArray kept = m.create(ks, new Shape(b, k, c));
                x.setRequiresGradient(true);
                cls.setRequiresGradient(true);
                try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                    NDArray y = ReduceKernels.fuse(kept, x, cls, drop, prefix);
                    assertThat(y.getShape()).isEqualTo(new Shape(b, k + 1, c));
                    out = y.toFloatArray();
                    gc.backward(y.sum());
                } finally {
                    Torch.grad(false);
                }
                gx = x.getGradient().toFloatArray();
                gcls = cls.getGradient().toFloatArray();
                for (int i = 0; i < b; i++) {
                    for (int ch = 0; ch < c; ch++) {
                        for (int j = 0; j < k; j++) { // the kept tokens come first, unchanged
                            assertThat(out[(i * (k + 1) + j) * c + ch]).isEqualTo(ks[(i * k + j) * c + ch]);
                        }
                        double fused = 0;
                        for (int j = 0; j < mp; j++) {
                            fused += drop[i * mp + j] * cs[i * n + prefix + j] * xs[(i * n + prefix + j) * c + ch];
                        }
                        assertThat((double) out[(i * (k + 1) + k) * c + ch]).isCloseTo(fused, offset(1e-4));
                    }
                    for (int t = 0; t < n; t++) {
                        double d = t < prefix ? 0 : drop[i * mp + t - prefix];
                        double rowSum = 0;
                        for (int ch = 0; ch < c; ch++) {
                            rowSum += xs[(i * n + t) * c + ch];
                            // d sum / d x[i,t,ch] = drop · cls (prefix tokens take no part)
                            assertThat((double) gx[(i * n + t) * c + ch]).isCloseTo(d * cs[i * n + t], offset(1e-5));
                        }
                        assertThat((double) gcls[i * n + t]).as("gradient into the CLS scores")
                                .isCloseTo(d * rowSum, offset(1e-4));
                    }
                }
            }
        }
    }

    private static float[] random(Random rnd, int len) {
        float[] a = new float[len];
        for (int i = 0; i < len; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }
}
