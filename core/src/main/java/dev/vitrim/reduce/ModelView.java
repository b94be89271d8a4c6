package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.vitrim.arch.VitConfig;
import java.util.function.Function;

/**
 * What a reducer sees of the model it runs in: the architecture, the checkpoint's tensors that are not part of the
 * ViT itself (for example Token Cropr's {@code cropr.{i}.cross_attn.queries}), and the reduction the checkpoint was
 * trained with. Reducers depend on this view, not on the model class.
 */
public interface ModelView {
    /** The architecture. */
    VitConfig config();

    /** A tensor of the checkpoint outside the ViT proper, by its file name, or null when there is none. */
    NDArray extra(String name);

    /** The reduction spec the checkpoint was trained with ({@code vitrim.reduce} in its metadata), or null. */
    String recordedReduce();

    /**
     * A tensor derived once from the model's tensors and kept with them ({@code make} runs in the model's manager
     * the first time {@code key} is asked for), e.g. Cropr's queries summed over the query axis.
     */
    NDArray derived(String key, Function<NDManager, NDArray> make);

    /** A view of an architecture alone: no extra tensors, nothing recorded. */
    static ModelView of(VitConfig c) {
        return new ModelView() {
            @Override
            public VitConfig config() {
                return c;
            }

            @Override
            public NDArray extra(String name) {
                return null;
            }

            @Override
            public String recordedReduce() {
                return null;
            }

            @Override
            public NDArray derived(String key, Function<NDManager, NDArray> make) {
                throw new IllegalStateException("an architecture alone holds no tensors ('" + key + "')");
            }
        };
    }
}
