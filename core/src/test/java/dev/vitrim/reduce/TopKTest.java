package dev.vitrim.reduce;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The packed-key top-k of attn and EViT against a plain stable sort of boxed indices. */
class TopKTest {
    @Test
    void topKEqualsAStableDescendingSortIncludingTiesNegativesAndMinusInfinity() {
        Random rnd = new Random(5);
        for (int trial = 0; trial < 200; trial++) {
            int b = 1 + rnd.nextInt(3);
            int m = 1 + rnd.nextInt(40);
            int k = 1 + rnd.nextInt(m);
            float[] s = new float[b * m];
            for (int i = 0; i < s.length; i++) {
                int kind = rnd.nextInt(6);
                s[i] = kind == 0 ? Float.NEGATIVE_INFINITY : kind == 1 ? rnd.nextInt(3) : (float) rnd.nextGaussian();
            }
            long[] got = AttentionPruning.topK(s, b, m, k);
            for (int i = 0; i < b; i++) {
                final int row = i * m;
                Integer[] idx = new Integer[m];
                for (int j = 0; j < m; j++) {
                    idx[j] = j;
                }
                Arrays.sort(idx, Comparator.comparingDouble((Integer j) -> -s[row + j])); // stable: ties by index
                long[] want = new long[k];
                for (int j = 0; j < k; j++) {
                    want[j] = idx[j];
                }
                assertThat(Arrays.copyOfRange(got, i * k, i * k + k)).as("trial %d image %d", trial, i).containsExactly(want);
            }
        }
    }
}
