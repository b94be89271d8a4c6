package dev.vitrim.arch;

import dev.vitrim.VitrimException;
import dev.vitrim.image.PreprocessConfig;
import java.util.List;

/**
 * The architecture of a Vision Transformer, as timm describes it: everything needed to build the forward
 * pass, plus how images are prepared for it and what its classes are called.
 *
 * @param name          architecture name (preset name, timm architecture, or "checkpoint")
 * @param width         embedding width D
 * @param depth         number of transformer blocks
 * @param heads         attention heads (D must be divisible by it)
 * @param patchSize     square patch size p
 * @param gridH         patch grid rows the position embedding was trained for
 * @param gridW         patch grid columns the position embedding was trained for
 * @param mlpHidden     hidden width of each block's MLP
 * @param numClasses    classifier outputs; 0 means the model has no head and returns pooled features
 * @param classToken    whether a CLS token is prepended
 * @param distilled     whether a DeiT distillation token (and head_dist) is present
 * @param noEmbedClass  DeiT-III style: pos_embed covers only the patches, added before the prefix tokens
 * @param layerScale    whether blocks carry ls1/ls2 gammas
 * @param qkvBias       whether the qkv projection has a bias
 * @param globalPool    "token" (CLS) or "avg" (mean of patch tokens)
 * @param fcNorm        whether the pooled feature passes fc_norm (and the final norm is identity)
 * @param eps           LayerNorm epsilon
 * @param preprocess    evaluation transform of the images this model expects
 * @param labels        class names (may be empty)
 */
public record VitConfig(
        String name,
        int width,
        int depth,
        int heads,
        int patchSize,
        int gridH,
        int gridW,
        int mlpHidden,
        int numClasses,
        boolean classToken,
        boolean distilled,
        boolean noEmbedClass,
        boolean layerScale,
        boolean qkvBias,
        String globalPool,
        boolean fcNorm,
        double eps,
        PreprocessConfig preprocess,
        List<String> labels) {

    public VitConfig {
        labels = labels == null ? List.of() : List.copyOf(labels);
        if (width <= 0 || depth <= 0 || patchSize <= 0 || gridH <= 0 || gridW <= 0 || mlpHidden <= 0) {
            throw new VitrimException(name + ": invalid architecture (width " + width + ", depth " + depth
                    + ", patch " + patchSize + ", grid " + gridH + "x" + gridW + ", mlp " + mlpHidden + ")");
        }
        if (heads <= 0 || width % heads != 0) {
            throw new VitrimException(name + ": heads " + heads + " does not divide the width " + width
                    + " (choose a divisor, e.g. " + Math.max(1, width / 64) + ")");
        }
        if (!globalPool.equals("token") && !globalPool.equals("avg")) {
            throw new VitrimException(name + ": unsupported global pool '" + globalPool + "' (allowed: token, avg)");
        }
        if (globalPool.equals("token") && !classToken) {
            throw new VitrimException(name + ": token pooling needs a class token");
        }
    }

    /** Prefix tokens that are never pruned or merged: CLS and the distillation token. */
    public int prefixTokens() {
        return (classToken ? 1 : 0) + (distilled ? 1 : 0);
    }

    public int numPatches() {
        return gridH * gridW;
    }

    /** Tokens entering the first block at the native resolution. */
    public int tokens() {
        return numPatches() + prefixTokens();
    }

    public int imageSize() {
        return gridH * patchSize;
    }

    public int headDim() {
        return width / heads;
    }

    public String label(int index) {
        return index < labels.size() ? labels.get(index) : Integer.toString(index);
    }

    public VitConfig withHeads(int h) {
        return new VitConfig(name, width, depth, h, patchSize, gridH, gridW, mlpHidden, numClasses, classToken,
                distilled, noEmbedClass, layerScale, qkvBias, globalPool, fcNorm, eps, preprocess, labels);
    }

    public VitConfig withPreprocess(PreprocessConfig p) {
        return new VitConfig(name, width, depth, heads, patchSize, gridH, gridW, mlpHidden, numClasses, classToken,
                distilled, noEmbedClass, layerScale, qkvBias, globalPool, fcNorm, eps, p, labels);
    }

    public VitConfig withClasses(int classes, List<String> names) {
        return new VitConfig(name, width, depth, heads, patchSize, gridH, gridW, mlpHidden, classes, classToken,
                distilled, noEmbedClass, layerScale, qkvBias, globalPool, fcNorm, eps, preprocess, names);
    }

    /** Number of parameters the architecture holds. */
    public long parameterCount() {
        long d = width;
        long p = 0;
        p += d * 3L * patchSize * patchSize + d; // patch embed
        p += (long) prefixTokens() * d;
        p += (long) (noEmbedClass ? numPatches() : tokens()) * d;
        long block = 2 * 2 * d // norms
                + 3 * d * d + (qkvBias ? 3 * d : 0)
                + d * d + d
                + 2L * d * mlpHidden + mlpHidden + d
                + (layerScale ? 2 * d : 0);
        p += depth * block;
        p += 2 * d; // norm or fc_norm
        if (numClasses > 0) {
            p += (d + 1) * numClasses * (distilled ? 2L : 1L);
        }
        return p;
    }

    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append(name).append(": width ").append(width).append(", depth ").append(depth).append(", heads ")
                .append(heads).append(", patch ").append(patchSize).append(", grid ").append(gridH).append('x')
                .append(gridW).append(" (").append(imageSize()).append(" px), mlp ").append(mlpHidden)
                .append(", classes ").append(numClasses);
        if (distilled) {
            sb.append(", distilled");
        }
        if (layerScale) {
            sb.append(", layer-scale");
        }
        if (noEmbedClass) {
            sb.append(", no-embed-class");
        }
        sb.append(", pool ").append(globalPool);
        if (fcNorm) {
            sb.append(" + fc_norm");
        }
        sb.append(", eps ").append(eps);
        return sb.toString();
    }

    /** The shape of the network (what must match to continue training): everything but labels and preprocessing. */
    public String networkShape() {
        StringBuilder sb = new StringBuilder();
        sb.append("width ").append(width()).append(", depth ").append(depth()).append(", heads ").append(heads())
                .append(", patch ").append(patchSize()).append(", image ").append(imageSize()).append(", mlp ")
                .append(mlpHidden()).append(", classes ").append(numClasses()).append(", pool ")
                .append(globalPool());
        if (!classToken()) {
            sb.append(", no class token");
        }
        if (distilled()) {
            sb.append(", distilled");
        }
        if (layerScale()) {
            sb.append(", layer-scale");
        }
        if (noEmbedClass()) {
            sb.append(", no-embed-class");
        }
        if (!qkvBias()) {
            sb.append(", no qkv bias");
        }
        if (fcNorm()) {
            sb.append(", fc_norm");
        }
        return sb.toString();
    }
}
