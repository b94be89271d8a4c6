package dev.vitrim.api;

import dev.vitrim.VitrimException;
import java.util.Locale;

/**
 * How a model is loaded and run: immutable, each {@code with}-method returns a changed copy. The defaults come from
 * the system properties {@code vitrim.kernels}, {@code vitrim.linear} and {@code vitrim.microBatch} when they are
 * set (so {@code -Dvitrim.kernels=eager} still switches a whole application), otherwise from the values below.
 *
 * <pre>{@code
 * LoadOptions o = LoadOptions.defaults().withLinear(LoadOptions.Linear.ATEN).withMicroBatch(16);
 * try (VitrimModel m = Vitrim.load(Path.of("model.safetensors"), o)) { ... }
 * }</pre>
 *
 * <ul>
 *   <li>{@link #heads()}: attention heads; 0 (the default) reads them from the file (or width / 64);</li>
 *   <li>{@link #kernels()}: how the transformer blocks run;</li>
 *   <li>{@link #linear()}: which library runs the inference matrix products;</li>
 *   <li>{@link #microBatch()}: images per micro-batch of a large batch; 0 (the default) sizes them to the caches;</li>
 *   <li>{@link #batch()}: images per forward in the batch methods ({@link VitrimModel#classifyFiles}); default 8.</li>
 * </ul>
 *
 * <p>A numeric-precision option (weights and activations in a narrower float type) belongs here, next to the
 * kernels: like them it is chosen when the weights are loaded ({@link Vitrim#load(java.nio.file.Path, LoadOptions)}
 * applies them).
 */
public final class LoadOptions {
    /** How the two halves of each transformer block run. */
    public enum Kernels {
        /** TorchScript methods compiled for the architecture at load time: one call per half-block (the default). */
        TORCHSCRIPT,
        /** The plain composition of DJL operators: the reference the compiled kernels are tested against. */
        EAGER
    }

    /** Which library runs the matrix products of inference. */
    public enum Linear {
        /** oneDNN (the default); falls back to ATen where libtorch was built without it. */
        ONEDNN,
        /** ATen's products (MKL on x86). */
        ATEN
    }

    private final int heads;
    private final Kernels kernels;
    private final Linear linear;
    private final int microBatch;
    private final int batch;

    private LoadOptions(int heads, Kernels kernels, Linear linear, int microBatch, int batch) {
        if (heads < 0) {
            throw new VitrimException("heads: must be 0 (from the file) or positive, got " + heads);
        }
        if (kernels == null || linear == null) {
            throw new VitrimException((kernels == null ? "kernels" : "linear") + ": must not be null");
        }
        if (microBatch < 0) {
            throw new VitrimException("microBatch: must be 0 (automatic) or positive, got " + microBatch);
        }
        if (batch < 1) {
            throw new VitrimException("batch: must be at least 1, got " + batch);
        }
        this.heads = heads;
        this.kernels = kernels;
        this.linear = linear;
        this.microBatch = microBatch;
        this.batch = batch;
    }

    /** Attention heads; 0: from the file (or width / 64). */
    public int heads() {
        return heads;
    }

    /** How the transformer blocks run. */
    public Kernels kernels() {
        return kernels;
    }

    /** Which library runs the inference matrix products. */
    public Linear linear() {
        return linear;
    }

    /** Images per micro-batch of a large batch; 0: sized to the caches. */
    public int microBatch() {
        return microBatch;
    }

    /** Images per forward in the batch methods. */
    public int batch() {
        return batch;
    }

    /** The defaults, with the {@code vitrim.*} system properties applied. */
    public static LoadOptions defaults() {
        String k = System.getProperty("vitrim.kernels");
        String l = System.getProperty("vitrim.linear");
        String mb = System.getProperty("vitrim.microBatch");
        int micro = 0;
        if (mb != null) {
            try {
                micro = Math.max(1, Integer.parseInt(mb.trim()));
            } catch (NumberFormatException e) {
                throw new VitrimException("system property vitrim.microBatch=" + mb + " is not a whole number");
            }
        }
        return new LoadOptions(0,
                k != null && k.trim().toLowerCase(Locale.ROOT).equals("eager") ? Kernels.EAGER : Kernels.TORCHSCRIPT,
                l != null && l.trim().toLowerCase(Locale.ROOT).equals("aten") ? Linear.ATEN : Linear.ONEDNN,
                micro, 8);
    }

    /** With {@code h} attention heads (0: from the file). */
    public LoadOptions withHeads(int h) {
        return new LoadOptions(h, kernels, linear, microBatch, batch);
    }

    /** With the blocks run as {@code k}. */
    public LoadOptions withKernels(Kernels k) {
        return new LoadOptions(heads, k, linear, microBatch, batch);
    }

    /** With the inference matrix products on {@code l}. */
    public LoadOptions withLinear(Linear l) {
        return new LoadOptions(heads, kernels, l, microBatch, batch);
    }

    /** With micro-batches of {@code images} (0: sized to the caches). */
    public LoadOptions withMicroBatch(int images) {
        return new LoadOptions(heads, kernels, linear, images, batch);
    }

    /** With {@code images} per forward in the batch methods. */
    public LoadOptions withBatch(int images) {
        return new LoadOptions(heads, kernels, linear, microBatch, images);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LoadOptions l && l.heads == heads && l.kernels == kernels && l.linear == linear
                && l.microBatch == microBatch && l.batch == batch;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(heads, kernels, linear, microBatch, batch);
    }

    @Override
    public String toString() {
        return "LoadOptions[heads=" + heads + ", kernels=" + kernels + ", linear=" + linear + ", microBatch="
                + microBatch + ", batch=" + batch + "]";
    }
}
