package dev.vitrim.api;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.Presets;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.model.VisionTransformer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The entry point: loads a model file into a {@link VitrimModel}.
 *
 * <pre>{@code
 * try (VitrimModel vit = Vitrim.load(Path.of("models/mnist-vit.safetensors"))) {
 *     ClassProbabilities p = vit.reduce("tome:r=13").classify(Path.of("digit.png"));
 *     p.top(3).forEach(t -> System.out.println(t.label() + " " + t.prob()));
 * }
 * }</pre>
 *
 * A file is a {@code .safetensors} file (timm or Hugging Face names; F32, F16 or BF16), a sharded
 * {@code model.safetensors.index.json}, or a hub folder; a file with {@code vitrim.dense} metadata loads as a dense
 * model ({@link VitrimModel#segment}, {@link VitrimModel#detect}). The architecture is read off the tensors.
 */
public final class Vitrim {
    private Vitrim() {}

    /** Loads a model with the default options ({@link LoadOptions#defaults()}). */
    public static VitrimModel load(Path path) {
        return load(path, LoadOptions.defaults());
    }

    /** Loads a model with {@code options}. */
    public static VitrimModel load(Path path, LoadOptions options) {
        if (path == null) {
            throw new VitrimException("model path: must not be null");
        }
        if (options == null) {
            throw new VitrimException("options: must not be null (use LoadOptions.defaults())");
        }
        // the load-time options: kernels and micro-batches are set on the loaded model (VitrimModel.configure),
        // the matrix-product library when the kernels are compiled; a precision option is applied here too
        boolean onednn = options.linear() == LoadOptions.Linear.ONEDNN;
        try (Checkpoint ck = Checkpoint.open(path, options.heads())) {
            if (!ck.source().metadata().containsKey(DenseModel.METADATA_KEY)) {
                VisionTransformer vit = VisionTransformer.load(ck, onednn);
                return classifier(vit, path, options, vit.config().preprocess());
            }
        }
        DenseModel dense = DenseModel.load(path, onednn);
        try {
            return VitrimModel.dense(dense, path, options);
        } catch (RuntimeException e) {
            dense.close();
            throw e;
        }
    }

    /**
     * Loads weights for a named architecture ({@link Presets#names()}, e.g. {@code vit_small_patch16_224}): the heads
     * come from the preset, the weights must have its width, depth, patch size and grid, and a plain
     * {@code .safetensors} file that records no preprocessing of its own is preprocessed as the preset says.
     */
    public static VitrimModel load(String preset, Path weights) {
        return load(preset, weights, LoadOptions.defaults());
    }

    /** {@link #load(String, Path)} with {@code options} (their {@code heads} are ignored: the preset's are used). */
    public static VitrimModel load(String preset, Path weights, LoadOptions options) {
        VitConfig want = Presets.get(preset);
        if (weights == null) {
            throw new VitrimException("weights path: must not be null");
        }
        if (options == null) {
            throw new VitrimException("options: must not be null (use LoadOptions.defaults())");
        }
        LoadOptions o = options.withHeads(want.heads());
        try (Checkpoint file = Checkpoint.open(weights, 0)) { // the shape first: heads are not in the tensors
            VitConfig got = file.config();
            if (got.width() != want.width() || got.depth() != want.depth() || got.patchSize() != want.patchSize()
                    || got.gridH() != want.gridH() || got.gridW() != want.gridW()
                    || got.distilled() != want.distilled()) {
                throw new VitrimException(weights + ": the weights are " + shape(got) + ", not " + preset + " ("
                        + shape(want) + ")");
            }
            if (file.source().metadata().containsKey(DenseModel.METADATA_KEY)) {
                throw new VitrimException(weights + ": a dense model; load it with Vitrim.load(path)");
            }
        }
        try (Checkpoint ck = Checkpoint.open(weights, o.heads())) {
            boolean ownPreprocess = Files.isDirectory(weights) || ck.isHuggingFace()
                    || ck.source().metadata().containsKey(Checkpoint.METADATA_KEY);
            VisionTransformer vit = VisionTransformer.load(ck, o.linear() == LoadOptions.Linear.ONEDNN);
            return classifier(vit, weights, o, ownPreprocess ? vit.config().preprocess() : want.preprocess());
        }
    }

    private static VitrimModel classifier(VisionTransformer vit, Path path, LoadOptions o,
                                          dev.vitrim.image.PreprocessConfig p) {
        try {
            return VitrimModel.classifier(vit, path, o, p);
        } catch (RuntimeException e) {
            vit.close();
            throw e;
        }
    }

    private static String shape(VitConfig c) {
        return "width " + c.width() + ", depth " + c.depth() + ", patch " + c.patchSize() + ", grid " + c.gridH() + "x"
                + c.gridW() + (c.distilled() ? ", distilled" : "");
    }
}
