package dev.vitrim.onnx;

import ai.djl.ndarray.NDArray;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.onnx.proto.Onnx.ModelProto;
import dev.vitrim.onnx.proto.Onnx.OperatorSetIdProto;
import dev.vitrim.onnx.proto.Onnx.StringStringEntryProto;
import dev.vitrim.reduce.TokenReducer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a model's forward pass — patch embedding, position embedding, prefix tokens, the blocks with the token
 * reducer's steps, final norm and head — as an ONNX graph with the weights inside. Reducers with fixed token counts
 * become graph operators ({@code TopK}, {@code GatherElements}, one-hot {@code MatMul}s; see {@link ReducerSteps});
 * per-image counts ({@code attn} with {@code mass}) are refused. The graph reproduces vitrim's forward: the same
 * arithmetic (the attention scale folded into the query weights, the patch projection as one matrix product, exact
 * GELU) and the same token choices, so ONNX Runtime on it gives vitrim's logits.
 *
 * <p>Input {@value #INPUT}: float32 [B,3,H,W] at the model's image size ({@code B} symbolic or fixed). Output
 * {@value #OUTPUT}: float32 [B,classes] (pooled features [B,width] for a model without head); with
 * {@link Options#positions} also {@code positions.<block>}: int64 [B,tokens], each token's original position after
 * that block (CLS 0, patches 1..N, -1 for EViT's fused token, a merged token its representative's), as
 * {@code reduce.Trace} records them.
 */
public final class OnnxExport {
    /** The graph's input: float32 images [B,3,H,W]. */
    public static final String INPUT = "images";
    /** The graph's main output: float32 logits [B,classes]. */
    public static final String OUTPUT = "logits";
    /** The output of a dense model's graph: float32 maps [B,channels,gh,gw] on the patch grid. */
    public static final String MAPS = "maps";
    /** Prefix of the per-block position outputs ({@link Options#positions}). */
    public static final String POSITIONS = "positions.";
    /** Opsets the export writes. */
    public static final int MIN_OPSET = 17;
    public static final int MAX_OPSET = 21;

    private OnnxExport() {}

    /**
     * @param opset     the ONNX operator set, {@value #MIN_OPSET}..{@value #MAX_OPSET}
     * @param batch     a fixed batch size, or 0 for a symbolic one ({@code batch})
     * @param positions also output each block's token positions ({@code positions.<block>})
     */
    public record Options(int opset, int batch, boolean positions) {
        public Options {
            if (opset < MIN_OPSET || opset > MAX_OPSET) {
                throw new VitrimException("--opset " + opset + ": the export writes opsets " + MIN_OPSET + ".." + MAX_OPSET
                        + " (LayerNormalization needs 17)");
            }
            if (batch < 0) {
                throw new VitrimException("--batch " + batch + ": give a positive batch size or 'dynamic'");
            }
        }

        /** Opset 17, dynamic batch, logits only. */
        public static Options defaults() {
            return new Options(17, 0, false);
        }

        public Options withPositions(boolean on) {
            return new Options(opset, batch, on);
        }
    }

    /** The ONNX model of {@code vit} with {@code reducer}; throws {@code VitrimException} for what cannot export. */
    public static ModelProto build(VisionTransformer vit, TokenReducer reducer, Options o) {
        return new Writer(vit, null, reducer, o).model();
    }

    /**
     * The ONNX model of a dense model (segmentation, detection): the backbone with {@code reducer}, the tokens put back
     * on the patch grid in original order (Last Layer Fusion's stash by sorting the positions, ToMe's merged tokens
     * copied to every patch they hold), the final norm and the per-token decoder; output {@value #MAPS} [B,C,gh,gw],
     * what {@code DenseModel.maps} gives. Reducers that drop patches for good are refused.
     */
    public static ModelProto buildDense(dev.vitrim.dense.DenseModel dense, TokenReducer reducer, Options o) {
        return new Writer(dense.backbone(), dense, reducer, o).model();
    }

    /** The serialised model, ready for ONNX Runtime. */
    public static byte[] bytes(VisionTransformer vit, TokenReducer reducer, Options o) {
        return build(vit, reducer, o).toByteArray();
    }

    /** Writes the model to {@code file}. */
    public static void write(VisionTransformer vit, TokenReducer reducer, Options o, Path file) {
        write(build(vit, reducer, o), file);
    }

    /** Writes a built model to {@code file}. */
    public static void write(ModelProto m, Path file) {
        try (OutputStream out = Files.newOutputStream(file)) {
            m.writeTo(out);
        } catch (IOException e) {
            throw new VitrimException(file + ": cannot write the ONNX model (" + e.getMessage() + ")");
        }
    }

    /** IR version of an opset (the oldest IR that carries it, which ONNX Runtime reads). */
    static int irVersion(int opset) {
        return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
    }

    /** Metadata keys the export writes (read back by {@link OnnxModel}). */
    static final String META_SPEC = "vitrim.reduce";
    static final String META_CONFIG = "vitrim.config";
    static final String META_PREPROCESS = "vitrim.preprocess";
    static final String META_LABELS = "vitrim.labels";
    static final String META_DENSE = "vitrim.dense.channels";

    /** One export. */
    static final class Writer {
        final VisionTransformer vit;
        final VitConfig c;
        final TokenReducer reducer;
        final Options o;
        final Graph g;
        final Map<String, NDArray> params;
        final int d;
        final int prefix;
        final dev.vitrim.dense.DenseModel dense; // null: classification
        String batchShape; // [B], 1-D int64
        /** A step dropped patches without stashing them: no dense output. */
        boolean dropped;

        Writer(VisionTransformer vit, dev.vitrim.dense.DenseModel dense, TokenReducer reducer, Options o) {
            this.vit = vit;
            this.dense = dense;
            this.c = vit.config();
            this.reducer = reducer;
            this.o = o;
            this.g = new Graph(o.opset(), "vitrim");
            this.params = vit.parameters();
            this.d = c.width();
            this.prefix = c.prefixTokens();
        }

        ModelProto model() {
            reducer.validate(c);
            List<ReducerSteps.Step> steps = ReducerSteps.of(reducer, this);
            Object batch = o.batch() > 0 ? (Object) o.batch() : "batch";
            int size = c.imageSize();
            g.input(INPUT, Graph.FLOAT, batch, 3, c.gridH() * c.patchSize(), c.gridW() * c.patchSize());
            batchShape = g.shapeOf(INPUT, 0, 1);
            State t = embed();
            if (dense != null && reducer.merges()) {
                for (String part : reducer.spec().split("\\+")) {
                    if (!part.startsWith("tome")) {
                        throw new VitrimException("--reduce '" + reducer.spec() + "': a dense export with merging takes "
                                + "tome alone, not chained with '" + part + "'");
                    }
                }
                long[] ids = new long[c.tokens()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = i;
                }
                t = t.withOwner(g.expand(g.constLongs(ids, 1, ids.length), batchAnd(1)));
            }
            boolean prop = steps.stream().anyMatch(ReducerSteps.Step::proportionalAttention);
            for (int i = 0; i < c.depth(); i++) {
                if (i == c.depth() - 1) {
                    for (ReducerSteps.Step s : steps) {
                        t = s.beforeLastBlock(t);
                    }
                }
                String b = "blocks." + i + ".";
                View view = new View();
                t = t.withX(attention(b, t, prop && t.sizes() != null, view));
                view.of = t;
                for (ReducerSteps.Step s : steps) {
                    t = s.afterAttention(i, t, view);
                }
                t = t.withX(mlp(b, t.x()));
                for (ReducerSteps.Step s : steps) {
                    t = s.afterBlock(i, t);
                }
                if (o.positions()) {
                    String name = POSITIONS + i;
                    g.named("Identity", name, List.of(t.pos()));
                    g.output(name, Graph.INT64, batch, t.n());
                }
            }
            if (dense != null) {
                denseHead(t, batch);
            } else {
                head(t, batch);
            }
            ModelProto.Builder m = ModelProto.newBuilder().setIrVersion(irVersion(o.opset()))
                    .setProducerName("vitrim").setProducerVersion(version())
                    .setDocString(c.name() + " (" + c.networkShape() + "), reduce " + reducer.spec() + ", image "
                            + size + "x" + size)
                    .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(o.opset()))
                    .setGraph(g.g);
            meta(m, META_SPEC, reducer.spec());
            meta(m, META_CONFIG, c.name() + ";" + c.networkShape());
            var pp = c.preprocess();
            meta(m, META_PREPROCESS, String.format(Locale.ROOT, "size=%d;crop_pct=%s;mean=%s,%s,%s;std=%s,%s,%s;interpolation=%s",
                    pp.size(), pp.cropPct(), pp.mean()[0], pp.mean()[1], pp.mean()[2], pp.std()[0], pp.std()[1],
                    pp.std()[2], pp.interpolation().name()));
            List<String> labels = dense != null ? dense.classes() : c.labels();
            if (!labels.isEmpty()) {
                meta(m, META_LABELS, String.join("\n", labels));
            }
            if (dense != null) {
                meta(m, META_DENSE, Integer.toString(dense.channels()));
            }
            return m.build();
        }

        private static void meta(ModelProto.Builder m, String k, String v) {
            m.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v));
        }

        private static String version() {
            String v = OnnxExport.class.getPackage().getImplementationVersion();
            return v == null ? "dev" : v;
        }

        // -------------------------------------------------------------------------------- weights

        float[] floats(String name) {
            NDArray a = params.get(name);
            if (a == null) {
                throw new VitrimException("the model has no tensor '" + name + "'");
            }
            return a.toFloatArray();
        }

        /** Initializers written so far, by name: a weight used twice is stored once. */
        private final Map<String, String> written = new java.util.HashMap<>();

        /** A linear layer's weight [out,in] as the [in,out] initializer MatMul takes. */
        String weightT(String name) {
            String done = written.get(name + ".T");
            if (done != null) {
                return done;
            }
            NDArray a = params.get(name);
            long[] s = a.getShape().getShape();
            int out = (int) s[0];
            int in = (int) s[1];
            float[] w = a.toFloatArray();
            float[] t = new float[w.length];
            for (int r = 0; r < out; r++) {
                for (int k = 0; k < in; k++) {
                    t[k * out + r] = w[r * in + k];
                }
            }
            written.put(name + ".T", name + ".T");
            return g.init(name + ".T", t, in, out);
        }

        String vector(String name) {
            String done = written.get(name);
            if (done != null) {
                return done;
            }
            float[] v = floats(name);
            written.put(name, name);
            return g.init(name, v, v.length);
        }

        /** x·Wᵀ + b for the layer {@code name} (bias optional). */
        String linear(String x, String name) {
            String y = g.matMul(x, weightT(name + ".weight"));
            return params.containsKey(name + ".bias") ? g.add(y, vector(name + ".bias")) : y;
        }

        String norm(String x, String name) {
            return g.layerNorm(x, vector(name + ".weight"), vector(name + ".bias"), c.eps());
        }

        // -------------------------------------------------------------------------------- forward

        private State embed() {
            int p = c.patchSize();
            int gh = c.gridH();
            int gw = c.gridW();
            String x = g.reshape(INPUT, 0, 3, gh, p, gw, p);
            x = g.transpose(x, 0, 2, 4, 1, 3, 5);
            x = g.reshape(x, 0, (long) gh * gw, 3L * p * p);
            float[] pw = floats("patch_embed.proj.weight"); // [D, 3, p, p] = [D, 3pp]
            int k = 3 * p * p;
            float[] t = new float[pw.length];
            for (int r = 0; r < d; r++) {
                for (int j = 0; j < k; j++) {
                    t[j * d + r] = pw[r * k + j];
                }
            }
            x = g.add(g.matMul(x, g.init("patch_embed.proj.weight.T", t, k, d)), vector("patch_embed.proj.bias"));
            float[] pos = floats("pos_embed");
            int pre = c.noEmbedClass() ? 0 : prefix;
            int m = c.numPatches();
            float[] posPatches = java.util.Arrays.copyOfRange(pos, pre * d, (pre + m) * d);
            x = g.add(x, g.init("pos_embed.patches", posPatches, 1, m, d));
            if (prefix > 0) {
                float[] tok = new float[prefix * d];
                System.arraycopy(floats("cls_token"), 0, tok, 0, d);
                if (c.distilled()) {
                    System.arraycopy(floats("dist_token"), 0, tok, d, d);
                }
                if (pre > 0) {
                    for (int i = 0; i < prefix * d; i++) {
                        tok[i] += pos[i];
                    }
                }
                String pt = g.init("prefix_tokens", tok, 1, prefix, d);
                x = g.concat(1, g.expand(pt, g.concat(0, batchShape, g.ints(1, 1))), x);
            }
            int n = prefix + m;
            long[] ar = new long[n];
            for (int i = 0; i < n; i++) {
                ar[i] = i;
            }
            String positions = g.expand(g.initLongs("positions.initial", ar, 1, n), g.concat(0, batchShape, g.ints(1)));
            return new State(x, null, positions, n, List.of());
        }

        /** The attention half of a block: x + attention(norm1(x)); the view's tensors are recorded for reducers. */
        private String attention(String b, State t, boolean prop, View view) {
            String h = norm(t.x(), b + "norm1");
            String qkv = linear(h, b + "attn.qkv"); // query rows pre-scaled: no scale below
            int heads = c.heads();
            int hd = c.headDim();
            String q = g.transpose(g.reshape(g.slice(qkv, 2, 0, d), 0, 0, heads, hd), 0, 2, 1, 3);
            String k4 = g.reshape(g.slice(qkv, 2, d, 2L * d), 0, 0, heads, hd); // [B,N,H,hd]
            String kt = g.transpose(k4, 0, 2, 3, 1);
            String v = g.transpose(g.reshape(g.slice(qkv, 2, 2L * d, 3L * d), 0, 0, heads, hd), 0, 2, 1, 3);
            String logits = g.matMul(q, kt); // [B,H,N,N]
            if (prop) { // proportional attention: log(size) on the logits of every key
                logits = g.add(logits, g.unsqueeze(g.log(t.sizes()), 1, 2));
            }
            String attn = g.softmax(logits, -1);
            view.attn = attn;
            view.keys = k4;
            String out = g.reshape(g.transpose(g.matMul(attn, v), 0, 2, 1, 3), 0, 0, d);
            String a = linear(out, b + "attn.proj");
            if (c.layerScale()) {
                a = g.mul(a, vector(b + "ls1.gamma"));
            }
            return g.add(t.x(), a);
        }

        private String mlp(String b, String x) {
            String h = norm(x, b + "norm2");
            h = linear(g.gelu(linear(h, b + "mlp.fc1")), b + "mlp.fc2");
            if (c.layerScale()) {
                h = g.mul(h, vector(b + "ls2.gamma"));
            }
            return g.add(x, h);
        }

        private void head(State t, Object batch) {
            String x = t.x();
            String normName = c.fcNorm() ? "fc_norm" : "norm";
            String feats;
            String normed = null; // the prefix tokens normed (token pooling)
            if (c.globalPool().equals("avg")) {
                String tokens = c.fcNorm() ? x : norm(x, normName);
                String pooled = g.reduceMean(g.slice(tokens, 1, prefix, t.n()), false, 1);
                feats = c.fcNorm() ? norm(pooled, normName) : pooled;
            } else {
                normed = norm(g.slice(x, 1, 0, prefix), normName);
                feats = g.pick(normed, 1, 0);
            }
            boolean hasHead = params.containsKey("head.weight");
            String out;
            if (!hasHead) {
                out = feats;
            } else if (c.distilled() && c.globalPool().equals("token")) {
                String dist = linear(g.pick(normed, 1, 1), "head_dist");
                out = g.mul(g.add(linear(feats, "head"), dist), g.scalar(0.5f));
            } else {
                out = linear(feats, "head");
            }
            g.named("Identity", OUTPUT, List.of(out));
            g.output(OUTPUT, Graph.FLOAT, batch, hasHead ? c.numClasses() : d);
        }

        /** The patch tokens back on the grid in original order, normed, decoded per token: maps [B,C,gh,gw]. */
        private void denseHead(State t, Object batch) {
            int n0 = c.tokens();
            if (dropped) {
                throw new VitrimException("reducer '" + reducer.spec() + "' drops patches for good, but dense outputs need "
                        + "every patch: use a schedule with Last Layer Fusion (llf=true, e.g. cropr:R=8,llf=true or "
                        + "random:R=8,llf=true), or tome (merged tokens are copied back to their patches)");
            }
            String rows;
            if (t.owner() != null) {
                rows = g.slice(t.owner(), 1, prefix, n0);
            } else if (t.n() == n0) {
                rows = g.slice(g.topK(g.cast(t.pos(), Graph.FLOAT), n0, false)[1], 1, prefix, n0); // by position
            } else {
                throw new VitrimException("reducer '" + reducer.spec() + "': " + t.n() + " tokens reach the dense head, "
                        + "the grid needs " + n0);
            }
            String patches = reducer.spec().equals("none") ? g.slice(t.x(), 1, prefix, n0)
                    : g.gatherElements(t.x(), g.expand(g.unsqueeze(rows, 2), g.ints(1, 1, d)), 1);
            String grid = norm(patches, c.fcNorm() ? "fc_norm" : "norm");
            Map<String, NDArray> dec = dense.decoderParameters();
            NDArray wArr = dec.get(dev.vitrim.dense.DenseModel.WEIGHT);
            int ch = dense.channels();
            float[] wv = wArr.toFloatArray();
            float[] wt = new float[wv.length];
            for (int r = 0; r < ch; r++) {
                for (int k = 0; k < d; k++) {
                    wt[k * ch + r] = wv[r * d + k];
                }
            }
            String out = g.add(g.matMul(grid, g.init("decoder.weight.T", wt, d, ch)),
                    g.init("decoder.bias", dec.get(dev.vitrim.dense.DenseModel.BIAS).toFloatArray(), ch));
            out = g.reshape(g.transpose(out, 0, 2, 1), 0, ch, c.gridH(), c.gridW());
            g.named("Identity", MAPS, List.of(out));
            g.output(MAPS, Graph.FLOAT, batch, ch, c.gridH(), c.gridW());
        }

        // -------------------------------------------------------------------------------- token bookkeeping

        /** 1-D int64 [B, dims...]. */
        String batchAnd(long... dims) {
            return g.concat(0, batchShape, g.ints(dims));
        }

        /** The prefix tokens plus the patches at {@code idx} [B,k] (indices among the patches), in that order. */
        State keep(State t, String idx, int k) {
            return new State(rows(t.x(), idx, t.n(), true), t.sizes() == null ? null : rows(t.sizes(), idx, t.n(), false),
                    rows(t.pos(), idx, t.n(), false), prefix + k, t.stash());
        }

        /** Prefix rows of {@code a} [B,n(,D)] followed by its patch rows at {@code idx} [B,k]. */
        String rows(String a, String idx, int n, boolean wide) {
            String patches = g.slice(a, 1, prefix, n);
            String index = wide ? g.expand(g.unsqueeze(idx, 2), g.ints(1, 1, d)) : idx;
            String picked = g.gatherElements(patches, index, 1);
            return prefix == 0 ? picked : g.concat(1, g.slice(a, 1, 0, prefix), picked);
        }

        /** The patch rows of {@code t} at {@code idx} [B,k], as a stash entry. */
        State.Stashed patchRows(State t, String idx, int k) {
            String x = g.gatherElements(g.slice(t.x(), 1, prefix, t.n()), g.expand(g.unsqueeze(idx, 2), g.ints(1, 1, d)), 1);
            String s = t.sizes() == null ? null : g.gatherElements(g.slice(t.sizes(), 1, prefix, t.n()), idx, 1);
            String p = g.gatherElements(g.slice(t.pos(), 1, prefix, t.n()), idx, 1);
            return new State.Stashed(x, s, p, k);
        }

        /** Tokens at fixed rows {@code rows} (the same for every image, prefix included). */
        State fixedRows(State t, long[] rows) {
            String idx = g.constLongs(rows, rows.length);
            return new State(g.gather(t.x(), idx, 1), t.sizes() == null ? null : g.gather(t.sizes(), idx, 1),
                    g.gather(t.pos(), idx, 1), rows.length, t.stash());
        }

        State.Stashed fixedStash(State t, long[] rows) {
            String idx = g.constLongs(rows, rows.length);
            return new State.Stashed(g.gather(t.x(), idx, 1), t.sizes() == null ? null : g.gather(t.sizes(), idx, 1),
                    g.gather(t.pos(), idx, 1), rows.length);
        }

        /** Last Layer Fusion: the stash joins the kept tokens again, after them. */
        State rejoin(State t) {
            if (t.stash().isEmpty()) {
                return t;
            }
            List<String> xs = new ArrayList<>(List.of(t.x()));
            List<String> ps = new ArrayList<>(List.of(t.pos()));
            boolean anySizes = t.sizes() != null;
            int total = t.n();
            for (State.Stashed s : t.stash()) {
                xs.add(s.x());
                ps.add(s.pos());
                anySizes |= s.sizes() != null;
                total += s.count();
            }
            String sizes = null;
            if (anySizes) {
                List<String> ss = new ArrayList<>();
                ss.add(t.sizes() != null ? t.sizes() : g.filled(batchAnd(t.n()), 1f));
                for (State.Stashed s : t.stash()) {
                    ss.add(s.sizes() != null ? s.sizes() : g.filled(batchAnd(s.count()), 1f));
                }
                sizes = g.concat(1, ss.toArray(new String[0]));
            }
            return new State(g.concat(1, xs.toArray(new String[0])), sizes, g.concat(1, ps.toArray(new String[0])),
                    total, List.of());
        }

        /** 0, 1, …, n−1 as an int64 constant [n]. */
        String arange(int n) {
            long[] v = new long[n];
            for (int i = 0; i < n; i++) {
                v[i] = i;
            }
            return g.constLongs(v, n);
        }

        /** 1 where position j of [0, n) is among {@code idx} [B,k], else 0: [B,n] float, via a one-hot. */
        String membership(String idx, int n) {
            String hot = g.cast(g.equal(g.unsqueeze(idx, 2), arange(n)), Graph.FLOAT); // [B,k,n]
            return g.reduceMax(hot, false, 1);
        }
    }

    /**
     * What a block's attention offers the reducers, computed only when asked for: the CLS row averaged over heads and
     * ToMe's similarity of the keys. Valid for the tokens it was computed on only.
     */
    static final class View {
        String attn; // [B,H,N,N] probabilities
        String keys; // [B,N,H,hd]
        State of;
        private String cls;
        private String sim;

        /** The CLS token's attention averaged over heads, [B,N]. */
        String cls(Writer w, State t, int block) {
            check(t, block);
            if (cls == null) {
                cls = w.g.reduceMean(w.g.pick(attn, 2, 0), false, 1);
            }
            return cls;
        }

        /** Cosine similarity of the even tokens' keys (summed over heads) to the odd ones', [B,⌈N/2⌉,⌊N/2⌋]. */
        String similarity(Writer w, State t, int block) {
            check(t, block);
            if (sim == null) {
                Graph g = w.g;
                String mk = g.reduceSum(keys, false, 2); // [B,N,hd]
                String mn = g.div(mk, g.reduceL2(mk, true, -1));
                String a = g.slice(mn, 1, 0, t.n(), 2);
                String b = g.slice(mn, 1, 1, t.n(), 2);
                sim = g.matMul(a, g.transpose(b, 0, 2, 1));
            }
            return sim;
        }

        private void check(State t, int block) {
            if (t != of) {
                throw new VitrimException("--reduce: two reducers act on the attention of block " + block
                        + "; give them different blocks");
            }
        }
    }
}
