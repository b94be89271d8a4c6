package dev.vitrim.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Torch;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW (decoupled weight decay, as {@code torch.optim.AdamW}) with global-norm gradient clipping, over the
 * parameters of a {@link VisionTransformer}, in timm's parametrisation.
 *
 * <p>The model stores the query rows of each {@code attn.qkv} pre-multiplied by {@code s = head_dim^-0.5}. The
 * optimiser works on timm's weights {@code w = w' / s}: the gradient is {@code s * dL/dw'}, the moments are those
 * of timm's gradient, and the update of {@code w'} is {@code s} times timm's update. Training is therefore the same
 * as timm's, including the gradient norm and the weight decay.
 *
 * <p>No weight decay on parameters with fewer than two dimensions (biases, LayerNorm, LayerScale) nor on
 * {@code cls_token}, {@code dist_token} and {@code pos_embed} (timm's {@code no_weight_decay}), nor on Cropr's
 * queries (tokens too).
 */
public final class AdamW implements AutoCloseable {
    private final TrainConfig cfg;
    private final NDManager manager;
    private final List<Slot> slots = new ArrayList<>();
    private long step;

    private static final class Slot {
        final String name;
        final NDArray param;
        final boolean decay;
        final NDArray mask; // s on query rows, 1 elsewhere (qkv only), else null
        final float lrScale; // relative to --lr: the added modules' own, or the layer-wise decay's
        final NDArray m;
        final NDArray v;

        Slot(String name, NDArray param, boolean decay, NDArray mask, float lrScale, NDArray m, NDArray v) {
            this.name = name;
            this.param = param;
            this.decay = decay;
            this.mask = mask;
            this.lrScale = lrScale;
            this.m = m;
            this.v = v;
        }
    }

    /** Readout of one step. */
    public record StepInfo(double gradNorm, double clipScale) {}

    public AdamW(VisionTransformer vit, TrainConfig cfg) {
        this(vit, Map.of(), cfg);
    }

    /** Over the model's parameters and {@code extra} ones (e.g. Cropr's modules, names not clashing with timm's). */
    public AdamW(VisionTransformer vit, Map<String, NDArray> extra, TrainConfig cfg) {
        this(vit, extra, extra.keySet(), cfg);
    }

    /**
     * Over the model's parameters and {@code extra} ones; those named in {@code modules} train at the modules'
     * learning rate ({@link TrainConfig#moduleLrScale}), the other extras (e.g. a dense decoder) as the model's head.
     */
    public AdamW(VisionTransformer vit, Map<String, NDArray> extra, java.util.Set<String> modules, TrainConfig cfg) {
        this.cfg = cfg;
        this.manager = Torch.newManager();
        VitConfig c = vit.config();
        float s = (float) Math.pow(c.headDim(), -0.5);
        int d = c.width();
        Map<String, NDArray> all = new java.util.LinkedHashMap<>(vit.parameters());
        for (Map.Entry<String, NDArray> e : extra.entrySet()) {
            if (all.put(e.getKey(), e.getValue()) != null) {
                throw new IllegalArgumentException("parameter " + e.getKey() + " given twice");
            }
        }
        for (Map.Entry<String, NDArray> e : all.entrySet()) {
            String n = e.getKey();
            NDArray p = e.getValue();
            Shape shape = p.getShape();
            NDArray mask = null;
            if (!extra.containsKey(n) && (n.endsWith("attn.qkv.weight") || n.endsWith("attn.qkv.bias"))) {
                float[] mk = new float[3 * d];
                java.util.Arrays.fill(mk, 1f);
                java.util.Arrays.fill(mk, 0, d, s);
                mask = manager.create(mk, shape.dimension() == 2 ? new Shape(3L * d, 1) : new Shape(3L * d));
            }
            float scale = (float) (modules.contains(n) ? cfg.moduleLrScale() : cfg.layerLrScale(n, c.depth()));
            slots.add(new Slot(n, p, decays(n, shape), mask, scale, manager.zeros(shape), manager.zeros(shape)));
            p.setRequiresGradient(true);
        }
    }

    /** Whether AdamW decays a parameter (timm: not 1-D tensors, not tokens or position embeddings). */
    public static boolean decays(String name, Shape shape) {
        if (shape.dimension() <= 1) {
            return false;
        }
        return !name.equals("cls_token") && !name.equals("dist_token") && !name.equals("pos_embed")
                && !name.endsWith("cross_attn.queries");
    }

    /** Steps taken. */
    public long steps() {
        return step;
    }

    /**
     * Reads the gradients left by the last backward pass, clips them to the global norm, updates the parameters
     * and zeroes the gradients. Temporaries live in {@code scratch}. Returns the gradient norm before clipping;
     * a non-finite norm leaves the parameters untouched (and the step uncounted).
     */
    public StepInfo step(double lr, NDManager scratch) {
        Torch.grad(false);
        List<NDArray> grads = new ArrayList<>(slots.size());
        NDList squares = new NDList();
        for (Slot sl : slots) {
            NDArray g = sl.param.getGradient();
            g.attach(scratch);
            if (sl.mask != null) {
                g = g.mul(sl.mask);
            }
            grads.add(g);
            squares.add(g.square().sum());
        }
        double norm = Math.sqrt(NDArrays.stack(squares).sum().getFloat());
        if (!Double.isFinite(norm)) {
            zeroGrad();
            return new StepInfo(norm, 0);
        }
        double clip = cfg.clipNorm() > 0 && norm > cfg.clipNorm() ? cfg.clipNorm() / (norm + 1e-6) : 1.0;
        step++;
        double bc1 = 1 - Math.pow(cfg.beta1(), step);
        double bc2 = 1 - Math.pow(cfg.beta2(), step);
        float b1 = (float) cfg.beta1();
        float b2 = (float) cfg.beta2();
        float stepSize = (float) (lr / bc1);
        float sqrtBc2 = (float) Math.sqrt(bc2);
        float eps = (float) cfg.adamEps();
        for (int i = 0; i < slots.size(); i++) {
            Slot sl = slots.get(i);
            NDArray g = grads.get(i);
            if (clip != 1.0) {
                g = g.mul((float) clip);
            }
            sl.m.muli(b1).addi(g.mul(1 - b1));
            sl.v.muli(b2).addi(g.square().muli(1 - b2));
            NDArray denom = local(sl.v.sqrt(), scratch).divi(sqrtBc2).addi(eps);
            NDArray update = local(sl.m.div(denom), scratch).muli(stepSize * sl.lrScale);
            if (sl.mask != null) {
                update = local(update.mul(sl.mask), scratch);
            }
            if (sl.decay && cfg.weightDecay() > 0) {
                sl.param.muli((float) (1 - lr * sl.lrScale * cfg.weightDecay()));
            }
            sl.param.subi(update);
        }
        zeroGrad();
        return new StepInfo(norm, clip);
    }

    private void zeroGrad() {
        for (Slot sl : slots) {
            JniUtils.zeroGrad((PtNDArray) sl.param);
        }
    }

    private static NDArray local(NDArray a, NDManager scratch) {
        a.attach(scratch);
        return a;
    }

    /** The moments by parameter name ("m." / "v." + timm name), for the training state. */
    public Map<String, FloatTensor> exportState() {
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        for (Slot sl : slots) {
            long[] shape = sl.param.getShape().getShape();
            out.put("m." + sl.name, new FloatTensor(shape, sl.m.toFloatArray()));
            out.put("v." + sl.name, new FloatTensor(shape, sl.v.toFloatArray()));
        }
        return out;
    }

    /** Restores moments and step count saved by {@link #exportState()}. */
    public void importState(Map<String, FloatTensor> state, long steps) {
        Torch.grad(false);
        for (Slot sl : slots) {
            copyInto(sl.m, state.get("m." + sl.name), "m." + sl.name);
            copyInto(sl.v, state.get("v." + sl.name), "v." + sl.name);
        }
        this.step = steps;
    }

    /** Copies values into an existing array in place (its storage, and any view of it, is kept). */
    static void copyInto(NDArray dst, FloatTensor src, String what) {
        if (src == null) {
            throw new dev.vitrim.VitrimException("training state: missing tensor '" + what + "'");
        }
        if (!java.util.Arrays.equals(src.shape(), dst.getShape().getShape())) {
            throw new dev.vitrim.VitrimException("training state: tensor '" + what + "' has shape "
                    + java.util.Arrays.toString(src.shape()) + ", expected " + dst.getShape());
        }
        try (NDManager m = dst.getManager().newSubManager()) {
            NDArray a = m.create(src.data(), dst.getShape());
            dst.set(new NDIndex("..."), a);
        }
    }

    @Override
    public void close() {
        for (Slot sl : slots) {
            sl.param.setRequiresGradient(false);
        }
        manager.close();
    }
}
