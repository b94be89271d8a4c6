package dev.vitrim.model;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.IValue;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Precision;
import dev.vitrim.engine.TorchScript;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The two halves of a transformer block as TorchScript methods, generated for one architecture (width, heads, eps,
 * qkv bias and LayerScale are written into the source as constants): {@code attention} (norm1, qkv, fused
 * scaled-dot-product attention, projection, LayerScale, residual; plus, when a reducer asks, the CLS row of the
 * attention averaged over heads, the keys averaged over heads and ToMe's similarity of them) and {@code mlp}
 * (norm2, fc1, exact GELU, fc2, LayerScale, residual). Each is one crossing into libtorch instead of a dozen DJL
 * calls, and the attention is libtorch's fused kernel, which never writes the [B,H,N,N] probabilities out: that is
 * what the eager composition of matMul, softmax and matMul cannot avoid.
 *
 * <p>The eager composition in {@link VisionTransformer} stays as the plain reference the kernels are tested
 * against ({@code BlockKernelsTest}); both agree to float rounding.
 */
final class BlockKernels implements AutoCloseable {
    static final String CLASS = "VitBlocks";

    private final TorchScript script;
    private final IValue[] attnWeights;
    private final IValue[] mlpWeights;
    private final IValue noMask;
    private final IValue noSizes;
    private final IValue noIndex;
    private final IValue zero;
    private final IValue yes;
    private final IValue no;
    private final NDArray[][] attnArrays;
    private final NDArray[][] mlpArrays;
    private final ai.djl.ndarray.NDManager manager;
    private final VitConfig config;
    /** Inference in bf16 or int8 (grad mode always runs the float32 kernels above), or null: float32. */
    private volatile LowPrecisionKernels low;
    /** Grad mode with bfloat16 products (mixed precision: float32 weights, activations and gradients), or null. */
    private volatile TorchScript trainBf16;

    /**
     * The matrix products of inference go to oneDNN ({@code mkldnn::_linear_pointwise}, fc1 fused with its GELU)
     * unless {@code -Dvitrim.linear=aten}: on the 2-core AVX2 machine it runs a ViT-S forward of 42-token blocks at
     * batch 1 ~10% faster than ATen's MKL path, which is slow on matrices of a few dozen rows. Training (grad mode)
     * keeps {@code torch.linear}, which autograd knows.
     */
    static final boolean ONEDNN_DEFAULT = !"aten".equals(System.getProperty("vitrim.linear"));

    private final boolean onednn;

    /**
     * fp32 inference's linear weights, reordered once into oneDNN's blocked layout ({@code mkldnn::_reorder_linear_weight}),
     * per block: the same lists as {@link #attnWeights} and {@link #mlpWeights} with the four weight matrices
     * replaced, or null while not built. oneDNN runs products of a few dozen to a few hundred rows faster on them than
     * on plain weights (a ViT-S block's four products on 60 rows 24-31% faster, on one image's 197 rows 8-14%; level
     * or faster at 1576; docs/findings/batch-one.md), which is what reduced blocks and batch 1 are. They are copies:
     * built on the first inference call, given up as soon as a call runs in grad mode (training changes the weights in
     * place) until {@link #refresh}, and never built with {@code -Dvitrim.measure.fp32=plain}.
     */
    private volatile IValue[] attnBlocked;
    private volatile IValue[] mlpBlocked;
    /** Whether the blocked copies may be used: false after a grad-mode call, a failed reorder or when switched off. */
    private volatile boolean blockedAllowed;
    private volatile boolean blockedFailed;
    /** {@code -Dvitrim.measure.fp32} when these kernels were made: blocked weights (true) or plain ones. */
    private final boolean blockedWanted;

    /** {@code -Dvitrim.measure.fp32}: {@code blocked} (default: oneDNN's blocked weights) or {@code plain}. */
    static boolean blockedFp32FromProperty() {
        String v = System.getProperty("vitrim.measure.fp32");
        if (v == null || v.isBlank() || v.trim().equals("blocked")) {
            return true;
        }
        if (v.trim().equals("plain")) {
            return false;
        }
        throw new dev.vitrim.VitrimException("system property vitrim.measure.fp32=" + v + " is neither blocked nor plain");
    }

    BlockKernels(VitConfig c, ai.djl.ndarray.NDManager manager, Map<String, NDArray> params) {
        this(c, manager, params, ONEDNN_DEFAULT);
    }

    /** With {@code onednn}, falls back to ATen's products where libtorch was built without oneDNN. */
    BlockKernels(VitConfig c, ai.djl.ndarray.NDManager manager, Map<String, NDArray> params, boolean onednn) {
        TorchScript compiled = null;
        if (onednn) {
            try {
                compiled = TorchScript.compile(manager, CLASS, source(c, true));
            } catch (dev.vitrim.VitrimException e) {
                compiled = null; // no mkldnn ops in this libtorch
            }
        }
        this.onednn = compiled != null;
        script = compiled != null ? compiled : TorchScript.compile(manager, CLASS, source(c, false));
        this.manager = manager;
        this.config = c;
        attnWeights = new IValue[c.depth()];
        mlpWeights = new IValue[c.depth()];
        attnArrays = new NDArray[c.depth()][];
        mlpArrays = new NDArray[c.depth()][];
        for (int i = 0; i < c.depth(); i++) {
            String b = "blocks." + i + ".";
            List<NDArray> a = new ArrayList<>(List.of(params.get(b + "norm1.weight"), params.get(b + "norm1.bias"),
                    params.get(b + "attn.qkv.weight")));
            if (c.qkvBias()) {
                a.add(params.get(b + "attn.qkv.bias"));
            }
            a.add(params.get(b + "attn.proj.weight"));
            a.add(params.get(b + "attn.proj.bias"));
            if (c.layerScale()) {
                a.add(params.get(b + "ls1.gamma"));
            }
            List<NDArray> m = new ArrayList<>(List.of(params.get(b + "norm2.weight"), params.get(b + "norm2.bias"),
                    params.get(b + "mlp.fc1.weight"), params.get(b + "mlp.fc1.bias"), params.get(b + "mlp.fc2.weight"),
                    params.get(b + "mlp.fc2.bias")));
            if (c.layerScale()) {
                m.add(params.get(b + "ls2.gamma"));
            }
            // the lists hold the parameter tensors themselves: in-place updates (training) are seen
            attnArrays[i] = a.toArray(new NDArray[0]);
            mlpArrays[i] = m.toArray(new NDArray[0]);
            attnWeights[i] = TorchScript.constant(attnArrays[i]);
            mlpWeights[i] = TorchScript.constant(mlpArrays[i]);
        }
        noMask = TorchScript.constant(new NDArray[0]);
        noSizes = TorchScript.constant(new double[0]);
        noIndex = TorchScript.constant(new long[0]);
        zero = TorchScript.constant(0);
        yes = TorchScript.constant(true);
        no = TorchScript.constant(false);
        blockedWanted = blockedFp32FromProperty();
        blockedAllowed = this.onednn && blockedWanted;
    }

    /**
     * The blocked fp32 weights for block {@code i}'s attention ({@code attention} true) or MLP, built now if they
     * are not yet, or null where inference runs on the plain weights.
     */
    private IValue blocked(int i, boolean attention) {
        if (!blockedAllowed) {
            return null;
        }
        IValue[] a = attention ? attnBlocked : mlpBlocked;
        if (a == null) {
            buildBlocked();
            a = attention ? attnBlocked : mlpBlocked;
            if (a == null) {
                return null;
            }
        }
        return a[i];
    }

    private synchronized void buildBlocked() {
        if (!blockedAllowed || attnBlocked != null) {
            return;
        }
        long[] attnLinear = config.qkvBias() ? new long[] {2, 4} : new long[] {2, 3};
        long[] mlpLinear = {2, 4};
        long rows = 8L * config.tokens(); // the layout barely depends on the hint (docs/findings/batch-one.md)
        IValue[] a = new IValue[config.depth()];
        IValue[] m = new IValue[config.depth()];
        try {
            for (int i = 0; i < config.depth(); i++) {
                a[i] = script.callValue("reorder", attnArrays[i], attnLinear, rows);
                m[i] = script.callValue("reorder", mlpArrays[i], mlpLinear, rows);
            }
        } catch (dev.vitrim.VitrimException e) {
            closeAll(a);
            closeAll(m);
            blockedFailed = true; // this libtorch cannot reorder: plain weights from now on
            blockedAllowed = false;
            return;
        }
        mlpBlocked = m;
        attnBlocked = a;
    }

    /** Gives the blocked copies up (the next inference call builds them again where allowed). */
    private synchronized void releaseBlocked() {
        IValue[] a = attnBlocked;
        IValue[] m = mlpBlocked;
        attnBlocked = null;
        mlpBlocked = null;
        closeAll(a);
        closeAll(m);
    }

    private static void closeAll(IValue[] values) {
        if (values == null) {
            return;
        }
        for (IValue v : values) {
            if (v != null) {
                v.close();
            }
        }
    }

    /** Drops the blocked copies and allows them again (built on the next inference call) where they can be made. */
    private synchronized void resetBlocked() {
        releaseBlocked();
        blockedAllowed = onednn && !blockedFailed && blockedWanted;
    }

    /**
     * The fp32 weight list a call of block {@code i}'s attention ({@code attention} true) or MLP reads: in grad mode
     * the parameters themselves (and the blocked copies are given up), at inference the blocked copies where allowed.
     */
    private IValue weights(int i, boolean attention) {
        if (ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            training();
            return attention ? attnWeights[i] : mlpWeights[i];
        }
        IValue b = blocked(i, attention);
        return b != null ? b : attention ? attnWeights[i] : mlpWeights[i];
    }

    /** A grad-mode call: the weights are about to change in place, so inference leaves the copies until refresh. */
    private void training() {
        blockedAllowed = false;
    }

    /**
     * Rebuilds what inference derived from the weights (the blocked fp32 copies, the bf16 or int8 kernels) from the
     * weights as they are now: call after changing them in place.
     */
    synchronized void refresh() {
        resetBlocked();
        LowPrecisionKernels l = low;
        if (l != null) {
            low = new LowPrecisionKernels(config, manager, l.precision(), attnArrays, mlpArrays, l.variant());
            l.close();
        }
    }

    /**
     * Runs inference in {@code precision} from now on: {@link Precision#FP32} these kernels, {@link Precision#BF16}
     * or {@link Precision#INT8} {@link LowPrecisionKernels} built from the current weights (converted once here).
     * Returns how the products run ("onednn", "aten", "onednn-packed", "fbgemm"). Grad mode always runs float32.
     */
    synchronized String usePrecision(Precision precision) {
        LowPrecisionKernels old = low;
        if (precision == Precision.FP32) {
            low = null;
            if (old != null) {
                old.close();
            }
            resetBlocked(); // from the weights as they are now
            buildBlocked(); // now, so that the route named is the one that runs
            return fp32Route() + (onednn && !blockedWanted ? "; plain weights from -Dvitrim.measure.fp32"
                    : "");
        }
        releaseBlocked(); // the other formats have their own copies
        if (old == null || old.precision() != precision) {
            low = new LowPrecisionKernels(config, manager, precision, attnArrays, mlpArrays,
                    LowPrecisionKernels.Bf16Variant.fromProperty());
        }
        if (old != null && old != low) {
            old.close();
        }
        LowPrecisionKernels now = low;
        // a variant measured on purpose says so wherever the choice is printed
        return now.route() + (now.variant() == LowPrecisionKernels.Bf16Variant.CHOSEN ? ""
                : "; bf16 variant " + now.variant().label() + " from -Dvitrim.measure.bf16");
    }

    /** Inference from now on in bf16 as {@code variant}: to measure the choices not taken (tests only). */
    synchronized void useBf16Variant(LowPrecisionKernels.Bf16Variant variant) {
        releaseBlocked();
        LowPrecisionKernels old = low;
        low = new LowPrecisionKernels(config, manager, Precision.BF16, attnArrays, mlpArrays, variant);
        if (old != null) {
            old.close();
        }
    }

    /** How fp32 inference runs its products: "onednn-packed" (blocked weights), "onednn" (plain) or "aten". */
    String fp32Route() {
        return !onednn ? "aten" : blockedAllowed ? "onednn-packed" : "onednn";
    }

    /** The low-precision kernels that run inference now, or null (float32). */
    LowPrecisionKernels lowPrecision() {
        return low;
    }

    /** Whether inference runs its matrix products on oneDNN. */
    boolean onednn() {
        return onednn;
    }

    /**
     * Training from now on with bfloat16 products ({@code bf16} true) or float32 ones: in grad mode every linear layer
     * of the blocks casts its input, weight and bias to bfloat16 for the product and its result back to float32, so
     * the weights, the optimizer state, LayerNorm, attention and the residual stream stay float32 and autograd takes
     * the gradients through the casts to the float32 weights (the scheme of PyTorch's CPU autocast).
     */
    synchronized void useTrainingBf16(boolean bf16) {
        if (bf16 && trainBf16 == null) {
            trainBf16 = TorchScript.compile(manager, CLASS, source(config, onednn, true));
        } else if (!bf16 && trainBf16 != null) {
            trainBf16.close();
            trainBf16 = null;
        }
    }

    /** The script that runs a call now: the bf16 training variant in grad mode when it is on, else the float32 one. */
    private TorchScript scriptNow() {
        TorchScript t = trainBf16;
        return t != null && ai.djl.pytorch.jni.JniUtils.isGradMode() ? t : script;
    }

    /** The TorchScript source for an architecture, its inference products on oneDNN or on ATen. */
    static String source(VitConfig c, boolean onednn) {
        return source(c, onednn, false);
    }

    /** With {@code gradBf16}, products under autograd in bfloat16 (see {@link #useTrainingBf16}). */
    static String source(VitConfig c, boolean onednn, boolean gradBf16) {
        int w = 3; // index of the next weight after norm1 and qkv.weight
        String qkvBias = c.qkvBias() ? "w[" + w++ + "]" : "None";
        int proj = w;
        String eps = Double.toString(c.eps());
        String dims = "[b, n, 3, " + c.heads() + ", " + c.headDim() + "]";
        StringBuilder s = new StringBuilder();
        s.append("class ").append(CLASS).append("(Module):\n");
        s.append("  __parameters__ = []\n");
        s.append("  __buffers__ = []\n");
        s.append("  training : bool\n");
        // x·wᵀ + b, then act ("none" or "gelu", exact)
        s.append("  def lin(self: __torch__.").append(CLASS)
                .append(", x: Tensor, w: Tensor, b: Optional[Tensor], act: str) -> Tensor:\n");
        if (onednn) {
            s.append("    if not torch.is_grad_enabled():\n");
            s.append("      sc = annotate(List[Optional[number]], [])\n");
            s.append("      return ops.mkldnn._linear_pointwise(x, w, b, act, sc, \"none\")\n");
        }
        if (gradBf16) {
            s.append("    bb: Optional[Tensor] = None\n");
            s.append("    if b is not None:\n");
            s.append("      bb = b.to(15)\n");
            s.append("    y = torch.linear(x.to(15), w.to(15), bb).to(6)\n");
        } else {
            s.append("    y = torch.linear(x, w, b)\n");
        }
        s.append("    if act == \"gelu\":\n");
        s.append("      y = torch.gelu(y)\n");
        s.append("    return y\n");
        if (onednn) {
            // the list with the weight matrices at the given indices reordered into oneDNN's blocked layout
            s.append("  def reorder(self: __torch__.").append(CLASS)
                    .append(", w: List[Tensor], weights: List[int], rows: int) -> List[Tensor]:\n");
            s.append("    out = annotate(List[Tensor], [])\n");
            s.append("    for i in range(len(w)):\n");
            s.append("      t = w[i]\n");
            s.append("      if i in weights:\n");
            s.append("        t = ops.mkldnn._reorder_linear_weight(t.contiguous(), rows)\n");
            s.append("      out.append(t)\n");
            s.append("    return out\n");
        }
        s.append("  def attention(self: __torch__.").append(CLASS).append(", x: Tensor, w: List[Tensor],\n");
        s.append("      mask: List[Tensor], log_size: List[float], want_cls: bool, want_keys: bool, want_sim: bool,\n");
        s.append("      in_place: bool) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor], Optional[Tensor]]:\n");
        s.append("    b = x.size(0)\n");
        s.append("    n = x.size(1)\n");
        s.append("    y = torch.layer_norm(x, [").append(c.width()).append("], w[0], w[1], ").append(eps).append(")\n");
        s.append("    qkv = self.lin(y, w[2], ").append(qkvBias).append(", \"none\").reshape(").append(dims)
                .append(").permute([2, 0, 3, 1, 4])\n");
        s.append("    q = qkv[0]\n");
        s.append("    k = qkv[1]\n");
        s.append("    v = qkv[2]\n");
        // the bias added to the logits of every key: a padding mask and/or log(size) (proportional attention)
        s.append("    bias: Optional[Tensor] = None\n");
        s.append("    if len(mask) > 0:\n");
        s.append("      bias = mask[0]\n");
        s.append("    if len(log_size) > 0:\n");
        s.append("      ls = torch.tensor(log_size, dtype=6, device=x.device).reshape([b, 1, 1, n])\n");
        s.append("      if bias is None:\n");
        s.append("        bias = ls\n");
        s.append("      else:\n");
        s.append("        bias = torch.add(bias, ls)\n");
        // the attention scale is folded into the query weights: scale 1
        s.append("    o = torch.scaled_dot_product_attention(q, k, v, bias, 0.0, False, scale=1.0)\n");
        s.append("    a = self.lin(o.transpose(1, 2).reshape([b, n, ").append(c.width()).append("]), w[")
                .append(proj).append("], w[").append(proj + 1).append("], \"none\")\n");
        if (c.layerScale()) {
            s.append("    a = torch.mul(a, w[").append(proj + 2).append("])\n");
        }
        s.append("    if in_place:\n");
        s.append("      x = x.add_(a)\n");
        s.append("    else:\n");
        s.append("      x = torch.add(x, a)\n");
        s.append("    cls: Optional[Tensor] = None\n");
        s.append("    if want_cls:\n");
        // CLS's logits as a product and a sum over the head dimension, [B,H,N]: cheaper than a one-row matrix product
        // per head
        s.append("      logits = torch.mul(k, q.narrow(2, 0, 1)).sum([-1])\n");
        s.append("      if bias is not None:\n");
        s.append("        logits = torch.add(logits, bias.squeeze(2))\n");
        s.append("      cls = torch.softmax(logits, -1).mean([1])\n");
        s.append("    keys: Optional[Tensor] = None\n");
        s.append("    sim: Optional[Tensor] = None\n");
        s.append("    if want_keys:\n");
        s.append("      keys = k.mean([1])\n");
        s.append("    if want_sim:\n");
        // the keys' sum over heads, not their mean: the cosine does not see the scale, and on a few hundred values the
        // mean costs a second pass; bmm, not matmul, on the strided halves (on batch 1 both cut ~20 us from a block)
        s.append("      mk = k.sum([1])\n");
        s.append("      mn = torch.div(mk, torch.norm(mk, 2, [-1], True))\n");
        s.append("      sim = torch.bmm(mn[:, 0::2, :], mn[:, 1::2, :].transpose(1, 2))\n");
        s.append("    return (x, cls, keys, sim)\n");
        s.append(dev.vitrim.reduce.RowMerge.torchScript(CLASS));
        // with an index list, ToMe's merge of x first (RowMerge), in the same crossing
        s.append("  def mlp(self: __torch__.").append(CLASS).append(", x: Tensor, w: List[Tensor], in_place: bool,\n");
        s.append("      index: List[int], weight: List[float], out: int, r: int) -> Tensor:\n");
        s.append("    if len(index) > 0:\n");
        s.append("      x = self.merge(x, index, weight, out, r)\n");
        s.append("    y = torch.layer_norm(x, [").append(c.width()).append("], w[0], w[1], ").append(eps).append(")\n");
        s.append("    y = self.lin(self.lin(y, w[2], w[3], \"gelu\"), w[4], w[5], \"none\")\n");
        if (c.layerScale()) {
            s.append("    y = torch.mul(y, w[6])\n");
        }
        s.append("    if in_place:\n");
        s.append("      return x.add_(y)\n");
        s.append("    return torch.add(x, y)\n");
        return s.toString();
    }

    /**
     * Block {@code i}'s attention half: x + attention(norm1(x)) (with LayerScale), the result attached where
     * {@code x} lives; {@code mask} [B,1,1,N] (or null) and {@code logSizes} [B·N] (or null: proportional attention's
     * log(size) of every key) are added to the logits of every key; {@code view[0]}, {@code view[1]} and
     * {@code view[2]} receive the CLS row averaged over heads [B,N], the keys averaged over heads [B,N,hd] and their
     * bipartite cosine similarity [B,⌈N/2⌉,⌊N/2⌋] when asked for.
     */
    NDArray attention(int i, NDArray x, NDArray mask, double[] logSizes, boolean wantCls, boolean wantKeys,
                      boolean wantSimilarity, boolean inPlace, NDArray[] view) {
        LowPrecisionKernels l = low;
        if (l != null && !ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            return l.attention(i, x, mask, logSizes, wantCls, wantKeys, wantSimilarity, inPlace, view);
        }
        IValue weights = weights(i, true);
        NDArray[] r = scriptNow().call("attention", x.getManager(), x, weights,
                mask == null ? noMask : new NDArray[] {mask}, logSizes == null ? noSizes : logSizes, flag(wantCls),
                flag(wantKeys), flag(wantSimilarity), flag(inPlace));
        view[0] = r[1];
        view[1] = r[2];
        view[2] = r[3];
        return r[0];
    }

    /**
     * Block {@code i}'s MLP half: x + mlp(norm2(x)) (with LayerScale), on the rows of {@code x} as {@code merge} (or
     * null) merges them first ({@link dev.vitrim.reduce.RowMerge}).
     */
    NDArray mlp(int i, NDArray x, boolean inPlace, dev.vitrim.reduce.RowMerge merge) {
        LowPrecisionKernels l = low;
        if (l != null && !ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            return l.mlp(i, x, inPlace, merge);
        }
        IValue weights = weights(i, false);
        if (merge == null) {
            return scriptNow().call("mlp", x.getManager(), x, weights, flag(inPlace), noIndex, noSizes, zero,
                    zero)[0];
        }
        return scriptNow().call("mlp", x.getManager(), x, weights, flag(inPlace), merge.index, merge.weight,
                merge.out, merge.r)[0];
    }

    private IValue flag(boolean v) {
        return v ? yes : no;
    }

    @Override
    public void close() {
        useTrainingBf16(false);
        blockedAllowed = false;
        releaseBlocked();
        if (low != null) {
            low.close();
            low = null;
        }
        for (IValue v : attnWeights) {
            v.close();
        }
        for (IValue v : mlpWeights) {
            v.close();
        }
        noMask.close();
        noSizes.close();
        noIndex.close();
        zero.close();
        yes.close();
        no.close();
        script.close();
    }
}
