package dev.vitrim.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Torch;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.SafeTensorsWriter;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.model.VisionTransformer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writing trained models so that both vitrim and timm load them, and moving weights between models. */
public final class ModelFiles {
    static final ObjectMapper JSON = new ObjectMapper();

    private ModelFiles() {}

    /**
     * The {@value Checkpoint#METADATA_KEY} JSON of a model: what {@link Checkpoint} reads back (name, heads, eps,
     * labels, preprocess, global_pool, no_embed_class) plus {@code timm_class} and {@code timm_model_args}: the class and
     * keyword arguments that build the same network in timm (then {@code load_state_dict} the file), and
     * {@code extra} (e.g. how it was trained).
     */
    public static ObjectNode metadata(VitConfig c, JsonNode extra) {
        ObjectNode o = JSON.createObjectNode();
        o.put("name", c.name());
        o.put("heads", c.heads());
        o.put("eps", c.eps());
        ArrayNode labels = o.putArray("labels");
        c.labels().forEach(labels::add);
        PreprocessConfig p = c.preprocess();
        ObjectNode pre = o.putObject("preprocess");
        pre.putArray("input_size").add(3).add(p.size()).add(p.size());
        pre.put("crop_pct", p.cropPct());
        ArrayNode mean = pre.putArray("mean");
        for (float f : p.mean()) {
            mean.add(f);
        }
        ArrayNode std = pre.putArray("std");
        for (float f : p.std()) {
            std.add(f);
        }
        pre.put("interpolation", p.interpolation().timmName());
        o.put("global_pool", c.globalPool());
        o.put("no_embed_class", c.noEmbedClass());
        o.put("timm_class", c.distilled() ? "timm.models.deit.VisionTransformerDistilled"
                : "timm.models.vision_transformer.VisionTransformer");
        ObjectNode a = o.putObject("timm_model_args");
        a.put("img_size", c.imageSize());
        a.put("patch_size", c.patchSize());
        a.put("in_chans", 3);
        a.put("num_classes", c.numClasses());
        a.put("global_pool", c.globalPool());
        a.put("embed_dim", c.width());
        a.put("depth", c.depth());
        a.put("num_heads", c.heads());
        a.put("mlp_ratio", (double) c.mlpHidden() / c.width());
        a.put("qkv_bias", c.qkvBias());
        a.put("class_token", c.classToken());
        a.put("no_embed_class", c.noEmbedClass());
        if (c.layerScale()) {
            a.put("init_values", 1e-5);
        }
        if (c.fcNorm()) {
            a.put("fc_norm", true);
        }
        if (extra != null) {
            o.set("extra", extra);
        }
        return o;
    }

    /**
     * Saves the model's weights in timm layout under {@code file} (atomically: temporary file, then rename) with
     * {@code cfg} (classes, labels, preprocessing) in the metadata.
     */
    public static void save(VisionTransformer vit, VitConfig cfg, JsonNode extra, Path file) {
        Map<String, FloatTensor> t = vit.exportTensors();
        save(t, cfg, extra, file);
    }

    static void save(Map<String, FloatTensor> timmTensors, VitConfig cfg, JsonNode extra, Path file) {
        save(timmTensors, cfg, extra, null, file);
    }

    /** The same, recording the token reduction the model was trained with ({@code reduce}, may be null). */
    static void save(Map<String, FloatTensor> timmTensors, VitConfig cfg, JsonNode extra, String reduce, Path file) {
        save(timmTensors, cfg, extra, reduce, Map.of(), file);
    }

    /** The same, with more metadata entries (e.g. a dense model's description). */
    static void save(Map<String, FloatTensor> timmTensors, VitConfig cfg, JsonNode extra, String reduce,
                     Map<String, String> more, Path file) {
        checkFinite(timmTensors, file);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(Checkpoint.METADATA_KEY, metadata(cfg, extra).toString());
        if (reduce != null) {
            meta.put(Checkpoint.REDUCE_KEY, reduce);
        }
        meta.putAll(more);
        meta.put("format", "pt");
        SafeTensorsWriter.write(file, meta, timmTensors);
    }

    /**
     * Saves a dense model: the backbone in timm layout, the decoder ({@code decoder.*}) and the dense heads' description
     * ({@value dev.vitrim.dense.DenseModel#METADATA_KEY}), atomically.
     */
    public static void saveDense(dev.vitrim.dense.DenseModel m, JsonNode extra, Path file) {
        saveDense(m, extra, null, Map.of(), file);
    }

    /**
     * The same, with the reducer's inference tensors ({@code more}, e.g. Cropr's queries) and the reduction it was
     * trained with recorded under {@link Checkpoint#REDUCE_KEY} ({@code reduce}; null: none).
     */
    static void saveDense(dev.vitrim.dense.DenseModel m, JsonNode extra, String reduce, Map<String, FloatTensor> more,
                          Path file) {
        Map<String, FloatTensor> tensors = m.backbone().exportTensors();
        tensors.putAll(m.decoderTensors());
        tensors.putAll(more);
        save(tensors, m.config(), extra, reduce, Map.of(dev.vitrim.dense.DenseModel.METADATA_KEY,
                dev.vitrim.dense.DenseModel.metadata(m.classes(), m.config().patchSize())), file);
    }

    static void checkFinite(Map<String, FloatTensor> tensors, Path file) {
        for (Map.Entry<String, FloatTensor> e : tensors.entrySet()) {
            for (float f : e.getValue().data()) {
                if (!Float.isFinite(f)) {
                    throw new VitrimException(file + ": not saved: tensor '" + e.getKey() + "' holds " + f
                            + " (training diverged)");
                }
            }
        }
    }

    /** The model's parameters as stored (attention scale folded into the queries), by timm name. */
    static Map<String, FloatTensor> internalTensors(VisionTransformer vit) {
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : vit.parameters().entrySet()) {
            out.put(e.getKey(), new FloatTensor(e.getValue().getShape().getShape(), e.getValue().toFloatArray()));
        }
        return out;
    }

    /** Overwrites the model's parameters, in place, with values of {@link #internalTensors} form. */
    static void assignInternal(VisionTransformer vit, Map<String, FloatTensor> values, String prefix) {
        boolean grad = ai.djl.pytorch.jni.JniUtils.isGradMode();
        Torch.grad(false);
        try {
            for (Map.Entry<String, NDArray> e : vit.parameters().entrySet()) {
                AdamW.copyInto(e.getValue(), values.get(prefix + e.getKey()), prefix + e.getKey());
            }
        } finally {
            Torch.grad(grad);
        }
    }

    /**
     * Copies every parameter of {@code from} into {@code to} in place, except the classifier head(s) when
     * {@code skipHead}. Both models must have the same architecture apart from the head.
     */
    static void copyParameters(VisionTransformer from, VisionTransformer to, boolean skipHead) {
        boolean grad = ai.djl.pytorch.jni.JniUtils.isGradMode();
        Torch.grad(false);
        try {
            for (Map.Entry<String, NDArray> e : to.parameters().entrySet()) {
                String n = e.getKey();
                if (skipHead && (n.startsWith("head.") || n.startsWith("head_dist."))) {
                    continue;
                }
                NDArray src = from.parameters().get(n);
                if (src == null || !src.getShape().equals(e.getValue().getShape())) {
                    throw new IllegalStateException("parameter " + n + " does not match");
                }
                try (NDManager m = e.getValue().getManager().newSubManager()) {
                    NDArray c = src.duplicate();
                    c.attach(m);
                    e.getValue().set(new NDIndex("..."), c);
                }
            }
        } finally {
            Torch.grad(grad);
        }
    }

    /** Every field of a config, for the training state (read back by {@link #configFromJson}). */
    public static ObjectNode configToJson(VitConfig c) {
        ObjectNode o = metadata(c, null);
        o.put("width", c.width()).put("depth", c.depth()).put("patch_size", c.patchSize()).put("grid_h", c.gridH())
                .put("grid_w", c.gridW()).put("mlp_hidden", c.mlpHidden()).put("num_classes", c.numClasses())
                .put("class_token", c.classToken()).put("distilled", c.distilled()).put("layer_scale", c.layerScale())
                .put("qkv_bias", c.qkvBias()).put("fc_norm", c.fcNorm());
        return o;
    }

    public static VitConfig configFromJson(JsonNode o) {
        JsonNode p = o.path("preprocess");
        PreprocessConfig pre = new PreprocessConfig(p.path("input_size").path(1).asInt(), p.path("crop_pct").asDouble(),
                floats(p.path("mean")), floats(p.path("std")),
                dev.vitrim.image.Interpolation.parse(p.path("interpolation").asText()));
        java.util.List<String> labels = new java.util.ArrayList<>();
        o.path("labels").forEach(l -> labels.add(l.asText()));
        return new VitConfig(o.path("name").asText(), o.path("width").asInt(), o.path("depth").asInt(),
                o.path("heads").asInt(), o.path("patch_size").asInt(), o.path("grid_h").asInt(), o.path("grid_w").asInt(),
                o.path("mlp_hidden").asInt(), o.path("num_classes").asInt(), o.path("class_token").asBoolean(),
                o.path("distilled").asBoolean(), o.path("no_embed_class").asBoolean(), o.path("layer_scale").asBoolean(),
                o.path("qkv_bias").asBoolean(), o.path("global_pool").asText(), o.path("fc_norm").asBoolean(),
                o.path("eps").asDouble(), pre, labels);
    }

    private static float[] floats(JsonNode a) {
        float[] f = new float[a.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) a.get(i).asDouble();
        }
        return f;
    }

}
