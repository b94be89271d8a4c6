package dev.vitrim.train;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.reduce.Cropr;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;

/**
 * The token reduction of a training run: what the training forward runs, what validation runs on the saved file,
 * and what the file records. {@code cropr} trains Cropr's modules ({@link CroprTraining}); any other reducer is
 * fine-tuned with, exactly as inference runs it ({@link TrainableReducer#fixed}).
 */
final class Reduction implements AutoCloseable {
    private final TrainableReducer reducer;
    private final String spec;
    private final String recorded;
    private final String validation;

    private Reduction(TrainableReducer reducer, String spec, String recorded, String validation) {
        this.reducer = reducer;
        this.spec = spec;
        this.recorded = recorded;
        this.validation = validation;
    }

    static Reduction of(String given, VitConfig arch, long seed) {
        return of(given, arch, seed, CroprTraining.Task.CLASSIFY, arch.numClasses());
    }

    /** The same, Cropr's auxiliary heads learning {@code task} over {@code classes} classes. */
    static Reduction of(String given, VitConfig arch, long seed, CroprTraining.Task task, int classes) {
        TokenReducer parsed = Reducers.parse(given, arch);
        if (parsed == Reducers.NONE) {
            return new Reduction(TrainableReducer.fixed(parsed), "none", null, "none");
        }
        String spec = parsed.spec();
        if (parsed instanceof Cropr) {
            Cropr c = (Cropr) parsed;
            String full = spec + (c.ramp() ? ",ramp=true" : "")
                    + (c.queryStd() != Cropr.DEFAULT_QUERY_STD ? ",qstd=" + c.queryStd() : "");
            CroprTraining t = new CroprTraining(c, arch, task, classes, seed);
            return new Reduction(t, full, spec, spec);
        }
        if (spec.contains("cropr:")) {
            throw new VitrimException("reducer '" + given + "': Cropr's modules train alone; drop the other reducers "
                    + "(they can be combined at inference)");
        }
        return new Reduction(TrainableReducer.fixed(parsed), spec, spec, spec);
    }

    /** What the training forward runs, with its own parameters and auxiliary losses, if any. */
    TrainableReducer reducer() {
        return reducer;
    }

    /** The canonical spec of the run ("none" without reduction), checked on --resume. */
    String spec() {
        return spec;
    }

    /** What the saved model records under {@code vitrim.reduce} (null: nothing). */
    String recorded() {
        return recorded;
    }

    /** What validation runs on the saved file. */
    String validationSpec() {
        return validation;
    }

    @Override
    public void close() {
        reducer.close();
    }
}
