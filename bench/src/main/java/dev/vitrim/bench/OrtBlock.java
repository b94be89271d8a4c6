package dev.vitrim.bench;

import ai.djl.ndarray.NDArray;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.vitrim.onnx.proto.Onnx.GraphProto;
import dev.vitrim.onnx.proto.Onnx.ModelProto;
import dev.vitrim.onnx.proto.Onnx.NodeProto;
import dev.vitrim.onnx.proto.Onnx.OperatorSetIdProto;
import dev.vitrim.onnx.proto.Onnx.TensorProto;
import dev.vitrim.onnx.proto.Onnx.TensorShapeProto;
import dev.vitrim.onnx.proto.Onnx.TypeProto;
import dev.vitrim.onnx.proto.Onnx.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Map;

/**
 * The four products of {@link LinearKernels} as an ONNX graph, the way {@code vitrim export} writes a linear layer
 * (MatMul on the transposed weight, then Add): input {@code x [1, rows, width]}; qkv, proj and fc1 read x, fc2 reads
 * fc1's output; all four are outputs, so that none is dropped as unused.
 */
final class OrtBlock {
    private OrtBlock() {
    }

    static byte[] model(NDArray[] weights, NDArray[] biases) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("block");
        long width = weights[0].getShape().get(1);
        g.addInput(value("x", "rows", width));
        String[] names = {"qkv", "proj", "fc1", "fc2"};
        for (int i = 0; i < 4; i++) {
            long out = weights[i].getShape().get(0);
            long in = weights[i].getShape().get(1);
            g.addInitializer(floats(names[i] + ".wt", weights[i].transpose().toFloatArray(), in, out));
            g.addInitializer(floats(names[i] + ".b", biases[i].toFloatArray(), out));
            String input = i < 3 ? "x" : "fc1";
            g.addNode(NodeProto.newBuilder().setOpType("MatMul").addInput(input).addInput(names[i] + ".wt")
                    .addOutput(names[i] + ".mm"));
            g.addNode(NodeProto.newBuilder().setOpType("Add").addInput(names[i] + ".mm").addInput(names[i] + ".b")
                    .addOutput(names[i]));
            g.addOutput(value(names[i], "rows", out));
        }
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("vitrim-bench")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .setGraph(g).build().toByteArray();
    }

    /** The largest difference between fc2 as ONNX Runtime computes it and {@code expected}. */
    static float maxDiff(OrtSession session, OnnxTensor x, float[] expected) {
        try (OrtSession.Result r = session.run(Map.of("x", x))) {
            FloatBuffer fb = ((OnnxTensor) r.get("fc2").orElseThrow()).getFloatBuffer();
            float max = 0;
            for (int i = 0; i < expected.length; i++) {
                max = Math.max(max, Math.abs(fb.get(i) - expected[i]));
            }
            return fb.remaining() == expected.length ? max : Float.POSITIVE_INFINITY;
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ValueInfoProto value(String name, String rows, long width) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(1))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(rows))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(width));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(s))).build();
    }

    private static TensorProto floats(String name, float[] v, long... shape) {
        ByteBuffer bb = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bb.asFloatBuffer().put(v);
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE)
                .setRawData(ByteString.copyFrom(bb));
        for (long d : shape) {
            t.addDims(d);
        }
        return t.build();
    }
}
