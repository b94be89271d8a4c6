package dev.vitrim.onnx;

import static dev.vitrim.onnx.Fixtures.maxAbsDiff;
import static dev.vitrim.onnx.Fixtures.npy;
import static dev.vitrim.onnx.Fixtures.path;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The unreduced export of every golden checkpoint variant, run on ONNX Runtime: logits within 1e-4 of the independent
 * PyTorch reference and of vitrim's own forward.
 */
class OnnxExportGoldenTest {
    static final double TOL = 1e-4;

    @ParameterizedTest(name = "{0} opset {4}")
    @CsvSource({
        "vit_timm.safetensors, 4, input_b2.npy, vit_timm.logits.npy, 17",
        "vit_timm.safetensors, 4, input_b2.npy, vit_timm.logits.npy, 20",
        "vit_hf, 0, input_b2.npy, vit_hf.logits.npy, 17",
        "vit_f16.safetensors, 4, input_b2.npy, vit_f16.logits.npy, 17",
        "deit_distilled.safetensors, 4, input_b2.npy, deit_distilled.logits.npy, 17",
        "deit3_ls.safetensors, 4, input_b2.npy, deit3_ls.logits.npy, 18",
        "vit_gap.safetensors, 4, input_b2.npy, vit_gap.logits.npy, 17",
        "deep197.safetensors, 4, input224_b2.npy, deep197.logits.npy, 17",
        "vit224, 0, dog.vit224.input.npy, dog.vit224.logits.npy, 17",
    })
    void logitsMatchReference(String model, int heads, String input, String expected, int opset) {
        FloatTensor x = npy(input);
        FloatTensor want = npy(expected);
        try (VisionTransformer vit = VisionTransformer.load(path(model), heads)) {
            byte[] graph = OnnxExport.bytes(vit, Reducers.NONE, new OnnxExport.Options(opset, 0, false));
            try (OnnxModel ort = OnnxModel.of(graph, 1, model)) {
                FloatTensor got = ort.forward(x);
                assertThat(maxAbsDiff(got, want)).as("ONNX Runtime vs the PyTorch reference").isLessThanOrEqualTo(TOL);
                assertThat(maxAbsDiff(got, vit.forward(x))).as("ONNX Runtime vs vitrim").isLessThanOrEqualTo(TOL);
            }
        }
    }

    @Test
    void dynamicBatchTakesAnyBatchAndFixedBatchRefusesOthers(@TempDir Path dir) throws java.io.IOException {
        FloatTensor x = npy("input_b2.npy");
        try (VisionTransformer vit = VisionTransformer.load(path("vit_timm.safetensors"), 4)) {
            Path file = dir.resolve("vit.onnx");
            OnnxExport.write(vit, Reducers.NONE, OnnxExport.Options.defaults(), file);
            assertThat(Files.size(file)).isGreaterThan(4L * 100_000); // the weights are inside
            try (OnnxModel ort = OnnxModel.open(file, 1)) {
                assertThat(ort.inputShape()).containsExactly(-1, 3, 32, 32);
                FloatTensor both = ort.forward(x);
                FloatTensor second = ort.forward(Fixtures.image(x, 1));
                for (int k = 0; k < 10; k++) {
                    assertThat((double) second.data()[k]).isCloseTo(both.data()[10 + k],
                            org.assertj.core.data.Offset.offset(1e-5));
                }
                assertThat(ort.metadata()).containsEntry(OnnxExport.META_SPEC, "none");
            }
            byte[] fixed = OnnxExport.bytes(vit, Reducers.NONE, new OnnxExport.Options(17, 2, false));
            try (OnnxModel ort = OnnxModel.of(fixed, 1, "fixed")) {
                assertThat(ort.inputShape()).containsExactly(2, 3, 32, 32);
                assertThatThrownBy(() -> ort.forward(Fixtures.image(x, 0))).isInstanceOf(VitrimException.class)
                        .hasMessageContaining("[1, 3, 32, 32]").hasMessageContaining("[2, 3, 32, 32]");
            }
        }
    }

    @Test
    void refusesWhatItCannotWrite() {
        try (VisionTransformer vit = VisionTransformer.load(path("deep197.safetensors"), 4)) {
            assertThatThrownBy(() -> OnnxExport.bytes(vit, Reducers.parse("attn:mass=0.9", vit),
                    OnnxExport.Options.defaults())).isInstanceOf(VitrimException.class)
                    .hasMessageContaining("mass").hasMessageContaining("per-image");
            assertThatThrownBy(() -> new OnnxExport.Options(16, 0, false)).isInstanceOf(VitrimException.class)
                    .hasMessageContaining("--opset 16");
            assertThatThrownBy(() -> OnnxExport.bytes(vit, Reducers.parse("cropr:R=8", vit),
                    OnnxExport.Options.defaults())).isInstanceOf(VitrimException.class)
                    .hasMessageContaining("cropr.0.cross_attn.queries");
        }
    }
}
