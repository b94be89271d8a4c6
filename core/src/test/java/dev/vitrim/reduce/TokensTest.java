package dev.vitrim.reduce;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.engine.Torch;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Keeping and stashing tokens (the index arithmetic done in Java, one gather per tensor) against plain loops. */
class TokensTest {
    @Test
    void keepPatchesAndStashingEqualPlainLoopsOnRandomInputs() {
        Random rnd = new Random(11);
        try (NDManager m = Torch.newManager()) {
            Torch.inference();
            for (int trial = 0; trial < 20; trial++) {
                int b = 1 + rnd.nextInt(3);
                int prefix = rnd.nextInt(3);
                int patches = 2 + rnd.nextInt(20);
                int n = prefix + patches;
                int c = 1 + rnd.nextInt(6);
                int n0 = n + 3;
                int k = 1 + rnd.nextInt(patches - 1);
                float[] x = BipartiteMergeTest.gauss(rnd, b * n * c);
                float[] size = new float[b * n];
                long[] pos = new long[b * n];
                float[] src = BipartiteMergeTest.gauss(rnd, b * n * n0);
                for (int i = 0; i < b * n; i++) {
                    size[i] = 1 + rnd.nextInt(5);
                    pos[i] = rnd.nextInt(1000);
                }
                // per image a random permutation of the patches: the first k kept, the rest stashed
                long[] keep = new long[b * k];
                long[] gone = new long[b * (patches - k)];
                for (int i = 0; i < b; i++) {
                    int[] perm = rnd.ints(0, patches).distinct().limit(patches).toArray();
                    for (int j = 0; j < patches; j++) {
                        if (j < k) {
                            keep[i * k + j] = perm[j];
                        } else {
                            gone[i * (patches - k) + j - k] = perm[j];
                        }
                    }
                }
                Tokens t = new Tokens(m.create(x, new Shape(b, n, c)), size, pos, prefix, List.of(), null, null, m.create(src, new Shape(b, n, n0)));
                Tokens kept = t.keepPatches(m.create(keep, new Shape(b, k)));
                Tokens both = t.stashing(gone, patches - k, kept);
                String what = String.format("trial %d (b=%d prefix=%d patches=%d k=%d)", trial, b, prefix, patches, k);
                int w = prefix + k;
                float[] wantX = new float[b * w * c];
                float[] wantS = new float[b * w];
                long[] wantP = new long[b * w];
                float[] wantSrc = new float[b * w * n0];
                for (int i = 0; i < b; i++) {
                    for (int j = 0; j < w; j++) {
                        int from = i * n + (j < prefix ? j : prefix + (int) keep[i * k + j - prefix]);
                        for (int d = 0; d < c; d++) {
                            wantX[(i * w + j) * c + d] = x[from * c + d];
                        }
                        for (int d = 0; d < n0; d++) {
                            wantSrc[(i * w + j) * n0 + d] = src[from * n0 + d];
                        }
                        wantS[i * w + j] = size[from];
                        wantP[i * w + j] = pos[from];
                    }
                }
                assertThat(kept.x.getShape()).isEqualTo(new Shape(b, w, c));
                assertThat(kept.x.toFloatArray()).as(what).containsExactly(wantX);
                assertThat(kept.sizes).as(what).containsExactly(wantS);
                assertThat(kept.positions).as(what).containsExactly(wantP);
                assertThat(kept.source.toFloatArray()).as(what).containsExactly(wantSrc);
                assertThat(kept.stash).isEmpty();

                assertThat(both.x.toFloatArray()).as(what).containsExactly(wantX);
                assertThat(both.stash).hasSize(1);
                Tokens.Stashed st = both.stash.get(0);
                int g = patches - k;
                float[] goneX = new float[b * g * c];
                long[] goneP = new long[b * g];
                float[] goneS = new float[b * g];
                for (int i = 0; i < b; i++) {
                    for (int j = 0; j < g; j++) {
                        int from = i * n + prefix + (int) gone[i * g + j];
                        for (int d = 0; d < c; d++) {
                            goneX[(i * g + j) * c + d] = x[from * c + d];
                        }
                        goneP[i * g + j] = pos[from];
                        goneS[i * g + j] = size[from];
                    }
                }
                assertThat(st.x().getShape()).isEqualTo(new Shape(b, g, c));
                assertThat(st.x().toFloatArray()).as(what).containsExactly(goneX);
                assertThat(st.positions()).as(what).containsExactly(goneP);
                assertThat(st.sizes()).as(what).containsExactly(goneS);
                // Last Layer Fusion: per image, the kept tokens then the stashed ones
                Tokens back = both.rejoinStash();
                assertThat(back.count()).isEqualTo(n);
                assertThat(back.stash).isEmpty();
                long[] backP = new long[b * n];
                float[] backS = new float[b * n];
                for (int i = 0; i < b; i++) {
                    System.arraycopy(wantP, i * w, backP, i * n, w);
                    System.arraycopy(goneP, i * g, backP, i * n + w, g);
                    System.arraycopy(wantS, i * w, backS, i * n, w);
                    System.arraycopy(goneS, i * g, backS, i * n + w, g);
                }
                assertThat(back.positions).as(what).containsExactly(backP);
                assertThat(back.sizes).as(what).containsExactly(backS);
            }
        }
    }
}
