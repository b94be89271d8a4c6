package dev.vitrim.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.util.List;
import org.junit.jupiter.api.Test;

class EvaluationTest {
    @Test
    void perClassTokensAreTheMeanOverThatClassOfTheFewestTokensEachImageRanOn() {
        VitConfig c = EvalTestSupport.small();
        LabeledImages data = EvalTestSupport.digits(30);
        ImageTransform t = new ImageTransform(c.preprocess(), 0, false);
        try (VisionTransformer vit = VisionTransformer.random(c, 5)) {
            // sharper attention than the small random init gives, so that it depends on the image
            for (int b = 0; b < c.depth(); b++) {
                vit.parameters().get("blocks." + b + ".attn.qkv.weight").muli(4f);
            }
            TokenReducer mass = Reducers.parse("attn:start=3,keep=0.9..0.9,min=2,mass=0.5", c);
            Evaluation.Result r = Evaluation.run(vit, data, t, mass, 7, null);
            // independently: each image alone, its own trace, the minimum over blocks, averaged per label
            double[] sum = new double[10];
            int[] n = new int[10];
            int per = 3 * 28 * 28;
            java.util.Set<Integer> distinct = new java.util.HashSet<>();
            for (int i = 0; i < data.size(); i++) {
                float[] x = new float[per];
                t.apply(data, i, x, 0, null);
                Trace trace = new Trace();
                vit.forward(new FloatTensor(new long[] {1, 3, 28, 28}, x), mass, trace);
                List<Trace.Block> blocks = trace.images().get(0);
                int fewest = blocks.stream().mapToInt(Trace.Block::tokens).min().getAsInt();
                distinct.add(fewest);
                sum[data.label(i)] += fewest;
                n[data.label(i)]++;
            }
            assertThat(distinct).as("mass gives per-image counts here").hasSizeGreaterThan(1);
            for (int k = 0; k < 10; k++) {
                assertThat(r.perClassTokens()[k]).as("class " + k).isCloseTo(sum[k] / n[k], within(1e-9));
            }
            // a fixed schedule: every class ran on the schedule's fewest tokens
            Evaluation.Result fixed = Evaluation.run(vit, data, t, Reducers.parse("random:keep=0.5,at=2/4", c), 8, null);
            for (double v : fixed.perClassTokens()) {
                assertThat(v).isEqualTo(1 + 49); // CLS + 196 halved twice
            }
        }
    }

    @Test
    void agreementCountsChangedPredictionsAndLogitDifferencesAsOneImageAtATimeWould() {
        VitConfig c = EvalTestSupport.small();
        LabeledImages data = EvalTestSupport.digits(23);
        ImageTransform t = new ImageTransform(c.preprocess(), 0, false);
        try (VisionTransformer a = VisionTransformer.random(c, 5); VisionTransformer b = VisionTransformer.random(c, 5)) {
            TokenReducer none = Reducers.parse("none", c);
            Evaluation.Agreement same = Evaluation.agreement(a, b, data, t, none, 7);
            assertThat(same.changed()).isZero();
            assertThat(same.maxAbsDiff()).isZero();
            // a different model: plain loops over single images give the reference
            for (int blk = 0; blk < c.depth(); blk++) {
                b.parameters().get("blocks." + blk + ".mlp.fc2.weight").muli(3f);
            }
            b.parameters().get("head.bias").addi(0.05f);
            b.refreshCaches(); // weights changed in place: inference's copies of them follow
            Evaluation.Agreement got = Evaluation.agreement(a, b, data, t, none, 7);
            int k = c.numClasses();
            int changed = 0;
            int right = 0;
            double sum = 0;
            double max = 0;
            double ref = 0;
            for (int i = 0; i < data.size(); i++) {
                float[] x = new float[3 * 28 * 28];
                t.apply(data, i, x, 0, null);
                float[] la = a.forward(new FloatTensor(new long[] {1, 3, 28, 28}, x), none, null).data();
                float[] lb = b.forward(new FloatTensor(new long[] {1, 3, 28, 28}, x), none, null).data();
                int ia = 0;
                int ib = 0;
                for (int j = 0; j < k; j++) {
                    ia = la[j] > la[ia] ? j : ia;
                    ib = lb[j] > lb[ib] ? j : ib;
                    sum += Math.abs(la[j] - lb[j]);
                    max = Math.max(max, Math.abs(la[j] - lb[j]));
                    ref += Math.abs(lb[j]);
                }
                changed += ia != ib ? 1 : 0;
                right += ib == data.label(i) ? 1 : 0;
            }
            assertThat(changed).as("the perturbation changes some predictions").isPositive();
            assertThat(got.images()).isEqualTo(23);
            assertThat(got.changed()).isEqualTo(changed);
            assertThat(got.refTop1()).isCloseTo(right / 23.0, within(1e-12));
            assertThat(got.meanAbsDiff()).isCloseTo(sum / (23.0 * k), within(1e-5));
            assertThat(got.maxAbsDiff()).isCloseTo(max, within(1e-5));
            assertThat(got.meanAbsRef()).isCloseTo(ref / (23.0 * k), within(1e-5));
        }
    }
}
