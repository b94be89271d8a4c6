package dev.vitrim.onnx;

import static dev.vitrim.onnx.Fixtures.maxAbsDiff;
import static dev.vitrim.onnx.Fixtures.npy;
import static dev.vitrim.onnx.Fixtures.path;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.VitrimException;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.engine.Torch;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Dense models exported with their reducer: ONNX Runtime's maps on the patch grid equal vitrim's
 * ({@code DenseModel.maps}) within 1e-4 — Last Layer Fusion's stash put back in patch order, ToMe's merged tokens
 * copied to every patch they hold — and reducers that drop patches for good are refused as vitrim refuses them.
 */
class OnnxDenseTest {
    static DenseModel dense;

    @BeforeAll
    static void load() {
        dense = DenseModel.fresh(VisionTransformer.load(path("reduce/deep197_cropr.safetensors"), 4),
                List.of("a", "b", "c"), 1);
    }

    @AfterAll
    static void close() {
        dense.close();
    }

    static FloatTensor vitrimMaps(FloatTensor x, TokenReducer r) {
        try (NDManager m = dense.backbone().manager().newSubManager()) {
            Torch.inference();
            NDArray images = m.create(x.data(), new Shape(x.shape()));
            NDArray maps = dense.maps(images, r);
            return new FloatTensor(maps.getShape().getShape(), maps.toFloatArray());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "cropr:R=8,llf=true", "cropr:R=30,llf=true,invert=true", "random:R=8,llf=true",
        "tome:r=8", "tome:r=20/18/16/14/12/10", "tome:r=60"})
    void mapsMatchVitrim(String spec) {
        FloatTensor x = npy("input224_b2.npy");
        TokenReducer r = Reducers.parse(spec, dense.backbone());
        FloatTensor want = vitrimMaps(x, r);
        byte[] graph = OnnxExport.buildDense(dense, r, OnnxExport.Options.defaults()).toByteArray();
        try (OnnxModel ort = OnnxModel.of(graph, 1, spec)) {
            FloatTensor got = ort.forward(x);
            assertThat(got.shape()).containsExactly(2, dense.channels(), 14, 14);
            assertThat(maxAbsDiff(got, want)).as("maps, ONNX Runtime vs vitrim").isLessThanOrEqualTo(1e-4);
        }
    }

    @Test
    void reducersThatDropPatchesAreRefused() {
        for (String spec : new String[] {"evit", "attn", "cropr:R=8,llf=false", "random:keep=0.7"}) {
            TokenReducer r = Reducers.parse(spec, dense.backbone());
            assertThatThrownBy(() -> OnnxExport.buildDense(dense, r, OnnxExport.Options.defaults()))
                    .as(spec).isInstanceOf(VitrimException.class).hasMessageContaining("drops patches for good");
        }
        TokenReducer chain = Reducers.parse("cropr:R=8,llf=true+tome:r=4", dense.backbone());
        assertThatThrownBy(() -> OnnxExport.buildDense(dense, chain, OnnxExport.Options.defaults()))
                .isInstanceOf(VitrimException.class).hasMessageContaining("tome alone");
    }
}
