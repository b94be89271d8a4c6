package dev.vitrim.onnx;

import dev.vitrim.VitrimException;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.image.Preprocessor;
import dev.vitrim.infer.Classification;
import dev.vitrim.io.FloatTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Images in, ranked classes out, on ONNX Runtime: the same decoding and evaluation transform as
 * {@code infer.Classifier}, the graph for the forward.
 */
public final class OnnxClassifier {
    private final OnnxModel model;
    private final Preprocessor preprocessor;
    private final int size;
    private final List<String> labels;

    /** {@code labels} may be empty (classes named by their index). */
    public OnnxClassifier(OnnxModel model, PreprocessConfig preprocess, List<String> labels) {
        this.model = model;
        this.preprocessor = new Preprocessor(preprocess);
        this.size = preprocess.size();
        this.labels = List.copyOf(labels);
        model.checkInput(new long[] {1, 3, size, size}, "--size " + size);
    }

    /** Classifies the files in batches; unreadable images get an error entry, the rest are classified. */
    public List<Classification> classify(List<Path> files, int topK, boolean withLogits, int batch, IntConsumer progress) {
        List<Classification> results = new ArrayList<>(files.size());
        int plane = 3 * size * size;
        int done = 0;
        for (int start = 0; start < files.size(); start += batch) {
            List<Path> chunk = files.subList(start, Math.min(files.size(), start + batch));
            List<float[]> inputs = new ArrayList<>();
            List<Integer> where = new ArrayList<>();
            Classification[] slot = new Classification[chunk.size()];
            for (int i = 0; i < chunk.size(); i++) {
                try {
                    inputs.add(preprocessor.apply(chunk.get(i)));
                    where.add(i);
                } catch (VitrimException e) {
                    slot[i] = Classification.failed(chunk.get(i).toString(), e.getMessage());
                }
            }
            if (!inputs.isEmpty()) {
                float[] data = new float[inputs.size() * plane];
                for (int i = 0; i < inputs.size(); i++) {
                    System.arraycopy(inputs.get(i), 0, data, i * plane, plane);
                }
                FloatTensor logits = model.forward(new FloatTensor(new long[] {inputs.size(), 3, size, size}, data));
                int classes = (int) logits.shape()[1];
                for (int i = 0; i < inputs.size(); i++) {
                    float[] row = new float[classes];
                    System.arraycopy(logits.data(), i * classes, row, 0, classes);
                    int idx = where.get(i);
                    slot[idx] = new Classification(chunk.get(idx).toString(), top(row, topK, labels),
                            withLogits ? row : null, null);
                }
            }
            for (Classification r : slot) {
                results.add(r);
            }
            done += chunk.size();
            if (progress != null) {
                progress.accept(done);
            }
        }
        return results;
    }

    /** Softmax in double precision, then the {@code k} most probable classes. */
    static List<Classification.Top> top(float[] logits, int k, List<String> labels) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            sum += p[i];
        }
        Integer[] order = new Integer[logits.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
            p[i] /= sum;
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        List<Classification.Top> out = new ArrayList<>();
        for (int i = 0; i < Math.min(k, order.length); i++) {
            int j = order[i];
            out.add(new Classification.Top(j < labels.size() ? labels.get(j) : Integer.toString(j), j, p[j]));
        }
        return out;
    }
}
