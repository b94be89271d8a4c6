package dev.vitrim.train;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.image.PreprocessConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A small ViT described on the command line as comma-separated {@code key=value} pairs, e.g.
 * {@code width=64,depth=6,heads=4,patch=2,image=28,mlp=128}.
 *
 * <p>Keys: {@code width} (embedding width), {@code depth} (blocks), {@code heads} (attention heads,
 * dividing the width), {@code patch} (patch size) — these four are required —, {@code image} (input size, default: the data set's),
 * {@code mlp} (MLP hidden width, default 4 x width), {@code pool} ({@code token} or {@code avg}, default token),
 * {@code eps} (LayerNorm epsilon, default 1e-6), {@code name} (architecture name stored in the file, default
 * {@code vit_custom}). The result is a plain timm VisionTransformer (class token, qkv bias, in_chans 3).
 */
public final class ArchSpec {
    public static final String HELP = "width=D,depth=L,heads=H,patch=P[,image=S][,mlp=M][,pool=token|avg][,eps=E]"
            + "[,name=N]";
    private static final List<String> KEYS = List.of("width", "depth", "heads", "patch", "image", "mlp", "pool", "eps",
            "name");

    private ArchSpec() {}

    public static Map<String, String> parse(String spec) {
        Map<String, String> m = new LinkedHashMap<>();
        if (spec == null || spec.isBlank()) {
            throw new VitrimException("architecture config: empty (expected " + HELP + ")");
        }
        for (String part : spec.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) {
                continue;
            }
            int eq = p.indexOf('=');
            if (eq <= 0 || eq == p.length() - 1) {
                throw new VitrimException("architecture config: '" + p + "' is not key=value (expected " + HELP + ")");
            }
            String k = p.substring(0, eq).strip().toLowerCase(Locale.ROOT);
            if (!KEYS.contains(k)) {
                throw new VitrimException("architecture config: unknown key '" + k + "' (allowed: "
                        + String.join(", ", KEYS) + ")");
            }
            if (m.put(k, p.substring(eq + 1).strip()) != null) {
                throw new VitrimException("architecture config: key '" + k + "' given twice");
            }
        }
        for (String k : List.of("width", "depth", "heads", "patch")) {
            if (!m.containsKey(k)) {
                throw new VitrimException("architecture config: missing " + k + "= (expected " + HELP + ")");
            }
        }
        return m;
    }

    /**
     * The architecture, with {@code classes} outputs and {@code defaultImage} as input size unless given; the
     * preprocessing comes from {@code preFor} applied to the image size.
     */
    public static VitConfig toConfig(String spec, int defaultImage, int classes, List<String> labels,
                                     java.util.function.IntFunction<PreprocessConfig> preFor) {
        Map<String, String> m = parse(spec);
        int width = positive(m, "width", 0);
        int depth = positive(m, "depth", 0);
        int patch = positive(m, "patch", 0);
        int heads = positive(m, "heads", 0);
        int image = positive(m, "image", defaultImage);
        int mlp = positive(m, "mlp", 4 * width);
        String pool = m.getOrDefault("pool", "token").toLowerCase(Locale.ROOT);
        if (!pool.equals("token") && !pool.equals("avg")) {
            throw new VitrimException("architecture config: pool must be token or avg, got '" + pool + "'");
        }
        double eps;
        try {
            eps = Double.parseDouble(m.getOrDefault("eps", "1e-6"));
        } catch (NumberFormatException e) {
            throw new VitrimException("architecture config: eps is not a number: '" + m.get("eps") + "'");
        }
        if (!(eps > 0)) {
            throw new VitrimException("architecture config: eps must be positive");
        }
        if (width % heads != 0) {
            throw new VitrimException("architecture config: heads=" + heads + " does not divide width=" + width);
        }
        if (image % patch != 0) {
            throw new VitrimException("architecture config: image=" + image + " is not a multiple of patch=" + patch);
        }
        String name = m.getOrDefault("name", "vit_custom");
        int grid = image / patch;
        return new VitConfig(name, width, depth, heads, patch, grid, grid, mlp, classes, true, false, false, false,
                true, pool, false, eps, preFor.apply(image), labels);
    }

    private static int positive(Map<String, String> m, String k, int dflt) {
        String v = m.get(k);
        if (v == null) {
            return dflt;
        }
        try {
            int i = Integer.parseInt(v);
            if (i < 1) {
                throw new NumberFormatException();
            }
            return i;
        } catch (NumberFormatException e) {
            throw new VitrimException("architecture config: " + k + " must be a positive integer, got '" + v + "'");
        }
    }
}
