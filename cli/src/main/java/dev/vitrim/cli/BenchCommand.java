package dev.vitrim.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Precision;
import dev.vitrim.engine.Torch;
import dev.vitrim.eval.Benchmark;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.SameCounts;
import dev.vitrim.reduce.TokenReducer;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure forward speed: images/s and ms/image (median of repeated runs after warm-up), "
                + "MACs, achieved GFLOP/s, and the machine's fp32 matrix-multiply ceiling measured in the same run.",
                "",
                "With --reduce, the reduced and the unreduced model run interleaved in one process (baseline, "
                        + "reduced, baseline, …) and the speedup is the ratio of their medians; --json then prints "
                        + "{reduce, batch, gmacs, baseline_gmacs, images_per_s, baseline_images_per_s, speedup} "
                        + "(an array of these for several batch sizes). --same-counts adds a third model to the "
                        + "rotation: the reducer's token counts with none of its work (same_counts_speedup, "
                        + "reducer_cost).",
                "", "With --precision, each format listed runs interleaved with fp32 on the same batch (fp32, P1, "
                        + "P2, fp32, …; with --reduce, the same reducer in every format): images/s, the speedup over "
                        + "fp32 and the largest logit difference from fp32 on that batch, after a line per format "
                        + "saying what runs and why (auto: bf16 where the CPU has AMX or AVX512_BF16, else fp32). "
                        + "Where a format runs in bf16, the bf16 matrix-multiply ceiling is measured too, and each "
                        + "fp32 or bf16 row says its share of its own format's ceiling.",
                "", "With --profile, one configuration (the model with --reduce, in the one --precision given) is "
                        + "warmed up and run under libtorch's profiler instead: per batch size, the time per image by "
                        + "operator kind (linear layers, attention, layer norm, elementwise, token selection, memory "
                        + "and layout, TorchScript scopes), the time outside libtorch's operators (Java, JNI), and "
                        + "the operators that took longest. With --runtime onnxruntime (or vitrim,onnxruntime, one "
                        + "after the other) the same model and reducer, exported on the fly, or a --model FILE.onnx, "
                        + "runs under ONNX Runtime's own profiler, split into the same kinds, so that the two "
                        + "runtimes' splits read side by side.",
                "", "With --arch the weights are random (speed does not depend on them; token selection does a "
                        + "little, so use a trained --model for reduced timings that matter)."},
        footer = {"", "Examples:", "  vitrim bench --arch vit_small_patch16_224 --batch 1,8,32",
                "  vitrim bench --arch vit_base_patch16_224 --batch 8 --reduce tome:r=13 --json",
                "  vitrim bench --arch vit_small_patch16_224 --batch 1 --reduce attn --same-counts",
                "  vitrim bench --arch vit_small_patch16_224 --batch 1,8 --precision int8,auto",
                "  vitrim bench --arch vit_base_patch16_224 --batch 1 --profile",
                "  vitrim bench --arch vit_small_patch16_224 --batch 1 --reduce attn --profile --threads 1 "
                        + "--runtime vitrim,onnxruntime"})
public final class BenchCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ArchOrModel model;

    @Mixin
    ReduceOptions reduce;

    @Mixin
    CommonOptions common;

    @Option(names = "--batch", split = ",", paramLabel = "B", defaultValue = "1,8,32",
            description = "Batch sizes, comma separated (default: ${DEFAULT-VALUE}).")
    List<Integer> batches;

    @Option(names = "--warmup", defaultValue = "3", description = "Unmeasured runs per batch size: at least this "
            + "many and " + Benchmark.WARMUP_SECONDS + " s, then until the JIT has compiled nothing for "
            + Benchmark.JIT_QUIET_SECONDS + " s (at most " + Benchmark.MAX_WARMUP_SECONDS + " s), so the reducers' "
            + "Java code is timed compiled (default: ${DEFAULT-VALUE}; 0: none).")
    int warmup;

    @Option(names = "--runs", defaultValue = "10", description = "Minimum measured runs (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--seconds", defaultValue = "3", description = "Minimum measuring time per batch size (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Option(names = "--profile", description = "Where the time goes instead of how much: the forward's time split "
            + "by operator kind under libtorch's profiler, or ONNX Runtime's with --runtime (see above); --runs "
            + "forwards are profiled per batch size.")
    boolean profile;

    @Option(names = "--baseline", paramLabel = "SPEC", defaultValue = "none", description = "With --reduce: what the "
            + "reduced model is timed against (default: none, the unreduced model), e.g. a random pruner on the same "
            + "schedule to measure a learned scorer's own cost.")
    String baseline;

    @Option(names = "--same-counts", description = "With --reduce: also time the reducer's token counts without "
            + "its work (the first patches kept wherever it changes the count): what the counts alone gain over the "
            + "baseline, and what the reducer's own scoring and merging cost on top.")
    boolean sameCounts;

    @Option(names = "--precision", split = ",", paramLabel = "P", description = "Formats to compare with fp32, comma "
            + "separated: bf16, int8, auto (fp32 alone: the plain benchmark). With --runtime: the one format vitrim "
            + "runs in against ONNX Runtime's fp32. " + PrecisionOption.HELP)
    List<String> precisions;

    @Option(names = "--runtime", split = ",", paramLabel = "NAME", defaultValue = "vitrim", description = "Runtimes to "
            + "time, comma separated: vitrim (the default) and onnxruntime (the same model and reducer exported to ONNX "
            + "on the fly and run by ONNX Runtime's CPU provider, all graph optimisations on, with vitrim's thread "
            + "count). Several run interleaved in one process, on the same images, and the table gives each one's "
            + "median and range and their ratio. --model FILE.onnx runs that graph on onnxruntime alone.")
    List<String> runtimes;

    @Override
    public Integer call() throws Exception {
        for (String rt : runtimes) {
            if (!rt.equals("vitrim") && !rt.equals("onnxruntime")) {
                throw new VitrimException("--runtime '" + rt + "': allowed are vitrim and onnxruntime");
            }
        }
        boolean onnxFile = model.source.model != null && model.source.model.toString().endsWith(".onnx");
        if (profile) {
            if (!baseline.equals("none") || sameCounts) {
                throw new VitrimException("--profile splits one configuration's forward: it does not combine with "
                        + "--baseline or --same-counts");
            }
            if (onnxFile && !runtimes.equals(List.of("onnxruntime"))) {
                throw new VitrimException(model.source.model + ": an ONNX graph runs on --runtime onnxruntime only "
                        + "(give the checkpoint to profile both runtimes)");
            }
            new ProfileBench(this).run(onnxFile);
            return 0;
        }
        if (onnxFile || !runtimes.equals(List.of("vitrim"))) {
            if (onnxFile && !runtimes.equals(List.of("onnxruntime"))) {
                throw new VitrimException(model.source.model + ": an ONNX graph runs on --runtime onnxruntime only "
                        + "(give the checkpoint to compare runtimes)");
            }
            if (!baseline.equals("none") || sameCounts) {
                throw new VitrimException("--runtime compares runtimes on one reducer; --baseline and --same-counts "
                        + "compare reducers on vitrim: run them separately");
            }
            Precision vitrimFormat = Precision.FP32;
            if (precisions != null) {
                List<Precision> fs = new java.util.ArrayList<>();
                for (String p : precisions) {
                    Precision f = Precision.parse(p);
                    if (f != Precision.FP32 && !fs.contains(f)) {
                        fs.add(f);
                    }
                }
                if (fs.size() > 1 || (!fs.isEmpty() && (onnxFile || !runtimes.contains("vitrim")))) {
                    throw new VitrimException("--runtime with --precision: give one format, the one vitrim runs in "
                            + "(ONNX Runtime runs fp32), e.g. --runtime vitrim,onnxruntime --precision auto; to "
                            + "compare formats on vitrim, leave out --runtime");
                }
                if (!fs.isEmpty()) {
                    vitrimFormat = fs.get(0);
                }
            }
            return new RuntimeBench(this).run(onnxFile, vitrimFormat);
        }
        for (int b : batches) {
            if (b < 1) {
                throw new VitrimException("--batch sizes must be positive, got " + b);
            }
        }
        if (runs < 1 || warmup < 0) {
            throw new VitrimException("--runs must be >= 1 and --warmup >= 0");
        }
        Torch.engine(common.threads);
        VitConfig cfg = model.config();
        String recorded = model.recordedReduce();
        TokenReducer r = reduce.reducer(cfg, recorded);
        TokenReducer base = Reducers.parse(baseline, recorded);
        base.validate(cfg);
        if (r == Reducers.NONE && (base != Reducers.NONE || sameCounts)) {
            throw new VitrimException((sameCounts ? "--same-counts" : "--baseline")
                    + " needs --reduce (the reducer timed against it)");
        }
        TokenReducer counts = sameCounts ? new SameCounts(r, cfg) : null;
        List<Precision> formats = new java.util.ArrayList<>();
        if (precisions != null) {
            for (String p : precisions) {
                Precision f = Precision.parse(p);
                if (f != Precision.FP32 && !formats.contains(f)) {
                    formats.add(f);
                }
            }
        }
        if (!formats.isEmpty()) {
            if (base != Reducers.NONE || sameCounts) {
                throw new VitrimException("--precision compares formats on one reducer: it does not combine with "
                        + (sameCounts ? "--same-counts" : "--baseline"));
            }
            precisions(r, formats);
            return 0;
        }
        try (VisionTransformer vit = model.load()) {
            if (r == Reducers.NONE) {
                plain(vit);
            } else {
                compared(vit, r, base, counts);
            }
        }
        return 0;
    }

    /** Runs {@code body(x)} on a random batch in its own scope; returns the timing(s). */
    private interface Body {
        Benchmark.Timing[] run(NDManager m, NDArray x);
    }

    private Benchmark.Timing[] onBatch(VisionTransformer vit, int b, Body body) {
        int px = vit.config().imageSize();
        try (NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            NDArray x = m.randomNormal(0, 1, new Shape(b, 3, px, px), DataType.FLOAT32);
            return body.run(m, x);
        }
    }

    private void plain(VisionTransformer vit) throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        VitConfig c = vit.config();
        long macs = Macs.unreduced(c);
        double ceiling = Benchmark.gemmCeilingGflops(vit.manager());
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode doc = om.createObjectNode();
        doc.put("model", model.name()).put("gmacs", macs / 1e9).put("gemm_ceiling_gflops", ceiling)
                .put("threads", ai.djl.pytorch.jni.JniUtils.getNumThreads()).put("cpu", Benchmark.cpu());
        ArrayNode rows = doc.putArray("results");
        if (!json) {
            out.printf(Locale.ROOT, "%s: %.3f GMACs/image, fp32 matmul ceiling %.1f GFLOP/s, %s (%s)%n",
                    model.name(), macs / 1e9, ceiling, threads(doc.get("threads").asInt()), doc.get("cpu").asText());
            out.printf(Locale.ROOT, "%6s %10s %10s %10s %9s %6s%n", "batch", "images/s", "ms/image", "GFLOP/s",
                    "% ceiling", "runs");
        }
        for (int b : batches) {
            Benchmark.Timing t = onBatch(vit, b, (m, x) -> new Benchmark.Timing[] {
                Benchmark.time(Benchmark.forward(m, x, vit, Reducers.NONE), warmup, runs, 1000, seconds)})[0];
            double ips = b / (t.medianMs() / 1e3);
            double gflops = 2.0 * macs * ips / 1e9;
            rows.addObject().put("batch", b).put("images_per_s", ips).put("ms_per_image", t.medianMs() / b)
                    .put("gflops", gflops).put("fraction_of_ceiling", gflops / ceiling).put("runs", t.runs());
            if (!json) {
                out.printf(Locale.ROOT, "%6d %10.2f %10.2f %10.1f %8.0f%% %6d%n", b, ips, t.medianMs() / b, gflops,
                        100 * gflops / ceiling, t.runs());
                out.flush();
            }
        }
        // the ceiling again after the model ran (the first measurement can catch a cold machine): the best counts
        double after = Math.max(Benchmark.gemmCeilingGflops(vit.manager()),
                Benchmark.gemmGflops(vit.manager(), 8 * c.tokens(), c.width(), c.mlpHidden()));
        if (after > ceiling) {
            ceiling = after;
            doc.put("gemm_ceiling_gflops", ceiling);
            for (com.fasterxml.jackson.databind.JsonNode row : rows) {
                ((ObjectNode) row).put("fraction_of_ceiling", row.get("gflops").asDouble() / ceiling);
            }
            if (!json) {
                out.printf(Locale.ROOT, "(fp32 matmul ceiling re-measured after the runs: %.1f GFLOP/s)%n", ceiling);
            }
        }
        if (json) {
            out.println(om.writeValueAsString(doc));
        }
    }

    /** fp32 and each format interleaved on the same batches, all with reducer {@code r}. */
    private void precisions(TokenReducer r, List<Precision> formats) throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<VisionTransformer> models = new java.util.ArrayList<>();
        List<Precision.Choice> choices = new java.util.ArrayList<>();
        try {
            models.add(model.load());
            choices.add(models.get(0).usePrecision(Precision.FP32)); // names how fp32's products run
            for (Precision f : formats) {
                VisionTransformer v = model.load();
                models.add(v);
                choices.add(v.usePrecision(f));
            }
            VitConfig c = models.get(0).config();
            Macs.Plan plan = Macs.plan(c, r);
            double ceiling = Benchmark.gemmCeilingGflops(models.get(0).manager());
            // a format's rows are read against the ceiling of the arithmetic they run in: bf16's own where one runs
            boolean bf16 = choices.stream().anyMatch(ch -> ch.chosen() == Precision.BF16);
            double bf16Ceiling = bf16 ? Benchmark.gemmCeilingGflops(models.get(0).manager(), DataType.BFLOAT16)
                    : Double.NaN;
            ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode doc = om.createObjectNode();
            doc.put("model", model.name()).put("reduce", r.spec()).put("gmacs", plan.gmacs())
                    .put("fp32_gemm_ceiling_gflops", ceiling)
                    .put("threads", ai.djl.pytorch.jni.JniUtils.getNumThreads()).put("cpu", Benchmark.cpu());
            if (bf16) {
                doc.put("bf16_gemm_ceiling_gflops", bf16Ceiling);
            }
            ArrayNode fs = doc.putArray("precisions");
            for (Precision.Choice ch : choices) {
                fs.addObject().put("requested", ch.requested().label()).put("chosen", ch.chosen().label())
                        .put("reason", ch.reason());
            }
            ArrayNode rows = doc.putArray("results");
            if (!json) {
                out.printf(Locale.ROOT, "%s, %s: %.3f GMACs/image%s, fp32 matmul ceiling %.1f GFLOP/s%s, %s (%s)%n",
                        model.name(), r.spec(), plan.gmacs(), r.perImageCounts() ? " at most" : "", ceiling,
                        bf16 ? String.format(Locale.ROOT, ", bf16 %.1f GFLOP/s", bf16Ceiling) : "",
                        threads(doc.get("threads").asInt()), doc.get("cpu").asText());
                for (Precision.Choice ch : choices) {
                    out.printf(Locale.ROOT, "  %-5s %s%n", ch.requested().label(), ch.reason());
                }
                out.printf(Locale.ROOT, "%6s %9s %10s %10s %10s %9s %9s %12s %6s%n", "batch", "precision", "images/s",
                        "ms/image", "GFLOP/s", "% ceiling", "vs fp32", "max|dlogit|", "runs");
                out.flush();
            }
            for (int b : batches) {
                double[] diff = new double[models.size()];
                Benchmark.Timing[] t = onBatch(models.get(0), b, (m, x) -> {
                    Runnable[] bodies = new Runnable[models.size()];
                    for (int k = 0; k < bodies.length; k++) {
                        bodies[k] = Benchmark.forward(m, x, models.get(k), r);
                    }
                    Benchmark.Timing[] timings = Benchmark.interleaved(warmup, runs, 1000, seconds, bodies);
                    float[] ref = logits(m, x, models.get(0), r);
                    for (int k = 1; k < bodies.length; k++) {
                        float[] y = logits(m, x, models.get(k), r);
                        for (int i = 0; i < y.length; i++) {
                            diff[k] = Math.max(diff[k], Math.abs(y[i] - ref[i]));
                        }
                    }
                    return timings;
                });
                double fp32Ips = b / (t[0].medianMs() / 1e3);
                for (int k = 0; k < models.size(); k++) {
                    double ips = b / (t[k].medianMs() / 1e3);
                    double gflops = 2.0 * plan.macs() * ips / 1e9;
                    Precision runsAs = choices.get(k).chosen();
                    // int8 has no float ceiling to be read against
                    double of = runsAs == Precision.FP32 ? ceiling : runsAs == Precision.BF16 ? bf16Ceiling
                            : Double.NaN;
                    ObjectNode row = rows.addObject().put("batch", b)
                            .put("precision", choices.get(k).requested().label()).put("runs_as", runsAs.label())
                            .put("images_per_s", ips).put("ms_per_image", t[k].medianMs() / b).put("gflops", gflops)
                            .put("speedup_vs_fp32", ips / fp32Ips).put("max_abs_logit_diff", diff[k])
                            .put("runs", t[k].runs());
                    if (!Double.isNaN(of)) {
                        row.put("fraction_of_ceiling", gflops / of);
                    }
                    if (!json) {
                        out.printf(Locale.ROOT, "%6d %9s %10.2f %10.2f %10.1f %9s %8.2fx %12.4g %6d%n", b,
                                choices.get(k).requested().label(), ips, t[k].medianMs() / b, gflops,
                                Double.isNaN(of) ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * gflops / of),
                                ips / fp32Ips, diff[k], t[k].runs());
                        out.flush();
                    }
                }
            }
            // the ceilings again after the model ran (the first measurement can catch a cold machine): the best
            // counts, and the rows are read against it
            double fp32After = Math.max(ceiling, Benchmark.gemmCeilingGflops(models.get(0).manager()));
            double bf16After = bf16 ? Math.max(bf16Ceiling,
                    Benchmark.gemmCeilingGflops(models.get(0).manager(), DataType.BFLOAT16)) : Double.NaN;
            if (fp32After > ceiling || bf16After > bf16Ceiling) {
                doc.put("fp32_gemm_ceiling_gflops", fp32After);
                if (bf16) {
                    doc.put("bf16_gemm_ceiling_gflops", bf16After);
                }
                for (com.fasterxml.jackson.databind.JsonNode row : rows) {
                    if (row.has("fraction_of_ceiling")) {
                        double of = row.get("runs_as").asText().equals("bf16") ? bf16After : fp32After;
                        ((ObjectNode) row).put("fraction_of_ceiling", row.get("gflops").asDouble() / of);
                    }
                }
                if (!json) {
                    out.printf(Locale.ROOT, "(matmul ceilings re-measured after the runs: fp32 %.1f GFLOP/s%s; the "
                            + "rows above are read against the first measurement, --json against these)%n",
                            fp32After, bf16 ? String.format(Locale.ROOT, ", bf16 %.1f GFLOP/s", bf16After) : "");
                }
            }
            if (json) {
                out.println(om.writeValueAsString(doc));
            }
        } finally {
            for (VisionTransformer v : models) {
                v.close();
            }
        }
    }

    /** "1 thread" or "N threads". */
    static String threads(int n) {
        return n + (n == 1 ? " thread" : " threads");
    }

    private static float[] logits(NDManager m, NDArray x, VisionTransformer vit, TokenReducer r) {
        try (NDManager s = m.newSubManager()) {
            s.tempAttachAll(x);
            return vit.forward(x, r, null).toFloatArray();
        }
    }

    private void compared(VisionTransformer vit, TokenReducer r, TokenReducer against, TokenReducer counts)
            throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        VitConfig c = vit.config();
        long base = Macs.plan(c, against).macs();
        Macs.Plan plan = Macs.plan(c, r);
        String baseName = against == Reducers.NONE ? "unreduced" : against.spec();
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ArrayNode rows = om.createArrayNode();
        if (!json) {
            out.printf(Locale.ROOT, "%s, %s: %.3f GMACs/image%s vs %.3f %s (%.2fx fewer)%n", model.name(),
                    r.spec(), plan.gmacs(), r.perImageCounts() ? " at most" : "", base / 1e9, baseName,
                    (double) base / plan.macs());
            out.printf(Locale.ROOT, "%6s %14s %14s %9s %11s%s%n", "batch", "images/s", "baseline", "speedup",
                    "MAC ratio", counts == null ? "" : String.format(Locale.ROOT, " %14s %13s", "same counts",
                            "reducer cost"));
        }
        for (int b : batches) {
            Benchmark.Timing[] t = onBatch(vit, b, (m, x) -> counts == null
                    ? Benchmark.interleaved(warmup, runs, 1000, seconds, Benchmark.forward(m, x, vit, against),
                            Benchmark.forward(m, x, vit, r))
                    : Benchmark.interleaved(warmup, runs, 1000, seconds, Benchmark.forward(m, x, vit, against),
                            Benchmark.forward(m, x, vit, r), Benchmark.forward(m, x, vit, counts)));
            double baseIps = b / (t[0].medianMs() / 1e3);
            double ips = b / (t[1].medianMs() / 1e3);
            ObjectNode o = rows.addObject();
            o.put("reduce", r.spec()).put("baseline", against.spec()).put("batch", b).put("gmacs", plan.gmacs())
                    .put("baseline_gmacs", base / 1e9)
                    .put("images_per_s", ips).put("baseline_images_per_s", baseIps).put("speedup", ips / baseIps)
                    .put("mac_ratio", (double) base / plan.macs()).put("runs", t[0].runs());
            String extra = "";
            if (counts != null) {
                double countsIps = b / (t[2].medianMs() / 1e3);
                o.put("same_counts_images_per_s", countsIps).put("same_counts_speedup", countsIps / baseIps)
                        .put("reducer_cost", countsIps / ips - 1);
                extra = String.format(Locale.ROOT, " %13.2fx %12.1f%%", countsIps / baseIps, 100 * (countsIps / ips - 1));
            }
            if (!json) {
                out.printf(Locale.ROOT, "%6d %14.2f %14.2f %8.2fx %10.2fx%s%n", b, ips, baseIps, ips / baseIps,
                        (double) base / plan.macs(), extra);
                out.flush();
            }
        }
        if (json) {
            out.println(om.writeValueAsString(rows.size() == 1 ? rows.get(0) : rows));
        }
    }
}
