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

    VisionTransformer load(CommonOptions common) {
        Torch.engine(common.threads);
        return VisionTransformer.load(model, heads);
    }
}
