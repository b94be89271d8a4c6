package dev.vitrim.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.engine.Torch;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Tokens;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every reducer on a dense model: the tokens after the last block back on the patch grid, with pruned tokens kept at
 * their last value ({@code keepPruned}) or brought back by Last Layer Fusion ({@code llf=true}), merged ones copied
 * back (ToMe). Checked three ways: a reducer that keeps everything gives the unreduced maps; on a model whose blocks
 * are the identity (output projections zeroed, so every token keeps its embedding while attention still scores) the
 * grid is exactly the patch embeddings in original order, so every position is present and in place; and a batch
 * gives each image what it gets alone, also where images keep different counts ({@code mass}).
 */
class DenseReductionTest {
    static final int PATCHES = 16;

    private static NDArray images(NDManager m, int b, long seed) {
        Random rnd = new Random(seed);
        float[] img = new float[b * 3 * 16 * 16];
        for (int i = 0; i < img.length; i++) {
            img[i] = (float) rnd.nextGaussian();
        }
        return m.create(img, new Shape(b, 3, 16, 16));
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "attn:keep=1..1,start=0,min=1", "attn:keep=1..1,start=0,min=1,llf=true", "evit:keep=1.0,at=0/1/2,fuse=false",
        "evit:keep=1.0,at=1,fuse=false,llf=true", "random:R=0,llf=false", "random:keep=1.0,at=1", "tome:r=0"})
    void aReducerThatKeepsEverythingGivesTheUnreducedDenseOutputs(String spec) {
        try (VisionTransformer vit = VisionTransformer.random(PatchGridTest.small(), 3);
             DenseModel dense = DenseModel.fresh(vit, List.of("a", "b"), 4);
             NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            NDArray x = images(m, 2, 1);
            float[] plain = dense.maps(x, Reducers.NONE).toFloatArray();
            float[] reduced = dense.maps(x, Reducers.parse(spec, vit)).toFloatArray();
            assertThat(reduced).hasSameSizeAs(plain);
            for (int i = 0; i < plain.length; i++) {
                assertThat(reduced[i]).as(spec + " value " + i).isCloseTo(plain[i], offset(1e-4f));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"attn:keep=0.7..0.3,start=0,min=2", "attn:keep=0.7..0.3,start=0,min=2,llf=true",
        "attn:keep=0.9..0.5,start=0,min=2,mass=0.6", "evit:keep=0.5,at=1/2,fuse=true",
        "evit:keep=0.5,at=1/2,fuse=false", "evit:keep=0.5,at=1/2,fuse=true,llf=true", "random:keep=0.5,at=0/2",
        "random:R=3,llf=false,seed=2", "random:R=3,llf=true,seed=2"})
    void onIdentityBlocksThePrunedGridIsThePatchEmbeddingInOriginalOrder(String spec) {
        try (VisionTransformer vit = VisionTransformer.random(PatchGridTest.small(), 3);
             NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            vit.useEagerBlocks(true);
            for (Map.Entry<String, NDArray> e : vit.parameters().entrySet()) {
                if (e.getKey().matches("blocks\\.\\d+\\.(attn\\.proj|mlp\\.fc2)\\.(weight|bias)")) {
                    e.getValue().muli(0);
                }
            }
            NDArray x = images(m, 3, 7);
            NDArray embedded = vit.embed(x).get(new NDIndex(":, 1:, :"));
            TokenReducer r = Reducers.parse(spec, vit);
            Tokens t = vit.forwardTokens(x, r, null, false, true);
            if (!spec.contains("llf=true")) {
                assertThat(t.count() - (spec.contains("fuse=true") ? 2 : 0)).as(spec + " prunes").isLessThan(1 + PATCHES);
            }
            float[] grid = t.patchGrid(PATCHES).toFloatArray();
            float[] want = embedded.toFloatArray();
            assertThat(grid).hasSameSizeAs(want);
            for (int i = 0; i < want.length; i++) {
                assertThat(grid[i]).as(spec + " value " + i).isCloseTo(want[i], offset(1e-5f));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"attn:keep=0.7..0.3,start=0,min=2", "attn:keep=0.9..0.4,start=0,min=2,mass=0.5",
        "attn:keep=0.7..0.3,start=1,min=2,llf=true", "evit:keep=0.5,at=1/2,fuse=true", "random:R=3,llf=false,seed=2",
        "tome:r=3"})
    void aBatchGivesEachImageItsOwnDenseOutputs(String spec) {
        try (VisionTransformer vit = VisionTransformer.random(PatchGridTest.small(), 3);
             DenseModel dense = DenseModel.fresh(vit, List.of("a", "b"), 4);
             NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            TokenReducer r = Reducers.parse(spec, vit);
            NDArray x = images(m, 4, 11);
            float[] batch = dense.maps(x, r).toFloatArray();
            int per = batch.length / 4;
            for (int i = 0; i < 4; i++) {
                float[] one = dense.maps(x.get(new NDIndex("{}:{}", i, i + 1)), r).toFloatArray();
                for (int j = 0; j < per; j++) {
                    assertThat(one[j]).as(spec + " image " + i + " value " + j).isCloseTo(batch[i * per + j],
                            offset(1e-4f));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"attn:keep=0.7..0.3,start=0,min=2,llf=true", "evit:keep=0.5,at=1/2,fuse=true,llf=true"})
    void lastLayerFusionBringsEveryPrunedTokenBackAndTheMacCountSaysSo(String spec) {
        try (VisionTransformer vit = VisionTransformer.random(PatchGridTest.small(), 3);
             NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            TokenReducer r = Reducers.parse(spec, vit);
            Tokens t = vit.forwardTokens(images(m, 2, 3), r, null, false, false);
            // every patch position is a token again in the last block (plus EViT's fused tokens, at position -1)
            for (int i = 0; i < 2; i++) {
                boolean[] seen = new boolean[PATCHES + 1];
                for (int j = 0; j < t.count(); j++) {
                    long p = t.positions[i * t.count() + j];
                    if (p >= 0) {
                        assertThat(seen[(int) p]).as(spec + ": position " + p + " twice").isFalse();
                        seen[(int) p] = true;
                    }
                }
                for (int p = 0; p <= PATCHES; p++) {
                    assertThat(seen[p]).as(spec + ": position " + p).isTrue();
                }
            }
            assertThat(t.stash).isEmpty();
            int[] counts = Macs.plan(vit.config(), r).attnTokens();
            assertThat(counts[counts.length - 1]).as(spec + " tokens entering the last block").isEqualTo(t.count());
        }
    }
}
