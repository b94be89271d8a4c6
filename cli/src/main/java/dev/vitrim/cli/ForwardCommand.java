package dev.vitrim.cli;

import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.Npy;
import dev.vitrim.model.VisionTransformer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "forward", mixinStandardHelpOptions = true,
        description = {"Run the model on a preprocessed batch: float32 [B,3,H,W] .npy in, float32 logits "
                + "[B,classes] .npy out.", "",
                "Use this for exact interop with NumPy/PyTorch: the input is used as is (no resizing or "
                        + "normalisation). H and W must be multiples of the patch size; a grid other than the "
                        + "checkpoint's resamples the position embedding bicubically, as timm does."},
        footer = {"", "Example:", "  vitrim forward --model vit.safetensors --input x.npy --output logits.npy",
                "  vitrim forward --model vit.safetensors --input x.npy --output y.npy --reduce tome:r=13 --trace t.json",
                "  vitrim forward --model vit-tome.onnx --runtime onnxruntime --input x.npy --output y.npy"})
public final class ForwardCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ReduceOptions reduce;

    @Mixin
    TraceOption traceOption;

    @Mixin
    CommonOptions common;

    @Mixin
    RuntimeOption runtime;

    @Option(names = {"-i", "--input"}, required = true, paramLabel = "X.npy", description = "float32 [B,3,H,W]")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "Y.npy", description = "float32 [B,classes]")
    Path output;

    @Override
    public Integer call() {
        FloatTensor x = Npy.read(input, 4, "the input images [B,3,H,W]");
        if (runtime.onnx(modelOptions.model)) {
            if (traceOption.trace != null) {
                throw new dev.vitrim.VitrimException("--trace needs --runtime vitrim (export with --positions to "
                        + "get the positions from a graph)");
            }
            try (RuntimeOption.Loaded g = RuntimeOption.load(modelOptions, reduce, common)) {
                Npy.write(output, g.model().forward(x));
            }
            return 0;
        }
        try (VisionTransformer vit = modelOptions.load(common)) {
            vit.checkInput(x.shape(), input.toString());
            dev.vitrim.reduce.Trace trace = traceOption.start();
            FloatTensor y = vit.forward(x, reduce.reducer(vit), trace);
            Npy.write(output, y);
            traceOption.finish(trace);
        }
        return 0;
    }
}
