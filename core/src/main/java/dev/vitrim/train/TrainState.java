package dev.vitrim.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.SafeTensorsFile;
import dev.vitrim.io.SafeTensorsWriter;
import dev.vitrim.io.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything needed to continue a run exactly: the weights after the last finished epoch (as the model stores
 * them, tensors {@code model.<timm name>}), the AdamW moments ({@code optim.m.<name>}, {@code optim.v.<name>}) and,
 * in the metadata under {@value #KEY}, the epoch and step counters, the best validation result so far, the
 * architecture, the data set and the hyperparameters. Data order and augmentation are functions of
 * {@code (seed, epoch)}, so no generator state needs saving. Written atomically, once per epoch.
 */
public record TrainState(JsonNode info, Map<String, FloatTensor> model, Map<String, FloatTensor> optim) {
    public static final String KEY = "vitrim.train_state";
    static final int FORMAT = 1;

    public int epochsDone() {
        return info.path("epochs_done").asInt();
    }

    public long steps() {
        return info.path("steps").asLong();
    }

    public double bestValAcc() {
        return info.path("best_val_acc").asDouble(-1);
    }

    public int bestEpoch() {
        return info.path("best_epoch").asInt(0);
    }

    public JsonNode arch() {
        return info.path("arch");
    }

    public String data() {
        return info.path("data").asText();
    }

    public void write(Path file) {
        Map<String, FloatTensor> all = new LinkedHashMap<>();
        model.forEach((k, v) -> all.put("model." + k, v));
        optim.forEach((k, v) -> all.put("optim." + k, v));
        ModelFiles.checkFinite(all, file);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(KEY, info.toString());
        SafeTensorsWriter.write(file, meta, all);
    }

    public static TrainState read(Path file) {
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            String json = f.metadata().get(KEY);
            if (json == null) {
                throw new VitrimException(file + ": not a vitrim training state (no '" + KEY + "' metadata); resuming "
                        + "needs the .state.safetensors file that training writes next to the model");
            }
            JsonNode info;
            try {
                info = ModelFiles.JSON.readTree(json);
            } catch (IOException e) {
                throw new VitrimException(file + ": metadata '" + KEY + "' is not valid JSON");
            }
            if (info.path("format").asInt() != FORMAT) {
                throw new VitrimException(file + ": training state format " + info.path("format").asInt()
                        + " is not supported (expected " + FORMAT + ")");
            }
            Map<String, FloatTensor> model = new LinkedHashMap<>();
            Map<String, FloatTensor> optim = new LinkedHashMap<>();
            for (String n : f.names()) {
                TensorInfo ti = f.info(n);
                FloatTensor t = new FloatTensor(ti.shape(), f.floats(n));
                if (n.startsWith("model.")) {
                    model.put(n.substring("model.".length()), t);
                } else if (n.startsWith("optim.")) {
                    optim.put(n.substring("optim.".length()), t);
                } else {
                    throw new VitrimException(file + ": unexpected tensor '" + n + "' in a training state");
                }
            }
            return new TrainState(info, model, optim);
        }
    }

    static ObjectNode newInfo() {
        ObjectNode o = ModelFiles.JSON.createObjectNode();
        o.put("format", FORMAT);
        return o;
    }
}
