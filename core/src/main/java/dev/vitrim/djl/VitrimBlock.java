package dev.vitrim.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.vitrim.VitrimException;
import dev.vitrim.api.VitrimModel;
import dev.vitrim.engine.Torch;

/**
 * A vitrim model as a DJL {@link ai.djl.nn.Block}, for inference: normalised images {@code [B, 3, H, W]} in; logits
 * {@code [B, classes]} out for a classifier, the dense heads' maps {@code [B, C, H/p, W/p]} for a dense model; with
 * the model's token reducer. The block does not own the model: close the {@link VitrimModel} yourself.
 */
final class VitrimBlock extends AbstractBlock {
    private final VitrimModel model;

    public VitrimBlock(VitrimModel model) {
        if (model == null) {
            throw new VitrimException("model: must not be null");
        }
        this.model = model;
        inputNames = java.util.List.of("images");
    }

    /** The model this block runs. */
    public VitrimModel model() {
        return model;
    }

    @Override
    protected NDList forwardInternal(ParameterStore parameterStore, NDList inputs, boolean training,
                                     PairList<String, Object> params) {
        if (training) {
            throw new VitrimException("VitrimBlock runs inference only; train with dev.vitrim.train");
        }
        Torch.inference();
        NDArray x = inputs.singletonOrThrow();
        if (model.isDense()) {
            return new NDList(model.denseModel().maps(x, model.reducer()));
        }
        return new NDList(model.backbone().forward(x, model.reducer(), null));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        if (model.isDense()) {
            int p = model.config().patchSize();
            return new Shape[] {new Shape(in.get(0), model.denseModel().channels(), in.get(2) / p, in.get(3) / p)};
        }
        int classes = model.config().numClasses();
        return new Shape[] {new Shape(in.get(0), classes > 0 ? classes : model.config().width())};
    }

    @Override
    public String toString() {
        return "VitrimBlock(" + model + ")";
    }
}
