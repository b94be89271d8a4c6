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
import dev.vitrim.engine.Precision;
import dev.vitrim.engine.Torch;
import dev.vitrim.eval.Benchmark;
import dev.vitrim.eval.OpProfile;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.onnx.OnnxExport;
import dev.vitrim.onnx.OnnxModel;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.TokenReducer;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code bench --profile}: one configuration's forward split by operator kind, per batch size, on vitrim (libtorch's
 * profiler) and/or ONNX Runtime (its own profiler, on the same model and reducer exported on the fly, or on a graph).
 */
final class ProfileBench {
    /** Operators listed by name under the split. */
    static final int TOP = 8;

    private final BenchCommand cmd;

    ProfileBench(BenchCommand cmd) {
        this.cmd = cmd;
    }

    void run(boolean onnxFile) throws Exception {
        for (int b : cmd.batches) {
            if (b < 1) {
                throw new VitrimException("--batch sizes must be positive, got " + b);
            }
        }
        if (cmd.runs < 1 || cmd.warmup < 0) {
            throw new VitrimException("--runs must be >= 1 and --warmup >= 0");
        }
        List<Precision> formats = new ArrayList<>();
        for (String p : cmd.precisions == null ? List.<String>of() : cmd.precisions) {
            Precision f = Precision.parse(p);
            if (!formats.contains(f)) {
                formats.add(f);
            }
        }
        if (formats.size() > 1) {
            throw new VitrimException("--profile splits one configuration: give one --precision, got " + formats);
        }
        boolean vitrim = cmd.runtimes.contains("vitrim");
        boolean ort = cmd.runtimes.contains("onnxruntime");
        if (!vitrim && !formats.isEmpty()) {
            throw new VitrimException("--precision applies to vitrim's forward; ONNX Runtime runs the graph in fp32");
        }
        PrintWriter out = cmd.spec.commandLine().getOut();
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode doc = om.createObjectNode();
        ArrayNode rows = doc.putArray("profiles");
        if (onnxFile) {
            byte[] graph = java.nio.file.Files.readAllBytes(cmd.model.source.model);
            long[] s;
            String spec;
            try (OnnxModel m = OnnxModel.open(cmd.model.source.model, cmd.common.threads)) {
                s = m.inputShape();
                spec = m.reduceSpec() == null ? "(unknown)" : m.reduceSpec();
            }
            if (s[2] < 1 || s[3] < 1) {
                throw new VitrimException(cmd.model.source.model + ": the graph's image size is symbolic "
                        + java.util.Arrays.toString(s) + "; bench needs a fixed H and W");
            }
            for (int b : cmd.batches) {
                if (s[0] > 0 && s[0] != b) {
                    throw new VitrimException(cmd.model.source.model + ": the graph takes batch " + s[0] + ", not " + b);
                }
            }
            doc.put("model", cmd.model.name()).put("reduce", spec).put("threads", cmd.common.threads)
                    .put("cpu", Benchmark.cpu());
            if (!cmd.json) {
                out.printf(Locale.ROOT, "%s, %s, ONNX Runtime fp32, %s (%s): where a forward's time goes%n",
                        cmd.model.name(), spec, threadWords(cmd.common.threads), doc.get("cpu").asText());
            }
            for (int b : cmd.batches) {
                OpProfile p = OnnxModel.profile(graph, cmd.common.threads, cmd.model.name(),
                        RuntimeBench.images(b, s[2], s[3]), Math.max(1, cmd.warmup), cmd.runs);
                report(out, rows, "onnxruntime", b, p);
            }
        } else {
            Torch.engine(cmd.common.threads);
            int threads = ai.djl.pytorch.jni.JniUtils.getNumThreads();
            try (VisionTransformer vit = cmd.model.load()) {
                TokenReducer r = cmd.reduce.reducer(vit);
                // ONNX Runtime runs the fp32 weights, exported before vitrim's are converted
                byte[] graph = ort ? OnnxExport.bytes(vit, r, OnnxExport.Options.defaults()) : null;
                doc.put("model", cmd.model.name()).put("reduce", r.spec());
                String what = "ONNX Runtime fp32";
                if (vitrim) {
                    Precision.Choice format = vit.usePrecision(formats.isEmpty() ? Precision.FP32 : formats.get(0));
                    doc.put("precision", format.chosen().label()).put("precision_reason", format.reason());
                    what = "vitrim " + format.reason() + (ort ? "; ONNX Runtime fp32" : "");
                }
                doc.put("gmacs", Macs.plan(vit.config(), r).gmacs()).put("threads", threads).put("cpu", Benchmark.cpu());
                if (!cmd.json) {
                    out.printf(Locale.ROOT, "%s, %s, %s, %s (%s): where a forward's time goes%n", cmd.model.name(),
                            r.spec(), what, threadWords(threads), doc.get("cpu").asText());
                }
                int px = vit.config().imageSize();
                for (int b : cmd.batches) {
                    if (vitrim) {
                        OpProfile p;
                        try (NDManager m = vit.manager().newSubManager()) {
                            Torch.inference();
                            NDArray x = m.randomNormal(0, 1, new Shape(b, 3, px, px), DataType.FLOAT32);
                            Runnable f = Benchmark.forward(m, x, vit, r);
                            Benchmark.time(f, cmd.warmup, 1, 1, 0); // warm-up (and one run) outside the profile
                            p = OpProfile.record(f, cmd.runs);
                        }
                        report(out, rows, "vitrim", b, p);
                    }
                    if (ort) {
                        report(out, rows, "onnxruntime", b, OnnxModel.profile(graph, threads, cmd.model.name()
                                + " exported", RuntimeBench.images(b, px, px), Math.max(1, cmd.warmup), cmd.runs));
                    }
                }
            }
        }
        if (cmd.json) {
            out.println(om.writeValueAsString(doc));
        }
    }

    private static String threadWords(int n) {
        return n == 0 ? "default threads" : n + " thread" + (n == 1 ? "" : "s");
    }

    /** One runtime's split at one batch size: a row of the JSON, and unless --json the lines that print it. */
    private void report(PrintWriter out, ArrayNode rows, String runtime, int b, OpProfile p) {
        boolean torch = runtime.equals("vitrim");
        ObjectNode row = rows.addObject().put("runtime", runtime).put("batch", b).put("forwards", cmd.runs)
                .put("wall_ms_per_image", p.wallMs() / b).put("outside_ms_per_image", p.outsideMs() / b);
        ArrayNode kinds = row.putArray("kinds");
        for (Map.Entry<OpProfile.Kind, Double> e : p.msByKind().entrySet()) {
            kinds.addObject().put("kind", e.getKey().name().toLowerCase(Locale.ROOT))
                    .put("label", e.getKey().label()).put("ms_per_image", e.getValue() / b)
                    .put("share", e.getValue() / p.wallMs());
        }
        ArrayNode top = row.putArray("top");
        for (OpProfile.Op o : p.ops().subList(0, Math.min(TOP, p.ops().size()))) {
            top.addObject().put("name", o.name()).put("kind", o.kind().name().toLowerCase(Locale.ROOT))
                    .put("ms_per_image", o.selfMs() / b).put("share", o.selfMs() / p.wallMs())
                    .put("calls_per_forward", o.calls());
        }
        if (cmd.json) {
            return;
        }
        out.printf(Locale.ROOT, "%nbatch %d, %s: %.2f ms/image while profiled (%d forward%s; %s)%n", b,
                torch ? "vitrim" : "ONNX Runtime", p.wallMs() / b, cmd.runs, cmd.runs == 1 ? "" : "s",
                torch ? "libtorch's profiler, self time of each operator" : "its profiler, time of each kernel");
        for (Map.Entry<OpProfile.Kind, Double> e : p.msByKind().entrySet()) {
            if (e.getValue() > 0) {
                out.printf(Locale.ROOT, "  %9.3f ms  %5.1f%%  %s%n", e.getValue() / b,
                        100 * e.getValue() / p.wallMs(), e.getKey().label());
            }
        }
        out.printf(Locale.ROOT, "  %9.3f ms  %5.1f%%  %s%n", p.outsideMs() / b, 100 * p.outsideMs() / p.wallMs(),
                torch ? "outside libtorch's operators (Java, JNI)"
                        : "outside ONNX Runtime's kernels (Java, JNI, the session between kernels)");
        out.println(torch ? "  longest operators:" : "  longest kernels:");
        for (OpProfile.Op o : p.ops().subList(0, Math.min(TOP, p.ops().size()))) {
            out.printf(Locale.ROOT, "  %9.3f ms  %5.1f%%  %s (%.0f per forward)%n",
                    o.selfMs() / b, 100 * o.selfMs() / p.wallMs(), o.name(), o.calls());
        }
        out.flush();
    }
}
