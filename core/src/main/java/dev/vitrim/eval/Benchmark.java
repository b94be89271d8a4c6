package dev.vitrim.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.IValue;
import dev.vitrim.engine.Torch;
import dev.vitrim.engine.TorchScript;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.TokenReducer;
import java.util.Arrays;

/** Wall-clock measurement that respects a noisy machine: warm up, repeat, report the median. */
public final class Benchmark {
    private Benchmark() {}

    /**
     * Least time spent warming up when any warm-up is asked for. The reducers do part of their bookkeeping in
     * Java (ToMe's matching, the mass cut-off), which the JIT compiles only after some thousand calls: a warm-up
     * of a few batch-1 forwards (a tenth of a second) timed that code still interpreted, and with both cores busy
     * the compiler threads wait for a free one: 1.5 s still timed batch-8 ViT-S with attn 25% slow.
     */
    public static final double WARMUP_SECONDS = 3.0;

    /**
     * After {@link #WARMUP_SECONDS} the warm-up goes on until the JIT has compiled nothing for this long (and for two
     * rounds): a fixed time was not enough where a round is slow. Batch-8 ViT-S with attn still compiled its
     * bookkeeping 10 s into a run, and timed with 3 s of warm-up it read 0.87 of its MAC ratio against 0.98–1.00
     * after a longer one.
     */
    public static final double JIT_QUIET_SECONDS = 2.0;

    /** The longest warm-up: code that keeps compiling (something else in the process) does not hold it forever. */
    public static final double MAX_WARMUP_SECONDS = 60.0;

    /** Median and spread of repeated runs, in milliseconds. */
    public record Timing(double medianMs, double minMs, double maxMs, int runs) {}

    /**
     * Runs {@code body} {@code warmup} times unmeasured (and, when {@code warmup} &gt; 0, for at least
     * {@link #WARMUP_SECONDS} and until the JIT is quiet: {@link #warmUp}), then at least {@code minRuns} times and
     * until {@code minSeconds} have passed (at most {@code maxRuns}), and returns the median.
     */
    public static Timing time(Runnable body, int warmup, int minRuns, int maxRuns, double minSeconds) {
        return time(body, warmup, minRuns, maxRuns, minSeconds, Benchmark::jitMillis);
    }

    static Timing time(Runnable body, int warmup, int minRuns, int maxRuns, double minSeconds,
                       java.util.function.LongSupplier jitMillis) {
        warmUp(warmup, body, jitMillis, MAX_WARMUP_SECONDS);
        double[] t = new double[maxRuns];
        int n = 0;
        long start = System.nanoTime();
        while (n < maxRuns && (n < minRuns || (System.nanoTime() - start) / 1e9 < minSeconds)) {
            long t0 = System.nanoTime();
            body.run();
            t[n++] = (System.nanoTime() - t0) / 1e6;
        }
        return summary(t, n);
    }

    /**
     * Times {@code a} and {@code b} alternately in one process (a, b, a, b, …) so both see the same machine
     * state (after the same warm-up as {@link #time}), and returns their medians: {@code [timing of a, timing of b]}.
     */
    public static Timing[] interleaved(Runnable a, Runnable b, int warmup, int minRuns, int maxRuns,
                                       double minSeconds) {
        return interleaved(warmup, minRuns, maxRuns, minSeconds, a, b);
    }

    /** {@link #interleaved(Runnable, Runnable, int, int, int, double)} for any number of bodies, in turn. */
    public static Timing[] interleaved(int warmup, int minRuns, int maxRuns, double minSeconds, Runnable... bodies) {
        warmUp(warmup, () -> {
            for (Runnable body : bodies) {
                body.run();
            }
        }, Benchmark::jitMillis, MAX_WARMUP_SECONDS);
        double[][] t = new double[bodies.length][maxRuns];
        int n = 0;
        long start = System.nanoTime();
        while (n < maxRuns && (n < minRuns || (System.nanoTime() - start) / 1e9 < minSeconds)) {
            for (int k = 0; k < bodies.length; k++) {
                long t0 = System.nanoTime();
                bodies[k].run();
                t[k][n] = (System.nanoTime() - t0) / 1e6;
            }
            n++;
        }
        Timing[] out = new Timing[bodies.length];
        for (int k = 0; k < bodies.length; k++) {
            out[k] = summary(t[k], n);
        }
        return out;
    }

    /**
     * One forward of {@code x} (owned by {@code m}) with {@code reducer}, run in its own scope and read back to the
     * host, as a body for {@link #time} or {@link #interleaved}.
     */
    public static Runnable forward(NDManager m, NDArray x, VisionTransformer vit, TokenReducer reducer) {
        return () -> {
            try (NDManager s = m.newSubManager()) {
                s.tempAttachAll(x);
                vit.forward(x, reducer, null).toFloatArray();
            }
        };
    }

    /**
     * The processor, as Linux names it, and its widest vector extension (AVX-512 or AVX2), e.g. "AMD EPYC, AVX2":
     * speed figures mean little without it. "unknown" where /proc/cpuinfo cannot be read.
     */
    public static String cpu() {
        try {
            String info = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/cpuinfo"));
            String name = "unknown";
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^model name\\s*:\\s*(.+)$").matcher(info);
            if (m.find()) {
                name = m.group(1).trim();
            }
            java.util.regex.Matcher f = java.util.regex.Pattern.compile("(?m)^flags\\s*:(.*)$").matcher(info);
            String flags = f.find() ? " " + f.group(1) + " " : "";
            String simd = flags.contains(" avx512f ") ? "AVX-512" : flags.contains(" avx2 ") ? "AVX2" : "no AVX2";
            return name + ", " + simd;
        } catch (java.io.IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /**
     * Runs {@code round} unmeasured: nothing when {@code warmup} is 0; otherwise at least {@code warmup} times and
     * {@link #WARMUP_SECONDS}, then until {@code jitMillis} (the JIT's total compilation time) has not moved for two
     * rounds and {@link #JIT_QUIET_SECONDS}, or {@code maxSeconds} have passed. Returns the rounds run.
     */
    static int warmUp(int warmup, Runnable round, java.util.function.LongSupplier jitMillis, double maxSeconds) {
        if (warmup <= 0) {
            return 0;
        }
        long w0 = System.nanoTime();
        long jit = jitMillis.getAsLong();
        long quietSince = w0;
        int quietRounds = 0;
        for (int i = 1; ; i++) {
            round.run();
            long now = System.nanoTime();
            long j = jitMillis.getAsLong();
            if (j != jit) {
                jit = j;
                quietSince = now;
                quietRounds = 0;
            } else {
                quietRounds++;
            }
            double elapsed = (now - w0) / 1e9;
            boolean quiet = quietRounds >= 2 && (now - quietSince) / 1e9 >= JIT_QUIET_SECONDS;
            if (i >= warmup && elapsed >= WARMUP_SECONDS && (quiet || elapsed >= maxSeconds)) {
                return i;
            }
        }
    }

    /** The JIT's total compilation time in ms so far; 0 where the JVM does not report it (then: time alone). */
    private static long jitMillis() {
        java.lang.management.CompilationMXBean c = java.lang.management.ManagementFactory.getCompilationMXBean();
        return c != null && c.isCompilationTimeMonitoringSupported() ? c.getTotalCompilationTime() : 0;
    }

    private static Timing summary(double[] t, int n) {
        double[] s = Arrays.copyOf(t, n);
        Arrays.sort(s);
        return new Timing(median(s), s[0], s[n - 1], n);
    }

    public static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /**
     * The machine's fp32 matrix-multiply ceiling through the same engine, in GFLOP/s: the best median over
     * square products of a few sizes (2·n³ flops each).
     */
    public static double gemmCeilingGflops(NDManager base) {
        return gemmCeilingGflops(base, DataType.FLOAT32);
    }

    /**
     * The matrix-multiply ceiling of {@code type} ({@link DataType#FLOAT32} or {@link DataType#BFLOAT16}: libtorch's
     * bf16 product, oneDNN's where the CPU has AVX512_BF16 or AMX) through the same engine, in GFLOP/s: the best
     * median over square products of a few sizes (2·n³ flops each). A size whose product would take over half a
     * second at the rate just measured is left out: the rate has settled by then, and where bf16 is emulated the
     * largest product alone would take many seconds.
     */
    public static double gemmCeilingGflops(NDManager base, DataType type) {
        double best = 0;
        for (int n : new int[] {512, 1024, 2048}) {
            if (best > 0 && 2.0 * n * n * (double) n / (best * 1e9) > 0.5) {
                break;
            }
            best = Math.max(best, gemmGflops(base, n, n, n, type));
        }
        return best;
    }

    /** GFLOP/s of an [m,k]×[k,n] fp32 product (median of repeated runs). */
    public static double gemmGflops(NDManager base, int m, int k, int n) {
        return gemmGflops(base, m, k, n, DataType.FLOAT32);
    }

    /**
     * GFLOP/s of an [m,k]×[k,n] product in {@code type}, float32 or bfloat16 (median of repeated runs). The product
     * runs in a TorchScript method on operands converted once: DJL's arrays do not carry bfloat16, and the result
     * stays inside libtorch.
     */
    public static double gemmGflops(NDManager base, int m, int k, int n, DataType type) {
        if (type != DataType.FLOAT32 && type != DataType.BFLOAT16) {
            throw new IllegalArgumentException("matrix-multiply ceiling: float32 or bfloat16, not " + type);
        }
        Torch.inference();
        String cast = type == DataType.BFLOAT16 ? ".to(15)" : "";
        String source = "class GemmProbe(Module):\n"
                + "  __parameters__ = []\n"
                + "  __buffers__ = []\n"
                + "  training : bool\n"
                + "  def operand(self: __torch__.GemmProbe, a: Tensor) -> Tensor:\n"
                + "    return a" + cast + ".contiguous()\n"
                + "  def mm(self: __torch__.GemmProbe, a: Tensor, b: Tensor) -> int:\n"
                + "    return torch.mm(a, b).size(0)\n";
        try (NDManager mgr = base.newSubManager();
             TorchScript probe = TorchScript.compile(mgr, "GemmProbe", source);
             IValue a = probe.callValue("operand", mgr.randomNormal(0, 1, new Shape(m, k), DataType.FLOAT32));
             IValue b = probe.callValue("operand", mgr.randomNormal(0, 1, new Shape(k, n), DataType.FLOAT32))) {
            // one native product: no Java for the JIT to compile, so the warm-up need not wait for it to go quiet
            // (in a process that is compiling other code it would wait up to MAX_WARMUP_SECONDS per size)
            Timing t = time(() -> probe.callValue("mm", a, b).close(), 2, 5, 40, 1.0, () -> 0L);
            return 2.0 * m * k * (double) n / (t.medianMs() / 1e3) / 1e9;
        }
    }
}
