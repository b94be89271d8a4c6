package dev.vitrim.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.VitrimException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where a forward's time goes: libtorch's profiler around a few forwards, each operator's self time (its duration
 * less that of the operators it called) summed by name and grouped by kind, and the time outside libtorch's
 * operators (Java, JNI, the reducers' bookkeeping in Java) as the wall time less the operators' total.
 */
public final class OpProfile {
    /** What an operator does, for the split of a forward's time. */
    public enum Kind {
        LINEAR("linear layers (matrix products with their fused bias and activation)"),
        ATTENTION("attention (scaled dot-product: its products and softmax, or the fused kernel)"),
        NORM("layer norm"),
        ELEMENTWISE("elementwise (residual adds, activations, scaling)"),
        SELECTION("token selection and merging (top-k, sort, gather, scatter, index, embedding bag)"),
        MEMORY("memory and layout (copies, concatenation, views, allocation)"),
        SCRIPT("TorchScript scopes (the interpreter between operators)"),
        OTHER("other operators");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        /** What the kind covers, in words. */
        public String label() {
            return label;
        }
    }

    /** One operator name over the profiled forwards: self time per forward and calls per forward. */
    public record Op(String name, Kind kind, double selfMs, double calls) {}

    private final double wallMs;
    private final List<Op> ops;

    private OpProfile(double wallMs, List<Op> ops) {
        this.wallMs = wallMs;
        this.ops = ops;
    }

    /**
     * Runs {@code forward} {@code forwards} times under libtorch's profiler (after the caller has warmed it up) and
     * returns the split per forward. The profiler adds a little time to every operator, so the wall time here is a
     * few percent above an unprofiled run's.
     */
    public static OpProfile record(Runnable forward, int forwards) {
        if (forwards < 1) {
            throw new IllegalArgumentException("forwards must be at least 1, got " + forwards);
        }
        Path trace;
        try {
            trace = Files.createTempFile("vitrim-profile", ".json");
        } catch (IOException e) {
            throw new VitrimException("cannot create a temporary file for the profile: " + e.getMessage(), e);
        }
        try {
            ai.djl.pytorch.jni.JniUtils.startProfile(false, false, false);
            long t0 = System.nanoTime();
            try {
                for (int i = 0; i < forwards; i++) {
                    forward.run();
                }
            } finally {
                ai.djl.pytorch.jni.JniUtils.stopProfile(trace.toString());
            }
            double wall = (System.nanoTime() - t0) / 1e6;
            return parse(new ObjectMapper().readTree(trace.toFile()), wall, forwards);
        } catch (IOException e) {
            throw new VitrimException("cannot read libtorch's profile " + trace + ": " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(trace);
            } catch (IOException ignored) {
                // a temporary file left behind is not worth failing the measurement for
            }
        }
    }

    /**
     * The split from a Chrome trace (an array of events, or an object with {@code traceEvents}) of {@code forwards}
     * forwards that took {@code wallMs} in all. Self time: on each thread, events nest by time; each one's duration
     * less that of the events directly inside it.
     */
    static OpProfile parse(JsonNode trace, double wallMs, int forwards) {
        JsonNode events = trace.isArray() ? trace : trace.path("traceEvents");
        Map<Long, List<double[]>> byThread = new HashMap<>();
        List<String> names = new ArrayList<>();
        Map<String, Integer> ids = new HashMap<>();
        for (JsonNode e : events) {
            if (!"X".equals(e.path("ph").asText()) || !e.has("dur")) {
                continue;
            }
            String name = e.path("name").asText();
            int id = ids.computeIfAbsent(name, n -> {
                names.add(n);
                return names.size() - 1;
            });
            byThread.computeIfAbsent(e.path("tid").asLong(), t -> new ArrayList<>())
                    .add(new double[] {e.path("ts").asDouble(), e.path("dur").asDouble(), id});
        }
        double[] self = new double[names.size()];
        int[] calls = new int[names.size()];
        for (List<double[]> evs : byThread.values()) {
            // parents first: earlier start, and at the same start the longer one
            evs.sort(Comparator.<double[]>comparingDouble(a -> a[0]).thenComparingDouble(a -> -a[1]));
            List<double[]> stack = new ArrayList<>();
            for (double[] e : evs) {
                while (!stack.isEmpty() && top(stack)[0] + top(stack)[1] <= e[0]) {
                    stack.remove(stack.size() - 1);
                }
                if (!stack.isEmpty()) {
                    self[(int) top(stack)[2]] -= e[1];
                }
                self[(int) e[2]] += e[1];
                calls[(int) e[2]]++;
                stack.add(e);
            }
        }
        List<Op> ops = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            ops.add(new Op(names.get(i), kind(names.get(i)), self[i] / 1e3 / forwards, (double) calls[i] / forwards));
        }
        ops.sort(Comparator.comparingDouble(Op::selfMs).reversed());
        return new OpProfile(wallMs / forwards, List.copyOf(ops));
    }

    /**
     * A split measured by another profiler (ONNX Runtime's): {@code wallMsPerForward} and each operator's self time
     * and calls per forward.
     */
    public static OpProfile of(double wallMsPerForward, List<Op> ops) {
        List<Op> sorted = new ArrayList<>(ops);
        sorted.sort(Comparator.comparingDouble(Op::selfMs).reversed());
        return new OpProfile(wallMsPerForward, List.copyOf(sorted));
    }

    private static double[] top(List<double[]> stack) {
        return stack.get(stack.size() - 1);
    }

    /** The kind of a libtorch operator (or TorchScript scope) by its profiler name. */
    static Kind kind(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (!n.contains("::")) {
            return Kind.SCRIPT;
        }
        String op = n.substring(n.lastIndexOf("::") + 2);
        if (n.contains("linear") || op.equals("addmm") || op.equals("mm") || op.equals("bmm") || op.equals("matmul")
                || op.equals("baddbmm") || n.startsWith("quantized::") || n.contains("fbgemm")) {
            return Kind.LINEAR;
        }
        if (op.contains("scaled_dot_product") || op.contains("softmax")) {
            return Kind.ATTENTION;
        }
        if (op.contains("layer_norm")) {
            return Kind.NORM;
        }
        if (op.startsWith("topk") || op.startsWith("sort") || op.startsWith("argsort") || op.startsWith("gather")
                || op.startsWith("scatter") || op.startsWith("index") || op.startsWith("masked")
                || op.startsWith("cumsum") || op.startsWith("nonzero") || op.startsWith("where")
                || op.startsWith("take_along_dim") || op.startsWith("argmax") || op.startsWith("max")
                || op.startsWith("embedding_bag") || op.startsWith("_embedding_bag")) {
            return Kind.SELECTION;
        }
        if (op.startsWith("copy") || op.startsWith("clone") || op.startsWith("contiguous") || op.startsWith("cat")
                || op.startsWith("stack") || op.startsWith("empty") || op.startsWith("zeros") || op.startsWith("ones")
                || op.startsWith("full") || op.equals("to") || op.startsWith("_to_copy") || op.startsWith("view")
                || op.startsWith("reshape") || op.startsWith("_unsafe_view") || op.startsWith("permute")
                || op.startsWith("transpose") || op.equals("t") || op.startsWith("as_strided")
                || op.startsWith("select") || op.startsWith("slice") || op.startsWith("expand")
                || op.startsWith("unsqueeze") || op.startsWith("squeeze") || op.startsWith("flatten")
                || op.startsWith("narrow") || op.startsWith("split") || op.startsWith("chunk")
                || op.startsWith("unbind") || op.startsWith("resize") || op.startsWith("detach")
                || op.startsWith("alias") || op.startsWith("lift") || op.startsWith("set_")) {
            return Kind.MEMORY;
        }
        if (op.startsWith("add") || op.startsWith("sub") || op.startsWith("mul") || op.startsWith("div")
                || op.startsWith("gelu") || op.startsWith("erf") || op.startsWith("tanh") || op.startsWith("exp")
                || op.startsWith("sigmoid") || op.startsWith("relu") || op.startsWith("sqrt")
                || op.startsWith("rsqrt") || op.startsWith("pow") || op.startsWith("neg") || op.startsWith("mean")
                || op.startsWith("sum") || op.startsWith("clamp") || op.startsWith("fill") || op.equals("norm")
                || op.startsWith("linalg_vector_norm")) {
            return Kind.ELEMENTWISE;
        }
        return Kind.OTHER;
    }

    /** Wall time per forward while profiled, in milliseconds. */
    public double wallMs() {
        return wallMs;
    }

    /** Self time per forward by kind, in milliseconds (every kind present, zero where no operator ran). */
    public Map<Kind, Double> msByKind() {
        Map<Kind, Double> m = new EnumMap<>(Kind.class);
        for (Kind k : Kind.values()) {
            m.put(k, 0.0);
        }
        for (Op o : ops) {
            m.merge(o.kind(), o.selfMs(), Double::sum);
        }
        return m;
    }

    /** Time per forward outside libtorch's operators (Java, JNI, bookkeeping): wall less the operators' total. */
    public double outsideMs() {
        return Math.max(0, wallMs - ops.stream().mapToDouble(Op::selfMs).sum());
    }

    /** Every operator name, most self time first. */
    public List<Op> ops() {
        return ops;
    }
}
