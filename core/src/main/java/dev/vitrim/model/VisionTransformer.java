package dev.vitrim.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Precision;
import dev.vitrim.engine.Torch;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.reduce.AttentionView;
import dev.vitrim.reduce.Cropr;
import dev.vitrim.reduce.ModelView;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Tokens;
import dev.vitrim.reduce.Trace;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A timm-compatible Vision Transformer on DJL's PyTorch engine. Weights live in one manager owned by the
 * model; every forward runs in a sub-manager that is closed before it returns, so nothing leaks.
 *
 * <p>Two deliberate departures from a literal transcription of timm, both exact in real arithmetic:
 * the attention scale is folded into the query rows of {@code qkv} at load time (one op less per block),
 * and the patch convolution runs as one matrix product over unfolded patches.
 */
public final class VisionTransformer implements ModelView, AutoCloseable {
    private final VitConfig cfg;
    private final NDManager manager;
    private final Map<String, NDArray> params;
    private final Shape normShape;
    private final Map<Long, NDArray> posEmbedByGrid = new ConcurrentHashMap<>();
    private float[] posPatches; // [gridH*gridW*D] patch part of pos_embed, for resampling

    // hot-path handles
    private final NDArray patchW, patchB;
    private NDArray prefixWithPos; // [1, prefix, D]: CLS (and dist) tokens, plus their position embedding
    private final BlockWeights[] blocks;
    private final NDArray normW, normB, headW, headB, headDistW, headDistB;

    private final BlockKernels kernels;
    private volatile Precision.Choice precision = Precision.FP32.resolve();
    private volatile boolean eager = "eager".equals(System.getProperty("vitrim.kernels"));
    private volatile int microBatchImages = forcedMicroBatch(); // 0: sized to the caches

    private final Map<String, NDArray> extras; // the checkpoint's tensors outside the ViT (reducers' parameters)
    private final Map<String, NDArray> derived = new ConcurrentHashMap<>();
    private String recordedReduce; // the reduction the checkpoint was trained with, or null

    private VisionTransformer(VitConfig cfg, NDManager manager, Map<String, NDArray> params,
                              Map<String, NDArray> extras, boolean onednn) {
        this.cfg = cfg;
        this.extras = Collections.unmodifiableMap(new LinkedHashMap<>(extras));
        this.manager = manager;
        this.params = Collections.unmodifiableMap(params);
        int d = cfg.width();
        this.normShape = new Shape(d);
        int p = cfg.patchSize();
        this.patchW = params.get("patch_embed.proj.weight").reshape(d, 3L * p * p);
        this.patchB = params.get("patch_embed.proj.bias");
        NDArray prefix = null;
        if (cfg.classToken() && cfg.distilled()) {
            prefix = params.get("cls_token").concat(params.get("dist_token"), 1);
        } else if (cfg.classToken()) {
            prefix = params.get("cls_token");
        }
        NDArray pos = params.get("pos_embed");
        int pre = cfg.noEmbedClass() ? 0 : cfg.prefixTokens();
        this.prefixWithPos = prefix == null ? null : pre > 0 ? prefix.add(pos.get(new NDIndex(":, :{}, :", pre))) : prefix;
        NDArray patchPart = pos.get(new NDIndex(":, {}:, :", pre));
        this.posPatches = patchPart.toFloatArray();
        posEmbedByGrid.put(gridKey(cfg.gridH(), cfg.gridW()), patchPart);
        this.blocks = new BlockWeights[cfg.depth()];
        for (int i = 0; i < cfg.depth(); i++) {
            blocks[i] = new BlockWeights(params, "blocks." + i + ".", cfg);
        }
        String norm = cfg.fcNorm() ? "fc_norm" : "norm";
        this.normW = params.get(norm + ".weight");
        this.normB = params.get(norm + ".bias");
        this.headW = params.get("head.weight");
        this.headB = params.get("head.bias");
        this.headDistW = params.get("head_dist.weight");
        this.headDistB = params.get("head_dist.bias");
        this.kernels = new BlockKernels(cfg, manager, params, onednn);
    }

    /**
     * Runs the blocks as the plain composition of DJL operators (true) instead of the TorchScript kernels (false, the
     * default; {@code -Dvitrim.kernels=eager} switches every model): the reference the kernels are tested against.
     */
    public void useEagerBlocks(boolean on) {
        eager = on;
    }

    /**
     * Images per micro-batch of a large inference batch; 0 sizes them to the caches (the default;
     * {@code -Dvitrim.microBatch=N} sets the default of every model).
     */
    public void useMicroBatch(int images) {
        if (images < 0) {
            throw new VitrimException("micro-batch: must be 0 (automatic) or a positive number of images, got " + images);
        }
        microBatchImages = images;
    }

    private static int forcedMicroBatch() {
        String forced = System.getProperty("vitrim.microBatch");
        if (forced == null) {
            return 0;
        }
        try {
            return Math.max(1, Integer.parseInt(forced.trim()));
        } catch (NumberFormatException e) {
            throw new VitrimException("system property vitrim.microBatch=" + forced + " is not a whole number");
        }
    }

    /**
     * Sets the arithmetic format of the transformer blocks at inference and returns what was chosen and why
     * ({@link Precision#AUTO}: bf16 where the CPU has AMX-BF16 or AVX512_BF16, fp32 elsewhere). bf16 and int8 convert
     * the blocks' linear weights once, here; the patch embedding, the head, LayerNorm, the residual stream and the
     * scores reducers read stay float32, so every reducer works unchanged. Training (grad mode) always runs float32.
     * Call before forwards start, and again after changing weights in place ({@link #refreshCaches} does).
     * Errors: a {@link VitrimException} where libtorch cannot run the format on this CPU. Details:
     * docs/precision.md.
     */
    public Precision.Choice usePrecision(Precision requested) {
        Precision.Choice c = requested.resolve();
        String route = kernels.usePrecision(c.chosen());
        precision = new Precision.Choice(requested, c.chosen(), c.reason() + " (linear layers: " + route + ")");
        return precision;
    }

    /**
     * Sets the arithmetic of training (grad mode) and returns what was chosen and why: {@link Precision#BF16} is mixed
     * precision — the blocks' linear layers compute their products, forward and backward, in bfloat16 while the
     * weights, their gradients, the optimizer state, LayerNorm, attention and the residual stream stay float32;
     * {@link Precision#AUTO} is bf16 where the CPU has AMX-BF16 or AVX512_BF16 and fp32 elsewhere; bf16 on a CPU
     * without them runs emulated (slower than fp32, for checking only). {@link Precision#INT8} is refused: it is an
     * inference format. Inference is unaffected ({@link #usePrecision}).
     */
    public Precision.Choice useTrainingPrecision(Precision requested) {
        if (requested == Precision.INT8) {
            throw new VitrimException("precision int8 is for inference: training runs fp32, bf16 or auto");
        }
        Precision.Choice c = requested.resolve();
        kernels.useTrainingBf16(c.chosen() == Precision.BF16);
        return c.chosen() == Precision.BF16
                ? new Precision.Choice(requested, Precision.BF16, c.reason() + " (mixed precision: bfloat16 products, "
                        + "float32 weights and optimizer state)")
                : c;
    }

    /** bf16 as one of the alternatives measured in the tests, not offered ({@code LowPrecisionKernels.Bf16Variant}). */
    void useBf16VariantForMeasurement(LowPrecisionKernels.Bf16Variant variant) {
        kernels.useBf16Variant(variant);
        precision = new Precision.Choice(Precision.BF16, Precision.BF16, "bf16 variant " + variant);
    }

    /** The arithmetic format inference runs in, and why ({@link #usePrecision}); fp32 unless set. */
    public Precision.Choice precision() {
        return precision;
    }

    /**
     * Recomputes what the inference path derives from the weights once (prefix tokens plus their position
     * embedding, resampled position embeddings, the blocks' linear weights in oneDNN's blocked layout or in the
     * inference precision). Call after changing parameters in place, as training does.
     */
    public synchronized void refreshCaches() {
        NDArray pos = params.get("pos_embed");
        int pre = cfg.noEmbedClass() ? 0 : cfg.prefixTokens();
        if (prefixWithPos != null) {
            NDArray prefix = params.get("cls_token");
            if (cfg.distilled()) {
                prefix = prefix.concat(params.get("dist_token"), 1);
            }
            NDArray fresh = pre > 0 ? prefix.add(pos.get(new NDIndex(":, :{}, :", pre))) : prefix.duplicate();
            prefixWithPos.set(fresh.toFloatArray());
        }
        posPatches = pos.get(new NDIndex(":, {}:, :", pre)).toFloatArray();
        long native_ = gridKey(cfg.gridH(), cfg.gridW());
        posEmbedByGrid.keySet().removeIf(k -> k != native_); // the native grid is a view of pos_embed itself
        kernels.refresh(); // the blocked fp32 or the low-precision copies from the new weights
    }

    /** Loads a checkpoint file or folder; {@code heads} &gt; 0 overrides the head count. */
    public static VisionTransformer load(Path path, int heads) {
        try (Checkpoint ck = Checkpoint.open(path, heads)) {
            return load(ck);
        }
    }

    /**
     * Loads a checkpoint and sets its inference {@code precision} ({@link #usePrecision}); {@code heads} &gt; 0
     * overrides the head count.
     */
    public static VisionTransformer load(Path path, int heads, Precision precision) {
        VisionTransformer vit = load(path, heads);
        try {
            vit.usePrecision(precision);
            return vit;
        } catch (RuntimeException e) {
            vit.close();
            throw e;
        }
    }

    public static VisionTransformer load(Checkpoint ck) {
        return load(ck, BlockKernels.ONEDNN_DEFAULT);
    }

    /**
     * Loads an open checkpoint; {@code onednn} runs the inference matrix products on oneDNN (false: ATen's; the
     * default is oneDNN unless {@code -Dvitrim.linear=aten}).
     */
    public static VisionTransformer load(Checkpoint ck, boolean onednn) {
        VitConfig c = ck.config();
        NDManager m = Torch.newManager();
        try {
            Map<String, NDArray> params = new LinkedHashMap<>();
            for (String name : Checkpoint.expectedTimmNames(c)) {
                long[] shape = expectedShape(c, name);
                float[] v = ck.tensor(name, shape);
                NDArray a = m.create(v, new Shape(shape));
                a.setName(name);
                params.put(name, a);
            }
            foldAttentionScale(c, params);
            VisionTransformer vit = new VisionTransformer(c, m, params, loadExtras(ck, m), onednn);
            vit.recordedReduce = ck.recordedReduce();
            return vit;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** The checkpoint's tensors outside the ViT proper ({@link Checkpoint#isExtra}), as stored. */
    private static Map<String, NDArray> loadExtras(Checkpoint ck, NDManager m) {
        Map<String, NDArray> out = new java.util.TreeMap<>();
        for (String name : ck.source().names()) {
            if (Checkpoint.isExtra(name)) {
                NDArray a = m.create(ck.source().floats(name), new Shape(ck.source().info(name).shape()));
                a.setName(name);
                out.put(name, a);
            }
        }
        return out;
    }

    /**
     * The reduction spec the checkpoint was trained with ({@code vitrim train --reduce}), or null: a Cropr model
     * records its schedule here, and {@code --reduce cropr} without parameters uses it.
     */
    @Override
    public String recordedReduce() {
        return recordedReduce;
    }

    @Override
    public NDArray extra(String name) {
        return extras.get(name);
    }

    /** The names of the checkpoint's tensors outside the ViT proper, sorted. */
    public java.util.Set<String> extraNames() {
        return extras.keySet();
    }

    @Override
    public NDArray derived(String key, java.util.function.Function<NDManager, NDArray> make) {
        return derived.computeIfAbsent(key, k -> make.apply(manager));
    }

    /** {@code n} normal draws with standard deviation {@code std}, clipped to ±{@code clip}. */
    private static float[] normal(java.util.SplittableRandom rng, long n, double std, double clip) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            double g = rng.nextGaussian() * std;
            v[i] = (float) Math.max(-clip, Math.min(clip, g));
        }
        return v;
    }

    /**
     * A randomly initialised model (timm-like init: truncated-normal-ish std 0.02, LayerNorm 1/0) with random
     * Cropr queries after every block but the last: for cost counting, timing and as the start of training, not for
     * predictions. The values are drawn in Java from {@code seed}: the engine's own generator is left alone.
     */
    public static VisionTransformer random(VitConfig c, long seed) {
        NDManager m = Torch.newManager();
        try {
            java.util.SplittableRandom rng = new java.util.SplittableRandom(seed);
            Map<String, NDArray> params = new LinkedHashMap<>();
            for (String name : Checkpoint.expectedTimmNames(c)) {
                Shape shape = new Shape(expectedShape(c, name));
                NDArray a;
                if (name.endsWith("norm1.weight") || name.endsWith("norm2.weight") || name.equals("norm.weight")
                        || name.equals("fc_norm.weight")) {
                    a = m.ones(shape);
                } else if (name.endsWith(".gamma")) {
                    a = m.full(shape, 0.1f);
                } else if (name.endsWith(".bias")) {
                    a = m.zeros(shape);
                } else {
                    a = m.create(normal(rng, shape.size(), 0.02, 0.04), shape);
                }
                a.setName(name);
                params.put(name, a);
            }
            foldAttentionScale(c, params);
            // random Cropr queries too, so every reducer can be timed on a preset
            Map<String, NDArray> extras = new LinkedHashMap<>();
            for (String name : Cropr.queryNames(c)) {
                extras.put(name, m.create(normal(rng, c.width(), 1.0, Double.POSITIVE_INFINITY),
                        new Shape(1, 1, c.width())));
            }
            return new VisionTransformer(c, m, params, extras, BlockKernels.ONEDNN_DEFAULT);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    static long[] expectedShape(VitConfig c, String name) {
        long d = c.width();
        int p = c.patchSize();
        long posTokens = c.noEmbedClass() ? c.numPatches() : c.tokens();
        switch (name) {
            case "patch_embed.proj.weight":
                return new long[] {d, 3, p, p};
            case "cls_token":
            case "dist_token":
                return new long[] {1, 1, d};
            case "pos_embed":
                return new long[] {1, posTokens, d};
            case "head.weight":
            case "head_dist.weight":
                return new long[] {c.numClasses(), d};
            case "head.bias":
            case "head_dist.bias":
                return new long[] {c.numClasses()};
            default:
                break;
        }
        if (name.endsWith("attn.qkv.weight")) {
            return new long[] {3 * d, d};
        }
        if (name.endsWith("attn.qkv.bias")) {
            return new long[] {3 * d};
        }
        if (name.endsWith("mlp.fc1.weight")) {
            return new long[] {c.mlpHidden(), d};
        }
        if (name.endsWith("mlp.fc1.bias")) {
            return new long[] {c.mlpHidden()};
        }
        if (name.endsWith("mlp.fc2.weight")) {
            return new long[] {d, c.mlpHidden()};
        }
        if (name.endsWith("attn.proj.weight")) {
            return new long[] {d, d};
        }
        return new long[] {d}; // norms, biases of width D, LayerScale gammas
    }

    /** Multiplies the query rows of qkv (weight and bias) by head_dim^-0.5. */
    private static void foldAttentionScale(VitConfig c, Map<String, NDArray> params) {
        float scale = (float) Math.pow(c.headDim(), -0.5);
        long d = c.width();
        for (int i = 0; i < c.depth(); i++) {
            String b = "blocks." + i + ".attn.qkv.";
            NDArray w = params.get(b + "weight");
            NDArray q = w.get(new NDIndex(":{}", d)).mul(scale);
            w.set(new NDIndex(":{}", d), q);
            q.close();
            NDArray bias = params.get(b + "bias");
            if (bias != null) {
                NDArray qb = bias.get(new NDIndex(":{}", d)).mul(scale);
                bias.set(new NDIndex(":{}", d), qb);
                qb.close();
            }
        }
    }

    @Override
    public VitConfig config() {
        return cfg;
    }

    /** The manager holding the weights. */
    public NDManager manager() {
        return manager;
    }

    /**
     * Parameters by timm name. Note that the query rows of each {@code attn.qkv} are stored pre-multiplied
     * by the attention scale; {@link #exportTensors()} undoes this. Inference reads copies of some of them (the
     * blocks' linear weights in oneDNN's blocked layout, or in bf16 or int8): after changing them in place outside
     * training, call {@link #refreshCaches()}.
     */
    public Map<String, NDArray> parameters() {
        return params;
    }

    /** The weights in timm layout (attention scale taken back out of qkv), ready to save. */
    public Map<String, FloatTensor> exportTensors() {
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        float inv = (float) Math.pow(cfg.headDim(), 0.5);
        int d = cfg.width();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            float[] v = e.getValue().toFloatArray();
            String n = e.getKey();
            if (n.endsWith("attn.qkv.weight")) {
                for (int i = 0; i < d * d; i++) {
                    v[i] *= inv;
                }
            } else if (n.endsWith("attn.qkv.bias")) {
                for (int i = 0; i < d; i++) {
                    v[i] *= inv;
                }
            }
            out.put(n, new FloatTensor(e.getValue().getShape().getShape(), v));
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------- forward

    /** Logits [B, classes] (or pooled features [B, D] for a model without head) for images [B,3,H,W]. */
    public FloatTensor forward(FloatTensor images) {
        return forward(images, Reducers.NONE, null);
    }

    /** Logits with a token reducer; {@code trace} (may be null) records what it did, image by image. */
    public FloatTensor forward(FloatTensor images, TokenReducer reducer, Trace trace) {
        checkInput(images.shape(), "input");
        try (NDManager m = manager.newSubManager()) {
            Torch.inference();
            NDArray x = m.create(images.data(), new Shape(images.shape()));
            NDArray out = forward(x, reducer, trace);
            return new FloatTensor(out.getShape().getShape(), out.toFloatArray());
        }
    }

    /** Forward for arrays the caller manages. Results belong to the input's manager. */
    public NDArray forward(NDArray images) {
        return forward(images, Reducers.NONE, null);
    }

    /** Forward with a token reducer, for arrays the caller manages. */
    public NDArray forward(NDArray images, TokenReducer reducer, Trace trace) {
        checkInput(images.getShape().getShape(), "input");
        if (trace != null) {
            trace.startBatch();
        }
        boolean inference = !ai.djl.pytorch.jni.JniUtils.isGradMode();
        long b = images.getShape().get(0);
        int chunk = microBatch(images.getShape().get(2) / cfg.patchSize() * (images.getShape().get(3) / cfg.patchSize()));
        if (inference && b > chunk) {
            // Large batches run as cache-sized micro-batches: the activations of a whole batch of 32 spill out of
            // the caches and the memory-bound ops (softmax, GELU, LayerNorm) then dominate.
            NDList parts = new NDList();
            for (long s = 0; s < b; s += chunk) {
                NDArray part = images.get(new NDIndex("{}:{}", s, Math.min(b, s + chunk)));
                parts.add(forwardWhole(part, true, reducer, trace, (int) s));
            }
            return NDArrays.concat(parts, 0);
        }
        return forwardWhole(images, inference, reducer, trace, 0);
    }

    private NDArray forwardWhole(NDArray images, boolean inPlace, TokenReducer reducer, Trace trace, int first) {
        return head(run(images, inPlace, reducer, trace, first, trace != null && trace.withSource(), false));
    }

    /**
     * The tokens after the last block, before the final norm: the patch embedding and every block with the reducer's
     * steps (one forward, no micro-batches). The result carries each token's original position and the stash, so
     * {@link Tokens#patchGrid} puts the patch tokens back in original order for dense heads; with
     * {@code trackSources} merged tokens can go back too. Results belong to the input's manager.
     */
    public Tokens forwardTokens(NDArray images, TokenReducer reducer, Trace trace, boolean trackSources) {
        return forwardTokens(images, reducer, trace, trackSources, false);
    }

    /**
     * As {@link #forwardTokens(NDArray, TokenReducer, Trace, boolean)}; with {@code keepPruned} every token the
     * reducer prunes for good is kept at its last value for the grid ({@link Tokens#keepsPruned}), so every reducer
     * gives a complete {@link Tokens#patchGrid}.
     */
    public Tokens forwardTokens(NDArray images, TokenReducer reducer, Trace trace, boolean trackSources,
                                boolean keepPruned) {
        checkInput(images.getShape().getShape(), "input");
        if (trace != null) {
            trace.startBatch();
        }
        boolean inference = !ai.djl.pytorch.jni.JniUtils.isGradMode();
        return run(images, inference, reducer, trace, 0, trackSources || (trace != null && trace.withSource()),
                keepPruned);
    }

    private Tokens run(NDArray images, boolean inPlace, TokenReducer reducer, Trace trace, int first,
                       boolean trackSources, boolean keepPruned) {
        Tokens t = Tokens.initial(embed(images), cfg.prefixTokens(), trackSources);
        if (keepPruned) {
            t = t.keepingPruned();
        }
        TokenReducer.Pass pass = reducer.begin(this, t);
        for (int i = 0; i < blocks.length; i++) {
            if (i == blocks.length - 1) {
                t = pass.beforeLastBlock(t);
            }
            t = block(i, t, pass, inPlace);
            if (trace != null) {
                trace.record(first, i, t);
            }
        }
        return t;
    }

    /** The final LayerNorm ({@code norm}, or {@code fc_norm} of a pooled model) on tokens [..., D]. */
    public NDArray finalNorm(NDArray x) {
        return layerNorm(x, normW, normB);
    }

    /** Images per micro-batch: about {@value #MICRO_BATCH_BYTES} bytes of MLP activations. */
    int microBatch(long patches) {
        int forced = microBatchImages;
        if (forced > 0) {
            return forced;
        }
        long perImage = (patches + cfg.prefixTokens()) * (long) cfg.mlpHidden() * Float.BYTES;
        return (int) Math.max(1, MICRO_BATCH_BYTES / perImage);
    }

    private static final long MICRO_BATCH_BYTES = 10L << 20;

    /** Validates an input shape [B,3,H,W] against the model. */
    public void checkInput(long[] s, String what) {
        if (s.length != 4 || s[1] != 3) {
            throw new VitrimException(what + ": expected images [B,3,H,W], got shape " + java.util.Arrays.toString(s));
        }
        if (s[0] < 1) {
            throw new VitrimException(what + ": empty batch");
        }
        int p = cfg.patchSize();
        if (s[2] % p != 0 || s[3] % p != 0 || s[2] == 0 || s[3] == 0) {
            throw new VitrimException(what + ": image size " + s[2] + "x" + s[3] + " is not a positive multiple of the "
                    + "patch size " + p + " (the model expects " + cfg.imageSize() + "x" + cfg.imageSize() + ")");
        }
    }

    /** Patch embedding, prefix tokens and position embedding: [B,3,H,W] -&gt; [B, prefix + N, D]. */
    public NDArray embed(NDArray images) {
        Shape s = images.getShape();
        long b = s.get(0);
        int p = cfg.patchSize();
        int gh = (int) (s.get(2) / p);
        int gw = (int) (s.get(3) / p);
        int d = cfg.width();
        NDArray patches = images.reshape(b, 3, gh, p, gw, p).transpose(0, 2, 4, 1, 3, 5)
                .reshape(b, (long) gh * gw, 3L * p * p);
        if (ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            // the cached patchW is a view taken before the weights required gradients: autograd does not see it
            NDArray w = params.get("patch_embed.proj.weight").reshape(d, 3L * p * p);
            w.attach(images.getManager());
            return embedTrainable(linear(patches, w, patchB), gh, gw);
        }
        NDArray x = linear(patches, patchW, patchB);
        x = x.add(posEmbed(gh, gw));
        if (prefixWithPos != null) {
            // a view of the model's own array: re-home it so it is freed with this forward
            NDArray pre = prefixWithPos.broadcast(b, cfg.prefixTokens(), d);
            pre.attach(images.getManager());
            x = pre.concat(x, 1);
        }
        return x;
    }

    /** Training: the same embedding computed from the parameters themselves, so gradients reach them. */
    private NDArray embedTrainable(NDArray x, int gh, int gw) {
        if (gh != cfg.gridH() || gw != cfg.gridW()) {
            throw new VitrimException("training needs the checkpoint's own grid " + cfg.gridH() + "x" + cfg.gridW()
                    + ", got " + gh + "x" + gw);
        }
        long b = x.getShape().get(0);
        NDManager m = x.getManager(); // every temporary is re-homed there: none may pile up in the model's manager
        int pre = cfg.noEmbedClass() ? 0 : cfg.prefixTokens();
        NDArray pos = params.get("pos_embed");
        NDArray posPatches = pos.get(new NDIndex(":, {}:, :", pre));
        posPatches.attach(m);
        x = x.add(posPatches);
        if (cfg.prefixTokens() == 0) {
            return x;
        }
        NDArray prefix = params.get("cls_token");
        if (cfg.distilled()) {
            prefix = prefix.concat(params.get("dist_token"), 1);
            prefix.attach(m);
        }
        if (pre > 0) {
            NDArray posPrefix = pos.get(new NDIndex(":, :{}, :", pre));
            posPrefix.attach(m);
            prefix = prefix.add(posPrefix);
            prefix.attach(m);
        }
        NDArray expanded = prefix.broadcast(b, cfg.prefixTokens(), cfg.width());
        expanded.attach(x.getManager());
        return expanded.concat(x, 1);
    }

    /** The patch part of the position embedding for a grid, resampled bicubically when it differs. */
    private NDArray posEmbed(int gh, int gw) {
        return posEmbedByGrid.computeIfAbsent(gridKey(gh, gw), k -> {
            float[] r = PosEmbed.resampleBicubic(posPatches, cfg.gridH(), cfg.gridW(), gh, gw, cfg.width());
            return manager.create(r, new Shape(1, (long) gh * gw, cfg.width()));
        });
    }

    private static long gridKey(int gh, int gw) {
        return ((long) gh << 32) | gw;
    }

    /** One pre-norm transformer block, with the reducer's hooks between attention and MLP and after the MLP. */
    public Tokens block(int i, Tokens t, TokenReducer.Pass pass, boolean inPlace) {
        BlockWeights w = blocks[i];
        boolean prop = t.sizes != null && pass.proportionalAttention(i);
        boolean cls = pass.needsClsAttention(i);
        boolean keys = pass.needsMeanKeys(i);
        boolean sim = pass.needsKeySimilarity(i);
        NDArray[] view = new NDArray[3];
        NDArray x;
        if (eager && precision.chosen() != Precision.FP32 && !ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            throw new VitrimException("the eager blocks (-Dvitrim.kernels=eager) run fp32 only, but this model runs "
                    + precision.chosen().label() + ": use precision fp32");
        }
        if (eager) {
            NDArray bias = t.keyMask;
            if (prop) {
                NDArray logSize = t.logSizeBias();
                bias = bias == null ? logSize : bias.add(logSize);
            }
            NDArray a = attention(w, layerNorm(t.x, w.norm1W, w.norm1B), bias, cls, keys || sim, view, inPlace);
            if (sim) {
                view[2] = keySimilarity(view[1]);
            }
            if (w.ls1 != null) {
                a = inPlace ? a.muli(w.ls1) : a.mul(w.ls1);
            }
            x = inPlace ? t.x.addi(a) : t.x.add(a);
        } else {
            x = kernels.attention(i, t.x, t.keyMask, prop ? t.logSizes() : null, cls, keys, sim, inPlace, view);
        }
        t = t.withX(x);
        AttentionView seen = cls || keys || sim ? new AttentionView(view[0], keys ? view[1] : null, view[2])
                : AttentionView.NONE;
        dev.vitrim.reduce.RowMerge merge = pass.mergeBeforeMlp(i, t, seen);
        if (merge != null && !eager) { // the merge and the MLP in one call
            return pass.afterBlock(i, merge.merged(t, kernels.mlp(i, t.x, inPlace, merge)));
        }
        t = merge != null ? merge.apply(t) : pass.afterAttention(i, t, seen);
        x = t.x;
        if (eager) {
            NDArray h = ai.djl.nn.Activation.gelu(linear(layerNorm(x, w.norm2W, w.norm2B), w.fc1W, w.fc1B));
            NDArray m = linear(h, w.fc2W, w.fc2B);
            if (w.ls2 != null) {
                m = inPlace ? m.muli(w.ls2) : m.mul(w.ls2);
            }
            x = inPlace ? x.addi(m) : x.add(m);
        } else {
            x = kernels.mlp(i, x, inPlace, null);
        }
        return pass.afterBlock(i, t.withX(x));
    }

    /**
     * Multi-head self-attention, composed of DJL operators (the reference for {@link BlockKernels}). {@code bias}
     * [B,1,1,N] is added to the logits of each key (proportional attention, padding masks); {@code view[0]} receives
     * the CLS row averaged over heads and {@code view[1]} the keys averaged over heads when asked for.
     */
    private NDArray attention(BlockWeights w, NDArray x, NDArray bias, boolean wantCls, boolean wantKeys,
                              NDArray[] view, boolean inPlace) {
        Shape s = x.getShape();
        long b = s.get(0);
        long n = s.get(1);
        int h = cfg.heads();
        int hd = cfg.headDim();
        NDArray qkv = linear(x, w.qkvW, w.qkvB).reshape(b, n, 3, h, hd).transpose(2, 0, 3, 1, 4);
        NDArray q = qkv.get(0);
        NDArray k = qkv.get(1);
        NDArray v = qkv.get(2);
        NDArray logits = q.matMul(k.transpose(0, 1, 3, 2));
        if (bias != null) {
            logits = inPlace ? logits.addi(bias) : logits.add(bias);
        }
        NDArray attn = logits.softmax(-1);
        if (wantCls) {
            view[0] = attn.get(new NDIndex(":, :, 0, :")).mean(new int[] {1});
        }
        if (wantKeys) {
            view[1] = k.mean(new int[] {1});
        }
        NDArray o = attn.matMul(v).transpose(0, 2, 1, 3).reshape(b, n, cfg.width());
        return linear(o, w.projW, w.projB);
    }

    /** Cosine similarity of the even to the odd tokens of {@code meanKeys} [B,N,K] (ToMe's A·Bᵀ), plain operators. */
    private static NDArray keySimilarity(NDArray meanKeys) {
        NDArray m = meanKeys.div(meanKeys.norm(new int[] {2}, true));
        return m.get(new NDIndex(":, ::2, :")).matMul(m.get(new NDIndex(":, 1::2, :")).transpose(0, 2, 1));
    }

    /** Final norm, pooling and classifier. Padded tokens (per-image counts) are left out of the mean. */
    public NDArray head(Tokens t) {
        NDArray x = t.x;
        if (cfg.globalPool().equals("avg")) {
            NDArray tokens = cfg.fcNorm() ? x : layerNorm(x, normW, normB);
            NDArray patches = tokens.get(new NDIndex(":, {}:, :", cfg.prefixTokens()));
            NDArray pooled;
            if (t.keyMask != null) {
                NDArray keep = t.keyMask.get(new NDIndex(":, 0, 0, {}:", cfg.prefixTokens())).exp().expandDims(2);
                pooled = patches.mul(keep).sum(new int[] {1}).div(keep.sum(new int[] {1}));
            } else {
                pooled = patches.mean(new int[] {1});
            }
            NDArray feats = cfg.fcNorm() ? layerNorm(pooled, normW, normB) : pooled;
            return headW == null ? feats : linear(feats, headW, headB);
        }
        NDArray normed = layerNorm(x.get(new NDIndex(":, :{}, :", cfg.prefixTokens())), normW, normB);
        NDArray cls = normed.get(new NDIndex(":, 0, :"));
        if (headW == null) {
            return cls;
        }
        NDArray logits = linear(cls, headW, headB);
        if (cfg.distilled()) {
            NDArray dist = linear(normed.get(new NDIndex(":, 1, :")), headDistW, headDistB);
            logits = logits.add(dist).mul(Torch.scalar(logits.getManager(), 0.5f));
        }
        return logits;
    }

    NDArray layerNorm(NDArray x, NDArray gamma, NDArray beta) {
        return x.getNDArrayInternal().layerNorm(x, normShape, gamma, beta, (float) cfg.eps()).singletonOrThrow();
    }

    static NDArray linear(NDArray x, NDArray w, NDArray b) {
        return x.getNDArrayInternal().linear(x, w, b).singletonOrThrow();
    }

    @Override
    public void close() {
        kernels.close();
        manager.close();
    }

    /** Per-block weight handles. */
    static final class BlockWeights {
        final NDArray norm1W, norm1B, qkvW, qkvB, projW, projB, norm2W, norm2B, fc1W, fc1B, fc2W, fc2B, ls1, ls2;

        BlockWeights(Map<String, NDArray> p, String b, VitConfig c) {
            norm1W = p.get(b + "norm1.weight");
            norm1B = p.get(b + "norm1.bias");
            qkvW = p.get(b + "attn.qkv.weight");
            qkvB = p.get(b + "attn.qkv.bias");
            projW = p.get(b + "attn.proj.weight");
            projB = p.get(b + "attn.proj.bias");
            norm2W = p.get(b + "norm2.weight");
            norm2B = p.get(b + "norm2.bias");
            fc1W = p.get(b + "mlp.fc1.weight");
            fc1B = p.get(b + "mlp.fc1.bias");
            fc2W = p.get(b + "mlp.fc2.weight");
            fc2B = p.get(b + "mlp.fc2.bias");
            ls1 = p.get(b + "ls1.gamma");
            ls2 = p.get(b + "ls2.gamma");
        }
    }
}
