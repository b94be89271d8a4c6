package dev.vitrim.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.vitrim.engine.Torch;
import dev.vitrim.infer.Classification;
import dev.vitrim.infer.Classifier;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Spark classification against the single-machine {@link Classifier}, row by row. */
class ClassifyTest {
    @TempDir
    static Path tmp;
    static List<Path> files;
    static Path truncated;
    static Path text;

    @BeforeAll
    static void images() throws Exception {
        files = SparkTestSupport.writePngs(SparkTestSupport.mnistTest(), 300, tmp.resolve("digits"));
        Files.createDirectories(tmp.resolve("bad"));
        byte[] png = Files.readAllBytes(files.get(0));
        truncated = Files.write(tmp.resolve("bad/truncated.png"), java.util.Arrays.copyOf(png, png.length / 2));
        text = Files.writeString(tmp.resolve("bad/notes.png"), "not an image");
    }

    @Test
    void equalsTheSingleMachineClassifierRowByRow() {
        check("none");
    }

    @Test
    void reducedWithPerImageCountsEqualsTheClassifierAndItsTrace() {
        check("attn:keep=0.8..0.4,start=2,mass=0.9");
    }

    private void check(String reduce) {
        String model = SparkTestSupport.model("mnist-vit.safetensors");
        SparkSession spark = SparkTestSupport.spark();
        ModelSpec spec = ModelSpec.of(model).withReduce(reduce).withTop(10);
        Dataset<Row> in = VitrimSpark.images(spark, tmp.resolve("digits").toString(), tmp.resolve("bad").toString())
                .repartition(6);
        List<Row> rows = VitrimSpark.classify(in, spec).collectAsList();
        assertThat(rows).hasSize(files.size() + 2);
        Map<String, Row> byFile = new HashMap<>();
        for (Row r : rows) {
            assertThat(byFile.put(r.getAs("file"), r)).as("one row per file").isNull();
        }

        // the reference: the single-machine classifier on the same files, one trace over the readable images
        Torch.engine();
        List<Classification> ref;
        Trace trace = new Trace();
        try (VisionTransformer vit = VisionTransformer.load(Path.of(model), 0)) {
            TokenReducer r = Reducers.parse(reduce, vit);
            ref = new Classifier(vit, vit.config().preprocess(), r).classify(files, 10, false, 8, trace, null);
        }
        for (int i = 0; i < files.size(); i++) {
            Classification c = ref.get(i);
            Row row = byFile.get(files.get(i).toString());
            assertThat(row).as(files.get(i).toString()).isNotNull();
            assertThat((String) row.getAs("error")).isNull();
            assertThat((String) row.getAs("top1")).isEqualTo(c.top().get(0).label());
            assertThat((double) row.getAs("prob")).isCloseTo(c.top().get(0).prob(), within(1e-5));
            List<Row> topk = row.getList(row.fieldIndex("topk"));
            assertThat(topk).hasSize(10);
            Map<Integer, Double> probs = new HashMap<>();
            for (Row t : topk) {
                probs.put(t.getInt(1), t.getDouble(2));
                assertThat(t.getString(0)).isEqualTo(String.valueOf(t.getInt(1))); // MNIST labels are the digits
            }
            for (Classification.Top t : c.top()) {
                assertThat(probs.get(t.index())).as("%s class %d", files.get(i), t.index())
                        .isCloseTo(t.prob(), within(1e-5));
            }
            List<Trace.Block> blocks = trace.images().get(i);
            assertThat((int) row.getAs("tokens_kept")).isEqualTo(blocks.get(blocks.size() - 1).tokens());
        }
        for (Path bad : List.of(truncated, text)) {
            Row row = byFile.get(bad.toString());
            assertThat(row).as(bad.toString()).isNotNull();
            assertThat((String) row.getAs("error")).startsWith(bad.toString() + ":");
            assertThat((String) row.getAs("top1")).isNull();
            assertThat(row.isNullAt(row.fieldIndex("topk"))).isTrue();
        }
    }

    @Test
    void aPathColumnIsReadOnTheExecutors() {
        String model = SparkTestSupport.model("mnist-vit.safetensors");
        SparkSession spark = SparkTestSupport.spark();
        List<String> paths = List.of(files.get(0).toString(), text.toString(), tmp.resolve("missing.png").toString());
        Dataset<Row> in = spark.createDataset(paths, org.apache.spark.sql.Encoders.STRING()).toDF("path");
        List<Row> rows = VitrimSpark.classify(in, ModelSpec.of(model)).collectAsList();
        assertThat(rows).extracting(r -> (String) r.getAs("file")).containsExactlyElementsOf(paths);
        assertThat((String) rows.get(0).getAs("error")).isNull();
        assertThat((String) rows.get(1).getAs("error")).startsWith(text + ":");
        assertThat((String) rows.get(2).getAs("error")).contains("missing.png").contains("no such file");
    }

    @Test
    void theModelIsLoadedOncePerExecutorJvm() {
        // a model no other test loads, so the count starts at its first use
        String model = SparkTestSupport.model("fmnist-vit.safetensors");
        SparkSession spark = SparkTestSupport.spark();
        Dataset<Row> in = VitrimSpark.images(spark, tmp.resolve("digits").toString()).repartition(8);
        int before = ModelCache.loads();
        assertThat(VitrimSpark.classify(in, ModelSpec.of(model)).count()).isEqualTo(files.size());
        assertThat(ModelCache.loads() - before).as("8 tasks on 2 slots, one JVM").isEqualTo(1);
        assertThat(VitrimSpark.classify(in, ModelSpec.of(model).withReduce("tome:r=4")).count())
                .isEqualTo(files.size());
        assertThat(ModelCache.loads() - before).as("a second job and another reducer reuse it").isEqualTo(1);
        // local[2]: two task slots, so each forward runs on one thread
        assertThat(ModelCache.threads()).isEqualTo(
                Threads.perTask("local[2]", null, 1, Runtime.getRuntime().availableProcessors()));
    }
}
