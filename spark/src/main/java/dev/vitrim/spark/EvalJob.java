package dev.vitrim.spark;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.BatchLoader;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/** One task of an evaluation or sweep: a model spec on a slice {@code [from, to)} of a labelled data set. */
record EvalJob(ModelSpec spec, int specIndex, String data, int from, int to) implements Serializable {
    private static final long serialVersionUID = 1L;

    /**
     * Slices {@code [0, n)} into about {@code parts} ranges whose boundaries are multiples of {@code batch}, so every
     * forward pass sees the same images as the single-machine evaluation's batches.
     */
    static List<int[]> slices(int n, int batch, int parts) {
        int batches = (n + batch - 1) / batch;
        int per = Math.max(1, (batches + Math.max(1, parts) - 1) / Math.max(1, parts));
        List<int[]> out = new ArrayList<>();
        for (int b = 0; b < batches; b += per) {
            out.add(new int[] {b * batch, Math.min(n, (b + per) * batch)});
        }
        return out;
    }

    /** Runs the slice with the executor's cached model and data. */
    EvalStats run() {
        VisionTransformer vit = ModelCache.model(spec);
        TokenReducer reducer = ModelCache.reducer(spec);
        VitConfig c = vit.config();
        LabeledImages d = DataCache.slice(data, c.preprocess(), from, to);
        if (c.numClasses() != d.numClasses()) {
            throw new VitrimException(data + " has " + d.numClasses() + " classes but the model " + spec.model()
                    + " has " + c.numClasses() + " outputs");
        }
        int k = c.numClasses();
        int s = c.preprocess().size();
        Macs.Plan plan = Macs.plan(c, reducer);
        EvalStats st = new EvalStats(k, c.depth());
        ImageTransform t = new ImageTransform(c.preprocess(), 0, false);
        try (BatchLoader loader = new BatchLoader(d, t, spec.batch(), false, 0, 0, 2)) {
            while (loader.hasNext()) {
                BatchLoader.Batch b = loader.next();
                Trace trace = new Trace();
                long t0 = System.nanoTime();
                FloatTensor logits = vit.forward(new FloatTensor(new long[] {b.size(), 3, s, s}, b.x()), reducer,
                        trace);
                st.nanos += System.nanoTime() - t0;
                for (int i = 0; i < b.size(); i++) {
                    st.add(c, plan, reducer.perImageCounts(), logits.data(), i * k, b.y()[i], trace.images().get(i));
                }
            }
        }
        return st;
    }
}
