package dev.vitrim.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Torch;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Tokens;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The patch tokens back on the original grid ({@link Tokens#patchGrid}) after the model's forward with each kind of
 * reduction: kept, stashed (pruned, no LLF) and merged (ToMe's unmerge) tokens stand at their original positions.
 */
class PatchGridTest {
    static VitConfig small() {
        return new VitConfig("grid-test", 24, 4, 2, 4, 4, 4, 48, 0, true, false, false, false, true, "token", false,
                1e-6, new PreprocessConfig(16, 1.0, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD,
                dev.vitrim.image.Interpolation.BICUBIC), List.of());
    }

    @Test
    void tokensThatEncodeTheirPositionComeBackInOrderAfterPruningAndStashing() {
        Random rnd = new Random(5);
        try (NDManager m = Torch.newManager()) {
            Torch.inference();
            int b = 3;
            int patches = 12;
            int n = 1 + patches;
            float[] x = new float[b * n * 2];
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < n; j++) {
                    x[(i * n + j) * 2] = i;
                    x[(i * n + j) * 2 + 1] = j;
                }
            }
            Tokens t = Tokens.initial(m.create(x, new Shape(b, n, 2)), 1);
            // two rounds: prune a random 4 (stashed), then 3 more (stashed)
            for (int prune : new int[] {4, 3}) {
                int k = t.patches() - prune;
                long[] keep = new long[b * k];
                long[] gone = new long[b * prune];
                for (int i = 0; i < b; i++) {
                    int[] perm = rnd.ints(0, t.patches()).distinct().limit(t.patches()).toArray();
                    for (int j = 0; j < perm.length; j++) {
                        if (j < k) {
                            keep[i * k + j] = perm[j];
                        } else {
                            gone[i * prune + j - k] = perm[j];
                        }
                    }
                }
                t = t.stashing(gone, prune, t.keepPatches(keep, k));
            }
            float[] grid = t.patchGrid(patches).toFloatArray();
            for (int i = 0; i < b; i++) {
                for (int p = 0; p < patches; p++) {
                    assertThat(grid[(i * patches + p) * 2]).isEqualTo(i);
                    assertThat(grid[(i * patches + p) * 2 + 1]).isEqualTo(p + 1);
                }
            }
            // pruned without stashing: the grid has holes, which is an error, not silently wrong output
            Tokens dropped = t.keepPatches(new long[b * 2], 2);
            assertThatThrownBy(() -> dropped.patchGrid(patches)).hasMessageContaining("held by no token");
        }
    }

    @Test
    void unreducedGridIsThePatchTokensAndReducedGridsAreCompleteAndPerImage() {
        try (VisionTransformer vit = VisionTransformer.random(small(), 3); NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            Random rnd = new Random(1);
            float[] img = new float[2 * 3 * 16 * 16];
            for (int i = 0; i < img.length; i++) {
                img[i] = (float) rnd.nextGaussian();
            }
            NDArray images = m.create(img, new Shape(2, 3, 16, 16));
            Tokens none = vit.forwardTokens(images, Reducers.NONE, null, false);
            assertThat(none.patchGrid(16).toFloatArray())
                    .containsExactly(none.x.get(new ai.djl.ndarray.index.NDIndex(":, 1:, :")).toFloatArray());
            for (String spec : List.of("cropr:R=2,llf=true", "random:R=2,llf=true,seed=1", "tome:r=3")) {
                TokenReducer r = Reducers.parse(spec, vit);
                Tokens t = vit.forwardTokens(images, r, null, true);
                NDArray grid = t.patchGrid(16);
                assertThat(grid.getShape()).isEqualTo(new Shape(2, 16, 24));
                float[] g = grid.toFloatArray();
                float[] xs = t.x.toFloatArray();
                for (int i = 0; i < 2; i++) {
                    // every current token stands at as many grid positions as it holds original patches
                    for (int row = 1; row < t.count(); row++) {
                        int copies = 0;
                        for (int p = 0; p < 16; p++) {
                            if (sameRow(g, (i * 16 + p) * 24, xs, (i * t.count() + row) * 24, 24)) {
                                copies++;
                            }
                        }
                        assertThat(copies).as(spec + " image " + i + " token " + row)
                                .isEqualTo((int) t.size(i * t.count() + row));
                    }
                    // batch = single image
                    Tokens one = vit.forwardTokens(images.get(new ai.djl.ndarray.index.NDIndex("{}:{}", i, i + 1)), r,
                            null, true);
                    float[] single = one.patchGrid(16).toFloatArray();
                    for (int j = 0; j < single.length; j++) {
                        assertThat(single[j]).isCloseTo(g[i * 16 * 24 + j], org.assertj.core.api.Assertions.offset(1e-4f));
                    }
                }
            }
        }
    }

    private static boolean sameRow(float[] a, int ia, float[] b, int ib, int d) {
        for (int j = 0; j < d; j++) {
            if (a[ia + j] != b[ib + j]) {
                return false;
            }
        }
        return true;
    }
}
