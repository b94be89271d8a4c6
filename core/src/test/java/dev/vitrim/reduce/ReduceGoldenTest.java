package dev.vitrim.reduce;

import static dev.vitrim.Golden.npy;
import static dev.vitrim.Golden.path;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.Golden;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every reducer against the independent PyTorch reference (tools/reference_reduce.py) on a 6-block,
 * 197-token model: logits within 1e-4 and, block by block, the same token counts and original positions.
 */
class ReduceGoldenTest {
    static VisionTransformer plain;
    static VisionTransformer cropr;
    static JsonNode cases;

    @BeforeAll
    static void load() throws IOException {
        plain = VisionTransformer.load(path("deep197.safetensors"), 4);
        cropr = VisionTransformer.load(path("reduce/deep197_cropr.safetensors"), 4);
        cases = new ObjectMapper().readTree(path("reduce/cases.json").toFile());
    }

    @AfterAll
    static void close() {
        plain.close();
        cropr.close();
    }

    static Stream<Arguments> cases() throws IOException {
        JsonNode all = new ObjectMapper().readTree(path("reduce/cases.json").toFile()).get("cases");
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : all) {
            out.add(Arguments.of(c.get("case").asText(), c.get("spec").asText()));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void matchesReference(String name, String spec) throws IOException {
        VisionTransformer vit = spec.startsWith("cropr") ? cropr : plain;
        TokenReducer r = Reducers.parse(spec, vit.config());
        Trace trace = new Trace();
        FloatTensor x = npy("input224_b2.npy");
        FloatTensor y = vit.forward(x, r, trace);
        Golden.assertClose(y, npy("reduce/" + name + ".logits.npy"), 1e-4);

        JsonNode want = new ObjectMapper().readTree(path("reduce/" + name + ".trace.json").toFile()).get("images");
        assertThat(trace.images()).hasSize(want.size());
        for (int img = 0; img < want.size(); img++) {
            JsonNode blocks = want.get(img).get("blocks");
            List<Trace.Block> got = trace.images().get(img);
            assertThat(got).hasSize(blocks.size());
            for (int b = 0; b < blocks.size(); b++) {
                JsonNode wb = blocks.get(b);
                Trace.Block gb = got.get(b);
                assertThat(gb.block()).isEqualTo(wb.get("block").asInt());
                assertThat(gb.tokens()).as("image %d block %d tokens", img, b).isEqualTo(wb.get("tokens").asInt());
                long[] wp = new long[wb.get("positions").size()];
                for (int i = 0; i < wp.length; i++) {
                    wp[i] = wb.get("positions").get(i).asLong();
                }
                Arrays.sort(wp);
                assertThat(gb.positions()).as("image %d block %d positions", img, b).containsExactly(wp);
            }
        }

        // a batch gives each image the same result as running it alone
        int d = x.data().length / 2;
        for (int img = 0; img < 2; img++) {
            FloatTensor one = new FloatTensor(new long[] {1, 3, 224, 224},
                    Arrays.copyOfRange(x.data(), img * d, (img + 1) * d));
            FloatTensor alone = vit.forward(one, r, null);
            float[] inBatch = Arrays.copyOfRange(y.data(), img * 10, (img + 1) * 10);
            for (int k = 0; k < 10; k++) {
                assertThat((double) alone.data()[k]).isCloseTo(inBatch[k], org.assertj.core.data.Offset.offset(1e-4));
            }
        }
    }
}
