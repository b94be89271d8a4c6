package dev.vitrim.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.io.DType;
import dev.vitrim.io.TensorInfo;
import dev.vitrim.io.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A ViT checkpoint as the user has it — a timm or Hugging Face safetensors file, a sharded set, or a hub
 * folder — seen through timm's tensor names, with the architecture read off the tensors themselves.
 */
public final class Checkpoint implements AutoCloseable {
    /** Metadata key under which vitrim stores the full config of models it writes. */
    public static final String METADATA_KEY = "vitrim.config";

    /**
     * Metadata key of the token-reduction schedule a model was trained with (e.g. {@code cropr:R=40,llf=true}):
     * {@code --reduce cropr} without parameters runs it.
     */
    public static final String REDUCE_KEY = "vitrim.reduce";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern BLOCK = Pattern.compile("^blocks\\.(\\d+)\\.");

    private final TensorSource source;
    private final Path origin;
    private final NameMap names;
    private final VitConfig config;

    private Checkpoint(TensorSource source, Path origin, NameMap names, VitConfig config) {
        this.source = source;
        this.origin = origin;
        this.names = names;
        this.config = config;
    }

    /** Opens a checkpoint file or folder. {@code heads} &gt; 0 overrides the head count. */
    public static Checkpoint open(Path path, int heads) {
        if (!Files.exists(path)) {
            throw new VitrimException(path + ": no such file or folder");
        }
        Path weights = path;
        JsonNode config = null;
        JsonNode preprocessor = null;
        Path folder = Files.isDirectory(path) ? path : null;
        if (folder == null && path.getFileName().toString().endsWith(".index.json")) {
            folder = path.toAbsolutePath().getParent();
        }
        if (Files.isDirectory(path)) {
            Path index = path.resolve("model.safetensors.index.json");
            Path single = path.resolve("model.safetensors");
            if (Files.exists(index)) {
                weights = index;
            } else if (Files.exists(single)) {
                weights = single;
            } else {
                throw new VitrimException(path + ": folder has neither model.safetensors nor "
                        + "model.safetensors.index.json");
            }
        }
        if (folder != null) {
            config = readJson(folder.resolve("config.json"));
            preprocessor = readJson(folder.resolve("preprocessor_config.json"));
        }
        TensorSource source = TensorSource.open(weights);
        try {
            NameMap map = NameMap.detect(source, weights);
            VitConfig cfg = infer(source, map, weights, config, preprocessor, heads);
            Checkpoint ckpt = new Checkpoint(source, weights, map, cfg);
            ckpt.checkNoUnknownTensors();
            return ckpt;
        } catch (RuntimeException e) {
            source.close();
            throw e;
        }
    }

    public VitConfig config() {
        return config;
    }

    public Path path() {
        return origin;
    }

    public boolean isHuggingFace() {
        return names.hf;
    }

    /** The reduction spec recorded by {@code vitrim train --reduce}, or null. */
    public String recordedReduce() {
        String r = source.metadata().get(REDUCE_KEY);
        return r == null || r.isBlank() ? null : r.trim();
    }

    public TensorSource source() {
        return source;
    }

    /** Distinct storage dtypes of the tensors, e.g. "F32" or "BF16". */
    public String dtypes() {
        Set<String> d = new TreeSet<>();
        for (String n : source.names()) {
            d.add(source.info(n).dtype().name());
        }
        return String.join(", ", d);
    }

    public boolean has(String timmName) {
        for (String n : names.sources(timmName)) {
            if (!source.contains(n)) {
                return false;
            }
        }
        return true;
    }

    /** The tensor under its timm name, checked against the expected shape. */
    public float[] tensor(String timmName, long... expected) {
        List<String> parts = names.sources(timmName);
        if (parts.size() == 1) {
            String n = parts.get(0);
            require(n);
            TensorInfo info = source.info(n);
            if (!Arrays.equals(info.shape(), expected)) {
                throw new VitrimException(origin + ": tensor '" + n + "' has shape " + Arrays.toString(info.shape())
                        + ", expected " + Arrays.toString(expected));
            }
            return source.floats(n);
        }
        // Hugging Face q, k, v concatenated into timm's qkv (rows q; k; v)
        long[] each = expected.clone();
        each[0] = expected[0] / parts.size();
        float[] out = new float[Math.toIntExact(numel(expected))];
        int at = 0;
        for (String n : parts) {
            require(n);
            TensorInfo info = source.info(n);
            if (!Arrays.equals(info.shape(), each)) {
                throw new VitrimException(origin + ": tensor '" + n + "' has shape " + Arrays.toString(info.shape())
                        + ", expected " + Arrays.toString(each));
            }
            float[] v = source.floats(n);
            System.arraycopy(v, 0, out, at, v.length);
            at += v.length;
        }
        return out;
    }

    private void require(String sourceName) {
        if (!source.contains(sourceName)) {
            throw new VitrimException(origin + ": missing tensor '" + sourceName + "'");
        }
    }

    private static long numel(long[] s) {
        long n = 1;
        for (long d : s) {
            n *= d;
        }
        return n;
    }

    @Override
    public void close() {
        source.close();
    }

    // ------------------------------------------------------------------------------------------ inference

    private static VitConfig infer(TensorSource src, NameMap map, Path file, JsonNode config,
                                   JsonNode preprocessor, int headsOverride) {
        String where = file.toString();
        JsonNode meta = readMeta(src, where);
        Geometry g = geometry(src, map, where, meta);
        String pool = g.fcNorm() ? "avg" : "token";
        if (config != null && config.hasNonNull("global_pool") && !config.get("global_pool").asText().isEmpty()) {
            pool = config.get("global_pool").asText();
        }
        if (meta != null && meta.hasNonNull("global_pool")) {
            pool = meta.get("global_pool").asText();
        }
        if (!g.classToken() && pool.equals("token")) {
            pool = "avg";
        }
        Description d = describe(map.hf, g, config, preprocessor, meta);
        int heads = headsOverride > 0 ? headsOverride : d.heads();
        List<String> labels = d.labels().size() == g.classes() ? d.labels() : List.of();
        return new VitConfig(d.name(), g.width(), g.depth(), heads, g.patch(), g.grid(), g.grid(), g.mlp(),
                g.classes(), g.classToken(), g.distilled(), g.noEmbedClass(), g.layerScale(), g.qkvBias(), pool,
                g.fcNorm(), d.eps(), d.pre(), labels);
    }

    /** What the tensors' names and shapes say about the network. */
    private record Geometry(int width, int patch, int depth, int grid, int mlp, int classes, boolean classToken,
                            boolean distilled, boolean noEmbedClass, boolean layerScale, boolean qkvBias,
                            boolean fcNorm) {}

    /** What the configuration files and vitrim's metadata say beyond the shapes. */
    private record Description(String name, int heads, double eps, List<String> labels, PreprocessConfig pre) {}

    private static JsonNode readMeta(TensorSource src, String where) {
        String metaJson = src.metadata().get(METADATA_KEY);
        if (metaJson == null) {
            return null;
        }
        try {
            return JSON.readTree(metaJson);
        } catch (IOException e) {
            throw new VitrimException(where + ": metadata '" + METADATA_KEY + "' is not valid JSON");
        }
    }

    private static Geometry geometry(TensorSource src, NameMap map, String where, JsonNode meta) {
        String patchName = map.source("patch_embed.proj.weight");
        if (!src.contains(patchName)) {
            String example = src.names().isEmpty() ? "none" : src.names().first();
            throw new VitrimException(where + ": unsupported architecture: no patch embedding '" + patchName
                    + "' (first tensor: '" + example + "'); vitrim reads timm and Hugging Face ViT/DeiT checkpoints");
        }
        long[] pw = shapeOf(src, patchName);
        if (pw.length != 4 || pw[1] != 3 || pw[2] != pw[3]) {
            throw new VitrimException(where + ": unsupported architecture: patch embedding '" + patchName
                    + "' has shape " + Arrays.toString(pw) + ", expected [D,3,p,p]");
        }
        int width = (int) pw[0];
        boolean classToken = src.contains(map.source("cls_token"));
        boolean distilled = src.contains(map.source("dist_token"));
        if (classToken) {
            long[] s = shapeOf(src, map.source("cls_token"));
            if (!Arrays.equals(s, new long[] {1, 1, width})) {
                throw new VitrimException(where + ": tensor '" + map.source("cls_token") + "' has shape "
                        + Arrays.toString(s) + ", expected [1, 1, " + width + "]");
            }
        }
        int depth = map.depth(src);
        if (depth == 0) {
            throw new VitrimException(where + ": unsupported architecture: no transformer blocks found");
        }
        int prefix = (classToken ? 1 : 0) + (distilled ? 1 : 0);
        int[] positions = positions(src, map.source("pos_embed"), where, width, prefix, meta);
        String fc1 = map.source("blocks.0.mlp.fc1.weight");
        int mlp = (int) rowsOf(src, fc1, where, width, "hidden");
        String headName = map.source("head.weight");
        int classes = src.contains(headName) ? (int) rowsOf(src, headName, where, width, "classes") : 0;
        boolean qkvBias = map.hf ? src.contains(map.prefix + "encoder.layer.0.attention.attention.query.bias")
                : src.contains("blocks.0.attn.qkv.bias");
        return new Geometry(width, (int) pw[2], depth, positions[0], mlp, classes, classToken, distilled,
                positions[1] == 1, src.contains(map.source("blocks.0.ls1.gamma")), qkvBias,
                src.contains(map.source("fc_norm.weight")));
    }

    /**
     * The patch grid's side and whether the prefix tokens have no position embedding ({@code no_embed_class}, 1 or
     * 0), from the position table's length (metadata may say which).
     */
    private static int[] positions(TensorSource src, String posName, String where, int width, int prefix,
                                   JsonNode meta) {
        if (!src.contains(posName)) {
            throw new VitrimException(where + ": missing tensor '" + posName + "'");
        }
        long[] ps = shapeOf(src, posName);
        if (ps.length != 3 || ps[0] != 1 || ps[2] != width) {
            throw new VitrimException(where + ": tensor '" + posName + "' has shape " + Arrays.toString(ps)
                    + ", expected [1, tokens, " + width + "]");
        }
        int posTokens = (int) ps[1];
        boolean noEmbedClass;
        if (isSquare(posTokens - prefix)) {
            noEmbedClass = false;
        } else if (prefix > 0 && isSquare(posTokens)) {
            noEmbedClass = true;
        } else {
            throw new VitrimException(where + ": tensor '" + posName + "' holds " + posTokens
                    + " positions, which is no square grid with " + prefix + " prefix token(s)");
        }
        if (meta != null && meta.has("no_embed_class")) {
            noEmbedClass = meta.get("no_embed_class").asBoolean();
        }
        int patches = noEmbedClass ? posTokens : posTokens - prefix;
        return new int[] {(int) Math.round(Math.sqrt(patches)), noEmbedClass ? 1 : 0};
    }

    /** The rows of a {@code [rows, width]} matrix, with a clear error for any other shape. */
    private static long rowsOf(TensorSource src, String name, String where, int width, String rows) {
        long[] s = shapeOf(src, name);
        if (s.length != 2 || s[1] != width) {
            throw new VitrimException(where + ": tensor '" + name + "' has shape " + Arrays.toString(s) + ", expected ["
                    + rows + ", " + width + "]");
        }
        return s[0];
    }

    /**
     * Name, heads, epsilon, labels and preprocessing: the family's defaults, then timm's or Hugging Face's config,
     * the Hugging Face preprocessor config, and vitrim's own metadata, each overriding the one before.
     */
    private static Description describe(boolean hf, Geometry g, JsonNode config, JsonNode preprocessor,
                                        JsonNode meta) {
        int size = g.grid() * g.patch();
        double eps = hf ? 1e-12 : 1e-6;
        int heads = Math.max(1, g.width() / 64);
        String name = "checkpoint";
        List<String> labels = new ArrayList<>();
        PreprocessConfig pre = hf ? new PreprocessConfig(size, 1.0, new float[] {0.5f, 0.5f, 0.5f},
                new float[] {0.5f, 0.5f, 0.5f}, Interpolation.BILINEAR) : PreprocessConfig.inception(size);
        if (config != null && hf) {
            eps = config.path("layer_norm_eps").asDouble(1e-12);
            heads = config.path("num_attention_heads").asInt(heads);
            name = firstText(config.path("architectures"), config.path("model_type").asText("vit"));
            labels = labelsFromMap(config.path("id2label"), g.classes());
        } else if (config != null) {
            name = config.path("architecture").asText(name);
            heads = headsForArchitecture(name, g.width(), heads);
            heads = config.path("model_args").path("num_heads").asInt(heads);
            JsonNode ln = config.path("label_names");
            if (!ln.isArray()) {
                ln = config.path("pretrained_cfg").path("label_names");
            }
            if (ln.isArray()) {
                for (JsonNode l : ln) {
                    labels.add(l.asText());
                }
            }
            pre = preprocessFromTimm(config.path("pretrained_cfg"), size, pre);
        }
        if (preprocessor != null) {
            pre = preprocessFromHf(preprocessor, size, pre);
        }
        if (meta != null) {
            name = meta.path("name").asText(name);
            heads = meta.path("heads").asInt(heads);
            eps = meta.path("eps").asDouble(eps);
            if (meta.path("labels").isArray()) {
                labels = new ArrayList<>();
                for (JsonNode l : meta.get("labels")) {
                    labels.add(l.asText());
                }
            }
            pre = preprocessFromTimm(meta.path("preprocess"), size, pre);
        }
        return new Description(name, heads, eps, labels, pre);
    }

    private static int headsForArchitecture(String arch, int width, int fallback) {
        Matcher m = Pattern.compile("(tiny|small|base|large|huge)").matcher(arch);
        if (m.find()) {
            int h = switch (m.group(1)) {
                case "tiny" -> 3;
                case "small" -> 6;
                case "base" -> 12;
                default -> 16;
            };
            if (width % h == 0) {
                return h;
            }
        }
        return fallback;
    }

    private static PreprocessConfig preprocessFromTimm(JsonNode cfg, int size, PreprocessConfig dflt) {
        if (cfg == null || cfg.isMissingNode() || !cfg.isObject()) {
            return dflt;
        }
        int s = size;
        JsonNode in = cfg.path("input_size");
        if (in.isArray() && in.size() == 3) {
            s = in.get(1).asInt(size);
        } else if (cfg.has("size")) {
            s = cfg.get("size").asInt(size);
        }
        double crop = cfg.path("crop_pct").asDouble(dflt.cropPct());
        float[] mean = floats(cfg.path("mean"), dflt.mean());
        float[] std = floats(cfg.path("std"), dflt.std());
        Interpolation interp = dflt.interpolation();
        if (cfg.hasNonNull("interpolation")) {
            interp = Interpolation.parse(cfg.get("interpolation").asText());
        }
        return new PreprocessConfig(s, crop, mean, std, interp);
    }

    private static PreprocessConfig preprocessFromHf(JsonNode cfg, int size, PreprocessConfig dflt) {
        int s = size;
        JsonNode sz = cfg.path("size");
        if (sz.isInt()) {
            s = sz.asInt();
        } else if (sz.isObject()) {
            s = sz.path("height").asInt(sz.path("shortest_edge").asInt(size));
        }
        float[] mean = floats(cfg.path("image_mean"), dflt.mean());
        float[] std = floats(cfg.path("image_std"), dflt.std());
        Interpolation interp = cfg.path("resample").asInt(2) == 3 ? Interpolation.BICUBIC : Interpolation.BILINEAR;
        double crop = cfg.path("crop_pct").asDouble(dflt.cropPct());
        return new PreprocessConfig(s, crop, mean, std, interp);
    }

    private static float[] floats(JsonNode n, float[] dflt) {
        if (!n.isArray() || n.size() != 3) {
            return dflt;
        }
        return new float[] {(float) n.get(0).asDouble(), (float) n.get(1).asDouble(), (float) n.get(2).asDouble()};
    }

    private static List<String> labelsFromMap(JsonNode id2label, int classes) {
        List<String> out = new ArrayList<>();
        if (!id2label.isObject()) {
            return out;
        }
        Map<Integer, String> m = new TreeMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = id2label.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            try {
                m.put(Integer.parseInt(e.getKey()), e.getValue().asText());
            } catch (NumberFormatException ignored) {
                return out;
            }
        }
        for (int i = 0; i < classes; i++) {
            out.add(m.getOrDefault(i, Integer.toString(i)));
        }
        return out;
    }

    private static String firstText(JsonNode arr, String dflt) {
        return arr.isArray() && arr.size() > 0 ? arr.get(0).asText(dflt) : dflt;
    }

    private static boolean isSquare(int n) {
        if (n <= 0) {
            return false;
        }
        int r = (int) Math.round(Math.sqrt(n));
        return r * r == n;
    }

    private static long[] shapeOf(TensorSource src, String name) {
        if (!src.contains(name)) {
            throw new VitrimException(src.path() + ": missing tensor '" + name + "'");
        }
        return src.info(name).shape();
    }

    private static JsonNode readJson(Path file) {
        if (!Files.exists(file)) {
            return null;
        }
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new VitrimException(file + ": malformed JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    /** Every tensor in the file must be one the model uses: silently ignoring one computes wrong outputs. */
    private void checkNoUnknownTensors() {
        Set<String> known = new HashSet<>();
        for (String t : expectedTimmNames(config)) {
            known.addAll(names.sources(t));
        }
        for (String n : source.names()) {
            if (known.contains(n) || isExtra(n)) {
                continue;
            }
            DType dt = source.info(n).dtype();
            throw new VitrimException(origin + ": unsupported architecture: unexpected tensor '" + n + "' ("
                    + dt + " " + Arrays.toString(source.info(n).shape()) + "); vitrim supports plain ViT/DeiT "
                    + "(class/distillation tokens, LayerScale, no_embed_class, fc_norm)");
        }
    }

    /**
     * Whether a tensor belongs to what runs around the ViT rather than to the ViT itself: Token Cropr's queries
     * ({@code cropr.*}) and dense-prediction heads ({@code decoder.*}). The model keeps them for whoever asks.
     */
    public static boolean isExtra(String name) {
        return name.startsWith("cropr.") || name.startsWith("decoder.");
    }

    /** The timm names of every tensor an architecture holds. */
    public static List<String> expectedTimmNames(VitConfig c) {
        List<String> n = new ArrayList<>();
        n.add("patch_embed.proj.weight");
        n.add("patch_embed.proj.bias");
        n.add("pos_embed");
        if (c.classToken()) {
            n.add("cls_token");
        }
        if (c.distilled()) {
            n.add("dist_token");
        }
        for (int i = 0; i < c.depth(); i++) {
            String b = "blocks." + i + ".";
            for (String s : new String[] {"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.proj.weight",
                    "attn.proj.bias", "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                    "mlp.fc2.weight", "mlp.fc2.bias"}) {
                n.add(b + s);
            }
            if (c.qkvBias()) {
                n.add(b + "attn.qkv.bias");
            }
            if (c.layerScale()) {
                n.add(b + "ls1.gamma");
                n.add(b + "ls2.gamma");
            }
        }
        if (c.fcNorm()) {
            n.add("fc_norm.weight");
            n.add("fc_norm.bias");
        } else {
            n.add("norm.weight");
            n.add("norm.bias");
        }
        if (c.numClasses() > 0) {
            n.add("head.weight");
            n.add("head.bias");
            if (c.distilled()) {
                n.add("head_dist.weight");
                n.add("head_dist.bias");
            }
        }
        return n;
    }

    // ------------------------------------------------------------------------------------------ names

    /** Maps timm names to the names in the file (identity for timm; one or three names for Hugging Face). */
    static final class NameMap {
        final boolean hf;
        final String prefix; // "vit." or "deit." or "" for HF

        private NameMap(boolean hf, String prefix) {
            this.hf = hf;
            this.prefix = prefix;
        }

        static NameMap detect(TensorSource src, Path file) {
            for (String p : new String[] {"vit.", "deit.", ""}) {
                if (src.contains(p + "embeddings.patch_embeddings.projection.weight")) {
                    return new NameMap(true, p);
                }
            }
            return new NameMap(false, "");
        }

        String source(String timm) {
            return sources(timm).get(0);
        }

        int depth(TensorSource src) {
            Set<Integer> idx = new TreeSet<>();
            Pattern p = hf ? Pattern.compile("^" + Pattern.quote(prefix) + "encoder\\.layer\\.(\\d+)\\.") : BLOCK;
            for (String n : src.names()) {
                Matcher m = p.matcher(n);
                if (m.find()) {
                    idx.add(Integer.parseInt(m.group(1)));
                }
            }
            int d = idx.size();
            for (int i = 0; i < d; i++) {
                if (!idx.contains(i)) {
                    throw new VitrimException(src.path() + ": transformer block " + i + " is missing (found blocks "
                            + idx + ")");
                }
            }
            return d;
        }

        List<String> sources(String timm) {
            if (!hf) {
                return List.of(timm);
            }
            String e = prefix + "embeddings.";
            switch (timm) {
                case "cls_token":
                    return List.of(e + "cls_token");
                case "dist_token":
                    return List.of(e + "distillation_token");
                case "pos_embed":
                    return List.of(e + "position_embeddings");
                case "patch_embed.proj.weight":
                    return List.of(e + "patch_embeddings.projection.weight");
                case "patch_embed.proj.bias":
                    return List.of(e + "patch_embeddings.projection.bias");
                case "norm.weight":
                    return List.of(prefix + "layernorm.weight");
                case "norm.bias":
                    return List.of(prefix + "layernorm.bias");
                case "fc_norm.weight":
                    return List.of(prefix + "fc_norm.weight");
                case "fc_norm.bias":
                    return List.of(prefix + "fc_norm.bias");
                case "head.weight":
                    return List.of(prefix.equals("deit.") ? "cls_classifier.weight" : "classifier.weight");
                case "head.bias":
                    return List.of(prefix.equals("deit.") ? "cls_classifier.bias" : "classifier.bias");
                case "head_dist.weight":
                    return List.of("distillation_classifier.weight");
                case "head_dist.bias":
                    return List.of("distillation_classifier.bias");
                default:
                    break;
            }
            Matcher m = BLOCK.matcher(timm);
            if (!m.find()) {
                return List.of(timm);
            }
            String l = prefix + "encoder.layer." + m.group(1) + ".";
            String rest = timm.substring(m.end());
            String[] wb = rest.split("\\.");
            String suffix = wb[wb.length - 1];
            String mod = rest.substring(0, rest.length() - suffix.length() - 1);
            switch (mod) {
                case "norm1":
                    return List.of(l + "layernorm_before." + suffix);
                case "norm2":
                    return List.of(l + "layernorm_after." + suffix);
                case "attn.qkv":
                    return List.of(l + "attention.attention.query." + suffix, l + "attention.attention.key." + suffix,
                            l + "attention.attention.value." + suffix);
                case "attn.proj":
                    return List.of(l + "attention.output.dense." + suffix);
                case "mlp.fc1":
                    return List.of(l + "intermediate.dense." + suffix);
                case "mlp.fc2":
                    return List.of(l + "output.dense." + suffix);
                case "ls1":
                    return List.of(l + "layernorm_before.lambda1");
                case "ls2":
                    return List.of(l + "layernorm_after.lambda2");
                default:
                    return List.of(l + rest);
            }
        }
    }
}
