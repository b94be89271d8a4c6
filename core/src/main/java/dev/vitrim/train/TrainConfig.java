package dev.vitrim.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;

/**
 * Hyperparameters of a training run.
 *
 * @param epochs         passes over the training split
 * @param batch          images per step
 * @param lr             peak learning rate (reached after the warm-up)
 * @param minLr          learning rate at the end of the cosine decay
 * @param warmupEpochs   linear warm-up length in epochs (fractions allowed)
 * @param weightDecay    AdamW decoupled weight decay (not applied to norms, biases, tokens, position embeddings)
 * @param beta1          AdamW first-moment decay
 * @param beta2          AdamW second-moment decay
 * @param adamEps        AdamW epsilon
 * @param labelSmoothing label smoothing of the training loss
 * @param clipNorm       global gradient-norm clipping threshold; 0 disables
 * @param seed           seed of initialisation, data order and augmentation
 * @param translate      maximum random shift of training images in pixels
 * @param flip           random horizontal flips of training images
 * @param microBatch     images per forward/backward pass within a step (gradients are accumulated, so the update is
 *                       that of the whole batch); 0 = the whole batch at once. Smaller passes keep the activations in
 *                       the CPU caches: on 2 cores a 197-token model trains ~40% faster in passes of 32 than of 128
 * @param moduleLr       peak learning rate of the modules a reducer adds for training (Cropr's queries, aggregators
 *                       and auxiliary heads), following the same warm-up and decay; 0 = the same as {@code lr}. They
 *                       start from scratch while the backbone is fine-tuned, and only the auxiliary losses train them
 * @param layerDecay     layer-wise learning-rate decay of the backbone (BEiT, DeiT III, Cropr's fine-tuning): the head
 *                       and final norm train at {@code lr}, block i at {@code lr·layerDecay^(depth−i)}, the embeddings
 *                       at {@code lr·layerDecay^(depth+1)}; 1 = off. The modules a reducer adds keep {@code moduleLr}
 */
public record TrainConfig(int epochs, int batch, double lr, double minLr, double warmupEpochs, double weightDecay,
                          double beta1, double beta2, double adamEps, double labelSmoothing, double clipNorm, long seed,
                          int translate, boolean flip, int microBatch, double moduleLr, double layerDecay) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public TrainConfig {
        if (epochs < 1) {
            throw new VitrimException("epochs must be at least 1, got " + epochs);
        }
        if (batch < 1) {
            throw new VitrimException("batch must be at least 1, got " + batch);
        }
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw new VitrimException("lr must be a positive number, got " + lr);
        }
        if (!(minLr >= 0) || minLr > lr) {
            throw new VitrimException("minLr must be between 0 and lr (" + lr + "), got " + minLr);
        }
        if (!(warmupEpochs >= 0) || warmupEpochs > epochs) {
            throw new VitrimException("warmupEpochs must be between 0 and epochs (" + epochs + "), got " + warmupEpochs);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new VitrimException("weightDecay must be >= 0, got " + weightDecay);
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(adamEps > 0)) {
            throw new VitrimException("AdamW betas must be in [0, 1) and eps > 0");
        }
        if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
            throw new VitrimException("labelSmoothing must be in [0, 1), got " + labelSmoothing);
        }
        if (!(clipNorm >= 0) || Double.isInfinite(clipNorm)) {
            throw new VitrimException("clipNorm must be >= 0 (0 disables), got " + clipNorm);
        }
        if (translate < 0) {
            throw new VitrimException("translate must be >= 0, got " + translate);
        }
        if (!(moduleLr >= 0) || Double.isInfinite(moduleLr)) {
            throw new VitrimException("moduleLr must be a positive number (0: the same as lr), got " + moduleLr);
        }
        if (!(layerDecay > 0 && layerDecay <= 1)) {
            throw new VitrimException("layerDecay must be in (0, 1] (1: off), got " + layerDecay);
        }
        if (microBatch < 0) {
            throw new VitrimException("microBatch must be >= 0 (0: the whole batch), got " + microBatch);
        }
    }

    /** Without layer-wise learning-rate decay. */
    public TrainConfig(int epochs, int batch, double lr, double minLr, double warmupEpochs, double weightDecay,
                       double beta1, double beta2, double adamEps, double labelSmoothing, double clipNorm, long seed,
                       int translate, boolean flip, int microBatch, double moduleLr) {
        this(epochs, batch, lr, minLr, warmupEpochs, weightDecay, beta1, beta2, adamEps, labelSmoothing, clipNorm, seed,
                translate, flip, microBatch, moduleLr, 1.0);
    }

    /** A convenience constructor with micro-batches of 32 images. */
    public TrainConfig(int epochs, int batch, double lr, double minLr, double warmupEpochs, double weightDecay,
                       double beta1, double beta2, double adamEps, double labelSmoothing, double clipNorm, long seed,
                       int translate, boolean flip) {
        this(epochs, batch, lr, minLr, warmupEpochs, weightDecay, beta1, beta2, adamEps, labelSmoothing, clipNorm, seed,
                translate, flip, 32, 0);
    }

    /** The modules' learning rate as a multiple of the backbone's. */
    public double moduleLrScale() {
        return moduleLr > 0 ? moduleLr / lr : 1.0;
    }

    public TrainConfig withEpochs(int e, double warmup) {
        return new TrainConfig(e, batch, lr, minLr, warmup, weightDecay, beta1, beta2, adamEps, labelSmoothing,
                clipNorm, seed, translate, flip, microBatch, moduleLr, layerDecay);
    }

    /**
     * The learning rate of backbone parameter {@code name} as a multiple of {@code lr} under {@link #layerDecay}: timm
     * names, block i is layer i+1, what comes before the blocks layer 0, what comes after them layer depth+1.
     */
    public double layerLrScale(String name, int depth) {
        if (layerDecay == 1.0) {
            return 1.0;
        }
        int layer;
        if (name.startsWith("blocks.")) {
            layer = Integer.parseInt(name.substring(7, name.indexOf('.', 7))) + 1;
        } else if (name.startsWith("patch_embed.") || name.equals("cls_token") || name.equals("dist_token")
                || name.equals("pos_embed") || name.equals("reg_token")) {
            layer = 0;
        } else {
            layer = depth + 1;
        }
        return Math.pow(layerDecay, depth + 1 - layer);
    }

    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("epochs", epochs).put("batch", batch).put("lr", lr).put("min_lr", minLr).put("warmup_epochs", warmupEpochs)
                .put("weight_decay", weightDecay).put("beta1", beta1).put("beta2", beta2).put("adam_eps", adamEps)
                .put("label_smoothing", labelSmoothing).put("clip_grad", clipNorm).put("seed", seed)
                .put("translate", translate).put("flip", flip).put("micro_batch", microBatch).put("module_lr", moduleLr)
                .put("layer_decay", layerDecay);
        return o;
    }

    public static TrainConfig fromJson(JsonNode o) {
        return new TrainConfig(o.path("epochs").asInt(), o.path("batch").asInt(), o.path("lr").asDouble(),
                o.path("min_lr").asDouble(), o.path("warmup_epochs").asDouble(), o.path("weight_decay").asDouble(),
                o.path("beta1").asDouble(), o.path("beta2").asDouble(), o.path("adam_eps").asDouble(),
                o.path("label_smoothing").asDouble(), o.path("clip_grad").asDouble(), o.path("seed").asLong(),
                o.path("translate").asInt(), o.path("flip").asBoolean(), o.path("micro_batch").asInt(32),
                o.path("module_lr").asDouble(0), o.path("layer_decay").asDouble(1.0));
    }
}
