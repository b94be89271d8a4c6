package dev.vitrim.spark;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.data.DataHome;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.engine.Torch;
import dev.vitrim.eval.Evaluation;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Spark evaluation and sweep against the single-machine {@link Evaluation#run}. */
class EvaluateTest {
    static final int LIMIT = 600;
    static final int BATCH = 32;

    @TempDir
    Path tmp;

    /** The single-machine evaluation, as {@code vitrim eval --limit} runs it. */
    static Evaluation.Result single(String model, String data, String reduce, int limit) {
        Torch.engine();
        try (VisionTransformer vit = VisionTransformer.load(Path.of(model), 0)) {
            TokenReducer r = Reducers.parse(reduce, vit);
            LabeledImages d = Datasets.load(Datasets.parse(data), DataHome.root(), vit.config().preprocess());
            if (limit < d.size()) {
                int[] first = new int[limit];
                for (int i = 0; i < limit; i++) {
                    first[i] = i;
                }
                d = d.subset(first, d.name());
            }
            return Evaluation.run(vit, d, new ImageTransform(vit.config().preprocess(), 0, false), r, BATCH, null);
        }
    }

    static void assertSame(Evaluation.Result spark, Evaluation.Result ref) {
        assertThat(spark.images()).isEqualTo(ref.images());
        assertThat(spark.top1()).isEqualTo(ref.top1());
        assertThat(spark.top5()).isEqualTo(ref.top5());
        assertThat(spark.perClass()).containsExactly(ref.perClass());
        assertThat(spark.meanTokens()).containsExactly(ref.meanTokens());
        assertThat(spark.perClassTokens()).containsExactly(ref.perClassTokens());
        assertThat(spark.gmacs()).isEqualTo(ref.gmacs());
        assertThat(spark.imagesPerS()).isPositive();
    }

    @Test
    void mnistEqualsTheSingleMachineEvaluationExactly() {
        SparkTestSupport.mnistTest();
        String model = SparkTestSupport.model("mnist-vit.safetensors");
        String reduce = "attn:keep=0.8..0.4,start=2,mass=0.9"; // per-image token counts: the sums are not trivial
        ModelSpec spec = ModelSpec.of(model).withReduce(reduce).withBatch(BATCH);
        Evaluation.Result spark = VitrimSpark.evaluate(SparkTestSupport.spark(), "mnist:test", spec, LIMIT, 5);
        assertSame(spark, single(model, "mnist:test", reduce, LIMIT));
    }

    @Test
    void aFolderOfClassFoldersEqualsTheSingleMachineEvaluation() throws Exception {
        SparkTestSupport.writePngs(SparkTestSupport.mnistTest(), 150, tmp);
        String model = SparkTestSupport.model("mnist-vit.safetensors");
        ModelSpec spec = ModelSpec.of(model).withBatch(BATCH);
        Evaluation.Result spark = VitrimSpark.evaluate(SparkTestSupport.spark(), "folder:" + tmp, spec, 0, 3);
        assertSame(spark, single(model, "folder:" + tmp, "none", Integer.MAX_VALUE));
    }

    @Test
    void aSweepGivesOneRowPerSpecEqualToItsOwnEvaluation() {
        SparkTestSupport.mnistTest();
        String model = SparkTestSupport.model("mnist-vit.safetensors");
        List<String> specs = List.of("none", "tome:r=8", "evit:keep=0.7,at=2/4", "random:keep=0.7,at=2/4,seed=0");
        int limit = 256;
        List<Row> rows = VitrimSpark.sweep(SparkTestSupport.spark(), "mnist:test", ModelSpec.of(model).withBatch(BATCH),
                specs, limit, 3).collectAsList();
        assertThat(rows).extracting(r -> r.getString(0)).containsExactlyElementsOf(specs);
        try (VisionTransformer vit = VisionTransformer.load(Path.of(model), 0)) {
            for (Row r : rows) {
                String spec = r.getString(0);
                Evaluation.Result ref = single(model, "mnist:test", spec, limit);
                assertThat(r.getInt(1)).isEqualTo(limit);
                assertThat(r.getDouble(2)).as(spec).isEqualTo(ref.top1());
                assertThat(r.getDouble(3)).as(spec).isEqualTo(ref.top5());
                // fixed schedules: the analytic count of reduce.Macs
                assertThat(r.getDouble(4)).as(spec)
                        .isEqualTo(Macs.plan(vit.config(), Reducers.parse(spec, vit)).gmacs());
                assertThat(r.getDouble(5)).isPositive();
            }
        }
        assertThat(rows.get(1).getDouble(4)).isLessThan(rows.get(0).getDouble(4));
    }

    @Test
    void slicesStartOnBatchBoundariesAndCoverEveryImage() {
        for (int n : new int[] {1, 31, 32, 33, 600, 1000}) {
            for (int parts : new int[] {1, 2, 5, 64}) {
                List<int[]> s = EvalJob.slices(n, BATCH, parts);
                assertThat(s.get(0)[0]).isZero();
                assertThat(s.get(s.size() - 1)[1]).isEqualTo(n);
                assertThat(s.size()).isLessThanOrEqualTo(parts);
                for (int i = 0; i < s.size(); i++) {
                    assertThat(s.get(i)[0] % BATCH).isZero();
                    assertThat(s.get(i)[1]).isGreaterThan(s.get(i)[0]);
                    if (i > 0) {
                        assertThat(s.get(i)[0]).isEqualTo(s.get(i - 1)[1]);
                    }
                }
            }
        }
    }
}
