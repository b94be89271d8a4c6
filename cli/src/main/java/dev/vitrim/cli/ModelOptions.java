package dev.vitrim.cli;

import dev.vitrim.engine.Torch;
import dev.vitrim.model.VisionTransformer;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How a command finds its model. */
public final class ModelOptions {
    @Option(names = {"-m", "--model"}, paramLabel = "PATH", required = true,
            description = "A .safetensors file (timm or Hugging Face names), a sharded "
                    + "model.safetensors.index.json, or a hub folder with config.json.")
    Path model;

    @Option(names = "--heads", paramLabel = "N",
            description = "Attention heads, when neither the file nor its config says (default: width/64).")
    int heads;

    @picocli.CommandLine.Mixin
    PrecisionOption precision;

    @picocli.CommandLine.Spec(picocli.CommandLine.Spec.Target.MIXEE)
    picocli.CommandLine.Model.CommandSpec command;

    /** Loads the model and sets its precision ({@code --precision}). */
    VisionTransformer load(CommonOptions common) {
        precision.requested(); // a bad value fails before the model loads
        Torch.engine(common.threads);
        VisionTransformer vit = VisionTransformer.load(model, heads);
        try {
            precision.apply(vit, command != null && command.commandLine() != null ? command.commandLine().getErr()
                    : new java.io.PrintWriter(System.err, true));
            return vit;
        } catch (RuntimeException e) {
            vit.close();
            throw e;
        }
    }
}
