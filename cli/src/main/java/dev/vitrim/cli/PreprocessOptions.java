package dev.vitrim.cli;

import dev.vitrim.VitrimException;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import picocli.CommandLine.Option;

/** Overrides of the evaluation transform the checkpoint's config asks for. */
public final class PreprocessOptions {
    @Option(names = "--size", paramLabel = "PX", description = "Crop size (default: from the checkpoint).")
    Integer size;

    @Option(names = "--mean", paramLabel = "R,G,B", description = "Normalisation mean, e.g. 0.5,0.5,0.5.")
    String mean;

    @Option(names = "--std", paramLabel = "R,G,B", description = "Normalisation std, e.g. 0.5,0.5,0.5.")
    String std;

    @Option(names = "--crop-pct", paramLabel = "F",
            description = "Centre-crop fraction: the shorter side is resized to floor(size / F) first.")
    Double cropPct;

    @Option(names = "--interpolation", paramLabel = "NAME", description = "bicubic or bilinear.")
    String interpolation;

    PreprocessConfig apply(PreprocessConfig base) {
        int s = size != null ? size : base.size();
        if (s <= 0) {
            throw new VitrimException("--size must be positive, got " + s);
        }
        double crop = cropPct != null ? cropPct : base.cropPct();
        if (!(crop > 0 && crop <= 1)) {
            throw new VitrimException("--crop-pct must be in (0, 1], got " + crop);
        }
        float[] m = mean != null ? triple("--mean", mean) : base.mean();
        float[] sd = std != null ? triple("--std", std) : base.std();
        for (float v : sd) {
            if (!(v > 0)) {
                throw new VitrimException("--std values must be positive, got " + std);
            }
        }
        Interpolation in = interpolation != null ? Interpolation.parse(interpolation) : base.interpolation();
        return new PreprocessConfig(s, crop, m, sd, in);
    }

    private static float[] triple(String option, String v) {
        String[] parts = v.split(",");
        if (parts.length != 3) {
            throw new VitrimException(option + " needs three comma-separated numbers (R,G,B), got '" + v + "'");
        }
        float[] out = new float[3];
        for (int i = 0; i < 3; i++) {
            try {
                out[i] = Float.parseFloat(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new VitrimException(option + ": '" + parts[i] + "' is not a number");
            }
        }
        return out;
    }

    static String describe(PreprocessConfig p) {
        return String.format(java.util.Locale.ROOT,
                "resize shorter side to %d (%s, antialiased), centre-crop %d (crop_pct %.3f), mean %s, std %s",
                p.scaleSize(), p.interpolation().name().toLowerCase(java.util.Locale.ROOT), p.size(), p.cropPct(),
                java.util.Arrays.toString(p.mean()), java.util.Arrays.toString(p.std()));
    }
}
