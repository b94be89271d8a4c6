package dev.vitrim.train;

import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/** A tiny learnable problem for fast training tests. */
final class TrainTestSupport {
    private TrainTestSupport() {}

    static final List<String> CLASSES = List.of("black", "dark", "light", "white");

    /** 8x8 grey images of four brightness levels (40, 100, 160, 220) with +-40 noise: learnable in a few steps. */
    static LabeledImages quadrants(int n, long seed, String name) {
        Random r = new Random(seed);
        byte[] px = new byte[n * 64];
        int[] lab = new int[n];
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(4);
            lab[i] = c;
            for (int j = 0; j < 64; j++) {
                px[i * 64 + j] = (byte) (40 + 60 * c + r.nextInt(81) - 40);
            }
        }
        return new LabeledImages(name, CLASSES, 1, 8, 8, px, lab);
    }

    static PreprocessConfig pre() {
        return new PreprocessConfig(8, 1.0, new float[] {0.4f, 0.4f, 0.4f}, new float[] {0.3f, 0.3f, 0.3f},
                Interpolation.BICUBIC);
    }

    static VitConfig tiny(String spec) {
        return ArchSpec.toConfig(spec, 8, 4, CLASSES, s -> pre());
    }

    static VitConfig tiny() {
        return tiny("width=16,depth=1,heads=2,patch=4,mlp=32");
    }

    static TrainConfig cfg(int epochs) {
        return new TrainConfig(epochs, 32, 3e-3, 1e-5, 0.5, 0.05, 0.9, 0.999, 1e-8, 0.1, 1.0, 7, 1, false);
    }

    static Trainer.Job job(VitConfig arch, TrainConfig cfg, Path out, boolean resume) {
        return new Trainer.Job(arch, null, false, quadrants(256, 1, "quadrants (train)"), quadrants(64, 2,
                "quadrants (val)"), "quadrants", cfg, out, resume, true, 64, null);
    }
}
