package dev.vitrim.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Torch;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.reduce.Cropr;
import dev.vitrim.reduce.CroprSchedule;
import dev.vitrim.reduce.ModelView;
import dev.vitrim.reduce.Tokens;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Token Cropr while training (Bergner et al., CVPR 2025; REFERENCE §1.2). Each pruning module has learnable
 * queries Q [1,q,D] and, for training only, an aggregator and an auxiliary classification head:
 * {@code softmax(Q·Xᵀ/√D)·X → x + MLP(LN(x)) (ratio 4, GELU) → LN → Linear(classes)}. The module input X is
 * detached, so the backbone learns only from the main loss and the module only from its auxiliary loss; the
 * tokens are pruned by top-k on {@code Σ_q Q·Xᵀ} inside the training forward, so the backbone trains on the
 * tokens inference will keep. After training only the queries are kept ({@code cropr.{i}.cross_attn.queries}).
 *
 * <p>The auxiliary task follows the main one ({@link Task}): classification (one query, logits [B,classes]);
 * segmentation (one query per patch, logits [B,patches,1+classes] against per-patch labels); or presence (one query,
 * logits [B,classes], multi-label "which classes are in the image", for detection and instance segmentation).
 *
 * <p>One instance serves one run: {@link #begin} clears the auxiliary logits of the previous forward, and
 * {@link #takeAuxLogits} hands them to the loss.
 */
public final class CroprTraining implements TrainableReducer {
    /** Queries per module for classification and presence: one. */
    static final int QUERIES = 1;
    static final int MLP_RATIO = 4;
    static final float LN_EPS = 1e-6f;

    /** What the auxiliary heads learn, after the main task (REFERENCE §1.2, §5). */
    public enum Task {
        /** One query; the head gives the image's class logits; cross-entropy against the class. */
        CLASSIFY,
        /**
         * One query per patch; the head gives each patch's 1 + classes logits (0 background); cross-entropy against
         * the patch labels, ignored patches left out.
         */
        SEGMENT,
        /** One query; the head gives one logit per class; sigmoid binary cross-entropy against "class present". */
        PRESENCE;

        /** {@code classify}, {@code segment} or {@code presence} (any case). */
        public static Task parse(String s) {
            for (Task t : values()) {
                if (t.name().equalsIgnoreCase(s == null ? "" : s.strip())) {
                    return t;
                }
            }
            throw new dev.vitrim.VitrimException("Cropr auxiliary task '" + s + "': choose segment or presence "
                    + "(classification training uses classify)");
        }

        /** The lower-case name, as {@link #parse} reads it. */
        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final Cropr spec;
    private final VitConfig cfg;
    private final Task task;
    private final int queries;
    private final int outputs;
    private final NDManager manager;
    private final Map<String, NDArray> params = new LinkedHashMap<>();
    private final List<NDArray> auxLogits = new ArrayList<>();
    private int currentR;

    /**
     * Fresh modules for {@code cfg}, initialised as timm initialises linear layers (normal, std 0.02, clipped at two
     * standard deviations; zero biases; LayerNorm 1 and 0), the queries with the spec's {@code qstd} (default
     * the same 0.02), from {@code seed}.
     */
    public CroprTraining(Cropr spec, VitConfig cfg, long seed) {
        this(spec, cfg, Task.CLASSIFY, cfg.numClasses(), seed);
    }

    /**
     * Fresh modules for auxiliary task {@code task} over {@code classes} object classes (for {@link Task#CLASSIFY}
     * the model's classes), initialised as {@link #CroprTraining(Cropr, VitConfig, long)}.
     */
    public CroprTraining(Cropr spec, VitConfig cfg, Task task, int classes, long seed) {
        spec.validate(cfg);
        if (classes < 1) {
            throw new dev.vitrim.VitrimException("Cropr training: the auxiliary heads need at least one class, got "
                    + classes);
        }
        this.spec = spec;
        this.cfg = cfg;
        this.task = task;
        this.queries = task == Task.SEGMENT ? cfg.numPatches() : QUERIES;
        this.outputs = task == Task.SEGMENT ? classes + 1 : classes;
        this.currentR = spec.schedule().r();
        this.manager = Torch.newManager();
        Random rng = new Random(seed * 7919L + 17);
        try {
            for (String name : names(cfg, spec.schedule())) {
                long[] shape = shape(name);
                NDArray a = manager.create(init(name, shape, rng, spec.queryStd()), new Shape(shape));
                a.setName(name);
                params.put(name, a);
            }
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** The parameter names of every module, in order. */
    static List<String> names(VitConfig c, CroprSchedule s) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i <= s.lastModule(c.depth()); i++) {
            String p = "cropr." + i + ".";
            out.add(p + "cross_attn.queries");
            for (String t : new String[] {"aggregator.norm1", "aggregator.mlp.fc1", "aggregator.mlp.fc2",
                "aggregator.norm2", "head"}) {
                out.add(p + t + ".weight");
                out.add(p + t + ".bias");
            }
        }
        return out;
    }

    private long[] shape(String name) {
        long d = cfg.width();
        long h = d * MLP_RATIO;
        if (name.endsWith("cross_attn.queries")) {
            return new long[] {1, queries, d};
        }
        if (name.contains("mlp.fc1.")) {
            return name.endsWith("weight") ? new long[] {h, d} : new long[] {h};
        }
        if (name.contains("mlp.fc2.")) {
            return name.endsWith("weight") ? new long[] {d, h} : new long[] {d};
        }
        if (name.contains(".head.")) {
            return name.endsWith("weight") ? new long[] {outputs, d} : new long[] {outputs};
        }
        return new long[] {d}; // LayerNorms
    }

    private static float[] init(String name, long[] shape, Random rng, double queryStd) {
        int n = 1;
        for (long s : shape) {
            n *= (int) s;
        }
        float[] v = new float[n];
        boolean norm = name.contains("norm");
        if (name.endsWith(".bias")) {
            return v;
        }
        if (norm) {
            java.util.Arrays.fill(v, 1f);
            return v;
        }
        double std = name.endsWith("cross_attn.queries") ? queryStd : 0.02;
        for (int i = 0; i < n; i++) {
            v[i] = (float) (std * Math.max(-2, Math.min(2, rng.nextGaussian())));
        }
        return v;
    }

    /** The learnable parameters (queries, aggregators, auxiliary heads), by name. */
    @Override
    public Map<String, NDArray> parameters() {
        return java.util.Collections.unmodifiableMap(params);
    }

    /** Pruning modules (each with its auxiliary head). */
    public int modules() {
        return spec.schedule().lastModule(cfg.depth()) + 1;
    }

    /** The auxiliary task. */
    public Task task() {
        return task;
    }

    /** Queries per module: one, or one per patch for {@link Task#SEGMENT}. */
    public int queries() {
        return queries;
    }

    /** The spec being trained. */
    public Cropr cropr() {
        return spec;
    }

    /** Sets the R of the coming forwards (the ramp); never above the spec's R. */
    public void setR(int r) {
        this.currentR = Math.max(0, Math.min(r, spec.schedule().r()));
    }

    public int currentR() {
        return currentR;
    }

    /** R at step {@code step} of {@code total}: with {@code ramp=true} it grows linearly over the first half. */
    public int rampedR(long step, long total) {
        int r = spec.schedule().r();
        if (!spec.ramp() || total <= 1) {
            return r;
        }
        double f = Math.min(1.0, step / (total / 2.0));
        return (int) Math.round(r * f);
    }

    /** Ramps R ({@link #rampedR}). */
    @Override
    public void beginStep(long step, long total) {
        setR(rampedR(step, total));
    }

    /** Every module's auxiliary loss of the last forward, summed (all weight 1, as the authors train). */
    @Override
    public NDArray auxiliaryLoss(java.util.function.UnaryOperator<NDArray> lossOf) {
        NDArray sum = null;
        for (NDArray a : takeAuxLogits()) {
            NDArray l = lossOf.apply(a);
            sum = sum == null ? l : sum.add(l);
        }
        return sum;
    }

    @Override
    public int auxiliaryLosses() {
        return modules();
    }

    /**
     * The auxiliary logits of every module of the last forward, in module order: [B,classes] (classification,
     * presence) or [B,patches,1+classes] (segmentation); clears them.
     */
    public List<NDArray> takeAuxLogits() {
        List<NDArray> out = new ArrayList<>(auxLogits);
        auxLogits.clear();
        return out;
    }

    /** What a saved model keeps: the queries only, in the authors' naming, as [1,q,D]. */
    @Override
    public Map<String, FloatTensor> inferenceTensors() {
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            if (e.getKey().endsWith("cross_attn.queries")) {
                out.put(e.getKey(), new FloatTensor(e.getValue().getShape().getShape(), e.getValue().toFloatArray()));
            }
        }
        return out;
    }

    /** Every parameter, for the training state. */
    @Override
    public Map<String, FloatTensor> stateTensors() {
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            out.put(e.getKey(), new FloatTensor(e.getValue().getShape().getShape(), e.getValue().toFloatArray()));
        }
        return out;
    }

    /** Restores parameters saved by {@link #stateTensors()}. */
    @Override
    public void restoreState(Map<String, FloatTensor> values) {
        boolean grad = ai.djl.pytorch.jni.JniUtils.isGradMode();
        Torch.grad(false);
        try {
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                AdamW.copyInto(e.getValue(), values.get(e.getKey()), e.getKey());
            }
        } finally {
            Torch.grad(grad);
        }
    }

    // ------------------------------------------------------------------------------ TokenReducer

    @Override
    public String spec() {
        return spec.spec();
    }

    @Override
    public void validate(VitConfig c) {
        spec.validate(c);
    }

    @Override
    public int countAfterBlock(VitConfig c, int block, int n, int[] stash) {
        return scheduleNow().countAfterBlock(c, block, n, stash);
    }

    @Override
    public int countBeforeLastBlock(VitConfig c, int n, int[] stash) {
        return n + stash[0];
    }

    private CroprSchedule scheduleNow() {
        CroprSchedule s = spec.schedule();
        return new CroprSchedule(currentR, s.llf(), s.multiple());
    }

    @Override
    public Pass begin(ModelView model, Tokens initial) {
        VitConfig c = model.config();
        CroprSchedule s = scheduleNow();
        int n0 = initial.count();
        int depth = c.depth();
        int last = s.lastModule(depth);
        auxLogits.clear();
        float scale = (float) (1.0 / Math.sqrt(c.width()));
        return new Pass() {
            @Override
            public Tokens afterBlock(int block, Tokens t) {
                if (block > last) {
                    return t;
                }
                String p = "cropr." + block + ".";
                NDArray x = t.x.stopGradient(); // stop-gradient: the module learns from its own loss only
                // A = Q·Xᵀ [B,q,N], unscaled, no projections (x first: results belong to the forward's manager)
                NDArray qT = params.get(p + "cross_attn.queries").transpose(0, 2, 1);
                qT.attach(x.getManager()); // a view made from the module's array: freed with this forward
                NDArray a = x.matMul(qT).transpose(0, 2, 1);
                // training-only aggregator and auxiliary head
                NDArray pooled = a.mul(Torch.scalar(x.getManager(), scale)).softmax(-1).matMul(x); // [B,q,D]
                NDArray h = linear(layerNorm(pooled, p + "aggregator.norm1"), p + "aggregator.mlp.fc1");
                h = linear(ai.djl.nn.Activation.gelu(h), p + "aggregator.mlp.fc2");
                NDArray z = layerNorm(pooled.add(h), p + "aggregator.norm2");
                NDArray logits = linear(z, p + "head"); // [B,q,outputs]
                auxLogits.add(task == Task.SEGMENT ? logits : logits.mean(new int[] {1})); // [B,q,1+K] or [B,K]
                if (!s.prunesAfter(depth, block)) {
                    return t;
                }
                NDArray scores = a.sum(new int[] {1}).get(new NDIndex(":, {}:", t.prefix)).stopGradient(); // [B,M]
                return Cropr.pruneLowest(t, spec.inverted() ? scores.neg() : scores, s.pruned(block, n0), s.llf());
            }

            @Override
            public Tokens beforeLastBlock(Tokens t) {
                return s.llf() ? t.rejoinStash() : t;
            }
        };
    }

    private NDArray linear(NDArray x, String prefix) {
        return x.getNDArrayInternal().linear(x, params.get(prefix + ".weight"), params.get(prefix + ".bias"))
                .singletonOrThrow();
    }

    private NDArray layerNorm(NDArray x, String prefix) {
        return x.getNDArrayInternal().layerNorm(x, new Shape(cfg.width()), params.get(prefix + ".weight"),
                params.get(prefix + ".bias"), LN_EPS).singletonOrThrow();
    }

    @Override
    public void close() {
        manager.close();
    }
}
