package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.vitrim.engine.Torch;
import dev.vitrim.engine.TorchScript;

/**
 * The reducers' work on the engine as TorchScript methods, one crossing each: gathering token rows, ToMe's similarities
 * and its size-weighted many-to-one merge (a weighted embedding-bag sum, which DJL does not offer), EViT's fused token.
 * Indices and weights are computed in Java and cross as plain lists. Between the blocks of a forward every DJL call
 * costs several times what it costs in a tight loop (the caches are full of the block's weights), so calls, not
 * arithmetic, are what these steps were made of. Compiled once per JVM; architecture-independent.
 */
final class ReduceKernels {
    private ReduceKernels() {}

    static final String SOURCE = String.join("\n",
            "class Reduce(Module):",
            "  __parameters__ = []",
            "  __buffers__ = []",
            "  training : bool",
            // rows (numbers of rows of a viewed as [B*N, ...]), k per image -> [B, k, ...]
            "  def rows(self: __torch__.Reduce, a: Tensor, rows: List[int], k: int) -> Tensor:",
            "    idx = torch.tensor(rows, dtype=4, device=a.device)",
            "    shape = a.size()",
            "    return a.flatten(0, 1).index_select(0, idx).reshape([shape[0], k] + shape[2:])",
            // cosine similarity of the even tokens to the odd ones, [B, ceil(N/2), floor(N/2)]
            "  def similarity(self: __torch__.Reduce, metric: Tensor) -> Tensor:",
            "    m = torch.div(metric, torch.norm(metric, 2, [-1], True))",
            "    return torch.bmm(m[:, 0::2, :], m[:, 1::2, :].transpose(1, 2))",
            // ToMe's size-weighted many-to-one merge: see RowMerge
            RowMerge.torchScript("Reduce"),
            // EViT's fusion: kept [B,k,C] followed by one token per image, the patches of x [B,N,C] weighted by the
            // CLS attention cls [B,N] where drop [B*(N-prefix)] is 1 (the dropped ones) -> [B,k+1,C]
            "  def fuse(self: __torch__.Reduce, kept: Tensor, x: Tensor, cls: Tensor, drop: List[float],",
            "      prefix: int) -> Tensor:",
            "    m = x.size(1) - prefix",
            "    d = torch.tensor(drop, dtype=6, device=x.device).reshape([x.size(0), 1, m])",
            "    w = torch.mul(cls.narrow(1, prefix, m).unsqueeze(1), d)",
            "    return torch.cat([kept, torch.matmul(w, x.narrow(1, prefix, m))], 1)",
            "");

    private static volatile TorchScript script;

    private static TorchScript script() {
        TorchScript s = script;
        if (s == null) {
            synchronized (ReduceKernels.class) {
                s = script;
                if (s == null) {
                    NDManager keep = Torch.newManager(); // lives as long as the JVM, like the compiled code
                    s = TorchScript.compile(keep, "Reduce", SOURCE);
                    script = s;
                }
            }
        }
        return s;
    }

    /** {@code a} [B,N,…] at {@code rows} (numbers of rows of {@code a} viewed as [B·N, …], k per image) → [B,k,…]. */
    static NDArray rows(NDArray a, long[] rows, int k) {
        return script().call("rows", a.getManager(), a, rows, k)[0];
    }

    /** Cosine similarities of tokens 0, 2, 4, … to tokens 1, 3, 5, … of {@code metric} [B,N,K]: [B,⌈N/2⌉,⌊N/2⌋]. */
    static NDArray similarity(NDArray metric) {
        return script().call("similarity", metric.getManager(), metric)[0];
    }

    /** {@code a} [B,N,…] merged as {@link RowMerge} lays out {@code index} and {@code weight}: [B,out,…]. */
    static NDArray merge(NDArray a, long[] index, double[] weight, int out, int r) {
        return script().call("merge", a.getManager(), a, index, weight, out, r)[0];
    }

    /**
     * {@code kept} [B,k,C] with one more token per image appended: Σ over the patches j of {@code x} [B,N,C] (the
     * tokens after the {@code prefix}) of {@code drop[b·(N−prefix)+j]}·{@code cls}[b,prefix+j]·x[b,prefix+j]. Autograd
     * reaches {@code x} and {@code cls}.
     */
    static NDArray fuse(NDArray kept, NDArray x, NDArray cls, double[] drop, int prefix) {
        return script().call("fuse", kept.getManager(), kept, x, cls, drop, prefix)[0];
    }
}
