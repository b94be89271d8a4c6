package dev.vitrim.cli;

import dev.vitrim.engine.Precision;
import dev.vitrim.model.VisionTransformer;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** {@code --precision}: the arithmetic format of the transformer blocks, for every command that runs a model. */
public final class PrecisionOption {
    static final String HELP = "Arithmetic of the transformer blocks: fp32 (default: float32, the reference), "
            + "bf16 (bfloat16 matrix products with float32 LayerNorm, residual stream and reducer scores; fast on "
            + "CPUs with AMX or AVX512_BF16, emulated and slower elsewhere), int8 (dynamic int8 quantization of the "
            + "linear layers, per-channel weights; faster than fp32 on AVX2 machines, logits move by ~1-4%% of their "
            + "scale), auto (bf16 where the CPU has AMX or AVX512_BF16, fp32 elsewhere: never slower than fp32). "
            + "docs/precision.md has the measured accuracy and speed.";

    @Option(names = "--precision", paramLabel = "fp32|bf16|int8|auto", defaultValue = "fp32", description = HELP)
    String value;

    Precision requested() {
        return Precision.parse(value);
    }

    /** Sets the model's precision; anything but plain fp32 says on {@code err} what runs and why. */
    Precision.Choice apply(VisionTransformer vit, PrintWriter err) {
        Precision.Choice c = vit.usePrecision(requested());
        if (c.requested() != Precision.FP32) {
            err.println("vitrim: precision " + c.reason());
            err.flush();
        }
        return c;
    }
}
