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
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.TokenReducer;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code bench --profile}: one configuration's forward split by operator kind, per batch size. */
final class ProfileBench {
    /** Operators listed by name under the split. */
    static final int TOP = 8;

    private final BenchCommand cmd;

    ProfileBench(BenchCommand cmd) {
        this.cmd = cmd;
    }

    void run() throws Exception {
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
        Torch.engine(cmd.common.threads);
        PrintWriter out = cmd.spec.commandLine().getOut();
        try (VisionTransformer vit = cmd.model.load()) {
            Precision.Choice format = vit.usePrecision(formats.isEmpty() ? Precision.FP32 : formats.get(0));
            TokenReducer r = cmd.reduce.reducer(vit);
            ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode doc = om.createObjectNode();
            doc.put("model", cmd.model.name()).put("reduce", r.spec()).put("precision", format.chosen().label())
                    .put("precision_reason", format.reason()).put("gmacs", Macs.plan(vit.config(), r).gmacs())
                    .put("threads", ai.djl.pytorch.jni.JniUtils.getNumThreads()).put("cpu", Benchmark.cpu());
            ArrayNode rows = doc.putArray("profiles");
            if (!cmd.json) {
                int n = doc.get("threads").asInt();
                out.printf(Locale.ROOT, "%s, %s, %s, %d thread%s (%s): where a forward's time goes (libtorch's "
                        + "profiler; self time of each operator)%n", cmd.model.name(), r.spec(), format.reason(), n,
                        n == 1 ? "" : "s", doc.get("cpu").asText());
            }
            int px = vit.config().imageSize();
            for (int b : cmd.batches) {
                OpProfile p;
                try (NDManager m = vit.manager().newSubManager()) {
                    Torch.inference();
                    NDArray x = m.randomNormal(0, 1, new Shape(b, 3, px, px), DataType.FLOAT32);
                    Runnable f = Benchmark.forward(m, x, vit, r);
                    Benchmark.time(f, cmd.warmup, 1, 1, 0); // warm-up (and one run) outside the profile
                    p = OpProfile.record(f, cmd.runs);
                }
                ObjectNode row = rows.addObject().put("batch", b).put("forwards", cmd.runs)
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
                if (!cmd.json) {
                    out.printf(Locale.ROOT, "%nbatch %d: %.2f ms/image while profiled (%d forwards)%n", b,
                            p.wallMs() / b, cmd.runs);
                    for (Map.Entry<OpProfile.Kind, Double> e : p.msByKind().entrySet()) {
                        if (e.getValue() > 0) {
                            out.printf(Locale.ROOT, "  %9.3f ms  %5.1f%%  %s%n", e.getValue() / b,
                                    100 * e.getValue() / p.wallMs(), e.getKey().label());
                        }
                    }
                    out.printf(Locale.ROOT, "  %9.3f ms  %5.1f%%  outside libtorch's operators (Java, JNI)%n",
                            p.outsideMs() / b, 100 * p.outsideMs() / p.wallMs());
                    out.println("  longest operators:");
                    for (OpProfile.Op o : p.ops().subList(0, Math.min(TOP, p.ops().size()))) {
                        out.printf(Locale.ROOT, "  %9.3f ms  %5.1f%%  %s (%.0f per forward)%n",
                                o.selfMs() / b, 100 * o.selfMs() / p.wallMs(), o.name(), o.calls());
                    }
                    out.flush();
                }
            }
            if (cmd.json) {
                out.println(om.writeValueAsString(doc));
            }
        }
    }
}
