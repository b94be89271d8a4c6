package dev.vitrim.spark;

import dev.vitrim.VitrimException;
import dev.vitrim.dense.DenseDataset;
import dev.vitrim.dense.DenseEvaluator;
import dev.vitrim.eval.Evaluation;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.Tuple2;

/**
 * vitrim as Spark jobs: batch classification, segmentation and detection of image DataFrames, evaluation of a
 * labelled data set (top-1, or mIoU and COCO AP for a dense model) and reduction sweeps, distributed over the
 * executors.
 *
 * <p>Each executor JVM loads a model once (on the first task that needs it) and shares it between the tasks it
 * runs at once; tasks batch their rows. A task runs its forward passes on {@code spark.task.cpus} PyTorch threads
 * (1 by default), so the executor's concurrent tasks times their threads never exceed its cores; raise
 * {@code spark.task.cpus} for fewer, wider tasks, or fix the count with {@link ModelSpec#threads()}.
 *
 * <p>The model file must be readable on every executor: a shared path, or {@code spark-submit --files model.safetensors}
 * with the spec naming the same file. Data sets named like {@code mnist:test} are read from each executor's vitrim
 * data home ({@code VITRIM_DATA}, else {@code ~/.cache/vitrim}); a folder of class folders must be on a shared path.
 */
public final class VitrimSpark {
    private VitrimSpark() {}

    /**
     * The schema {@link #classify} returns: {@code file} (a local file's path, other URIs as they are),
     * {@code top1}, {@code prob}, {@code topk} array&lt;struct&lt;label, index, prob&gt;&gt; (most probable first),
     * {@code tokens_kept} (tokens leaving the last block, class token included) and {@code error} (null, or why the
     * image could not be read: then only {@code file} is set).
     */
    public static StructType classifySchema() {
        return ClassifyPartition.SCHEMA;
    }

    /**
     * Image files as a {@code binaryFile} DataFrame ({@code path, modificationTime, length, content}); folders are
     * read recursively. Spark skips names starting with {@code .} or {@code _}.
     */
    public static Dataset<Row> images(SparkSession spark, String... paths) {
        if (paths.length == 0) {
            throw new VitrimException("images: no paths given");
        }
        return spark.read().format("binaryFile").option("recursiveFileLookup", "true").load(paths);
    }

    /**
     * Classifies every row of {@code images}: a {@code binaryFile} DataFrame (a binary {@code content} column and a
     * {@code path} column) or any DataFrame with a string {@code path} column naming files each executor can read.
     * One output row per input row (schema {@link #classifySchema()}); a row whose image cannot be decoded gets an
     * {@code error} and does not fail the job. Rows are classified in batches of {@link ModelSpec#batch()} within each
     * partition, so partition the input for the parallelism wanted.
     */
    public static Dataset<Row> classify(Dataset<Row> images, ModelSpec spec) {
        int[] cols = imageColumns(images, "classify");
        return images.mapPartitions(new ClassifyPartition(spec, cols[0], cols[1]), Encoders.row(ClassifyPartition.SCHEMA));
    }

    /**
     * The schema {@link #segment} returns: {@code file}, {@code width} and {@code height} (the image's own),
     * {@code labels} (an 8-bit greyscale PNG at the image's size, one class index per pixel, 0 = background, as
     * {@code vitrim segment} writes {@code NAME.labels.png}), {@code pixels} (class → fraction of the image, background
     * included) and {@code error} (null, or why the image could not be read: then only {@code file} is set).
     */
    public static StructType segmentSchema() {
        return DensePartition.SEGMENT_SCHEMA;
    }

    /**
     * The schema {@link #detect} returns: {@code file}, {@code width}, {@code height}, {@code detections}
     * array&lt;struct&lt;label, category_id, score, bbox [x, y, w, h], segmentation&gt;&gt; (best first; {@code
     * category_id} = class index + 1 as in COCO files; {@code segmentation} the instance mask as a COCO compressed RLE
     * string at the image's size, or null) and {@code error}.
     */
    public static StructType detectSchema() {
        return DensePartition.DETECT_SCHEMA;
    }

    /**
     * Segments every row of {@code images} (as {@link #classify} takes them) with the dense model of {@code spec}:
     * one row per input row ({@link #segmentSchema()}), a bad image an {@code error} row; the model is loaded once
     * per executor and rows run in batches of {@link ModelSpec#batch()}.
     */
    public static Dataset<Row> segment(Dataset<Row> images, ModelSpec spec) {
        int[] cols = imageColumns(images, "segment");
        return images.mapPartitions(new DensePartition(spec, cols[0], cols[1], true),
                Encoders.row(DensePartition.SEGMENT_SCHEMA));
    }

    /** Detects objects and their instance masks in every row of {@code images}, as {@link #segment} segments. */
    public static Dataset<Row> detect(Dataset<Row> images, ModelSpec spec) {
        int[] cols = imageColumns(images, "detect");
        return images.mapPartitions(new DensePartition(spec, cols[0], cols[1], false),
                Encoders.row(DensePartition.DETECT_SCHEMA));
    }

    private static int[] imageColumns(Dataset<Row> images, String what) {
        StructType in = images.schema();
        List<String> names = Arrays.asList(in.fieldNames());
        int path = names.indexOf("path");
        if (path < 0 || !in.fields()[path].dataType().equals(DataTypes.StringType)) {
            throw new VitrimException(what + ": the images need a string column 'path' (columns: " + names + ")");
        }
        int content = names.indexOf("content");
        if (content >= 0 && !in.fields()[content].dataType().equals(DataTypes.BinaryType)) {
            throw new VitrimException(what + ": column 'content' must be binary (the image file's bytes), is "
                    + in.fields()[content].dataType().simpleString());
        }
        return new int[] {path, content};
    }

    /**
     * mIoU, box AP (and mask AP with {@code masks}) of a dense model on a dense data set ({@code scenes:val},
     * {@code coco:DIR}, … as {@code vitrim eval --data}), the first {@code limit} images (0: all), in about
     * {@code partitions} tasks (0: twice the default parallelism). Each task returns its segmentation counts, ground
     * truth and detections; the driver merges them ({@link DenseEvaluator#combine}), so the numbers are those of the
     * single-machine {@code vitrim eval --task instances} with the same batch.
     */
    public static DenseEvaluator.Metrics evaluateDense(SparkSession spark, String data, ModelSpec spec, int limit,
                                                       int partitions, boolean masks) {
        if (limit < 0 || partitions < 0) {
            throw new VitrimException("limit and partitions must be >= 0");
        }
        DenseDataset set = DataCache.dense(data, ModelCache.dense(spec).config().imageSize());
        int n = limit > 0 ? Math.min(limit, set.size()) : set.size();
        if (n == 0) {
            throw new VitrimException(data + ": no images");
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int parts = partitions > 0 ? partitions : 2 * jsc.defaultParallelism();
        List<DenseEvalJob> jobs = new ArrayList<>();
        for (int[] s : EvalJob.slices(n, spec.batch(), parts)) {
            jobs.add(new DenseEvalJob(spec, data, s[0], s[1], masks));
        }
        List<DenseEvaluator.Part> got = jsc.parallelize(jobs, jobs.size()).map(DenseEvalJob::run).collect();
        return DenseEvaluator.combine(set.name(), ModelCache.dense(spec).classes(), got, masks);
    }

    /**
     * Top-1, top-5, per-class accuracy, tokens per block and GMACs of {@code spec} on a labelled data set
     * ({@code mnist:test}, {@code fashion-mnist:test}, {@code folder:PATH} of class folders, … as {@code vitrim eval --data}),
     * the first {@code limit} images (0: all), in about {@code partitions} tasks (0: twice the default parallelism).
     * The statistics are integer sums merged exactly, and slices start on batch boundaries, so the numbers are those
     * of the single-machine {@code vitrim eval} with the same batch; {@code imagesPerS} is per task slot (images per
     * second of forward time).
     */
    public static Evaluation.Result evaluate(SparkSession spark, String data, ModelSpec spec, int limit,
                                             int partitions) {
        return sweepStats(spark, data, List.of(spec), limit, partitions).get(0).result();
    }

    /** The columns of {@link #sweep}. */
    public static StructType sweepSchema() {
        return new StructType(new StructField[] {
                DataTypes.createStructField("reduce", DataTypes.StringType, false),
                DataTypes.createStructField("images", DataTypes.IntegerType, false),
                DataTypes.createStructField("top1", DataTypes.DoubleType, false),
                DataTypes.createStructField("top5", DataTypes.DoubleType, false),
                DataTypes.createStructField("gmacs", DataTypes.DoubleType, false),
                DataTypes.createStructField("images_per_s", DataTypes.DoubleType, false)});
    }

    /**
     * Evaluates every reduction spec in {@code reduce} with {@code base}'s model on one data set in one job: one row
     * per spec, in the order given ({@link #sweepSchema()}: {@code images_per_s} per task slot). The tasks interleave
     * the specs slice by slice, so a load on the machines affects all specs alike.
     */
    public static Dataset<Row> sweep(SparkSession spark, String data, ModelSpec base, List<String> reduce, int limit,
                                     int partitions) {
        if (reduce.isEmpty()) {
            throw new VitrimException("sweep: no reduction specs given");
        }
        List<ModelSpec> specs = new ArrayList<>();
        for (String r : reduce) {
            specs.add(base.withReduce(r));
        }
        List<EvalStats> stats = sweepStats(spark, data, specs, limit, partitions);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            Evaluation.Result r = stats.get(i).result();
            rows.add(RowFactory.create(specs.get(i).reduce(), r.images(), r.top1(), r.top5(), r.gmacs(),
                    r.imagesPerS()));
        }
        return spark.createDataFrame(rows, sweepSchema());
    }

    private static List<EvalStats> sweepStats(SparkSession spark, String data, List<ModelSpec> specs, int limit,
                                              int partitions) {
        if (limit < 0 || partitions < 0) {
            throw new VitrimException("limit and partitions must be >= 0");
        }
        int batch = specs.get(0).batch();
        for (ModelSpec s : specs) {
            if (s.batch() != batch) {
                throw new VitrimException("sweep: every spec must use the same batch");
            }
        }
        int n = DataCache.size(data);
        if (limit > 0) {
            n = Math.min(n, limit);
        }
        if (n == 0) {
            throw new VitrimException(data + ": no images");
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int parts = partitions > 0 ? partitions : 2 * jsc.defaultParallelism();
        List<EvalJob> jobs = new ArrayList<>();
        for (int[] s : EvalJob.slices(n, batch, parts)) {
            for (int i = 0; i < specs.size(); i++) {
                jobs.add(new EvalJob(specs.get(i), i, data, s[0], s[1]));
            }
        }
        Map<Integer, EvalStats> merged = jsc.parallelize(jobs, jobs.size())
                .mapToPair(j -> new Tuple2<>(j.specIndex(), j.run()))
                .reduceByKey(EvalStats::merge)
                .collectAsMap();
        List<EvalStats> out = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            out.add(merged.get(i));
        }
        return out;
    }
}
