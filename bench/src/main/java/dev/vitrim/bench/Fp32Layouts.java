package dev.vitrim.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.arch.Presets;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Precision;
import dev.vitrim.engine.Torch;
import dev.vitrim.eval.Benchmark;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import java.util.Locale;

/**
 * fp32 inference on oneDNN's blocked weights (vitrim's default) against plain weights ({@code
 * -Dvitrim.measure.fp32=plain}), whole forwards of a preset, the two models interleaved in one process on the same
 * images (plain, blocked, plain, …). Arguments: {@code ARCH THREADS BATCHES SPEC...}, e.g.
 * {@code scripts/fp32-layouts vit_small_patch16_224 1 1,8 none attn tome:r=13}. Prints, per reducer and batch, each
 * layout's median ms/image with the range of the runs and the ratio of the medians (below 1: blocked is faster).
 */
public final class Fp32Layouts {
    private Fp32Layouts() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: Fp32Layouts ARCH THREADS BATCHES SPEC [SPEC...]");
            System.exit(2);
        }
        VitConfig c = Presets.get(args[0]);
        Torch.useApplicationDefaults();
        Torch.engine(Integer.parseInt(args[1]));
        Torch.inference();
        System.out.printf(Locale.ROOT, "# %s, %s, %d thread(s)%n", args[0], Benchmark.cpu(),
                ai.djl.pytorch.jni.JniUtils.getNumThreads());
        System.out.printf(Locale.ROOT, "%-44s %5s %24s %24s %8s%n", "reduce", "batch", "plain ms/image",
                "blocked ms/image", "ratio");
        try (VisionTransformer plain = model(c, "plain"); VisionTransformer blocked = model(c, "blocked")) {
            for (int s = 3; s < args.length; s++) {
                for (String b : args[2].split(",")) {
                    int batch = Integer.parseInt(b.trim());
                    TokenReducer r = Reducers.parse(args[s], plain);
                    try (NDManager m = plain.manager().newSubManager()) {
                        NDArray x = m.randomNormal(new Shape(batch, 3, c.imageSize(), c.imageSize()));
                        Benchmark.Timing[] t = Benchmark.interleaved(1, 5, 200, 20.0,
                                Benchmark.forward(m, x, plain, r), Benchmark.forward(m, x, blocked, r));
                        System.out.printf(Locale.ROOT, "%-44s %5d %24s %24s %8.3f%n", r.spec(), batch,
                                cell(t[0], batch), cell(t[1], batch), t[1].medianMs() / t[0].medianMs());
                    }
                }
            }
        }
    }

    private static VisionTransformer model(VitConfig c, String layout) {
        System.setProperty("vitrim.measure.fp32", layout);
        try {
            VisionTransformer v = VisionTransformer.random(c, 0);
            String route = v.usePrecision(Precision.FP32).reason();
            System.out.println("# " + layout + ": " + route);
            return v;
        } finally {
            System.clearProperty("vitrim.measure.fp32");
        }
    }

    private static String cell(Benchmark.Timing t, int batch) {
        return String.format(Locale.ROOT, "%.1f [%.1f-%.1f]", t.medianMs() / batch, t.minMs() / batch,
                t.maxMs() / batch);
    }
}
