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
 * ({@code mkl::_mkl_linear}, weights packed once for this row count), ATen's {@code torch.linear}, and ONNX Runtime's
 * CPU provider (its own kernels, MLAS) on the four products as {@code vitrim export} writes them (MatMul on the
 * transposed weight, then Add, on {@code [1, rows, width]}; every graph optimisation on). {@code onednnBlockedGelu}
 * calls the blocked kernel as a ViT block does: on {@code [1, rows, width]}, fc1 fused with its GELU. Every product's
 * result is returned, since TorchScript drops a product whose result nobody reads. The block's
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

    /**
     * How many blocks, each with its own weights, one call runs through (the score is for all of them). 1 keeps one
     * block's weights in the caches across calls; 12 (a ViT's depth) reads them as a whole forward does, each block's
     * weights again after the other blocks' have passed through the caches.
     */
    @Param({"1"})
    int blocks;

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
            // qkv, proj and fc1 read x; fc2 reads fc1's output. All four are returned: TorchScript drops a product
            // whose result nobody reads (with a loop that overwrote y, only fc1 and fc2 ran)
            "  def onednn(self: __torch__.LinearKernels, x: Tensor, w: List[Tensor], b: List[Tensor])"
                    + " -> Tuple[Tensor, Tensor, Tensor, Tensor]:",
            "    return self.onednn_act(x, w, b, False)",
            "  def onednn_act(self: __torch__.LinearKernels, x: Tensor, w: List[Tensor], b: List[Tensor], gelu: bool)"
                    + " -> Tuple[Tensor, Tensor, Tensor, Tensor]:",
            "    sc = annotate(List[Optional[number]], [])",
            "    act = \"gelu\" if gelu else \"none\"",
            "    qkv = ops.mkldnn._linear_pointwise(x, w[0], b[0], \"none\", sc, \"none\")",
            "    proj = ops.mkldnn._linear_pointwise(x, w[1], b[1], \"none\", sc, \"none\")",
            "    fc1 = ops.mkldnn._linear_pointwise(x, w[2], b[2], act, sc, \"none\")",
            "    fc2 = ops.mkldnn._linear_pointwise(fc1, w[3], b[3], \"none\", sc, \"none\")",
            "    return (qkv, proj, fc1, fc2)",
            "  def mkl(self: __torch__.LinearKernels, x: Tensor, p: List[Tensor], w: List[Tensor], b: List[Tensor],"
                    + " rows: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:",
            "    qkv = ops.mkl._mkl_linear(x, p[0], w[0], b[0], rows)",
            "    proj = ops.mkl._mkl_linear(x, p[1], w[1], b[1], rows)",
            "    fc1 = ops.mkl._mkl_linear(x, p[2], w[2], b[2], rows)",
            "    fc2 = ops.mkl._mkl_linear(fc1, p[3], w[3], b[3], rows)",
            "    return (qkv, proj, fc1, fc2)",
            "  def aten(self: __torch__.LinearKernels, x: Tensor, w: List[Tensor], b: List[Tensor])"
                    + " -> Tuple[Tensor, Tensor, Tensor, Tensor]:",
            "    qkv = torch.linear(x, w[0], b[0])",
            "    proj = torch.linear(x, w[1], b[1])",
            "    fc1 = torch.linear(x, w[2], b[2])",
            "    fc2 = torch.linear(fc1, w[3], b[3])",
            "    return (qkv, proj, fc1, fc2)",
            "");

    NDManager manager;
    TorchScript script;
    NDArray x;
    NDArray[][] weights;
    NDArray[][] biases;
    NDArray[][] packed;
    NDArray[][] blocked;
    ai.onnxruntime.OrtEnvironment ortEnv;
    ai.onnxruntime.OrtSession[] ort;
    ai.onnxruntime.OnnxTensor ortX;

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
        weights = new NDArray[blocks][4];
        biases = new NDArray[blocks][4];
        packed = new NDArray[blocks][4];
        blocked = new NDArray[blocks][4];
        ort = new ai.onnxruntime.OrtSession[blocks];
        ortEnv = ai.onnxruntime.OrtEnvironment.getEnvironment();
        try (ai.onnxruntime.OrtSession.SessionOptions o = new ai.onnxruntime.OrtSession.SessionOptions()) {
            o.setOptimizationLevel(ai.onnxruntime.OrtSession.SessionOptions.OptLevel.ALL_OPT);
            o.setIntraOpNumThreads(threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
            for (int k = 0; k < blocks; k++) {
                for (int i = 0; i < 4; i++) {
                    weights[k][i] = manager.randomNormal(new Shape(shapes[i])).mul(0.02f);
                    biases[k][i] = manager.randomNormal(new Shape(shapes[i][0])).mul(0.02f);
                    packed[k][i] = script.call("pack", manager, weights[k][i], (long) rows)[0];
                    blocked[k][i] = script.call("reorder", manager, weights[k][i], (long) (hint > 0 ? hint : rows))[0];
                }
                ort[k] = ortEnv.createSession(OrtBlock.model(weights[k], biases[k]), o);
            }
            ortX = ai.onnxruntime.OnnxTensor.createTensor(ortEnv, java.nio.FloatBuffer.wrap(x.toFloatArray()),
                    new long[] {1, rows, w});
        } catch (ai.onnxruntime.OrtException e) {
            throw new IllegalStateException(e);
        }
        // the kernels must compute the same block before their times mean anything
        NDArray dnn = script.call("onednn", manager, x, weights[0], biases[0])[3];
        NDArray mkl = script.call("mkl", manager, x, packed[0], weights[0], biases[0], (long) rows)[3];
        NDArray aten = script.call("aten", manager, x, weights[0], biases[0])[3];
        NDArray dnnBlocked = script.call("onednn", manager, x, blocked[0], biases[0])[3];
        float ortVsAten = OrtBlock.maxDiff(ort[0], ortX, aten.toFloatArray());
        float dnnVsAten = dnn.sub(aten).abs().max().getFloat();
        float mklVsAten = mkl.sub(aten).abs().max().getFloat();
        float blockedVsAten = dnnBlocked.sub(aten).abs().max().getFloat();
        if (!(dnnVsAten < 1e-3f && mklVsAten < 1e-3f && blockedVsAten < 1e-3f && ortVsAten < 1e-3f)) {
            throw new IllegalStateException("kernels disagree with ATen: oneDNN " + dnnVsAten + ", oneDNN blocked "
                    + blockedVsAten + ", MKL " + mklVsAten + ", ONNX Runtime " + ortVsAten);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws ai.onnxruntime.OrtException {
        ortX.close();
        for (ai.onnxruntime.OrtSession o : ort) {
            o.close();
        }
        script.close();
        manager.close();
    }

    @Benchmark
    public void onednn() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference(); // JMH may run the benchmark on another thread than the setup: prepare this one
            for (int k = 0; k < blocks; k++) {
                script.call("onednn", m, x, weights[k], biases[k]);
            }
        }
    }

    @Benchmark
    public void onednnBlocked() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference();
            for (int k = 0; k < blocks; k++) {
                script.call("onednn", m, x, blocked[k], biases[k]);
            }
        }
    }

    /** {@link #onednnBlocked} on {@code [1, rows, width]} with fc1 fused with its GELU, as a ViT block calls it. */
    @Benchmark
    public void onednnBlockedGelu() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference();
            NDArray x3 = x.reshape(1, rows, width);
            for (int k = 0; k < blocks; k++) {
                script.call("onednn_act", m, x3, blocked[k], biases[k], true);
            }
        }
    }

    @Benchmark
    public void mkl() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference();
            for (int k = 0; k < blocks; k++) {
                script.call("mkl", m, x, packed[k], weights[k], biases[k], (long) rows);
            }
        }
    }

    @Benchmark
    public void aten() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference();
            for (int k = 0; k < blocks; k++) {
                script.call("aten", m, x, weights[k], biases[k]);
            }
        }
    }

    @Benchmark
    public void onnxruntime(org.openjdk.jmh.infra.Blackhole bh) throws ai.onnxruntime.OrtException {
        for (ai.onnxruntime.OrtSession o : ort) {
            try (ai.onnxruntime.OrtSession.Result r = o.run(java.util.Map.of("x", ortX))) {
                bh.consume(r.get(0));
            }
        }
    }
}
