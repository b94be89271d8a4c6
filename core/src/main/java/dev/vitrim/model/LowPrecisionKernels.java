package dev.vitrim.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.IValue;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Precision;
import dev.vitrim.engine.TorchScript;
import java.util.ArrayList;
import java.util.List;

/**
 * The inference block kernels in bfloat16 or int8: the same two halves as {@link BlockKernels} (and the same
 * arguments and results), with the linear layers in another format and everything else in float32.
 *
 * <ul>
 *   <li>bf16: LayerNorm runs on the float32 residual stream and its output is rounded to bfloat16; qkv, the fused
 *       attention, the projection and the MLP run in bfloat16 on bfloat16 copies of the weights (made once here);
 *       each half's output goes back to float32 before LayerScale and the residual add. The CLS attention row, the
 *       mean keys and ToMe's similarities that reducers read are computed in float32 from the (bfloat16) queries and
 *       keys. The products go to oneDNN with the weights prepacked in its blocked layout where libtorch accepts it
 *       on this CPU, else to oneDNN unpacked, else to ATen: the first that runs a trial block is kept
 *       ({@link #route()}).</li>
 *   <li>int8: each linear layer is {@code quantized::linear_dynamic} (FBGEMM) on weights quantized once per output
 *       channel (symmetric, scale max|w|/127) and prepacked with {@code quantized::linear_prepack}; the input rows
 *       are quantized on the fly (7-bit range, FBGEMM's default on x86, which cannot overflow its 16-bit
 *       accumulation); the output, attention and everything else are float32.</li>
 * </ul>
 *
 * <p>Only inference runs here: the weights are copies, so gradients would not reach the model's parameters.
 * Bfloat16 tensors never cross into DJL (whose conversions do not handle them): they stay inside libtorch values.
 */
final class LowPrecisionKernels implements AutoCloseable {
    static final String CLASS = "VitBlocksLow";
    private static final String PACKED = "__torch__.torch.classes.quantized.LinearPackedParamsBase";

    private final Precision precision;
    private final Bf16Variant variant;
    private final String route;
    private final TorchScript script;
    private final IValue[] attnWeights;
    private final IValue[] mlpWeights;
    private final IValue[] attnPacked; // int8: [qkv, proj] per block
    private final IValue[] mlpPacked; // int8: [fc1, fc2] per block
    private final IValue noMask;
    private final IValue noSizes;
    private final IValue noIndex;
    private final IValue zero;
    private final IValue yes;
    private final IValue no;

    /**
     * Where bf16 stops: {@link Bf16Variant#CHOSEN} is the scheme above; the others are alternatives not taken, kept
     * to measure them ({@code PrecisionGoldenTest}, or {@code -Dvitrim.measure.bf16=NAME} on any command).
     */
    enum Bf16Variant {
        /** LayerNorm, the residual stream and the reducers' scores in float32; the products in bfloat16. */
        CHOSEN,
        /** Also the residual stream rounded to bfloat16 (each half adds in bfloat16, LayerNorm reads bfloat16). */
        ROUNDED_STREAM,
        /** The fused attention (QK^T, softmax, AV) in float32 on the bfloat16 queries, keys and values. */
        FLOAT_ATTENTION;

        /** Its name for {@code -Dvitrim.measure.bf16}: {@code chosen}, {@code rounded-stream}, {@code float-attention}. */
        String label() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }

        /** The variant {@code -Dvitrim.measure.bf16} names ({@code rounded-stream}, {@code float-attention}), else CHOSEN. */
        static Bf16Variant fromProperty() {
            String v = System.getProperty("vitrim.measure.bf16");
            if (v == null || v.isBlank()) {
                return CHOSEN;
            }
            for (Bf16Variant b : values()) {
                if (b.label().equals(v.trim())) {
                    return b;
                }
            }
            throw new VitrimException("system property vitrim.measure.bf16=" + v
                    + " is none of chosen, rounded-stream, float-attention");
        }
    }

    /**
     * Builds the kernels for {@code precision} ({@link Precision#BF16} or {@link Precision#INT8}) from the fp32
     * per-block weight lists of {@link BlockKernels#weightLists}. Throws a {@link VitrimException} naming the cause
     * where this libtorch cannot run the format at all. {@code variant}: where bf16 stops (int8 ignores it).
     */
    LowPrecisionKernels(VitConfig c, NDManager manager, Precision precision, NDArray[][] attn, NDArray[][] mlp,
                        Bf16Variant variant) {
        if (precision != Precision.BF16 && precision != Precision.INT8) {
            throw new IllegalArgumentException("no low-precision kernels for " + precision);
        }
        this.precision = precision;
        this.variant = precision == Precision.INT8 ? Bf16Variant.CHOSEN : variant;
        noMask = TorchScript.constant(new NDArray[0]);
        noSizes = TorchScript.constant(new double[0]);
        noIndex = TorchScript.constant(new long[0]);
        zero = TorchScript.constant(0);
        yes = TorchScript.constant(true);
        no = TorchScript.constant(false);
        int depth = c.depth();
        attnWeights = new IValue[depth];
        mlpWeights = new IValue[depth];
        attnPacked = precision == Precision.INT8 ? new IValue[depth] : null;
        mlpPacked = precision == Precision.INT8 ? new IValue[depth] : null;
        String[] routes = precision == Precision.BF16 ? new String[] {"onednn-packed", "onednn", "aten"}
                : new String[] {"fbgemm"};
        List<String> failures = new ArrayList<>();
        TorchScript compiled = null;
        String chosen = null;
        for (String r : routes) {
            TorchScript s = null;
            try {
                s = TorchScript.compile(manager, CLASS, source(c, precision, !r.equals("aten"), variant));
                prepare(s, c, r, attn, mlp);
                trial(s, c, manager);
                compiled = s;
                chosen = r;
                break;
            } catch (VitrimException e) {
                failures.add(r + ": " + firstLine(e.getMessage()));
                releaseWeights();
                if (s != null) {
                    s.close();
                }
            }
        }
        if (compiled == null) {
            closeConstants();
            throw new VitrimException(precision.label() + " inference is not available in this libtorch on this CPU ("
                    + String.join("; ", failures) + ")");
        }
        script = compiled;
        route = chosen;
    }

    /** How the products run: "onednn-packed", "onednn" or "aten" (bf16), "fbgemm" (int8). */
    String route() {
        return route;
    }

    /** Which bf16 scheme these kernels run (int8: {@link Bf16Variant#CHOSEN}). */
    Bf16Variant variant() {
        return variant;
    }

    Precision precision() {
        return precision;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "failed";
        }
        for (String line : s.split("\n")) {
            if (line.startsWith("RuntimeError") || line.contains("Error:")) {
                return line.trim();
            }
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** Converts (bf16) or quantizes and packs (int8) every block's linear weights, once. */
    private void prepare(TorchScript s, VitConfig c, String route, NDArray[][] attn, NDArray[][] mlp) {
        // indices of the linear weights and biases in the lists (see BlockKernels.weightLists)
        int proj = c.qkvBias() ? 4 : 3;
        long[] attnLinear = c.qkvBias() ? new long[] {2, 3, 4, 5} : new long[] {2, 3, 4};
        long[] attnWeightsOnly = c.qkvBias() ? new long[] {2, 4} : new long[] {2, 3};
        long[] mlpLinear = {2, 3, 4, 5};
        long[] mlpWeightsOnly = {2, 4};
        // the row count oneDNN lays the packed weights out for: a batch of 8 whole images
        long rows = 8L * c.tokens();
        for (int i = 0; i < c.depth(); i++) {
            if (precision == Precision.BF16) {
                long pack = route.equals("onednn-packed") ? rows : 0;
                attnWeights[i] = s.callValue("convert", attn[i], attnLinear, attnWeightsOnly, pack);
                mlpWeights[i] = s.callValue("convert", mlp[i], mlpLinear, mlpWeightsOnly, pack);
            } else {
                attnWeights[i] = TorchScript.constant(attn[i]);
                mlpWeights[i] = TorchScript.constant(mlp[i]);
                attnPacked[i] = s.callValue("pack", attn[i], 2L, c.qkvBias() ? 3L : -1L, (long) proj, proj + 1L);
                mlpPacked[i] = s.callValue("pack", mlp[i], 2L, 3L, 4L, 5L);
            }
        }
    }

    /** One block on a small random batch, with every view a reducer can ask for: fails here, not in a forward. */
    private void trial(TorchScript s, VitConfig c, NDManager manager) {
        try (NDManager m = manager.newSubManager()) {
            NDArray x = m.randomNormal(0, 1, new Shape(1, c.tokens(), c.width()), DataType.FLOAT32);
            NDArray mask = m.zeros(new Shape(1, 1, 1, c.tokens()));
            double[] logSizes = new double[c.tokens()];
            NDArray[] r = s.call("attention", m, args(0, x, new NDArray[] {mask}, logSizes, true, true, true, false));
            s.call("mlp", m, mlpArgs(0, r[0], false, noIndex, noSizes, zero, zero));
        }
    }

    private Object[] args(int i, NDArray x, Object mask, Object logSizes, boolean cls, boolean keys, boolean sim,
                          boolean inPlace) {
        List<Object> a = new ArrayList<>(List.of(x, attnWeights[i]));
        if (attnPacked != null) {
            a.add(attnPacked[i]);
        }
        a.addAll(List.of(mask, logSizes, flag(cls), flag(keys), flag(sim), flag(inPlace)));
        return a.toArray();
    }

    private Object[] mlpArgs(int i, NDArray x, boolean inPlace, Object index, Object weight, Object out, Object r) {
        List<Object> a = new ArrayList<>(List.of(x, mlpWeights[i]));
        if (mlpPacked != null) {
            a.add(mlpPacked[i]);
        }
        a.addAll(List.of(flag(inPlace), index, weight, out, r));
        return a.toArray();
    }

    /** As {@link BlockKernels#attention}. */
    NDArray attention(int i, NDArray x, NDArray mask, double[] logSizes, boolean wantCls, boolean wantKeys,
                      boolean wantSimilarity, boolean inPlace, NDArray[] view) {
        NDArray[] r = script.call("attention", x.getManager(), args(i, x, mask == null ? noMask : new NDArray[] {mask},
                logSizes == null ? noSizes : logSizes, wantCls, wantKeys, wantSimilarity, inPlace));
        view[0] = r[1];
        view[1] = r[2];
        view[2] = r[3];
        return r[0];
    }

    /** As {@link BlockKernels#mlp}. */
    NDArray mlp(int i, NDArray x, boolean inPlace, dev.vitrim.reduce.RowMerge merge) {
        if (merge == null) {
            return script.call("mlp", x.getManager(), mlpArgs(i, x, inPlace, noIndex, noSizes, zero, zero))[0];
        }
        return script.call("mlp", x.getManager(), mlpArgs(i, x, inPlace, merge.index, merge.weight, merge.out,
                merge.r))[0];
    }

    private IValue flag(boolean v) {
        return v ? yes : no;
    }

    /** The TorchScript source; {@code onednn}: bf16 products through oneDNN's {@code _linear_pointwise}. */
    static String source(VitConfig c, Precision p, boolean onednn, Bf16Variant variant) {
        boolean int8 = p == Precision.INT8;
        boolean stream = variant == Bf16Variant.ROUNDED_STREAM && !int8;
        boolean floatAttention = variant == Bf16Variant.FLOAT_ATTENTION && !int8;
        String eps = Double.toString(c.eps());
        String d = Integer.toString(c.width());
        String dims = "[b, n, 3, " + c.heads() + ", " + c.headDim() + "]";
        int proj = c.qkvBias() ? 4 : 3;
        String self = "self: __torch__." + CLASS;
        StringBuilder s = new StringBuilder();
        s.append("class ").append(CLASS).append("(Module):\n");
        s.append("  __parameters__ = []\n");
        s.append("  __buffers__ = []\n");
        s.append("  training : bool\n");
        if (int8) {
            // symmetric per-output-channel int8 weights, prepacked with their (float) bias for FBGEMM
            s.append("  def q(").append(self).append(", w: Tensor, b: Optional[Tensor]) -> ").append(PACKED)
                    .append(":\n");
            s.append("    sc = torch.clamp(torch.div(torch.amax(torch.abs(w), [1]), 127.0), 1e-12)\n");
            s.append("    z = torch.zeros([w.size(0)], dtype=4)\n");
            s.append("    return ops.quantized.linear_prepack(torch.quantize_per_channel(w, sc, z, 0, 12), b)\n");
            s.append("  def pack(").append(self).append(", w: List[Tensor], i: int, bi: int, j: int, bj: int) -> List[")
                    .append(PACKED).append("]:\n");
            s.append("    b0: Optional[Tensor] = None\n");
            s.append("    if bi >= 0:\n");
            s.append("      b0 = w[bi]\n");
            s.append("    return [self.q(w[i], b0), self.q(w[j], w[bj])]\n");
            s.append("  def lin(").append(self).append(", x: Tensor, p: ").append(PACKED).append(", act: str) -> Tensor:\n");
            s.append("    y = ops.quantized.linear_dynamic(x, p, True)\n");
            s.append("    if act == \"gelu\":\n");
            s.append("      y = torch.gelu(y)\n");
            s.append("    return y\n");
        } else {
            // bfloat16 copies of the linear layers' tensors; weights prepacked for oneDNN when rows > 0
            s.append("  def convert(").append(self).append(", w: List[Tensor], lin: List[int], weights: List[int], ")
                    .append("rows: int) -> List[Tensor]:\n");
            s.append("    out = annotate(List[Tensor], [])\n");
            s.append("    for i in range(len(w)):\n");
            s.append("      t = w[i]\n");
            s.append("      if i in lin:\n");
            s.append("        t = t.to(15).contiguous()\n");
            s.append("        if rows > 0 and i in weights:\n");
            s.append("          t = ops.mkldnn._reorder_linear_weight(t, rows)\n");
            s.append("      out.append(t)\n");
            s.append("    return out\n");
            s.append("  def lin(").append(self).append(", x: Tensor, w: Tensor, b: Optional[Tensor], act: str) -> Tensor:\n");
            if (onednn) {
                s.append("    sc = annotate(List[Optional[number]], [])\n");
                s.append("    return ops.mkldnn._linear_pointwise(x, w, b, act, sc, \"none\")\n");
            } else {
                s.append("    y = torch.linear(x, w, b)\n");
                s.append("    if act == \"gelu\":\n");
                s.append("      y = torch.gelu(y)\n");
                s.append("    return y\n");
            }
        }
        String packedArg = int8 ? " p: List[" + PACKED + "]," : "";
        String qkvLin = int8 ? "p[0]" : "w[2], " + (c.qkvBias() ? "w[3]" : "None");
        String projLin = int8 ? "p[1]" : "w[" + proj + "], w[" + (proj + 1) + "]";
        String toLow = int8 ? "" : ".to(15)";
        String toF32 = int8 ? "" : ".to(6)";
        s.append("  def attention(").append(self).append(", x: Tensor, w: List[Tensor],").append(packedArg).append("\n");
        s.append("      mask: List[Tensor], log_size: List[float], want_cls: bool, want_keys: bool, want_sim: bool,\n");
        s.append("      in_place: bool) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor], Optional[Tensor]]:\n");
        s.append("    b = x.size(0)\n");
        s.append("    n = x.size(1)\n");
        if (stream) {
            s.append("    x = x.to(15)\n");
        }
        s.append("    y = torch.layer_norm(x, [").append(d).append("], w[0], w[1], ").append(eps).append(")")
                .append(stream ? "" : toLow).append("\n");
        s.append("    qkv = self.lin(y, ").append(qkvLin).append(", \"none\").reshape(").append(dims)
                .append(").permute([2, 0, 3, 1, 4])\n");
        s.append("    q = qkv[0]\n");
        s.append("    k = qkv[1]\n");
        s.append("    v = qkv[2]\n");
        s.append("    bias: Optional[Tensor] = None\n");
        s.append("    if len(mask) > 0:\n");
        s.append("      bias = mask[0]\n");
        s.append("    if len(log_size) > 0:\n");
        s.append("      ls = torch.tensor(log_size, dtype=6, device=x.device).reshape([b, 1, 1, n])\n");
        s.append("      if bias is None:\n");
        s.append("        bias = ls\n");
        s.append("      else:\n");
        s.append("        bias = torch.add(bias, ls)\n");
        // the attention's own bias in the queries' format (SDPA requires it); the reducers' scores keep the float one
        s.append("    abias: Optional[Tensor] = None\n");
        s.append("    if bias is not None:\n");
        s.append("      abias = bias").append(toLow).append("\n");
        if (floatAttention) {
            s.append("    o = torch.scaled_dot_product_attention(q.to(6), k.to(6), v.to(6), bias, 0.0, False, ")
                    .append("scale=1.0).to(15)\n");
        } else {
            s.append("    o = torch.scaled_dot_product_attention(q, k, v, abias, 0.0, False, scale=1.0)\n");
        }
        s.append("    a = self.lin(o.transpose(1, 2).reshape([b, n, ").append(d).append("]), ").append(projLin)
                .append(", \"none\")").append(stream ? "" : toF32).append("\n");
        if (c.layerScale()) {
            s.append("    a = torch.mul(a, w[").append(proj + 2).append("]").append(stream ? ".to(15)" : "")
                    .append(")\n");
        }
        s.append("    if in_place:\n");
        s.append("      x = x.add_(a)\n");
        s.append("    else:\n");
        s.append("      x = torch.add(x, a)\n");
        s.append("    cls: Optional[Tensor] = None\n");
        s.append("    if want_cls:\n");
        s.append("      logits = torch.mul(k").append(toF32).append(", q.narrow(2, 0, 1)").append(toF32)
                .append(").sum([-1])\n");
        s.append("      if bias is not None:\n");
        s.append("        logits = torch.add(logits, bias.squeeze(2))\n");
        s.append("      cls = torch.softmax(logits, -1).mean([1])\n");
        s.append("    keys: Optional[Tensor] = None\n");
        s.append("    sim: Optional[Tensor] = None\n");
        s.append("    if want_keys:\n");
        s.append("      keys = k").append(toF32).append(".mean([1])\n");
        s.append("    if want_sim:\n");
        s.append("      mk = k").append(toF32).append(".sum([1])\n");
        s.append("      mn = torch.div(mk, torch.norm(mk, 2, [-1], True))\n");
        s.append("      sim = torch.bmm(mn[:, 0::2, :], mn[:, 1::2, :].transpose(1, 2))\n");
        if (stream) {
            s.append("    x = x.to(6)\n");
        }
        s.append("    return (x, cls, keys, sim)\n");
        s.append(dev.vitrim.reduce.RowMerge.torchScript(CLASS));
        String fc1 = int8 ? "p[0]" : "w[2], w[3]";
        String fc2 = int8 ? "p[1]" : "w[4], w[5]";
        s.append("  def mlp(").append(self).append(", x: Tensor, w: List[Tensor],").append(packedArg)
                .append(" in_place: bool,\n");
        s.append("      index: List[int], weight: List[float], out: int, r: int) -> Tensor:\n");
        s.append("    if len(index) > 0:\n");
        s.append("      x = self.merge(x, index, weight, out, r)\n");
        if (stream) {
            s.append("    x = x.to(15)\n");
        }
        s.append("    y = torch.layer_norm(x, [").append(d).append("], w[0], w[1], ").append(eps).append(")")
                .append(stream ? "" : toLow).append("\n");
        s.append("    y = self.lin(self.lin(y, ").append(fc1).append(", \"gelu\"), ").append(fc2).append(", \"none\")")
                .append(stream ? "" : toF32).append("\n");
        if (c.layerScale()) {
            s.append("    y = torch.mul(y, w[6]").append(stream ? ".to(15)" : "").append(")\n");
        }
        if (stream) {
            s.append("    return torch.add(x, y).to(6)\n");
            return s.toString();
        }
        s.append("    if in_place:\n");
        s.append("      return x.add_(y)\n");
        s.append("    return torch.add(x, y)\n");
        return s.toString();
    }

    private void releaseWeights() {
        for (IValue[] a : new IValue[][] {attnWeights, mlpWeights, attnPacked, mlpPacked}) {
            if (a == null) {
                continue;
            }
            for (int i = 0; i < a.length; i++) {
                if (a[i] != null) {
                    a[i].close();
                    a[i] = null;
                }
            }
        }
    }

    private void closeConstants() {
        noMask.close();
        noSizes.close();
        noIndex.close();
        zero.close();
        yes.close();
        no.close();
    }

    @Override
    public void close() {
        releaseWeights();
        closeConstants();
        script.close();
    }
}
