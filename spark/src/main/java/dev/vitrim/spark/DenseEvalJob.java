package dev.vitrim.spark;

import dev.vitrim.dense.DenseEvaluator;
import dev.vitrim.dense.DenseModel;
import java.io.Serializable;

/** One task of a dense evaluation: a model spec on images {@code [from, to)} of a dense data set. */
record DenseEvalJob(ModelSpec spec, String data, int from, int to, boolean masks) implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Runs the slice with the executor's cached model and data set. */
    DenseEvaluator.Part run() {
        DenseModel model = ModelCache.dense(spec);
        return DenseEvaluator.part(model, DataCache.dense(data, model.config().imageSize()),
                ModelCache.denseReducer(spec), spec.batch(), from, to, masks, null);
    }
}
