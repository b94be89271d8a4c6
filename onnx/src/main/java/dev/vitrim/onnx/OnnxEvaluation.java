package dev.vitrim.onnx;

import dev.vitrim.VitrimException;
import dev.vitrim.data.BatchLoader;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.eval.Evaluation;
import dev.vitrim.io.FloatTensor;
import java.util.Arrays;

/**
 * Top-1 and top-5 accuracy of a graph on ONNX Runtime over a labelled data set, with the same ranking rule as
 * {@code eval.Evaluation} (ties go to the lower class index). An exported graph has fixed token counts, so the tokens
 * per block are the reducer's schedule ({@code afterBlock}); pass null when unknown.
 */
public final class OnnxEvaluation {
    private OnnxEvaluation() {}

    public static Evaluation.Result run(OnnxModel model, LabeledImages data, ImageTransform transform, int batch,
                                        int[] afterBlock, double gmacs) {
        int s = transform.pre().size();
        int n = data.size();
        int k = data.numClasses();
        long correct1 = 0;
        long correct5 = 0;
        long[] seen = new long[k];
        long[] right = new long[k];
        long nanos = 0;
        try (BatchLoader loader = new BatchLoader(data, transform, batch, false, 0, 0, 2)) {
            while (loader.hasNext()) {
                BatchLoader.Batch b = loader.next();
                long t0 = System.nanoTime();
                FloatTensor logits = model.forward(new FloatTensor(new long[] {b.size(), 3, s, s}, b.x()));
                nanos += System.nanoTime() - t0;
                if (logits.shape()[1] != k) {
                    throw new VitrimException(data.name() + " has " + k + " classes but the graph has "
                            + logits.shape()[1] + " outputs");
                }
                for (int i = 0; i < b.size(); i++) {
                    int y = b.y()[i];
                    int rank = 0;
                    float v = logits.data()[i * k + y];
                    for (int j = 0; j < k; j++) {
                        float o = logits.data()[i * k + j];
                        if (o > v || (o == v && j < y)) {
                            rank++;
                        }
                    }
                    seen[y]++;
                    if (rank == 0) {
                        correct1++;
                        right[y]++;
                    }
                    if (rank < 5) {
                        correct5++;
                    }
                }
            }
        }
        double[] perClass = new double[k];
        for (int j = 0; j < k; j++) {
            perClass[j] = seen[j] == 0 ? Double.NaN : (double) right[j] / seen[j];
        }
        double[] tokens = afterBlock == null ? new double[0] : Arrays.stream(afterBlock).asDoubleStream().toArray();
        double[] classTokens = new double[k];
        Arrays.fill(classTokens, Double.NaN);
        return new Evaluation.Result(n, (double) correct1 / n, (double) correct5 / n, perClass, n / (nanos / 1e9),
                tokens, gmacs, classTokens);
    }
}
