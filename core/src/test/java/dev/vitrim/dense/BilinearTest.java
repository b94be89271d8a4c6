package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.vitrim.VitrimException;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Bilinear resizing against PyTorch's align_corners=False values and a plain per-pixel formula. */
class BilinearTest {

    /** PyTorch's source index, written out independently in double. */
    private static double source(int o, int in, int out) {
        return Math.max(0.0, (o + 0.5) * in / out - 0.5);
    }

    /** The value at output (oy, ox) of one channel, straight from the formula. */
    private static double pixel(float[] x, int h, int w, int outH, int outW, int oy, int ox) {
        double sy = source(oy, h, outH);
        double sx = source(ox, w, outW);
        int y0 = (int) Math.floor(sy);
        int x0 = (int) Math.floor(sx);
        int y1 = Math.min(y0 + 1, h - 1);
        int x1 = Math.min(x0 + 1, w - 1);
        double ly = sy - y0;
        double lx = sx - x0;
        return (1 - ly) * ((1 - lx) * x[y0 * w + x0] + lx * x[y0 * w + x1])
                + ly * ((1 - lx) * x[y1 * w + x0] + lx * x[y1 * w + x1]);
    }

    @Test
    void matchesPyTorchOnA2x2Input() {
        // F.interpolate(tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4), mode='bilinear', align_corners=False)
        Maps m = new Maps(1, 2, 2, new float[] {1, 2, 3, 4});
        float[] expected = {
            1.00f, 1.25f, 1.75f, 2.00f,
            1.50f, 1.75f, 2.25f, 2.50f,
            2.50f, 2.75f, 3.25f, 3.50f,
            3.00f, 3.25f, 3.75f, 4.00f,
        };
        assertThat(Bilinear.upsample(m, 4, 4).data()).containsExactly(expected, within(1e-6f));
    }

    @Test
    void matchesHandComputedOneDimensionalCases() {
        // 3 -> 5: scale 0.6, sources -0.2 (clamped to 0), 0.4, 1.0, 1.6, 2.2 (second tap clamped to index 2)
        assertThat(Bilinear.upsample(new Maps(1, 1, 3, new float[] {0, 1, 2}), 1, 5).data())
                .containsExactly(new float[] {0f, 0.4f, 1f, 1.6f, 2f}, within(1e-6f));
        // 4 -> 2: sources 0.5 and 2.5, two taps each (no antialiasing)
        assertThat(Bilinear.upsample(new Maps(1, 1, 4, new float[] {1, 2, 3, 4}), 1, 2).data())
                .containsExactly(new float[] {1.5f, 3.5f}, within(1e-6f));
        // 14 -> 112: outputs 0..3 read input 0 only, output 4 is 15/16 of input 0 plus 1/16 of input 1,
        // output 111 reads input 13 only
        float[] ramp = new float[14];
        for (int i = 0; i < 14; i++) {
            ramp[i] = i * i;
        }
        float[] up = Bilinear.upsample(new Maps(1, 1, 14, ramp), 1, 112).data();
        assertThat(up[0]).isEqualTo(0f);
        assertThat(up[3]).isEqualTo(0f);
        assertThat(up[4]).isCloseTo(0.0625f, within(1e-6f));
        assertThat(up[12]).isCloseTo(1.1875f, within(1e-6f)); // source 1.0625: 15/16 * 1 + 1/16 * 4
        assertThat(up[111]).isEqualTo(169f);
    }

    @Test
    void upsampleEqualsThePerPixelFormulaOnRandomMaps() {
        Random r = new Random(1);
        int[][] sizes = {{14, 14, 112, 112}, {14, 14, 14, 14}, {5, 7, 13, 3}, {9, 4, 2, 11}, {1, 1, 6, 5}, {3, 8, 8, 3}};
        for (int[] s : sizes) {
            int c = 3;
            float[] x = new float[c * s[0] * s[1]];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) r.nextGaussian();
            }
            Maps up = Bilinear.upsample(new Maps(c, s[0], s[1], x), s[2], s[3]);
            assertThat(up.channels()).isEqualTo(c);
            for (int k = 0; k < c; k++) {
                float[] plane = java.util.Arrays.copyOfRange(x, k * s[0] * s[1], (k + 1) * s[0] * s[1]);
                for (int oy = 0; oy < s[2]; oy++) {
                    for (int ox = 0; ox < s[3]; ox++) {
                        assertThat((double) up.get(k, oy, ox))
                                .isCloseTo(pixel(plane, s[0], s[1], s[2], s[3], oy, ox), within(1e-5));
                    }
                }
            }
        }
    }

    @Test
    void matrixProductsEqualUpsample() {
        Random r = new Random(2);
        int h = 14;
        int w = 10;
        int outH = 112;
        int outW = 37;
        float[] x = new float[h * w];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextFloat() * 4 - 2;
        }
        float[][] uh = Bilinear.matrix(h, outH);
        float[][] uw = Bilinear.matrix(w, outW);
        Maps up = Bilinear.upsample(new Maps(1, h, w, x), outH, outW);
        for (int oy = 0; oy < outH; oy++) {
            for (int ox = 0; ox < outW; ox++) {
                double v = 0;
                for (int y = 0; y < h; y++) {
                    for (int xx = 0; xx < w; xx++) {
                        v += uh[oy][y] * x[y * w + xx] * uw[ox][xx];
                    }
                }
                assertThat((double) up.get(0, oy, ox)).isCloseTo(v, within(1e-5));
            }
        }
    }

    @Test
    void matrixRowsHoldAtMostTwoWeightsSummingToOne() {
        for (int[] s : new int[][] {{14, 112}, {3, 5}, {4, 2}, {1, 7}, {7, 7}}) {
            float[][] u = Bilinear.matrix(s[0], s[1]);
            assertThat(u.length).isEqualTo(s[1]);
            for (float[] row : u) {
                assertThat(row.length).isEqualTo(s[0]);
                int nonZero = 0;
                double sum = 0;
                for (float v : row) {
                    nonZero += v != 0f ? 1 : 0;
                    sum += v;
                    assertThat(v).isBetween(0f, 1f);
                }
                assertThat(nonZero).isBetween(1, 2);
                assertThat(sum).isCloseTo(1.0, within(1e-6));
            }
        }
        assertThat(Bilinear.matrix(7, 7)[3]).containsExactly(0, 0, 0, 1, 0, 0, 0);
    }

    @Test
    void rejectsNonPositiveSizes() {
        assertThatThrownBy(() -> Bilinear.matrix(0, 4)).isInstanceOf(VitrimException.class).hasMessageContaining("0 -> 4");
    }
}
