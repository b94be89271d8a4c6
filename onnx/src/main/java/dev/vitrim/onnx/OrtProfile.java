package dev.vitrim.onnx;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vitrim.eval.OpProfile;
import dev.vitrim.eval.OpProfile.Kind;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * ONNX Runtime's profile (its Chrome-trace JSON) as an {@link OpProfile}: the kernels of the last {@code forwards}
 * model runs, summed by operator and grouped into the kinds libtorch's operators fall into, so that the two runtimes'
 * splits read side by side. A matrix product is a linear layer when its second input is a 2-d weight or a weight
 * ONNX Runtime prepacked (the profile then lists one input), or it is a Gemm or Conv; attention when both inputs are
 * 4-d [B,heads,N,·]; token selection and merging otherwise (ToMe's similarities and one-hot merge, EViT's fused
 * token). Such products are listed as {@code MatMul (weights)}, {@code MatMul (attention)} and
 * {@code MatMul (tokens)}.
 */
final class OrtProfile {
    private OrtProfile() {
    }

    private static final Set<String> LINEAR = Set.of("Gemm", "FusedGemm", "Conv", "QGemm", "MatMulInteger",
            "QLinearMatMul", "DynamicQuantizeMatMul", "MatMulNBits", "MatMulIntegerToFloat");
    private static final Set<String> PRODUCTS = Set.of("MatMul", "FusedMatMul");
    private static final Set<String> ATTENTION = Set.of("Softmax", "Attention", "MultiHeadAttention",
            "GroupQueryAttention");
    private static final Set<String> NORM = Set.of("LayerNormalization", "SkipLayerNormalization",
            "SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization");
    private static final Set<String> ELEMENTWISE = Set.of("Add", "Sub", "Mul", "Div", "Erf", "Gelu", "BiasGelu",
            "FastGelu", "Sqrt", "Pow", "Neg", "Log", "Exp", "ReduceMean", "ReduceSum", "ReduceL2", "Sigmoid", "Relu",
            "Tanh", "Clip", "Reciprocal", "Abs", "BiasAdd");
    private static final Set<String> SELECTION = Set.of("TopK", "GatherElements", "Gather", "GatherND",
            "ScatterElements", "ScatterND", "ArgMax", "ArgMin", "ReduceMax", "ReduceMin", "Equal", "Less", "Greater",
            "LessOrEqual", "GreaterOrEqual", "Where", "OneHot", "CumSum", "NonZero", "Not", "And", "Or");
    private static final Set<String> MEMORY = Set.of("Reshape", "Transpose", "Concat", "Split", "Slice", "Expand",
            "Unsqueeze", "Squeeze", "Identity", "Cast", "Shape", "ConstantOfShape", "Flatten", "Tile", "Pad", "Range",
            "Size", "MemcpyFromHost", "MemcpyToHost");

    /** A kernel's name in the split and its kind, from its operator type and its inputs' shapes. */
    static Map.Entry<String, Kind> classify(String op, List<Integer> inputRanks) {
        if (PRODUCTS.contains(op)) {
            int a = inputRanks.size() > 0 ? inputRanks.get(0) : 0;
            int b = inputRanks.size() > 1 ? inputRanks.get(1) : 0;
            if (inputRanks.size() < 2 || b == 2) { // a weight ONNX Runtime prepacked is not listed among the inputs
                return Map.entry(op + " (weights)", Kind.LINEAR);
            }
            if (a >= 4 && b >= 4) {
                return Map.entry(op + " (attention)", Kind.ATTENTION);
            }
            return Map.entry(op + " (tokens)", Kind.SELECTION);
        }
        Kind k = LINEAR.contains(op) ? Kind.LINEAR : ATTENTION.contains(op) ? Kind.ATTENTION
                : NORM.contains(op) ? Kind.NORM : ELEMENTWISE.contains(op) ? Kind.ELEMENTWISE
                : SELECTION.contains(op) ? Kind.SELECTION : MEMORY.contains(op) ? Kind.MEMORY : Kind.OTHER;
        return Map.entry(op, k);
    }

    /**
     * The split of the last {@code forwards} model runs in {@code trace} (an array of events, or an object with
     * {@code traceEvents}), which took {@code wallMs} in all. Each kernel event ({@code *_kernel_time}) inside one of
     * those runs counts its duration; earlier runs (warm-up) are left out.
     */
    static OpProfile parse(JsonNode trace, double wallMs, int forwards) {
        JsonNode events = trace.isArray() ? trace : trace.path("traceEvents");
        List<double[]> runs = new ArrayList<>();
        for (JsonNode e : events) {
            if ("model_run".equals(e.path("name").asText()) && e.has("dur")) {
                runs.add(new double[] {e.path("ts").asDouble(), e.path("dur").asDouble()});
            }
        }
        if (runs.size() < forwards) {
            throw new dev.vitrim.VitrimException("ONNX Runtime's profile holds " + runs.size() + " model runs, "
                    + forwards + " expected");
        }
        runs.sort(Comparator.comparingDouble(r -> r[0]));
        List<double[]> kept = runs.subList(runs.size() - forwards, runs.size());
        Map<String, double[]> byName = new LinkedHashMap<>(); // name -> {self us, calls}
        Map<String, Kind> kinds = new LinkedHashMap<>();
        for (JsonNode e : events) {
            String name = e.path("name").asText();
            if (!"Node".equals(e.path("cat").asText()) || !name.endsWith("_kernel_time") || !e.has("dur")) {
                continue;
            }
            double ts = e.path("ts").asDouble();
            if (kept.stream().noneMatch(r -> ts >= r[0] && ts <= r[0] + r[1])) {
                continue;
            }
            List<Integer> ranks = new ArrayList<>();
            for (JsonNode in : e.path("args").path("input_type_shape")) {
                JsonNode dims = in.elements().hasNext() ? in.elements().next() : null;
                ranks.add(dims != null && dims.isArray() ? dims.size() : 0);
            }
            Map.Entry<String, Kind> c = classify(e.path("args").path("op_name").asText("?"), ranks);
            double[] acc = byName.computeIfAbsent(c.getKey(), n -> new double[2]);
            acc[0] += e.path("dur").asDouble();
            acc[1]++;
            kinds.put(c.getKey(), c.getValue());
        }
        List<OpProfile.Op> ops = new ArrayList<>();
        for (Map.Entry<String, double[]> e : byName.entrySet()) {
            ops.add(new OpProfile.Op(e.getKey(), kinds.get(e.getKey()), e.getValue()[0] / 1e3 / forwards,
                    e.getValue()[1] / forwards));
        }
        return OpProfile.of(wallMs / forwards, ops);
    }
}
