package dev.vitrim.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.engine.Torch;
import dev.vitrim.engine.TorchScript;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The four float32 matrix products of one ViT block (qkv, proj, fc1, fc2; {@code width} wide, MLP 4× as wide) on
 * {@code rows} rows (197: one image; 1576: eight), through each kernel libtorch offers on the CPU: oneDNN's
 * {@code mkldnn::_linear_pointwise} on plain weights (what vitrim's inference runs), the same on weights reordered
 * once into oneDNN's blocked layout for this row count or {@code hint} ({@code mkldnn::_reorder_linear_weight}), MKL's packed GEMM
 * ({@code mkl::_mkl_linear}, weights packed once for this row count) and ATen's {@code torch.linear}. The block's
 * {@code 2·rows·12·width²} FLOPs over the time give each kernel's rate, to set against the machine's matmul ceiling
 * ({@code vitrim bench} prints it). Run one thread, e.g. {@code scripts/jmh LinearKernels -p threads=1}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true"})
public class LinearKernels {
    @Param({"197", "1576"})
    int rows;

    @Param({"768"})
    int width;

    /**
     * The row count the blocked weights are laid out for ({@code mkldnn::_reorder_linear_weight}'s hint); 0: {@code rows}.
     * A reduced model runs blocks of fewer rows on weights reordered once, for one count.
     */
    @Param({"0"})
    int hint;

    /** PyTorch's intra-op threads; 0: its default (one per core). */
    @Param({"0"})
    int threads;

    private static final String SOURCE = String.join("\n",
            "class LinearKernels(Module):",
            "  __parameters__ = []",
            "  __buffers__ = []",
            "  training : bool",
            "  def pack(self: __torch__.LinearKernels, w: Tensor, rows: int) -> Tensor:",
            "    return ops.mkl._mkl_reorder_linear_weight(w, rows)",
            "  def reorder(self: __torch__.LinearKernels, w: Tensor, rows: int) -> Tensor:",
            "    return ops.mkldnn._reorder_linear_weight(w, rows)",
            // qkv, proj and fc1 read x; fc2 reads fc1's output
            "  def onednn(self: __torch__.LinearKernels, x: Tensor, w: List[Tensor], b: List[Tensor]) -> Tensor:",
            "    sc = annotate(List[Optional[number]], [])",
            "    y = x",
            "    for i in range(4):",
            "      y = ops.mkldnn._linear_pointwise(x if i < 3 else y, w[i], b[i], \"none\", sc, \"none\")",
            "    return y",
            "  def mkl(self: __torch__.LinearKernels, x: Tensor, p: List[Tensor], w: List[Tensor], b: List[Tensor],",
            "      rows: int) -> Tensor:",
            "    y = x",
            "    for i in range(4):",
            "      y = ops.mkl._mkl_linear(x if i < 3 else y, p[i], w[i], b[i], rows)",
            "    return y",
            "  def aten(self: __torch__.LinearKernels, x: Tensor, w: List[Tensor], b: List[Tensor]) -> Tensor:",
            "    y = x",
            "    for i in range(4):",
            "      y = torch.linear(x if i < 3 else y, w[i], b[i])",
            "    return y",
            "");

    NDManager manager;
    TorchScript script;
    NDArray x;
    NDArray[] weights;
    NDArray[] biases;
    NDArray[] packed;
    NDArray[] blocked;

    @Setup(Level.Trial)
    public void setUp() {
        Torch.useApplicationDefaults();
        Torch.engine(threads);
        Torch.inference();
        manager = Torch.newManager();
        script = TorchScript.compile(manager, "LinearKernels", SOURCE);
        long w = width;
        long[][] shapes = {{3 * w, w}, {w, w}, {4 * w, w}, {w, 4 * w}};
        x = manager.randomNormal(new Shape(rows, w));
        weights = new NDArray[4];
        biases = new NDArray[4];
        packed = new NDArray[4];
        blocked = new NDArray[4];
        for (int i = 0; i < 4; i++) {
            weights[i] = manager.randomNormal(new Shape(shapes[i])).mul(0.02f);
            biases[i] = manager.randomNormal(new Shape(shapes[i][0])).mul(0.02f);
            packed[i] = script.call("pack", manager, weights[i], (long) rows)[0];
            blocked[i] = script.call("reorder", manager, weights[i], (long) (hint > 0 ? hint : rows))[0];
        }
        // the three kernels must compute the same block before their times mean anything
        NDArray dnn = script.call("onednn", manager, x, weights, biases)[0];
        NDArray mkl = script.call("mkl", manager, x, packed, weights, biases, (long) rows)[0];
        NDArray aten = script.call("aten", manager, x, weights, biases)[0];
        NDArray dnnBlocked = script.call("onednn", manager, x, blocked, biases)[0];
        float dnnVsAten = dnn.sub(aten).abs().max().getFloat();
        float mklVsAten = mkl.sub(aten).abs().max().getFloat();
        float blockedVsAten = dnnBlocked.sub(aten).abs().max().getFloat();
        if (!(dnnVsAten < 1e-3f && mklVsAten < 1e-3f && blockedVsAten < 1e-3f)) {
            throw new IllegalStateException("kernels disagree with ATen: oneDNN " + dnnVsAten + ", oneDNN blocked "
                    + blockedVsAten + ", MKL " + mklVsAten);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        script.close();
        manager.close();
    }

    @Benchmark
    public void onednn() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference(); // JMH may run the benchmark on another thread than the setup: prepare this one
            script.call("onednn", m, x, weights, biases);
        }
    }

    @Benchmark
    public void onednnBlocked() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference();
            script.call("onednn", m, x, blocked, biases);
        }
    }

    @Benchmark
    public void mkl() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference();
            script.call("mkl", m, x, packed, weights, biases, (long) rows);
        }
    }

    @Benchmark
    public void aten() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference();
            script.call("aten", m, x, weights, biases);
        }
    }
}
