package dev.vitrim.spark;

import java.io.Serializable;

/**
 * What a Spark job runs: a model file, its reduction and how images are batched. Serializable and a value (equal
 * specs share one loaded model in each executor JVM).
 *
 * @param model   a checkpoint path readable on every executor (a shared file system), or a file shipped with
 *                {@code spark-submit --files} (then looked up by its file name through {@code SparkFiles})
 * @param heads   attention heads when the file does not say (0: read from the file)
 * @param reduce  token reduction spec, as {@code --reduce} ({@code none}: the unreduced model)
 * @param top     classes reported per image
 * @param batch   images per forward pass inside a partition
 * @param threads intra-op threads per task (0: derived from the executor's cores, see {@link VitrimSpark})
 */
public record ModelSpec(String model, int heads, String reduce, int top, int batch, int threads)
        implements Serializable {
    private static final long serialVersionUID = 1L;

    public ModelSpec {
        if (model == null || model.isBlank()) {
            throw new IllegalArgumentException("model: a checkpoint path is required");
        }
        if (heads < 0) {
            throw new IllegalArgumentException("heads must be >= 0, got " + heads);
        }
        reduce = reduce == null || reduce.isBlank() ? "none" : reduce.trim();
        if (top < 1) {
            throw new IllegalArgumentException("top must be at least 1, got " + top);
        }
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be at least 1, got " + batch);
        }
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        }
    }

    /** The unreduced model at {@code path}: top 5, batches of 8, threads derived from the executor. */
    public static ModelSpec of(String path) {
        return new ModelSpec(path, 0, "none", 5, 8, 0);
    }

    public ModelSpec withReduce(String spec) {
        return new ModelSpec(model, heads, spec, top, batch, threads);
    }

    public ModelSpec withHeads(int n) {
        return new ModelSpec(model, n, reduce, top, batch, threads);
    }

    public ModelSpec withTop(int k) {
        return new ModelSpec(model, heads, reduce, k, batch, threads);
    }

    public ModelSpec withBatch(int b) {
        return new ModelSpec(model, heads, reduce, top, b, threads);
    }

    public ModelSpec withThreads(int n) {
        return new ModelSpec(model, heads, reduce, top, batch, n);
    }
}
