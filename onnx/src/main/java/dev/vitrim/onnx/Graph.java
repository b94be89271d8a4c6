package dev.vitrim.onnx;

import com.google.protobuf.ByteString;
import dev.vitrim.onnx.proto.Onnx.AttributeProto;
import dev.vitrim.onnx.proto.Onnx.GraphProto;
import dev.vitrim.onnx.proto.Onnx.NodeProto;
import dev.vitrim.onnx.proto.Onnx.TensorProto;
import dev.vitrim.onnx.proto.Onnx.TensorShapeProto;
import dev.vitrim.onnx.proto.Onnx.TypeProto;
import dev.vitrim.onnx.proto.Onnx.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * An ONNX graph under construction: nodes in topological order (each added after its inputs), initializers, inputs
 * and outputs, with one helper per operator the export uses. Operators whose signature changed between opsets
 * (reductions' axes became an input at opset 18) are written for the target opset.
 */
final class Graph {
    static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
    static final int INT64 = TensorProto.DataType.INT64_VALUE;
    static final int BOOL = TensorProto.DataType.BOOL_VALUE;

    final int opset;
    final GraphProto.Builder g = GraphProto.newBuilder();
    private int counter;

    Graph(int opset, String name) {
        this.opset = opset;
        g.setName(name);
    }

    private String fresh(String op) {
        return op.toLowerCase(java.util.Locale.ROOT) + "_" + counter++;
    }

    // ------------------------------------------------------------------------------------ nodes and attributes

    static AttributeProto attr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    static AttributeProto attr(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    static AttributeProto attr(String name, long[] v) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long x : v) {
            a.addInts(x);
        }
        return a.build();
    }

    static AttributeProto attr(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(v)).build();
    }

    static AttributeProto attr(String name, TensorProto v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.TENSOR).setT(v).build();
    }

    /** Adds a node with {@code outputs} fresh outputs; returns their names. */
    String[] nodeN(String op, int outputs, List<String> inputs, AttributeProto... attrs) {
        String id = fresh(op);
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(id).addAllInput(inputs);
        String[] out = new String[outputs];
        for (int i = 0; i < outputs; i++) {
            out[i] = outputs == 1 ? id : id + "_" + i;
            n.addOutput(out[i]);
        }
        for (AttributeProto a : attrs) {
            n.addAttribute(a);
        }
        g.addNode(n);
        return out;
    }

    String node(String op, List<String> inputs, AttributeProto... attrs) {
        return nodeN(op, 1, inputs, attrs)[0];
    }

    /** A node whose output has a given name (graph outputs). */
    void named(String op, String output, List<String> inputs, AttributeProto... attrs) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(fresh(op)).addAllInput(inputs)
                .addOutput(output);
        for (AttributeProto a : attrs) {
            n.addAttribute(a);
        }
        g.addNode(n);
    }

    // ------------------------------------------------------------------------------------ tensors

    static TensorProto floats(String name, float[] v, long... shape) {
        ByteBuffer bb = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bb.asFloatBuffer().put(v);
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(FLOAT).setRawData(
                ByteString.copyFrom(bb));
        for (long s : shape) {
            t.addDims(s);
        }
        return t.build();
    }

    static TensorProto longs(String name, long[] v, long... shape) {
        ByteBuffer bb = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        bb.asLongBuffer().put(v);
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(INT64).setRawData(
                ByteString.copyFrom(bb));
        for (long s : shape) {
            t.addDims(s);
        }
        return t.build();
    }

    /** A float initializer (a weight or a constant). */
    String init(String name, float[] v, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        if (n != v.length) {
            throw new IllegalArgumentException(name + ": " + v.length + " values for shape " + java.util.Arrays.toString(shape));
        }
        g.addInitializer(floats(name, v, shape));
        return name;
    }

    String initLongs(String name, long[] v, long... shape) {
        g.addInitializer(longs(name, v, shape));
        return name;
    }

    /** An int64 constant, 1-D. */
    String ints(long... v) {
        return initLongs(fresh("const"), v, v.length);
    }

    /** An int64 constant of any shape. */
    String constLongs(long[] v, long... shape) {
        return initLongs(fresh("const"), v, shape);
    }

    /** A 0-d int64 constant. */
    String scalarLong(long v) {
        return initLongs(fresh("const"), new long[] {v});
    }

    /** A 0-d float constant. */
    String scalar(float v) {
        return init(fresh("const"), new float[] {v});
    }

    String floatsConst(float[] v, long... shape) {
        return init(fresh("const"), v, shape);
    }

    // ------------------------------------------------------------------------------------ graph inputs/outputs

    static ValueInfoProto value(String name, int type, Object... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (Object d : dims) {
            if (d instanceof String p) {
                s.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(p));
            } else {
                s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(((Number) d).longValue()));
            }
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(type).setShape(s))).build();
    }

    void input(String name, int type, Object... dims) {
        g.addInput(value(name, type, dims));
    }

    void output(String name, int type, Object... dims) {
        g.addOutput(value(name, type, dims));
    }

    // ------------------------------------------------------------------------------------ operators

    String add(String a, String b) {
        return node("Add", List.of(a, b));
    }

    String sub(String a, String b) {
        return node("Sub", List.of(a, b));
    }

    String mul(String a, String b) {
        return node("Mul", List.of(a, b));
    }

    String div(String a, String b) {
        return node("Div", List.of(a, b));
    }

    String matMul(String a, String b) {
        return node("MatMul", List.of(a, b));
    }

    String reshape(String x, long... shape) {
        return node("Reshape", List.of(x, ints(shape)));
    }

    String transpose(String x, long... perm) {
        return node("Transpose", List.of(x), attr("perm", perm));
    }

    /** x[start:end:step] along one axis. */
    String slice(String x, long axis, long start, long end, long step) {
        return node("Slice", List.of(x, ints(start), ints(end), ints(axis), ints(step)));
    }

    String slice(String x, long axis, long start, long end) {
        return slice(x, axis, start, end, 1);
    }

    /** x taken at one index of {@code axis}, which disappears. */
    String pick(String x, long axis, long index) {
        return node("Gather", List.of(x, scalarLong(index)), attr("axis", axis));
    }

    String gather(String x, String index, long axis) {
        return node("Gather", List.of(x, index), attr("axis", axis));
    }

    String gatherElements(String x, String index, long axis) {
        return node("GatherElements", List.of(x, index), attr("axis", axis));
    }

    String concat(long axis, String... parts) {
        return parts.length == 1 ? parts[0] : node("Concat", List.of(parts), attr("axis", axis));
    }

    String unsqueeze(String x, long... axes) {
        return node("Unsqueeze", List.of(x, ints(axes)));
    }

    String squeeze(String x, long... axes) {
        return node("Squeeze", List.of(x, ints(axes)));
    }

    private String reduce(String op, String x, long[] axes, boolean keep) {
        boolean axesInput = opset >= 18 || op.equals("ReduceSum");
        if (axesInput) {
            return node(op, List.of(x, ints(axes)), attr("keepdims", keep ? 1 : 0));
        }
        return node(op, List.of(x), attr("axes", axes), attr("keepdims", keep ? 1 : 0));
    }

    String reduceMean(String x, boolean keep, long... axes) {
        return reduce("ReduceMean", x, axes, keep);
    }

    String reduceSum(String x, boolean keep, long... axes) {
        return reduce("ReduceSum", x, axes, keep);
    }

    String reduceMax(String x, boolean keep, long... axes) {
        return reduce("ReduceMax", x, axes, keep);
    }

    String reduceL2(String x, boolean keep, long... axes) {
        return reduce("ReduceL2", x, axes, keep);
    }

    String softmax(String x, long axis) {
        return node("Softmax", List.of(x), attr("axis", axis));
    }

    String layerNorm(String x, String w, String b, double eps) {
        return node("LayerNormalization", List.of(x, w, b), attr("axis", -1L), attr("epsilon", (float) eps));
    }

    /** The exact (erf) GELU: the operator from opset 20, its formula before. */
    String gelu(String x) {
        if (opset >= 20) {
            return node("Gelu", List.of(x), attr("approximate", "none"));
        }
        String e = node("Erf", List.of(mul(x, scalar((float) (1 / Math.sqrt(2))))));
        return mul(mul(x, scalar(0.5f)), add(e, scalar(1f)));
    }

    /** Values and indices of the k largest (or smallest) along the last axis, sorted; equal values: lower index first. */
    String[] topK(String x, long k, boolean largest) {
        return nodeN("TopK", 2, List.of(x, ints(k)), attr("axis", -1L), attr("largest", largest ? 1 : 0),
                attr("sorted", 1L));
    }

    String argMax(String x, long axis, boolean keep) {
        return node("ArgMax", List.of(x), attr("axis", axis), attr("keepdims", keep ? 1 : 0),
                attr("select_last_index", 0L));
    }

    String less(String a, String b) {
        return node("Less", List.of(a, b));
    }

    String equal(String a, String b) {
        return node("Equal", List.of(a, b));
    }

    String cast(String x, int to) {
        return node("Cast", List.of(x), attr("to", (long) to));
    }

    /** x broadcast against {@code shape} (a 1-D int64 tensor): numpy broadcasting both ways, as Expand does. */
    String expand(String x, String shape) {
        return node("Expand", List.of(x, shape));
    }

    /** The dimensions [start, end) of x's shape, 1-D int64. */
    String shapeOf(String x, long start, long end) {
        return node("Shape", List.of(x), attr("start", start), attr("end", end));
    }

    String log(String x) {
        return node("Log", List.of(x));
    }

    String neg(String x) {
        return node("Neg", List.of(x));
    }

    String identity(String x) {
        return node("Identity", List.of(x));
    }

    /** A tensor of {@code shape} (1-D int64 tensor) filled with one float value. */
    String filled(String shape, float v) {
        return node("ConstantOfShape", List.of(shape), attr("value", floats("value", new float[] {v}, 1)));
    }

    /** A tensor of {@code shape} filled with one int64 value. */
    String filledLong(String shape, long v) {
        return node("ConstantOfShape", List.of(shape), attr("value", longs("value", new long[] {v}, 1)));
    }
}
