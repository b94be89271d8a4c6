package dev.vitrim.infer;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.image.Preprocessor;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/** Images in, ranked classes out: decoding, timm's evaluation transform, batched forward, softmax. */
public final class Classifier {
    private final VisionTransformer model;
    private final Preprocessor preprocessor;
    private final int size;
    private final TokenReducer reducer;

    public Classifier(VisionTransformer model, PreprocessConfig preprocess) {
        this(model, preprocess, Reducers.NONE);
    }

    public Classifier(VisionTransformer model, PreprocessConfig preprocess, TokenReducer reducer) {
        this.model = model;
        this.reducer = reducer;
        this.preprocessor = new Preprocessor(preprocess);
        this.size = preprocess.size();
        if (size % model.config().patchSize() != 0) {
            throw new VitrimException("preprocess size " + size + " is not a multiple of the patch size "
                    + model.config().patchSize());
        }
    }

    /**
     * Classifies the files in batches of {@code batch}. Unreadable images get an error entry; the rest are
     * classified. {@code trace} (may be null) records the reducer's work for the images that could be read,
     * in order. {@code progress} receives the number of images finished so far.
     */
    public List<Classification> classify(List<Path> files, int topK, boolean withLogits, int batch, Trace trace,
                                         IntConsumer progress) {
        List<Classification> results = new ArrayList<>(files.size());
        VitConfig c = model.config();
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
                FloatTensor logits = model.forward(new FloatTensor(new long[] {inputs.size(), 3, size, size}, data),
                        reducer, trace);
                int classes = (int) logits.shape()[1];
                for (int i = 0; i < inputs.size(); i++) {
                    float[] row = new float[classes];
                    System.arraycopy(logits.data(), i * classes, row, 0, classes);
                    int idx = where.get(i);
                    slot[idx] = new Classification(chunk.get(idx).toString(), top(row, topK, c),
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
    public static List<Classification.Top> top(float[] logits, int k, VitConfig c) {
        double[] p = softmax(logits);
        Integer[] order = new Integer[logits.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        List<Classification.Top> out = new ArrayList<>();
        for (int i = 0; i < Math.min(k, order.length); i++) {
            int j = order[i];
            out.add(new Classification.Top(c.label(j), j, p[j]));
        }
        return out;
    }

    /** The softmax of one row of logits, in double precision (the maximum subtracted first). */
    public static double[] softmax(float[] logits) {
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
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }
}
