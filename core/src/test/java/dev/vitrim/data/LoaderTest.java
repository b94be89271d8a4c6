package dev.vitrim.data;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Seeded splits and the background batch loader: determinism, coverage, augmentation, errors. */
class LoaderTest {
    /** n grey 6x6 images; image i is all (i % 256) and has label i % classes. */
    static LabeledImages ramp(int n, int classes) {
        byte[] px = new byte[n * 36];
        int[] lab = new int[n];
        for (int i = 0; i < n; i++) {
            Arrays.fill(px, i * 36, (i + 1) * 36, (byte) i);
            lab[i] = i % classes;
        }
        List<String> names = new ArrayList<>();
        for (int c = 0; c < classes; c++) {
            names.add("c" + c);
        }
        return new LabeledImages("ramp", names, 1, 6, 6, px, lab);
    }

    static final PreprocessConfig UNIT = new PreprocessConfig(6, 1.0, new float[] {0, 0, 0}, new float[] {1, 1, 1},
            Interpolation.BICUBIC);

    @Test
    void holdOutIsStratifiedDisjointAndFixed() {
        LabeledImages d = ramp(100, 4);
        Splits.TrainVal a = Splits.holdOut(d, 0.1, Splits.HOLD_OUT_SEED);
        Splits.TrainVal b = Splits.holdOut(d, 0.1, Splits.HOLD_OUT_SEED);
        assertThat(a.val()).containsExactly(b.val());
        assertThat(a.val()).hasSize(12); // round(0.1 * 25) = 3 per class... rounded per class: 2.5 -> 3
        int[] perClass = new int[4];
        for (int i : a.val()) {
            perClass[d.label(i)]++;
        }
        assertThat(perClass).containsOnly(3);
        boolean[] seen = new boolean[100];
        for (int i : a.train()) {
            seen[i] = true;
        }
        for (int i : a.val()) {
            assertThat(seen[i]).isFalse();
            seen[i] = true;
        }
        assertThat(seen).containsOnly(true);
        assertThat(Splits.holdOut(d, 0.1, 7).val()).isNotEqualTo(a.val());
    }

    static List<BatchLoader.Batch> all(LabeledImages d, ImageTransform t, int batch, boolean train, long seed,
                                       int epoch) {
        List<BatchLoader.Batch> out = new ArrayList<>();
        try (BatchLoader l = new BatchLoader(d, t, batch, train, seed, epoch, 2)) {
            while (l.hasNext()) {
                out.add(l.next());
            }
        }
        return out;
    }

    @Test
    void trainingBatchesCoverEveryImageOnceAndDependOnlyOnSeedAndEpoch() {
        LabeledImages d = ramp(50, 5);
        ImageTransform t = new ImageTransform(UNIT, 0, false);
        List<BatchLoader.Batch> e0 = all(d, t, 16, true, 3, 0);
        assertThat(e0).hasSize(4);
        assertThat(e0.get(3).size()).isEqualTo(2);
        List<Integer> ids = new ArrayList<>();
        for (BatchLoader.Batch b : e0) {
            for (int k = 0; k < b.size(); k++) {
                int id = Math.round(b.x()[k * 108] * 255f);
                ids.add(id);
                assertThat(b.y()[k]).isEqualTo(id % 5);
                // grey feeds all three channels
                assertThat(b.x()[k * 108 + 36]).isEqualTo(b.x()[k * 108]);
                assertThat(b.x()[k * 108 + 72]).isEqualTo(b.x()[k * 108]);
            }
        }
        assertThat(ids).containsExactlyInAnyOrderElementsOf(java.util.stream.IntStream.range(0, 50).boxed().toList());
        assertThat(ids).isNotEqualTo(java.util.stream.IntStream.range(0, 50).boxed().toList());
        List<BatchLoader.Batch> again = all(d, t, 16, true, 3, 0);
        List<BatchLoader.Batch> e1 = all(d, t, 16, true, 3, 1);
        assertThat(again.get(0).x()).containsExactly(e0.get(0).x());
        assertThat(e1.get(0).x()).isNotEqualTo(e0.get(0).x());
        List<BatchLoader.Batch> eval = all(d, t, 16, false, 3, 0);
        assertThat(Math.round(eval.get(0).x()[108] * 255f)).isEqualTo(1); // data order
    }

    @Test
    void augmentationShiftsWithinBoundsAndFlipsMirror() {
        byte[] px = new byte[36];
        px[2 * 6 + 1] = (byte) 255; // one bright pixel at (x=1, y=2)
        LabeledImages d = new LabeledImages("dot", List.of("a", "b"), 1, 6, 6, px, new int[] {0});
        ImageTransform shift = new ImageTransform(UNIT, 1, false);
        ImageTransform flip = new ImageTransform(UNIT, 0, true);
        java.util.Set<Integer> positions = new java.util.HashSet<>();
        boolean mirrored = false;
        for (int seed = 0; seed < 60; seed++) {
            float[] x = new float[108];
            shift.apply(d, 0, x, 0, new java.util.SplittableRandom(seed));
            int at = -1;
            for (int i = 0; i < 36; i++) {
                if (x[i] > 0.5f) {
                    at = i;
                }
            }
            assertThat(at).isNotNegative();
            int ax = at % 6;
            int ay = at / 6;
            assertThat(Math.abs(ax - 1)).isLessThanOrEqualTo(1);
            assertThat(Math.abs(ay - 2)).isLessThanOrEqualTo(1);
            positions.add(at);
            float[] f = new float[108];
            flip.apply(d, 0, f, 0, new java.util.SplittableRandom(seed));
            mirrored |= f[2 * 6 + 4] > 0.5f;
            assertThat(f[2 * 6 + 4] > 0.5f || f[2 * 6 + 1] > 0.5f).isTrue();
        }
        assertThat(positions).hasSize(9);
        assertThat(mirrored).isTrue();
        float[] e = new float[108];
        shift.apply(d, 0, e, 0, null); // evaluation: untouched
        assertThat(e[2 * 6 + 1]).isEqualTo(1f);
    }

    @Test
    void normalisationMatchesTheModelPreprocessing() {
        LabeledImages d = ramp(3, 3);
        PreprocessConfig p = new PreprocessConfig(6, 1.0, new float[] {0.1f, 0.2f, 0.3f}, new float[] {0.5f, 0.25f, 2f},
                Interpolation.BICUBIC);
        float[] x = new float[108];
        new ImageTransform(p, 0, false).apply(d, 2, x, 0, null);
        assertThat(x[0]).isEqualTo((2 / 255f - 0.1f) / 0.5f);
        assertThat(x[36]).isEqualTo((2 / 255f - 0.2f) / 0.25f);
        assertThat(x[72]).isEqualTo((2 / 255f - 0.3f) / 2f);
    }

    @Test
    void imagesOfAnotherSizeGoThroughTheEvalResize() {
        LabeledImages d = ramp(2, 2); // 6x6 grey
        PreprocessConfig p = new PreprocessConfig(12, 1.0, new float[] {0, 0, 0}, new float[] {1, 1, 1},
                Interpolation.BILINEAR);
        ImageTransform t = new ImageTransform(p, 0, false);
        assertThat(t.resizes(6, 6)).isTrue();
        float[] x = new float[3 * 144];
        t.apply(d, 1, x, 0, null);
        for (float v : x) {
            assertThat(Math.round(v * 255f)).isEqualTo(1); // a flat image stays flat
        }
    }
}
