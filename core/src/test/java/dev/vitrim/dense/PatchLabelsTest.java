package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Patch labels from pixel labels, against plain loops written from the definitions. */
class PatchLabelsTest {
    /** Random label maps of 0..3 with some 255s, and blocks of one label so that majorities are not all ties. */
    static byte[] labels(int h, int w, long seed, double ignore) {
        Random r = new Random(seed);
        byte[] l = new byte[h * w];
        for (int i = 0; i < l.length; i++) {
            l[i] = (byte) (r.nextDouble() < ignore ? 255 : r.nextInt(4));
        }
        return l;
    }

    @Test
    void nearestPicksTheTopLeftPixelOfEachPatch() {
        for (int stride : new int[] {1, 2, 4, 16}) {
            int h = stride * 3;
            int w = stride * 5;
            byte[] l = labels(h, w, stride, 0.2);
            int[] got = PatchLabels.of(l, h, w, stride, PatchLabels.Mode.NEAREST);
            assertThat(got).hasSize(15);
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 5; j++) {
                    assertThat(got[i * 5 + j]).isEqualTo(l[(i * stride) * w + j * stride] & 0xFF);
                }
            }
        }
    }

    @Test
    void nearestFollowsPyTorchsLegacyIndexWhenTheSizesDoNotDivide() {
        // PyTorch (UpSample.h, nearest_neighbor_compute_source_index): min(floor(dst * (float) in/out), in - 1)
        assertThat(PatchLabels.nearestSource(0, 224, 14)).isZero();
        assertThat(PatchLabels.nearestSource(13, 224, 14)).isEqualTo(208); // the last patch's top-left
        assertThat(PatchLabels.nearestSource(2, 10, 3)).isEqualTo(6); // floor(2 * 3.3333) = 6
        assertThat(PatchLabels.nearestSource(1, 7, 2)).isEqualTo(3); // floor(3.5)
        // a 10x10 map on a 3x3 grid (stride 3, the last row and column of pixels left over)
        byte[] l = labels(10, 10, 5, 0);
        int[] got = PatchLabels.of(l, 10, 10, 3, PatchLabels.Mode.NEAREST);
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                int y = (int) Math.floor(i * (10f / 3));
                int x = (int) Math.floor(j * (10f / 3));
                assertThat(got[i * 3 + j]).isEqualTo(l[y * 10 + x] & 0xFF);
            }
        }
    }

    @Test
    void majorityIsTheMostFrequentLabelIgnoringIgnoredPixelsAndTiesGoLow() {
        for (long seed = 0; seed < 20; seed++) {
            int stride = 1 + (int) (seed % 4);
            int h = stride * 4;
            int w = stride * 3;
            byte[] l = labels(h, w, seed, seed % 3 == 0 ? 0.9 : 0.3);
            int[] got = PatchLabels.of(l, h, w, stride, PatchLabels.Mode.MAJORITY);
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 3; j++) {
                    // plain: count each label 0..254 and take the first with the highest count
                    int best = 255;
                    int bestCount = 0;
                    for (int v = 0; v < 255; v++) {
                        int c = 0;
                        for (int y = i * stride; y < (i + 1) * stride; y++) {
                            for (int x = j * stride; x < (j + 1) * stride; x++) {
                                if ((l[y * w + x] & 0xFF) == v) {
                                    c++;
                                }
                            }
                        }
                        if (c > bestCount) {
                            best = v;
                            bestCount = c;
                        }
                    }
                    assertThat(got[i * 3 + j]).as("seed %d patch %d,%d", seed, i, j).isEqualTo(best);
                }
            }
        }
    }

    @Test
    void handPickedPatchesShowWhereTheTwoModesDisagree() {
        // one 4x4 patch: top-left background, mostly class 2, a tie between 1 and 3 in the second, all ignored third
        byte[] l = new byte[4 * 12];
        int[][] a = {
            {0, 2, 2, 2, 1, 1, 9, 9, 255, 255, 255, 255},
            {2, 2, 2, 2, 3, 3, 9, 9, 255, 255, 255, 255},
            {2, 2, 255, 255, 1, 1, 255, 255, 255, 255, 255, 255},
            {2, 2, 255, 255, 3, 3, 255, 255, 255, 255, 255, 255}};
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 12; x++) {
                l[y * 12 + x] = (byte) a[y][x];
            }
        }
        assertThat(PatchLabels.of(l, 4, 12, 4, PatchLabels.Mode.NEAREST)).containsExactly(0, 1, 255);
        // the second patch: 1 and 3 four times each, 9 four times: the lowest of the tied labels
        assertThat(PatchLabels.of(l, 4, 12, 4, PatchLabels.Mode.MAJORITY)).containsExactly(2, 1, 255);
    }

    @Test
    void badInputIsRefusedClearly() {
        assertThatThrownBy(() -> PatchLabels.of(new byte[10], 4, 4, 2, PatchLabels.Mode.MAJORITY))
                .isInstanceOf(VitrimException.class).hasMessageContaining("10 labels").hasMessageContaining("4x4");
        assertThatThrownBy(() -> PatchLabels.of(new byte[4], 2, 2, 4, PatchLabels.Mode.NEAREST))
                .isInstanceOf(VitrimException.class).hasMessageContaining("4-pixel");
        assertThatThrownBy(() -> PatchLabels.Mode.parse("mode")).isInstanceOf(VitrimException.class)
                .hasMessageContaining("nearest or majority");
        assertThat(PatchLabels.Mode.parse(" Majority")).isEqualTo(PatchLabels.Mode.MAJORITY);
    }
}
