package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.vitrim.VitrimException;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Grouping pixels into instances on synthetic maps with known answers. */
class InstanceGroupingTest {
    static final int H = 40;
    static final int W = 40;
    static final int C = 11;

    /** Probabilities: {@code p} on class {@code cls}, the rest spread evenly over the other classes. */
    private static void setProb(Maps probs, int y, int x, int cls, float p) {
        for (int k = 0; k < C; k++) {
            probs.set(k, y, x, k == cls ? p : (1 - p) / (C - 1));
        }
    }

    /** Two objects: A (category 3) on [4, 14)^2, centre (9, 9); B (category 7) on x [20, 34), y [20, 30), centre (27, 25). */
    private static final class Scene {
        final Maps probs = Maps.zeros(C, H, W);
        final Maps offsets = Maps.zeros(2, H, W);
        final boolean[] a = new boolean[H * W];
        final boolean[] b = new boolean[H * W];

        Scene(long seed) {
            Random r = new Random(seed);
            for (int y = 0; y < H; y++) {
                for (int x = 0; x < W; x++) {
                    boolean inA = x >= 4 && x < 14 && y >= 4 && y < 14;
                    boolean inB = x >= 20 && x < 34 && y >= 20 && y < 30;
                    a[y * W + x] = inA;
                    b[y * W + x] = inB;
                    float cx = inA ? 9 : 27;
                    float cy = inA ? 9 : 25;
                    if (inA || inB) {
                        setProb(probs, y, x, inA ? 4 : 8, inA ? 0.8f : 0.6f);
                        // votes land within 2 px of the centre
                        offsets.set(0, y, x, cx - (x + 0.5f) + (r.nextFloat() * 4 - 2));
                        offsets.set(1, y, x, cy - (y + 0.5f) + (r.nextFloat() * 4 - 2));
                    } else {
                        setProb(probs, y, x, 0, 0.9f);
                        offsets.set(0, y, x, r.nextFloat() * 80 - 40); // ignored: background
                        offsets.set(1, y, x, r.nextFloat() * 80 - 40);
                    }
                }
            }
        }
    }

    private static Detection det(int cat, float score, float cx, float cy) {
        return new Detection(cat, score, cx - 5, cy - 5, 10, 10, cx, cy);
    }

    @Test
    void twoObjectsGiveTheirMasksAndScores() {
        Scene s = new Scene(7);
        Detection dA = det(3, 0.9f, 9, 9);
        Detection dB = det(7, 0.5f, 27, 25);
        Detection low = det(3, 0.05f, 10, 10);   // below 0.1: would steal half of A's votes if it took part
        Detection empty = det(1, 0.7f, 38, 2);   // no votes near it: no instance
        List<InstanceMask> ms = InstanceGrouping.group(s.probs, s.offsets, List.of(dA, empty, dB, low));
        assertThat(ms).hasSize(2);
        assertThat(ms.get(0).category()).isEqualTo(3);
        assertThat(ms.get(0).from()).isSameAs(dA);
        assertThat(ms.get(0).mask()).isEqualTo(s.a);
        assertThat(ms.get(0).score()).isCloseTo(0.9f * 0.8f, within(1e-6f));
        assertThat(ms.get(0).area()).isEqualTo(100);
        assertThat(ms.get(1).category()).isEqualTo(7);
        assertThat(ms.get(1).mask()).isEqualTo(s.b);
        assertThat(ms.get(1).score()).isCloseTo(0.5f * 0.6f, within(1e-6f));
        // with every detection taking part, the low one takes the A pixels whose votes are nearer to it
        List<InstanceMask> all = InstanceGrouping.group(s.probs, s.offsets, List.of(dA, empty, dB, low), 0f,
                InstanceGrouping.ClassRule.RESTRICT);
        assertThat(all).hasSize(3);
        assertThat(all.get(0).area() + all.get(2).area()).isEqualTo(100);
    }

    @Test
    void eachPixelJoinsTheNearestCentre() {
        // one class, two touching objects: the left half votes for (5, 10), the right half for (15, 10)
        Maps probs = Maps.zeros(C, 20, 20);
        Maps off = Maps.zeros(2, 20, 20);
        for (int y = 0; y < 20; y++) {
            for (int x = 0; x < 20; x++) {
                boolean fg = y >= 5 && y < 15;
                float target = x < 10 ? 5 : 15;
                int cls = fg ? 2 : 0;
                for (int k = 0; k < C; k++) {
                    probs.set(k, y, x, k == cls ? 0.9f : 0.01f);
                }
                off.set(0, y, x, target - (x + 0.5f) + (x < 10 ? 4.9f : -4.9f)); // votes 0.1 px from the middle
                off.set(1, y, x, 10 - (y + 0.5f));
            }
        }
        List<InstanceMask> ms = InstanceGrouping.group(probs, off, List.of(det(1, 0.8f, 5, 10), det(1, 0.6f, 15, 10)));
        assertThat(ms).hasSize(2);
        for (int y = 0; y < 20; y++) {
            for (int x = 0; x < 20; x++) {
                boolean fg = y >= 5 && y < 15;
                assertThat(ms.get(0).mask()[y * 20 + x]).isEqualTo(fg && x < 10);
                assertThat(ms.get(1).mask()[y * 20 + x]).isEqualTo(fg && x >= 10);
            }
        }
    }

    @Test
    void restrictDropsPixelsOfOtherClassesMajorityKeepsThem() {
        Scene s = new Scene(8);
        int[][] wrong = {{5, 5}, {6, 7}, {10, 12}, {13, 4}, {8, 8}};
        for (int[] p : wrong) {
            setProb(s.probs, p[1], p[0], 8, 0.7f); // argmax class 8 inside A; still voting for A's centre
        }
        Detection dA = det(3, 0.9f, 9, 9);
        Detection dB = det(7, 0.5f, 27, 25);
        InstanceMask restricted = InstanceGrouping.group(s.probs, s.offsets, List.of(dA, dB)).get(0);
        boolean[] aLessWrong = s.a.clone();
        for (int[] p : wrong) {
            aLessWrong[p[1] * W + p[0]] = false;
        }
        assertThat(restricted.mask()).isEqualTo(aLessWrong);
        assertThat(restricted.score()).isCloseTo(0.9f * 0.8f, within(1e-6f));

        InstanceMask majority = InstanceGrouping.group(s.probs, s.offsets, List.of(dA, dB), 0.1f,
                InstanceGrouping.ClassRule.MAJORITY).get(0);
        assertThat(majority.mask()).isEqualTo(s.a);
        assertThat(majority.category()).isEqualTo(3);
        double meanP4 = (95 * 0.8 + 5 * 0.3 / 10) / 100; // the 5 moved pixels hold 0.03 on class 4
        assertThat((double) majority.score()).isCloseTo(0.9 * meanP4, within(1e-6));
    }

    @Test
    void majorityCorrectsTheDetectionsClassRestrictDropsTheInstance() {
        Scene s = new Scene(9);
        Detection wrongClass = det(5, 0.9f, 9, 9); // the pixels say class 4 = category 3
        assertThat(InstanceGrouping.group(s.probs, s.offsets, List.of(wrongClass, det(7, 0.5f, 27, 25))))
                .extracting(InstanceMask::category).containsExactly(7);
        List<InstanceMask> ms = InstanceGrouping.group(s.probs, s.offsets, List.of(wrongClass, det(7, 0.5f, 27, 25)),
                0.1f, InstanceGrouping.ClassRule.MAJORITY);
        assertThat(ms).extracting(InstanceMask::category).containsExactly(3, 7);
        assertThat(ms.get(0).from()).isSameAs(wrongClass);
    }

    @Test
    void resultsAreSortedByFinalScore() {
        Scene s = new Scene(10);
        // B's detection scores higher, but A's pixels are more confident: 0.6 * 0.8 > 0.7 * 0.6
        List<InstanceMask> ms = InstanceGrouping.group(s.probs, s.offsets, List.of(det(7, 0.7f, 27, 25),
                det(3, 0.6f, 9, 9)));
        assertThat(ms).extracting(InstanceMask::category).containsExactly(3, 7);
    }

    @Test
    void noDetectionsNoInstances() {
        Scene s = new Scene(11);
        assertThat(InstanceGrouping.group(s.probs, s.offsets, List.of())).isEmpty();
        assertThat(InstanceGrouping.group(s.probs, s.offsets, List.of(det(3, 0.01f, 9, 9)))).isEmpty();
    }

    @Test
    void userErrors() {
        Scene s = new Scene(12);
        assertThatThrownBy(() -> InstanceGrouping.group(s.probs, Maps.zeros(2, 20, 20), List.of()))
                .isExactlyInstanceOf(VitrimException.class).hasMessage("offsets: expected 2x40x40 maps, got 2x20x20");
        assertThatThrownBy(() -> InstanceGrouping.group(s.probs, s.offsets, List.of(det(10, 0.5f, 1, 1))))
                .isExactlyInstanceOf(VitrimException.class)
                .hasMessage("detection category 10: not within 0..9 for 11 probability channels");
    }

    @Test
    void softmaxAndArgmax() {
        Maps logits = new Maps(3, 1, 2, new float[] {1, 2, 3, 2, 3, 2});
        Maps p = Semantic.softmax(logits);
        double z0 = Math.exp(1) + Math.exp(3) + Math.exp(3);
        assertThat((double) p.get(0, 0, 0)).isCloseTo(Math.exp(1) / z0, within(1e-7));
        assertThat((double) p.get(2, 0, 0)).isCloseTo(Math.exp(3) / z0, within(1e-7));
        assertThat(p.get(0, 0, 1) + p.get(1, 0, 1) + p.get(2, 0, 1)).isCloseTo(1f, within(1e-6f));
        // pixel 0 holds (1, 3, 3), pixel 1 (2, 2, 2): ties go to the lower class
        assertThat(Semantic.argmax(logits)).containsExactly(1, 0);
    }
}
