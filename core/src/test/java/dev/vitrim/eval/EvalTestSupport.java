package dev.vitrim.eval;

import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;

/** A digit-sized architecture and small in-memory digit-like images for the comparison tests. */
final class EvalTestSupport {
    private EvalTestSupport() {}

    static final PreprocessConfig PRE = new PreprocessConfig(28, 1.0, new float[] {0.13f, 0.13f, 0.13f},
            new float[] {0.31f, 0.31f, 0.31f}, Interpolation.BICUBIC);

    /** The shipped MNIST model's architecture: width 64, depth 6, 4 heads, patch 2 (196 patches + CLS), MLP 128. */
    static VitConfig mnistArch() {
        return arch(64, 4, 128);
    }

    /** A narrower model with the same token schedule as the MNIST one (fast to run). */
    static VitConfig small() {
        return arch(32, 2, 64);
    }

    private static VitConfig arch(int width, int heads, int mlp) {
        return new VitConfig("digits", width, 6, heads, 2, 14, 14, mlp, 10, true, false, false, false, true, "token",
                false, 1e-6, PRE, Datasets.DIGITS);
    }

    /**
     * {@code n} 28x28 grey images labelled {@code i % 10}: image i has a vertical bar of width {@code 1 + label}
     * (so a "1" has less ink than an "8") starting at column {@code 4 + i % 7}.
     */
    static LabeledImages digits(int n) {
        byte[] px = new byte[n * 784];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 10;
            int x0 = 4 + i % 7;
            for (int y = 4; y < 24; y++) {
                for (int x = x0; x < Math.min(28, x0 + 1 + labels[i]); x++) {
                    px[i * 784 + y * 28 + x] = (byte) 230;
                }
            }
        }
        return new LabeledImages("digits", Datasets.DIGITS, 1, 28, 28, px, labels);
    }
}
