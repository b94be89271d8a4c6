package dev.vitrim.onnx;

import static dev.vitrim.onnx.Fixtures.path;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.VitrimException;
import dev.vitrim.eval.OpProfile;
import dev.vitrim.eval.OpProfile.Kind;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** ONNX Runtime's profile read into the kinds of vitrim's own split. */
class OrtProfileTest {
    @Test
    void productsAreSplitByWhatTheyMultiply() {
        assertThat(OrtProfile.classify("MatMul", List.of(3, 2))).isEqualTo(Map.entry("MatMul (weights)", Kind.LINEAR));
        assertThat(OrtProfile.classify("MatMul", List.of(3)).getValue()).as("prepacked weight").isEqualTo(Kind.LINEAR);
        assertThat(OrtProfile.classify("FusedMatMul", List.of(4, 4)))
                .isEqualTo(Map.entry("FusedMatMul (attention)", Kind.ATTENTION));
        assertThat(OrtProfile.classify("MatMul", List.of(3, 3))).isEqualTo(Map.entry("MatMul (tokens)", Kind.SELECTION));
        assertThat(OrtProfile.classify("Gemm", List.of(2, 2, 1)).getValue()).isEqualTo(Kind.LINEAR);
        assertThat(OrtProfile.classify("Softmax", List.of(4)).getValue()).isEqualTo(Kind.ATTENTION);
        assertThat(OrtProfile.classify("LayerNormalization", List.of(3, 1, 1)).getValue()).isEqualTo(Kind.NORM);
        assertThat(OrtProfile.classify("Erf", List.of(3)).getValue()).isEqualTo(Kind.ELEMENTWISE);
        assertThat(OrtProfile.classify("TopK", List.of(2, 1)).getValue()).isEqualTo(Kind.SELECTION);
        assertThat(OrtProfile.classify("Transpose", List.of(4)).getValue()).isEqualTo(Kind.MEMORY);
        assertThat(OrtProfile.classify("SomethingNew", List.of()).getValue()).isEqualTo(Kind.OTHER);
    }

    @Test
    void onlyTheKernelsOfTheLastRunsCount() throws Exception {
        // two runs: the first (warm-up) is left out; fences and session events are not kernels
        String trace = "[" + String.join(",",
                run(0, 1000), kernel("a", "MatMul", 10, 500, "[1,5,8]", "[8,16]"),
                run(2000, 1000), kernel("b", "MatMul", 2010, 300, "[1,5,8]", "[8,16]"),
                kernel("c", "MatMul", 2400, 100, "[1,2,5,4]", "[1,2,4,5]"), kernel("d", "Add", 2600, 50, "[1,5,16]"),
                "{\"cat\":\"Node\",\"name\":\"b_fence_before\",\"ph\":\"X\",\"ts\":2005,\"dur\":900,\"args\":{}}")
                + "]";
        OpProfile p = OrtProfile.parse(new ObjectMapper().readTree(trace), 1.2, 1);
        assertThat(p.wallMs()).isEqualTo(1.2);
        assertThat(p.msByKind().get(Kind.LINEAR)).isCloseTo(0.3, within(1e-9));
        assertThat(p.msByKind().get(Kind.ATTENTION)).isCloseTo(0.1, within(1e-9));
        assertThat(p.msByKind().get(Kind.ELEMENTWISE)).isCloseTo(0.05, within(1e-9));
        assertThat(p.outsideMs()).isCloseTo(1.2 - 0.45, within(1e-9));
        assertThat(p.ops().get(0).name()).isEqualTo("MatMul (weights)");
        assertThat(p.ops().get(0).calls()).isEqualTo(1.0);
        assertThatThrownBy(() -> OrtProfile.parse(new ObjectMapper().readTree(trace), 1.0, 3))
                .isInstanceOf(VitrimException.class).hasMessageContaining("2 model runs, 3 expected");
    }

    private static String run(double ts, double dur) {
        return "{\"cat\":\"Session\",\"name\":\"model_run\",\"ph\":\"X\",\"ts\":" + ts + ",\"dur\":" + dur + "}";
    }

    private static String kernel(String node, String op, double ts, double dur, String... shapes) {
        StringBuilder in = new StringBuilder();
        for (String s : shapes) {
            in.append(in.length() == 0 ? "" : ",").append("{\"float\":").append(s).append("}");
        }
        return "{\"cat\":\"Node\",\"name\":\"" + node + "_kernel_time\",\"ph\":\"X\",\"ts\":" + ts + ",\"dur\":" + dur
                + ",\"args\":{\"op_name\":\"" + op + "\",\"input_type_shape\":[" + in + "]}}";
    }

    @Test
    void aProfiledGraphCountsEveryLinearLayerAndAttentionProduct() {
        try (VisionTransformer vit = VisionTransformer.load(path("deep197.safetensors"), 4)) {
            int depth = vit.config().depth();
            byte[] graph = OnnxExport.bytes(vit, Reducers.parse("tome:r=13"), OnnxExport.Options.defaults());
            int px = vit.config().imageSize();
            FloatTensor x = new FloatTensor(new long[] {1, 3, px, px}, new float[3 * px * px]);
            OpProfile p = OnnxModel.profile(graph, 1, "deep197 tome", x, 1, 2);
            double linear = 0;
            double attention = 0;
            double tokens = 0;
            for (OpProfile.Op o : p.ops()) {
                linear += o.kind() == Kind.LINEAR ? o.calls() : 0;
                attention += o.name().endsWith("(attention)") ? o.calls() : 0;
                tokens += o.name().endsWith("(tokens)") ? o.calls() : 0;
            }
            // per forward: four products per block, the patch embedding and the head; QK and AV per block
            assertThat(linear).isEqualTo(4.0 * depth + 2);
            assertThat(attention).isEqualTo(2.0 * depth);
            assertThat(tokens).as("ToMe's similarities and merges").isGreaterThan(0);
            assertThat(p.ops().stream().mapToDouble(OpProfile.Op::selfMs).sum()).isLessThanOrEqualTo(p.wallMs());
            assertThat(p.msByKind().get(Kind.LINEAR)).isGreaterThan(0);
        }
    }
}
