package dev.vitrim.train;

import ai.djl.ndarray.NDArray;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.reduce.TokenReducer;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * A token reducer as training sees it: parameters of its own that train alongside the backbone (Token Cropr's
 * queries, aggregators and auxiliary heads), auxiliary losses, a schedule that moves with the step, and the tensors
 * a saved model keeps. A reducer with nothing to train ({@link #fixed}) is fine-tuned with as inference runs it.
 * The trainer treats every reducer alike through this interface.
 */
interface TrainableReducer extends TokenReducer, AutoCloseable {
    /** The reducer's own learnable parameters, by file name (empty: nothing to train). */
    Map<String, NDArray> parameters();

    /** Called before each optimiser step's forwards: step {@code step} of {@code total} (e.g. ramps a schedule). */
    default void beginStep(long step, long total) {}

    /**
     * The sum of the auxiliary losses of the last forward, each module's outputs mapped to a loss by {@code lossOf};
     * null when the reducer has none. Clears what the forward left.
     */
    default NDArray auxiliaryLoss(UnaryOperator<NDArray> lossOf) {
        return null;
    }

    /** How many auxiliary losses a forward adds (for the mean in the log); 0: none. */
    default int auxiliaryLosses() {
        return 0;
    }

    /** The tensors a saved model keeps for inference (e.g. Cropr's queries). */
    default Map<String, FloatTensor> inferenceTensors() {
        return Map.of();
    }

    /** Every parameter, for the training state. */
    default Map<String, FloatTensor> stateTensors() {
        return Map.of();
    }

    /** Restores what {@link #stateTensors()} saved. */
    default void restoreState(Map<String, FloatTensor> values) {}

    @Override
    default void close() {}

    /** A reducer with nothing to train: the training forward runs it as inference does. */
    static TrainableReducer fixed(TokenReducer r) {
        return new TrainableReducer() {
            @Override
            public Map<String, NDArray> parameters() {
                return Map.of();
            }

            @Override
            public String spec() {
                return r.spec();
            }

            @Override
            public Pass begin(dev.vitrim.reduce.ModelView model, dev.vitrim.reduce.Tokens initial) {
                return r.begin(model, initial);
            }

            @Override
            public void validate(dev.vitrim.arch.VitConfig c) {
                r.validate(c);
            }

            @Override
            public boolean perImageCounts() {
                return r.perImageCounts();
            }

            @Override
            public boolean merges() {
                return r.merges();
            }
        };
    }
}
