package dev.vitrim.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.data.BatchLoader;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.engine.Torch;
import dev.vitrim.model.VisionTransformer;

/** Loss and accuracy of a model on labelled images (evaluation transform, no augmentation, no gradients). */
final class Evaluator {
    private Evaluator() {}

    /**
     * @param loss     mean cross-entropy (no label smoothing)
     * @param accuracy top-1 accuracy in [0, 1]
     * @param count    images evaluated
     */
    public record Metrics(double loss, double accuracy, int count) {}

    public static Metrics evaluate(VisionTransformer vit, LabeledImages data, ImageTransform transform, int batch) {
        return evaluate(vit, data, transform, batch, dev.vitrim.reduce.Reducers.NONE);
    }

    /** The same, with the model's tokens reduced by {@code reducer} (as inference will run it). */
    public static Metrics evaluate(VisionTransformer vit, LabeledImages data, ImageTransform transform, int batch,
                                   dev.vitrim.reduce.TokenReducer reducer) {
        if (vit.config().numClasses() != data.numClasses()) {
            throw new dev.vitrim.VitrimException(data.name() + " has " + data.numClasses() + " classes but the model has "
                    + vit.config().numClasses() + " outputs");
        }
        Torch.inference();
        int s = transform.pre().size();
        int k = data.numClasses();
        double lossSum = 0;
        long correct = 0;
        try (BatchLoader loader = new BatchLoader(data, transform, batch, false, 0, 0, 2)) {
            while (loader.hasNext()) {
                BatchLoader.Batch b = loader.next();
                try (NDManager m = vit.manager().newSubManager()) {
                    NDArray x = m.create(b.x(), new Shape(b.size(), 3, s, s));
                    float[] lp = vit.forward(x, reducer, null).logSoftmax(1).toFloatArray();
                    for (int i = 0; i < b.size(); i++) {
                        int y = b.y()[i];
                        lossSum -= lp[i * k + y];
                        if (argmax(lp, i * k, k) == y) {
                            correct++;
                        }
                    }
                }
            }
        }
        int n = data.size();
        return new Metrics(lossSum / n, (double) correct / n, n);
    }

    static int argmax(float[] v, int from, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) {
            if (v[from + j] > v[from + best]) {
                best = j;
            }
        }
        return best;
    }
}
