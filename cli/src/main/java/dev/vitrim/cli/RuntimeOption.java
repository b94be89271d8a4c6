package dev.vitrim.cli;

import dev.vitrim.VitrimException;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.onnx.OnnxExport;
import dev.vitrim.onnx.OnnxModel;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** {@code --runtime vitrim|onnxruntime} for the commands that run one model. */
public final class RuntimeOption {
    @Option(names = "--runtime", paramLabel = "NAME", defaultValue = "vitrim", description = "vitrim (default) or "
            + "onnxruntime: the model, with its --reduce, exported to ONNX on the fly and run by ONNX Runtime's CPU "
            + "provider (threads as --threads); --model FILE.onnx runs that graph (its reduction is fixed at export).")
    String runtime;

    boolean onnx(Path model) {
        if (!runtime.equals("vitrim") && !runtime.equals("onnxruntime")) {
            throw new VitrimException("--runtime '" + runtime + "': allowed are vitrim and onnxruntime");
        }
        boolean file = isOnnx(model);
        if (file && runtime.equals("vitrim")) {
            throw new VitrimException(model + ": an ONNX graph runs on --runtime onnxruntime");
        }
        return runtime.equals("onnxruntime");
    }

    static boolean isOnnx(Path model) {
        return model != null && model.getFileName() != null && model.getFileName().toString().endsWith(".onnx");
    }

    /** A graph ready to run, with the preprocessing and class names of its model. */
    record Loaded(OnnxModel model, PreprocessConfig preprocess, List<String> labels) implements AutoCloseable {
        @Override
        public void close() {
            model.close();
        }
    }

    /** The .onnx file itself, or the checkpoint exported with its reducer. */
    static Loaded load(ModelOptions m, ReduceOptions reduce, CommonOptions common) {
        if (isOnnx(m.model)) {
            if (!reduce.reduce.equals("none")) {
                throw new VitrimException(m.model + ": --reduce does not apply to an ONNX graph (the reduction is "
                        + "fixed at export: vitrim export --reduce …)");
            }
            OnnxModel g = OnnxModel.open(m.model, common.threads);
            PreprocessConfig p = g.preprocess();
            if (p == null) { // a graph from elsewhere: ImageNet's transform at the graph's size, unless --size etc. say
                long size = g.inputShape()[2];
                if (size < 1) {
                    throw new VitrimException(m.model + ": the graph's image size is symbolic; give --size");
                }
                p = PreprocessConfig.imagenetDefault((int) size);
            }
            return new Loaded(g, p, g.labels());
        }
        try (VisionTransformer vit = m.load(common)) {
            TokenReducer r = Reducers.parse(reduce.reduce, vit);
            byte[] bytes = OnnxExport.bytes(vit, r, OnnxExport.Options.defaults());
            return new Loaded(OnnxModel.of(bytes, common.threads, m.model + " (exported)"), vit.config().preprocess(),
                    vit.config().labels());
        }
    }
}
