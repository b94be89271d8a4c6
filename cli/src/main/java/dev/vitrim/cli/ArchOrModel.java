package dev.vitrim.cli;

import dev.vitrim.arch.Presets;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.model.VisionTransformer;
import java.nio.file.Path;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

/** Either a preset architecture (random weights) or a checkpoint. */
public final class ArchOrModel {
    static final class Source {
        @Option(names = "--arch", paramLabel = "NAME", description = "A preset: vit_tiny|small|base|large_patch16_224, "
                + "deit_tiny|small|base_patch16_224 and deit_*_distilled_patch16_224 (random weights).")
        String arch;

        @Option(names = {"-m", "--model"}, paramLabel = "PATH", description = "A checkpoint file or folder.")
        Path model;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--heads", paramLabel = "N", description = "Heads for --model (default: from the file or width/64).")
    int heads;

    String name() {
        return source.arch != null ? source.arch : source.model.toString();
    }

    VitConfig config() {
        if (source.arch != null) {
            return Presets.get(source.arch);
        }
        try (Checkpoint ck = Checkpoint.open(source.model, heads)) {
            return ck.config();
        }
    }

    /** The reduction spec the checkpoint was trained with (defaults of a bare {@code cropr}), or null. */
    String recordedReduce() {
        if (source.arch != null) {
            return null;
        }
        try (Checkpoint ck = Checkpoint.open(source.model, heads)) {
            return ck.recordedReduce();
        }
    }

    /** The model in float32 (random weights for --arch, seed 0: every load gives the same ones). */
    VisionTransformer load() {
        return source.arch != null ? VisionTransformer.random(Presets.get(source.arch), 0)
                : VisionTransformer.load(source.model, heads);
    }
}
