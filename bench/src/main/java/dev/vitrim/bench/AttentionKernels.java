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
 * A block's attention core on {@code tokens} tokens of {@code batch} images (q, k, v sliced from one qkv product as a
 * ViT block does, {@code heads} heads of 64), through libtorch's fused {@code scaled_dot_product_attention} (what
 * vitrim runs) and through the plain composition of two batched products and a softmax (what ONNX Runtime runs on an
 * exported graph), the output in [B, N, width] either way. Run one thread, e.g.
 * {@code scripts/jmh AttentionKernels -p threads=1}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true"})
public class AttentionKernels {
    @Param({"60", "120", "197"})
    int tokens;

    @Param({"1"})
    int batch;

    @Param({"6"})
    int heads;

    /** PyTorch's intra-op threads; 0: its default (one per core). */
    @Param({"0"})
    int threads;

    private static final String SOURCE = String.join("\n",
            "class AttentionKernels(Module):",
            "  __parameters__ = []",
            "  __buffers__ = []",
            "  training : bool",
            "  def split(self: __torch__.AttentionKernels, qkv: Tensor, h: int) -> Tuple[Tensor, Tensor, Tensor]:",
            "    b = qkv.size(0)",
            "    n = qkv.size(1)",
            "    t = qkv.reshape([b, n, 3, h, 64]).permute([2, 0, 3, 1, 4])",
            "    return (t[0], t[1], t[2])",
            "  def fused(self: __torch__.AttentionKernels, qkv: Tensor, h: int) -> Tensor:",
            "    q, k, v = self.split(qkv, h)",
            "    o = torch.scaled_dot_product_attention(q, k, v, None, 0.0, False, scale=1.0)",
            "    return o.transpose(1, 2).reshape([qkv.size(0), qkv.size(1), h * 64])",
            "  def composed(self: __torch__.AttentionKernels, qkv: Tensor, h: int) -> Tensor:",
            "    q, k, v = self.split(qkv, h)",
            "    p = torch.softmax(torch.matmul(q, k.transpose(-2, -1)), -1)",
            "    return torch.matmul(p, v).transpose(1, 2).reshape([qkv.size(0), qkv.size(1), h * 64])",
            "");

    NDManager manager;
    TorchScript script;
    NDArray qkv;

    @Setup(Level.Trial)
    public void setUp() {
        Torch.useApplicationDefaults();
        Torch.engine(threads);
        Torch.inference();
        manager = Torch.newManager();
        script = TorchScript.compile(manager, "AttentionKernels", SOURCE);
        qkv = manager.randomNormal(new Shape(batch, tokens, 3L * heads * 64)).mul(0.5f);
        float d = script.call("fused", manager, qkv, (long) heads)[0]
                .sub(script.call("composed", manager, qkv, (long) heads)[0]).abs().max().getFloat();
        if (!(d < 1e-4f)) {
            throw new IllegalStateException("fused and composed attention differ by " + d);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        script.close();
        manager.close();
    }

    @Benchmark
    public void fused() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference(); // JMH may run the benchmark on another thread than the setup: prepare this one
            script.call("fused", m, qkv, (long) heads);
        }
    }

    @Benchmark
    public void composed() {
        try (NDManager m = manager.newSubManager()) {
            Torch.inference();
            script.call("composed", m, qkv, (long) heads);
        }
    }
}
