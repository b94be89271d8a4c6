package dev.vitrim.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.dense.DenseEvaluator;
import dev.vitrim.eval.Evaluation;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code vitrim spark classify|eval|sweep}: the Spark jobs of {@link VitrimSpark} from the command line, on an
 * embedded Spark ({@code --master local[N]}) or under {@code spark-submit}.
 */
@Command(name = "vitrim spark", mixinStandardHelpOptions = true, versionProvider = SparkMain.Version.class,
        subcommands = {SparkMain.Classify.class, SparkMain.Eval.class, SparkMain.Sweep.class},
        description = {"Batch classification, evaluation and reduction sweeps as Apache Spark jobs.", "",
                "Every executor loads the model once and shares it between its tasks; each task runs its forward "
                        + "passes on spark.task.cpus PyTorch threads (1 by default), so tasks x threads never "
                        + "exceed an executor's cores. Raise spark.task.cpus (--conf) for fewer, wider tasks.",
                "",
                "The model file and a folder data set must be readable on every executor (a shared file system, "
                        + "or spark-submit --files for the model); named data sets (mnist:test, ...) are read from "
                        + "each machine's vitrim data home (VITRIM_DATA, else ~/.cache/vitrim)."},
        footer = {"", "Examples:",
                "  vitrim spark classify --master local[2] --model models/mnist-vit.safetensors --json digits/",
                "  vitrim spark eval --master local[2] --model models/mnist-vit.safetensors --data mnist:test",
                "  vitrim spark sweep --model models/mnist-vit.safetensors --data mnist:test -r none -r tome:r=8 "
                        + "-r attn:keep=0.8..0.4,start=2",
                "", "On a cluster (docs/scale-out.md):",
                "  spark-submit --class dev.vitrim.spark.SparkMain spark/target/vitrim-spark-0.1.0-SNAPSHOT-app.jar "
                        + "classify --model /shared/vit.safetensors --out /shared/out hdfs:///images/"})
public final class SparkMain implements Runnable {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a subcommand: classify, eval or sweep");
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line; returns the exit status (2: bad input or any image that failed). */
    static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new SparkMain());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            Throwable root = e;
            while (!(root instanceof VitrimException) && root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            Throwable shown = root instanceof VitrimException ? root : e;
            line.getErr().println("vitrim: " + (shown.getMessage() == null ? shown : shown.getMessage()));
            if (verbose(parsed)) {
                e.printStackTrace(line.getErr());
            }
            return 2;
        });
        int rc = cl.execute(args);
        return rc == 1 ? 2 : rc; // picocli's usage errors are bad input too
    }

    private static boolean verbose(CommandLine.ParseResult parsed) {
        CommandLine.ParseResult p = parsed;
        while (p != null) {
            if (p.hasMatchedOption("--verbose")) {
                return true;
            }
            p = p.subcommand();
        }
        return false;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            Package p = SparkMain.class.getPackage();
            String v = p == null ? null : p.getImplementationVersion();
            return new String[] {"vitrim spark " + (v == null ? "(development build)" : v) + ", Apache Spark "
                    + org.apache.spark.package$.MODULE$.SPARK_VERSION()};
        }
    }

    /** Options of every subcommand: where Spark runs, which model, how it is batched. */
    static final class Common {
        @Option(names = "--master", paramLabel = "URL",
                description = "Spark master: local[N] runs an embedded Spark with N task slots, or a cluster URL "
                        + "(spark://..., yarn, k8s://...). Default: the one spark-submit sets, else local[*].")
        String master;

        @Option(names = {"-m", "--model"}, paramLabel = "PATH", required = true,
                description = "A .safetensors model, readable at this path on every executor (or shipped with "
                        + "spark-submit --files and named here by the same file name).")
        String model;

        @Option(names = "--heads", paramLabel = "N",
                description = "Attention heads, when the file does not say (default: from the file).")
        int heads;

        @Option(names = "--threads", paramLabel = "N",
                description = "PyTorch threads per task (default: spark.task.cpus, capped so that tasks x threads "
                        + "fit the executor's cores).")
        int threads;

        @Option(names = "--partitions", paramLabel = "P",
                description = "Tasks to split the work into (default: twice the default parallelism for eval and "
                        + "sweep; classify keeps Spark's file splits unless given).")
        int partitions;

        @Option(names = "--conf", paramLabel = "KEY=VALUE", description = "A Spark setting, e.g. spark.task.cpus=2 "
                + "(repeatable).")
        List<String> conf = new ArrayList<>();

        @Option(names = "--verbose", description = "Print stack traces with errors.")
        boolean verbose;

        /** Whether this command started the session (then it stops it; an embedding application's stays up). */
        private boolean ownsSession;

        SparkSession session(String app) {
            ownsSession = SparkSession.getDefaultSession().isEmpty();
            SparkSession.Builder b = SparkSession.builder().appName("vitrim " + app);
            String m = master != null ? master : System.getProperty("spark.master");
            if (m == null) {
                m = "local[*]";
            }
            b.master(m);
            if (m.startsWith("local")) {
                b.config("spark.ui.enabled", "false");
            }
            for (String kv : conf) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    throw new VitrimException("--conf " + kv + ": expected KEY=VALUE");
                }
                b.config(kv.substring(0, eq), kv.substring(eq + 1));
            }
            SparkSession s = b.getOrCreate();
            s.sparkContext().setLogLevel("WARN");
            return s;
        }

        void stop(SparkSession s) {
            if (ownsSession) {
                s.stop();
            }
        }

        void check() {
            if (heads < 0 || threads < 0 || partitions < 0) {
                throw new VitrimException("--heads, --threads and --partitions must be >= 0");
            }
        }
    }

    @Command(name = "classify", mixinStandardHelpOptions = true,
            description = {"Classify image files (JPEG, PNG, BMP, GIF) on Spark: the same results as "
                    + "'vitrim classify', one entry per image.", "",
                    "A PATH may be a file, a folder (read recursively) or any URI Spark reads (hdfs://, s3a://). "
                            + "Images that cannot be read are reported one by one; the exit status is 2 when any "
                            + "failed. Entries come in argument order, a folder's files sorted by path.",
                    "",
                    "With --out the results are written as Parquet (file, top1, prob, topk, tokens_kept, error) "
                            + "instead of printed: the way to classify millions of images."},
            footer = {"", "Examples:",
                    "  vitrim spark classify --master local[2] --model models/mnist-vit.safetensors --top 3 digits/",
                    "  vitrim spark classify --model vit.safetensors --reduce tome:r=13 --json a.png b.png",
                    "  vitrim spark classify --model /shared/vit.safetensors --out /shared/labels.parquet "
                            + "hdfs:///photos/"})
    static final class Classify implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        Common common;

        @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", defaultValue = "none",
                description = "Token reduction, as 'vitrim classify --reduce' (default: ${DEFAULT-VALUE}).")
        String reduce;

        @Option(names = "--top", paramLabel = "K", defaultValue = "5", description = "Classes to show (default: ${DEFAULT-VALUE}).")
        int top;

        @Option(names = "--batch", paramLabel = "B", defaultValue = "8", description = "Images per forward (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--json", description = "Print one JSON array with an entry per image: {file, top:[{label,index,prob}]} "
                + "or {file, error}, as 'vitrim classify --json'.")
        boolean json;

        @Option(names = "--out", paramLabel = "DIR", description = "Write the results as Parquet to DIR (any Spark path) "
                + "instead of printing them.")
        String outDir;

        @Parameters(paramLabel = "PATH", arity = "1..*", description = "Image files, folders or URIs.")
        List<String> paths;

        @Override
        public Integer call() throws Exception {
            common.check();
            if (top < 1 || batch < 1) {
                throw new VitrimException("--top and --batch must be at least 1, got " + top + " and " + batch);
            }
            ModelSpec ms = new ModelSpec(common.model, common.heads, reduce, top, batch, common.threads);
            List<Input> inputs = new ArrayList<>();
            List<Entry> missing = new ArrayList<>();
            for (int i = 0; i < paths.size(); i++) {
                Input in = Input.of(paths.get(i), i);
                if (in.local != null && !Files.exists(in.local)) {
                    missing.add(new Entry(i, in.given, null, in.given + ": no such file"));
                } else {
                    inputs.add(in);
                }
            }
            List<Entry> entries = new ArrayList<>(missing);
            if (!inputs.isEmpty()) {
                SparkSession spark = common.session("classify");
                try {
                    Dataset<Row> images = VitrimSpark.images(spark,
                            inputs.stream().map(Input::sparkPath).toArray(String[]::new));
                    if (common.partitions > 0) {
                        images = images.repartition(common.partitions);
                    }
                    Dataset<Row> results = VitrimSpark.classify(images, ms);
                    if (outDir != null) {
                        results.write().mode("errorifexists").parquet(outDir);
                        Row counts = results.sparkSession().read().parquet(outDir)
                                .selectExpr("count(*)", "count(error)").first();
                        spec.commandLine().getOut().printf(Locale.ROOT, "%d images, %d failed: %s%n",
                                counts.getLong(0), counts.getLong(1), outDir);
                        return counts.getLong(1) > 0 ? 2 : 0;
                    }
                    // by file; every argument then takes its own (a file named twice, or inside a folder also
                    // named, is reported each time, as 'vitrim classify' does)
                    java.util.TreeMap<String, Row> byFile = new java.util.TreeMap<>();
                    for (Row r : results.collectAsList()) {
                        byFile.put(r.getString(r.fieldIndex("file")), r);
                    }
                    for (Input in : inputs) {
                        String key = in.local() != null ? in.local().toString() : in.given();
                        Row exact = byFile.get(key);
                        if (exact != null) {
                            entries.add(Entry.of(in.arg(), in.given(), exact));
                            continue;
                        }
                        String dir = key.endsWith("/") ? key : key + "/";
                        for (Row r : byFile.subMap(dir, dir + Character.MAX_VALUE).values()) {
                            String shown = in.relate(r.getString(r.fieldIndex("file")));
                            if (shown != null) {
                                entries.add(Entry.of(in.arg(), shown, r));
                            }
                        }
                    }
                } finally {
                    common.stop(spark);
                }
            }
            entries.sort(Comparator.comparingInt(Entry::arg)); // stable: a folder's files stay sorted
            return print(entries);
        }

        private int print(List<Entry> entries) throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            boolean failed = false;
            if (json) {
                ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ArrayNode arr = om.createArrayNode();
                for (Entry e : entries) {
                    ObjectNode o = arr.addObject();
                    o.put("file", e.file());
                    if (e.error() != null) {
                        o.put("error", e.error());
                        failed = true;
                        continue;
                    }
                    ArrayNode t = o.putArray("top");
                    for (Row c : e.top()) {
                        t.addObject().put("label", c.getString(0)).put("index", c.getInt(1)).put("prob", c.getDouble(2));
                    }
                }
                out.println(om.writeValueAsString(arr));
            } else {
                for (Entry e : entries) {
                    if (e.error() != null) {
                        err.println("vitrim: " + e.error());
                        failed = true;
                        continue;
                    }
                    out.println(e.file());
                    for (Row c : e.top()) {
                        out.printf(Locale.ROOT, "  %6.2f%%  %s (%d)%n", 100 * c.getDouble(2), c.getString(0), c.getInt(1));
                    }
                }
            }
            out.flush();
            err.flush();
            return failed ? 2 : 0;
        }
    }

    /** A command-line path: as typed, as Spark reads it, and (for a local file or folder) its absolute path. */
    record Input(String given, int arg, Path local) {
        static Input of(String given, int arg) {
            boolean uri = given.matches("^[A-Za-z][A-Za-z0-9+.-]*://.*") || given.startsWith("file:");
            return new Input(given, arg, uri ? null : Path.of(given).toAbsolutePath().normalize());
        }

        String sparkPath() {
            return local == null ? given : local.toUri().toString();
        }

        /** {@code file} as it would be written starting from this argument, or null when it is not under it. */
        String relate(String file) {
            if (local == null) {
                String g = given.endsWith("/") ? given : given + "/";
                return file.equals(given) ? given : file.startsWith(g) ? file : null;
            }
            Path f = Path.of(file);
            if (f.equals(local)) {
                return given;
            }
            if (f.startsWith(local)) {
                return Path.of(given).resolve(local.relativize(f)).toString();
            }
            return null;
        }
    }

    /** One printed result, in argument order. */
    record Entry(int arg, String file, List<Row> top, String error) {
        static Entry of(int arg, String shown, Row r) {
            String file = r.getString(r.fieldIndex("file"));
            String error = r.getString(r.fieldIndex("error"));
            if (error != null) {
                return new Entry(arg, shown, null, error.startsWith(file) ? shown + error.substring(file.length()) : error);
            }
            return new Entry(arg, shown, r.getList(r.fieldIndex("topk")), null);
        }
    }

    @Command(name = "eval", mixinStandardHelpOptions = true,
            description = {"Top-1, top-5, per-class accuracy, tokens per block and GMACs of a model on a labelled "
                    + "data set, distributed over Spark: the same numbers as 'vitrim eval' with the same --batch "
                    + "(the partitions' statistics are integer sums merged exactly and start on batch boundaries).",
                    "",
                    "A dense model on a dense data set (scenes:val, coco:DIR) gives mIoU, box AP and mask AP instead, "
                            + "as 'vitrim eval --task instances': each task returns its segmentation counts, ground "
                            + "truth and detections, and the COCO evaluation runs once over all of them.",
                    "",
                    "images/s is per task slot (images per second of forward time); wall_s is the whole job."},
            footer = {"", "Examples:",
                    "  vitrim spark eval --master local[2] --model models/mnist-vit.safetensors --data mnist:test",
                    "  vitrim spark eval --model models/fmnist-vit.safetensors --data fashion-mnist:test "
                            + "--reduce tome:r=8 --json",
                    "  vitrim spark eval --model /shared/vit.safetensors --data folder:/shared/val/",
                    "  vitrim spark eval --model models/scenes-vit.safetensors --data scenes:val --reduce tome:r=13 "
                            + "--batch 8"})
    static final class Eval implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        Common common;

        @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", defaultValue = "none",
                description = "Token reduction (default: ${DEFAULT-VALUE}).")
        String reduce;

        @Option(names = "--data", required = true, paramLabel = "DATASET",
                description = "mnist:test, fashion-mnist:test, cats-dogs:test, scenes-1:test, folder:PATH (class "
                        + "folders); for a dense model scenes:val|test or coco:DIR; as 'vitrim eval --data'.")
        String data;

        @Option(names = "--limit", paramLabel = "N", description = "Only the first N images.")
        int limit;

        @Option(names = "--batch", paramLabel = "B", defaultValue = "64", description = "Images per forward (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--json", description = "Print {data, reduce, top1, top5, images, images_per_s, gmacs, per_class, "
                + "tokens_per_block, per_class_tokens, master, partitions, wall_s}.")
        boolean json;

        @Override
        public Integer call() throws Exception {
            common.check();
            if (limit < 0) {
                throw new VitrimException("--limit must be at least 1");
            }
            ModelSpec ms = new ModelSpec(common.model, common.heads, reduce, 5, batch, common.threads);
            SparkSession spark = common.session("eval");
            try {
                long t0 = System.nanoTime();
                if (isDense(data)) {
                    DenseEvaluator.Metrics res = VitrimSpark.evaluateDense(spark, data, ms, limit, common.partitions,
                            true);
                    printDense(res, spark, (System.nanoTime() - t0) / 1e9);
                    return 0;
                }
                Evaluation.Result res = VitrimSpark.evaluate(spark, data, ms, limit, common.partitions);
                double wall = (System.nanoTime() - t0) / 1e9;
                PrintWriter out = spec.commandLine().getOut();
                if (json) {
                    ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                    ObjectNode o = om.createObjectNode();
                    o.put("data", data).put("reduce", reduce).put("top1", res.top1()).put("top5", res.top5())
                            .put("images", res.images()).put("images_per_s", res.imagesPerS()).put("gmacs", res.gmacs());
                    o.set("per_class", om.valueToTree(res.perClass()));
                    o.set("tokens_per_block", om.valueToTree(res.meanTokens()));
                    o.set("per_class_tokens", om.valueToTree(res.perClassTokens()));
                    o.put("master", spark.sparkContext().master()).put("wall_s", wall);
                    out.println(om.writeValueAsString(o));
                    return 0;
                }
                out.printf(Locale.ROOT, "%s on %s (%d images), %s, Spark %s%n", common.model, data, res.images(), reduce,
                        spark.sparkContext().master());
                out.printf(Locale.ROOT, "top-1 %.2f%%  top-5 %.2f%%  %.4f GMACs/image%n", 100 * res.top1(),
                        100 * res.top5(), res.gmacs());
                out.printf(Locale.ROOT, "%.1f images/s per task slot, %.1f images/s for the job (%.1f s)%n",
                        res.imagesPerS(), res.images() / wall, wall);
                StringBuilder pc = new StringBuilder("per class:");
                for (int j = 0; j < res.perClass().length; j++) {
                    pc.append(String.format(Locale.ROOT, " %d %.1f%%", j, 100 * res.perClass()[j]));
                }
                out.println(pc);
                StringBuilder tk = new StringBuilder("mean tokens after each block:");
                for (double v : res.meanTokens()) {
                    tk.append(String.format(Locale.ROOT, " %.1f", v));
                }
                out.println(tk);
                return 0;
            } finally {
                common.stop(spark);
            }
        }

        private void printDense(DenseEvaluator.Metrics res, SparkSession spark, double wall) throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ObjectNode o = om.createObjectNode();
                o.put("data", res.data()).put("task", "instances").put("reduce", reduce);
                o.setAll(res.toJson());
                o.put("master", spark.sparkContext().master()).put("wall_s", wall);
                out.println(om.writeValueAsString(o));
                return;
            }
            out.printf(Locale.ROOT, "%s on %s (%d images), %s, Spark %s%n", common.model, res.data(), res.images(),
                    reduce, spark.sparkContext().master());
            out.printf(Locale.ROOT, "mIoU %.2f  (pixel accuracy %.2f%%)%n", 100 * res.meanIou(),
                    100 * res.segmentation().pixelAccuracy());
            out.println("box:");
            out.print(res.boxes().summary());
            out.println("mask:");
            out.print(res.masks().summary());
            out.printf(Locale.ROOT, "%.1f images/s per task slot, %.1f images/s for the job (%.1f s)%n",
                    res.imagesPerSecond(), res.images() / wall, wall);
        }
    }

    /** Whether a data set name is a dense one (scenes with boxes and masks, or a COCO folder). */
    static boolean isDense(String data) {
        String d = data.strip().toLowerCase(Locale.ROOT);
        return d.equals("scenes") || d.startsWith("scenes:") || d.startsWith("coco:");
    }

    @Command(name = "sweep", mixinStandardHelpOptions = true,
            description = {"Evaluate many reduction specs of one model on one labelled data set in one Spark job: "
                    + "one row per spec with top-1, top-5, GMACs per image and images/s per task slot.", "",
                    "The tasks interleave the specs slice by slice, so load on the machines hits every spec alike; "
                            + "images/s compares specs within one sweep, not across runs."},
            footer = {"", "Example:",
                    "  vitrim spark sweep --master local[2] --model models/mnist-vit.safetensors --data mnist:test \\",
                    "      -r none -r tome:r=8 -r evit:keep=0.7,at=2/4 -r attn:keep=0.8..0.4,start=2 --json"})
    static final class Sweep implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        Common common;

        @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", required = true,
                description = "A reduction spec (repeat the option for each).")
        List<String> reduce;

        @Option(names = "--data", required = true, paramLabel = "DATASET", description = "As for 'vitrim spark eval'.")
        String data;

        @Option(names = "--limit", paramLabel = "N", description = "Only the first N images.")
        int limit;

        @Option(names = "--batch", paramLabel = "B", defaultValue = "64", description = "Images per forward (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--json", description = "Print an array of {reduce, images, top1, top5, gmacs, images_per_s}.")
        boolean json;

        @Override
        public Integer call() throws Exception {
            common.check();
            if (limit < 0) {
                throw new VitrimException("--limit must be at least 1");
            }
            ModelSpec ms = new ModelSpec(common.model, common.heads, "none", 5, batch, common.threads);
            SparkSession spark = common.session("sweep");
            try {
                List<Row> rows = VitrimSpark.sweep(spark, data, ms, reduce, limit, common.partitions).collectAsList();
                PrintWriter out = spec.commandLine().getOut();
                if (json) {
                    ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                    ArrayNode arr = om.createArrayNode();
                    for (Row r : rows) {
                        arr.addObject().put("reduce", r.getString(0)).put("images", r.getInt(1))
                                .put("top1", r.getDouble(2)).put("top5", r.getDouble(3)).put("gmacs", r.getDouble(4))
                                .put("images_per_s", r.getDouble(5));
                    }
                    out.println(om.writeValueAsString(arr));
                    return 0;
                }
                out.printf(Locale.ROOT, "%s on %s (%d images), Spark %s%n", common.model, data, rows.get(0).getInt(1),
                        spark.sparkContext().master());
                out.printf(Locale.ROOT, "%-40s %8s %8s %8s %12s%n", "reduce", "top-1", "top-5", "GMACs", "images/s/slot");
                for (Row r : rows) {
                    out.printf(Locale.ROOT, "%-40s %7.2f%% %7.2f%% %8.4f %12.1f%n", r.getString(0), 100 * r.getDouble(2),
                            100 * r.getDouble(3), r.getDouble(4), r.getDouble(5));
                }
                return 0;
            } finally {
                common.stop(spark);
            }
        }
    }
}
