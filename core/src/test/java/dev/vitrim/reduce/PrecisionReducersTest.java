package dev.vitrim.reduce;

import static dev.vitrim.Golden.npy;
import static dev.vitrim.Golden.path;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.engine.Precision;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import java.io.IOException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every reducer of the golden cases (tools/reference_reduce.py's 6-block, 197-token model) under bf16 and int8
 * against float32: the same token counts block by block, and the fraction of kept original positions that differ.
 * The views reducers read (CLS attention, mean keys, ToMe's similarities) are computed in float32 from the low
 * precision queries and keys, so a selection flips only where two tokens' scores are within the products' rounding.
 *
 * <p>Bounds: pruning reducers (attn, EViT, Cropr) keep all but ≤ 1% (bf16) and ≤ 3% (int8) of the float32
 * positions; ToMe, whose bipartite matching picks among many near-equal cosine similarities, ≤ 10% and ≤ 15% (a flip
 * there swaps which of two nearly identical tokens absorbs the other). Measured on this model: bf16 0–0.25% for the
 * pruners, 4–6% for ToMe; int8 0–1.5% for the pruners and up to 10% for ToMe.
 */
class PrecisionReducersTest {
    static VisionTransformer plain;
    static VisionTransformer cropr;

    @BeforeAll
    static void load() {
        plain = VisionTransformer.load(path("deep197.safetensors"), 4);
        cropr = VisionTransformer.load(path("reduce/deep197_cropr.safetensors"), 4);
    }

    @AfterAll
    static void close() {
        plain.close();
        cropr.close();
    }

    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> cases() throws IOException {
        return ReduceGoldenTest.cases();
    }

    /** Kept positions of fp32 missing under the other precision, and all kept positions, summed over images and blocks. */
    static long[] differing(Trace a, Trace b) {
        long diff = 0;
        long all = 0;
        assertThat(b.images()).hasSameSizeAs(a.images());
        for (int img = 0; img < a.images().size(); img++) {
            List<Trace.Block> x = a.images().get(img);
            List<Trace.Block> y = b.images().get(img);
            assertThat(y).hasSameSizeAs(x);
            for (int k = 0; k < x.size(); k++) {
                Set<Long> want = new HashSet<>();
                for (long p : x.get(k).positions()) {
                    want.add(p);
                }
                for (long p : y.get(k).positions()) {
                    want.remove(p);
                }
                diff += want.size();
                all += x.get(k).positions().length;
            }
        }
        return new long[] {diff, all};
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void keptPositionsUnderBf16AndInt8(String name, String spec) {
        VisionTransformer vit = spec.startsWith("cropr") ? cropr : plain;
        TokenReducer r = Reducers.parse(spec, vit.config());
        FloatTensor x = npy("input224_b2.npy");
        try {
            vit.usePrecision(Precision.FP32);
            Trace fp32 = new Trace();
            vit.forward(x, r, fp32);
            StringBuilder line = new StringBuilder(name + " (" + spec + "):");
            double[] fractions = new double[2];
            for (Precision p : new Precision[] {Precision.BF16, Precision.INT8}) {
                vit.usePrecision(p);
                Trace t = new Trace();
                vit.forward(x, r, t);
                long[] d = differing(fp32, t);
                for (int img = 0; img < fp32.images().size(); img++) {
                    for (int k = 0; k < fp32.images().get(img).size(); k++) {
                        assertThat(t.images().get(img).get(k).tokens()).as("%s image %d block %d tokens", p, img, k)
                                .isEqualTo(fp32.images().get(img).get(k).tokens());
                    }
                }
                fractions[p == Precision.BF16 ? 0 : 1] = (double) d[0] / d[1];
                line.append(String.format(java.util.Locale.ROOT, " %s %d of %d kept positions differ (%.2f%%);",
                        p.label(), d[0], d[1], 100.0 * d[0] / d[1]));
            }
            System.out.println(line);
            boolean merges = r.merges();
            assertThat(fractions[0]).as("bf16: fraction of kept positions that differ")
                    .isLessThanOrEqualTo(merges ? 0.10 : 0.01);
            assertThat(fractions[1]).as("int8: fraction of kept positions that differ")
                    .isLessThanOrEqualTo(merges ? 0.15 : 0.03);
        } finally {
            vit.usePrecision(Precision.FP32);
        }
    }
}
