package dev.vitrim.arch;

import dev.vitrim.VitrimException;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Named architectures (configuration only; weights are random) for cost counting and benchmarks. */
public final class Presets {
    private static final Map<String, VitConfig> PRESETS = new LinkedHashMap<>();

    static {
        String[] sizes = {"tiny", "small", "base", "large"};
        int[] widths = {192, 384, 768, 1024};
        int[] depths = {12, 12, 12, 24};
        int[] heads = {3, 6, 12, 16};
        PreprocessConfig augreg = new PreprocessConfig(224, 0.9, new float[] {0.5f, 0.5f, 0.5f},
                new float[] {0.5f, 0.5f, 0.5f}, Interpolation.BICUBIC);
        PreprocessConfig imagenet = new PreprocessConfig(224, 0.9, new float[] {0.485f, 0.456f, 0.406f},
                new float[] {0.229f, 0.224f, 0.225f}, Interpolation.BICUBIC);
        for (int i = 0; i < sizes.length; i++) {
            add("vit_" + sizes[i] + "_patch16_224", widths[i], depths[i], heads[i], false, augreg);
            if (i < 3) {
                add("deit_" + sizes[i] + "_patch16_224", widths[i], depths[i], heads[i], false, imagenet);
                add("deit_" + sizes[i] + "_distilled_patch16_224", widths[i], depths[i], heads[i], true, imagenet);
            }
        }
    }

    private Presets() {}

    private static void add(String name, int d, int depth, int h, boolean distilled, PreprocessConfig pre) {
        PRESETS.put(name, new VitConfig(name, d, depth, h, 16, 14, 14, 4 * d, 1000, true, distilled, false, false,
                true, "token", false, 1e-6, pre, List.of()));
    }

    public static VitConfig get(String name) {
        VitConfig c = PRESETS.get(name);
        if (c == null) {
            throw new VitrimException("unknown architecture '" + name + "' (allowed: "
                    + String.join(", ", PRESETS.keySet()) + ")");
        }
        return c;
    }

    public static List<String> names() {
        return List.copyOf(PRESETS.keySet());
    }
}
