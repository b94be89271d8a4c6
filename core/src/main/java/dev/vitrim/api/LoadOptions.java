package dev.vitrim.api;

import dev.vitrim.VitrimException;
import dev.vitrim.engine.Precision;
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
 *   <li>{@link #batch()}: images per forward in the batch methods ({@link VitrimModel#classifyFiles}); default 8;</li>
 *   <li>{@link #precision()}: the arithmetic of the transformer blocks ({@link Precision}: fp32 by default,
 *   {@code AUTO} = bf16 where the CPU has AMX or AVX512_BF16); the weights are converted once, at load
 *   ({@link VitrimModel#precision()} says what runs and why).</li>
 * </ul>
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
    private final Precision precision;

    private LoadOptions(int heads, Kernels kernels, Linear linear, int microBatch, int batch, Precision precision) {
        if (heads < 0) {
            throw new VitrimException("heads: must be 0 (from the file) or positive, got " + heads);
        }
        if (kernels == null || linear == null || precision == null) {
            throw new VitrimException((kernels == null ? "kernels" : linear == null ? "linear" : "precision")
                    + ": must not be null");
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
        this.precision = precision;
    }

    /** The arithmetic of the transformer blocks at inference. */
    public Precision precision() {
        return precision;
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
                micro, 8, Precision.FP32);
    }

    /** With {@code h} attention heads (0: from the file). */
    public LoadOptions withHeads(int h) {
        return new LoadOptions(h, kernels, linear, microBatch, batch, precision);
    }

    /** With the blocks run as {@code k}. */
    public LoadOptions withKernels(Kernels k) {
        return new LoadOptions(heads, k, linear, microBatch, batch, precision);
    }

    /** With the inference matrix products on {@code l}. */
    public LoadOptions withLinear(Linear l) {
        return new LoadOptions(heads, kernels, l, microBatch, batch, precision);
    }

    /** With micro-batches of {@code images} (0: sized to the caches). */
    public LoadOptions withMicroBatch(int images) {
        return new LoadOptions(heads, kernels, linear, images, batch, precision);
    }

    /** With {@code images} per forward in the batch methods. */
    public LoadOptions withBatch(int images) {
        return new LoadOptions(heads, kernels, linear, microBatch, images, precision);
    }

    /** With the blocks computing in {@code p} (fp32, bf16, int8 or auto). */
    public LoadOptions withPrecision(Precision p) {
        return new LoadOptions(heads, kernels, linear, microBatch, batch, p);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LoadOptions l && l.heads == heads && l.kernels == kernels && l.linear == linear
                && l.microBatch == microBatch && l.batch == batch && l.precision == precision;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(heads, kernels, linear, microBatch, batch, precision);
    }

    @Override
    public String toString() {
        return "LoadOptions[heads=" + heads + ", kernels=" + kernels + ", linear=" + linear + ", microBatch="
                + microBatch + ", batch=" + batch + ", precision=" + precision + "]";
    }
}
