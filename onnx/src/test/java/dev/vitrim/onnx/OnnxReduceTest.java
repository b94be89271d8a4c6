package dev.vitrim.onnx;

import static dev.vitrim.onnx.Fixtures.maxAbsDiff;
import static dev.vitrim.onnx.Fixtures.npy;
import static dev.vitrim.onnx.Fixtures.path;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every reducer with fixed counts exported with its steps as graph operators, on the 6-block 197-token golden model:
 * ONNX Runtime's logits within 1e-4 of vitrim's and (where the case has one) of the independent PyTorch reference
 * (tools/reference_reduce.py), and the graph's token positions after every block equal to the ones vitrim's trace
 * records (and the reference's).
 */
class OnnxReduceTest {
    static VisionTransformer plain;
    static VisionTransformer cropr;
    static VisionTransformer distilled;

    @BeforeAll
    static void load() {
        plain = VisionTransformer.load(path("deep197.safetensors"), 4);
        cropr = VisionTransformer.load(path("reduce/deep197_cropr.safetensors"), 4);
        distilled = VisionTransformer.load(path("deit_distilled.safetensors"), 4);
    }

    @AfterAll
    static void close() {
        plain.close();
        cropr.close();
        distilled.close();
    }

    static Stream<Arguments> cases() throws IOException {
        JsonNode all = new ObjectMapper().readTree(path("reduce/cases.json").toFile()).get("cases");
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : all) {
            String spec = c.get("spec").asText();
            if (!spec.contains("mass")) { // per-image counts: refused by the export (OnnxExportGoldenTest)
                out.add(Arguments.of(c.get("case").asText(), spec));
            }
        }
        // no reference fixture: vitrim is the reference (its own golden tests tie it to PyTorch)
        out.add(Arguments.of("-", "random:keep=0.7,at=1/3/4,seed=0"));
        out.add(Arguments.of("-", "random"));
        out.add(Arguments.of("-", "evit"));
        out.add(Arguments.of("-", "attn"));
        out.add(Arguments.of("-", "tome"));
        out.add(Arguments.of("-", "random:R=8,llf=true,seed=3"));
        out.add(Arguments.of("-", "random:R=12,llf=false,seed=1"));
        out.add(Arguments.of("-", "evit:keep=0.6,at=1,fuse=true+tome:r=0/0/8/8/8/8"));
        out.add(Arguments.of("-", "tome:r=8/8/0/0/0/0+attn:keep=0.8..0.5,start=3,avg=1"));
        out.add(Arguments.of("-", "cropr:R=8,llf=true+tome:r=4"));
        out.add(Arguments.of("distilled", "tome:r=3"));
        out.add(Arguments.of("distilled", "tome:r=2/4/1"));
        out.add(Arguments.of("distilled", "evit:keep=0.5,at=1,fuse=true"));
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void matchesVitrimAndReference(String name, String spec) throws IOException {
        VisionTransformer vit = name.equals("distilled") ? distilled : spec.startsWith("cropr") ? cropr : plain;
        FloatTensor x = npy(vit == distilled ? "input_b2.npy" : "input224_b2.npy");
        TokenReducer r = Reducers.parse(spec, vit);
        Trace trace = new Trace();
        FloatTensor mine = vit.forward(x, r, trace);
        byte[] graph = OnnxExport.bytes(vit, r, OnnxExport.Options.defaults().withPositions(true));
        Map<String, Object> out;
        try (OnnxModel ort = OnnxModel.of(graph, 1, spec)) {
            out = ort.run(x, true);
        }
        FloatTensor logits = (FloatTensor) out.get(OnnxExport.OUTPUT);
        String ref = name.equals("-") || name.equals("distilled") ? "" : " (reference: "
                + maxAbsDiff(logits, npy("reduce/" + name + ".logits.npy")) + ")";
        assertThat(maxAbsDiff(logits, mine)).as("ONNX Runtime vs vitrim" + ref).isLessThanOrEqualTo(1e-4);
        if (!name.equals("-") && !name.equals("distilled")) {
            assertThat(maxAbsDiff(logits, npy("reduce/" + name + ".logits.npy"))).as("ONNX Runtime vs reference")
                    .isLessThanOrEqualTo(1e-4);
        }
        int depth = vit.config().depth();
        for (int img = 0; img < 2; img++) {
            List<Trace.Block> blocks = trace.images().get(img);
            assertThat(blocks).hasSize(depth);
            for (int b = 0; b < depth; b++) {
                long[] got = ((long[][]) out.get(OnnxExport.POSITIONS + b))[img].clone();
                Arrays.sort(got);
                assertThat(got).as("image %d positions after block %d", img, b).containsExactly(blocks.get(b).positions());
            }
        }
        if (!name.equals("-") && !name.equals("distilled")) { // and the reference's positions, block by block
            JsonNode want = new ObjectMapper().readTree(path("reduce/" + name + ".trace.json").toFile()).get("images");
            for (int img = 0; img < 2; img++) {
                JsonNode wb = want.get(img).get("blocks");
                for (int b = 0; b < depth; b++) {
                    JsonNode p = wb.get(b).get("positions");
                    long[] wp = new long[p.size()];
                    for (int i = 0; i < wp.length; i++) {
                        wp[i] = p.get(i).asLong();
                    }
                    Arrays.sort(wp);
                    long[] got = ((long[][]) out.get(OnnxExport.POSITIONS + b))[img].clone();
                    Arrays.sort(got);
                    assertThat(got).as("image %d block %d vs reference", img, b).containsExactly(wp);
                }
            }
        }
    }
}
