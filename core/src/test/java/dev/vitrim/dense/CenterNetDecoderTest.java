package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.vitrim.VitrimException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Decoding: perfect maps give the encoded boxes back; peaks, top-K and ties against plain loops. */
class CenterNetDecoderTest {

    @Test
    void perfectMapsDecodeToTheEncodedBoxes() {
        Random r = new Random(5);
        for (int trial = 0; trial < 30; trial++) {
            List<Box> boxes = DenseTestSupport.randomBoxes(r, 1 + r.nextInt(10));
            CenterNetTargets.Targets t = CenterNetTargets.build(boxes);
            List<Detection> ds = CenterNetDecoder.decode(DenseTestSupport.logits(t.heatmap()), t.size(), t.offset(), 8,
                    100, 0.5f);
            assertThat(ds).hasSize(boxes.size());
            // every centre scores the same, so the order is class, then cell
            List<Box> expected = new ArrayList<>(boxes);
            expected.sort(Comparator.comparingInt(Box::category)
                    .thenComparingInt(b -> (int) Math.floor(b.cy() / 8) * 14 + (int) Math.floor(b.cx() / 8)));
            for (int i = 0; i < ds.size(); i++) {
                Detection d = ds.get(i);
                Box b = expected.get(i);
                assertThat(d.category()).isEqualTo(b.category());
                assertThat(d.score()).isCloseTo(1f, within(1e-5f));
                assertThat(d.x()).isCloseTo(b.x(), within(1e-4f));
                assertThat(d.y()).isCloseTo(b.y(), within(1e-4f));
                assertThat(d.w()).isCloseTo(b.w(), within(1e-4f));
                assertThat(d.h()).isCloseTo(b.h(), within(1e-4f));
                assertThat(d.cx()).isCloseTo(b.cx(), within(1e-4f));
                assertThat(d.cy()).isCloseTo(b.cy(), within(1e-4f));
            }
        }
    }

    /** The decoder written as plainly as possible: every cell not below any neighbour, sorted, first K. */
    private static List<float[]> plainDecode(float[] logits, int classes, int h, int w, int k) {
        List<float[]> c = new ArrayList<>(); // {score, class, cell}
        for (int cls = 0; cls < classes; cls++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    float s = CenterNetDecoder.sigmoid(logits[(cls * h + y) * w + x]);
                    boolean peak = true;
                    for (int dy = -1; dy <= 1; dy++) {
                        for (int dx = -1; dx <= 1; dx++) {
                            int yy = y + dy;
                            int xx = x + dx;
                            if (yy >= 0 && yy < h && xx >= 0 && xx < w
                                    && CenterNetDecoder.sigmoid(logits[(cls * h + yy) * w + xx]) > s) {
                                peak = false;
                            }
                        }
                    }
                    if (peak) {
                        c.add(new float[] {s, cls, y * w + x});
                    }
                }
            }
        }
        c.sort((a, b) -> a[0] != b[0] ? Float.compare(b[0], a[0])
                : a[1] != b[1] ? Float.compare(a[1], b[1]) : Float.compare(a[2], b[2]));
        return c.subList(0, Math.min(k, c.size()));
    }

    @Test
    void peaksAndTopKMatchAPlainLoopOnRandomMaps() {
        Random r = new Random(6);
        for (int trial = 0; trial < 20; trial++) {
            int classes = 1 + r.nextInt(4);
            int h = 3 + r.nextInt(12);
            int w = 3 + r.nextInt(12);
            float[] logits = new float[classes * h * w];
            for (int i = 0; i < logits.length; i++) {
                // coarse values, so that equal neighbours (ties) are common
                logits[i] = r.nextInt(7) - 3;
            }
            float[] size = new float[2 * h * w];
            float[] off = new float[2 * h * w];
            for (int i = 0; i < size.length; i++) {
                size[i] = r.nextFloat() * 3;
                off[i] = r.nextFloat();
            }
            int k = 1 + r.nextInt(30);
            List<Detection> ds = CenterNetDecoder.decode(new Maps(classes, h, w, logits), new Maps(2, h, w, size),
                    new Maps(2, h, w, off), 8, k, 0f);
            List<float[]> expected = plainDecode(logits, classes, h, w, k);
            assertThat(ds).hasSize(expected.size());
            for (int i = 0; i < ds.size(); i++) {
                float[] e = expected.get(i);
                int cell = (int) e[2];
                Detection d = ds.get(i);
                assertThat(d.score()).isEqualTo(e[0]);
                assertThat(d.category()).isEqualTo((int) e[1]);
                assertThat(d.cx()).isEqualTo((cell % w + off[cell]) * 8);
                assertThat(d.cy()).isEqualTo((cell / w + off[h * w + cell]) * 8);
            }
        }
    }

    @Test
    void topKKeepsTheBestInScoreOrderAndMinScoreCuts() {
        int h = 14;
        int w = 14;
        float[] logits = new float[10 * h * w];
        java.util.Arrays.fill(logits, -10f);
        float[] peaks = {2f, -1f, 4f, 0.5f, 3f};
        for (int i = 0; i < peaks.length; i++) {
            logits[(i * 2 * h + 2 * i) * w + 3 * i] = peaks[i]; // class 2i, cell (3i, 2i): well apart
        }
        Maps z = Maps.zeros(2, h, w);
        List<Detection> top3 = CenterNetDecoder.decode(new Maps(10, h, w, logits), z, z, 8, 3, 0f);
        assertThat(top3).extracting(Detection::category).containsExactly(4, 8, 0);
        assertThat(top3).extracting(Detection::score).containsExactly(CenterNetDecoder.sigmoid(4f),
                CenterNetDecoder.sigmoid(3f), CenterNetDecoder.sigmoid(2f));
        List<Detection> sure = CenterNetDecoder.decode(new Maps(10, h, w, logits), z, z, 8, 100, 0.6f);
        assertThat(sure).extracting(Detection::category).containsExactly(4, 8, 0, 6); // sigmoid(0.5) = 0.62
    }

    @Test
    void equalNeighboursAreBothPeaksAndTiesGoByClassThenCell() {
        float[] logits = new float[2 * 4 * 4];
        java.util.Arrays.fill(logits, -5f);
        logits[16 + 5] = 1f;      // class 1, cell 5
        logits[6] = 1f;           // class 0, cell 6, next to ...
        logits[7] = 1f;           // class 0, cell 7: equal neighbour, also a peak
        logits[16 + 15] = 1f;     // class 1, cell 15
        logits[16 + 10] = 0.5f;   // class 1, cell 10: below its neighbours 5 and 15, not a peak
        Maps z = Maps.zeros(2, 4, 4);
        List<Detection> ds = CenterNetDecoder.decode(new Maps(2, 4, 4, logits), z, z, 8, 100, 0.1f);
        assertThat(ds).extracting(d -> d.category() + "@" + ((int) (d.cy() / 8) * 4 + (int) (d.cx() / 8)))
                .containsExactly("0@6", "0@7", "1@5", "1@15");
    }

    @Test
    void boxesAreClippedButTheCentreIsNot() {
        Maps heat = Maps.zeros(1, 14, 14);
        java.util.Arrays.fill(heat.data(), -10f);
        heat.set(0, 0, 13, 5f);
        Maps size = Maps.zeros(2, 14, 14);
        size.set(0, 0, 13, 4f);  // 32 px wide
        size.set(1, 0, 13, -1f); // negative size: treated as 0
        Maps off = Maps.zeros(2, 14, 14);
        off.set(0, 0, 13, 0.5f);
        Detection d = CenterNetDecoder.decode(heat, size, off, 8).get(0);
        assertThat(d.cx()).isEqualTo(108f);
        assertThat(d.x()).isEqualTo(92f);
        assertThat(d.w()).isEqualTo(20f); // 92 .. 112
        assertThat(d.h()).isEqualTo(0f);
        assertThat(d.cy()).isEqualTo(0f);
    }

    @Test
    void mismatchedMapsAreUserErrors() {
        assertThatThrownBy(() -> CenterNetDecoder.decode(Maps.zeros(10, 14, 14), Maps.zeros(2, 7, 7),
                Maps.zeros(2, 14, 14), 8))
                .isExactlyInstanceOf(VitrimException.class).hasMessage("size: expected 2x14x14 maps, got 2x7x7");
        assertThatThrownBy(() -> CenterNetDecoder.decode(Maps.zeros(10, 14, 14), Maps.zeros(2, 14, 14),
                Maps.zeros(2, 14, 14), 8, 0, 0f))
                .isExactlyInstanceOf(VitrimException.class).hasMessageStartingWith("top-k:");
    }
}
