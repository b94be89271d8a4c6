package dev.vitrim.dense;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Tokens;
import dev.vitrim.reduce.Trace;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A ViT with dense heads: semantic segmentation, CenterNet detection and Panoptic-DeepLab-style instance grouping,
 * all from one linear layer per patch token (Segmenter's linear decoder) on the final tokens put back on the
 * original patch grid. The backbone runs through the same token state as the reducers ({@link Tokens#patchGrid}),
 * so every reducer runs on a dense model: pruning with Last Layer Fusion ({@code llf=true}) brings every pruned token
 * back before the last block; pruning without it leaves a pruned patch at the value its token had when it was pruned;
 * ToMe's merged tokens are copied back to every patch they absorbed.
 *
 * <p>The decoder ({@code decoder.weight} [C, D], {@code decoder.bias} [C]) gives, per token, {@link #channels()}
 * values laid out as {@link Layout}: {@code 1 + classes} segmentation logits (0 = background), {@code classes}
 * centre-heatmap logits, the box size (w, h) and the centre's offset within its cell (x, y) in cells, and each
 * pixel's offset to its instance's centre (dx, dy) in cells. The file records the classes under
 * {@value #METADATA_KEY}.
 */
public final class DenseModel implements AutoCloseable {
    /** Metadata key of the dense heads' description (classes, layout, stride). */
    public static final String METADATA_KEY = "vitrim.dense";
    public static final String WEIGHT = "decoder.weight";
    public static final String BIAS = "decoder.bias";
    /** CenterNet's heatmap bias: sigmoid(−2.19) ≈ 0.1, so the focal loss starts small. */
    static final float HEAT_BIAS = -2.19f;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Where each output sits among the decoder's channels. */
    public record Layout(int classes) {
        public int segment() {
            return 0;
        }

        /** Segmentation logits: background and each class. */
        public int segmentChannels() {
            return classes + 1;
        }

        public int heat() {
            return segmentChannels();
        }

        public int size() {
            return heat() + classes;
        }

        public int offset() {
            return size() + 2;
        }

        public int center() {
            return offset() + 2;
        }

        public int channels() {
            return center() + 2;
        }
    }

    private final VisionTransformer vit;
    private final List<String> classes;
    private final Layout layout;
    private final NDArray weight;
    private final NDArray bias;

    private DenseModel(VisionTransformer vit, List<String> classes, NDArray weight, NDArray bias) {
        this.vit = vit;
        this.classes = List.copyOf(classes);
        this.layout = new Layout(classes.size());
        this.weight = weight;
        this.bias = bias;
        long want = layout.channels();
        if (weight.getShape().dimension() != 2 || weight.getShape().get(0) != want
                || weight.getShape().get(1) != vit.config().width() || bias.getShape().size() != want) {
            throw new VitrimException("tensor '" + WEIGHT + "' has shape " + weight.getShape() + " and '" + BIAS + "' "
                    + bias.getShape() + ", expected [" + want + ", " + vit.config().width() + "] and [" + want
                    + "] for " + classes.size() + " classes");
        }
    }

    /** Loads a dense model file (a ViT without classifier, plus the decoder and {@value #METADATA_KEY}). */
    public static DenseModel load(Path path) {
        return load(path, VisionTransformer::load);
    }

    /**
     * Loads a dense model file; {@code onednn} runs the backbone's inference matrix products on oneDNN (false: ATen's),
     * as {@link VisionTransformer#load(Checkpoint, boolean)}.
     */
    public static DenseModel load(Path path, boolean onednn) {
        return load(path, ck -> VisionTransformer.load(ck, onednn));
    }

    private static DenseModel load(Path path, java.util.function.Function<Checkpoint, VisionTransformer> backbone) {
        List<String> classes;
        VisionTransformer vit;
        try (Checkpoint ck = Checkpoint.open(path, 0)) {
            String meta = ck.source().metadata().get(METADATA_KEY);
            if (meta == null) {
                throw new VitrimException(path + ": not a dense model (no '" + METADATA_KEY + "' metadata; segment and "
                        + "detect need a model trained with `vitrim train --task dense`)");
            }
            classes = classesOf(path, meta);
            vit = backbone.apply(ck);
        }
        NDArray w = vit.extra(WEIGHT);
        NDArray b = vit.extra(BIAS);
        if (w == null || b == null) {
            vit.close();
            throw new VitrimException(path + ": tensor '" + (w == null ? WEIGHT : BIAS) + "' is missing");
        }
        try {
            return new DenseModel(vit, classes, w, b);
        } catch (RuntimeException e) {
            vit.close();
            throw e;
        }
    }

    private static List<String> classesOf(Path path, String meta) {
        try {
            JsonNode o = JSON.readTree(meta);
            JsonNode c = o.path("classes");
            if (!c.isArray() || c.isEmpty()) {
                throw new VitrimException(path + ": metadata '" + METADATA_KEY + "' has no \"classes\" list");
            }
            List<String> out = new ArrayList<>();
            c.forEach(n -> out.add(n.asText()));
            return out;
        } catch (IOException e) {
            throw new VitrimException(path + ": metadata '" + METADATA_KEY + "' is not JSON (" + e.getMessage() + ")");
        }
    }

    /**
     * A fresh decoder on {@code backbone} (which this model then owns): weights normal with std 0.02 from
     * {@code seed}, biases 0 except the heatmap's ({@value #HEAT_BIAS}).
     */
    public static DenseModel fresh(VisionTransformer backbone, List<String> classes, long seed) {
        Layout l = new Layout(classes.size());
        int d = backbone.config().width();
        java.util.Random rnd = new java.util.Random(seed * 31 + 7);
        float[] w = new float[l.channels() * d];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (0.02 * Math.max(-2, Math.min(2, rnd.nextGaussian())));
        }
        float[] b = new float[l.channels()];
        java.util.Arrays.fill(b, l.heat(), l.heat() + classes.size(), HEAT_BIAS);
        NDManager m = backbone.manager();
        NDArray wa = m.create(w, new Shape(l.channels(), d));
        NDArray ba = m.create(b, new Shape(l.channels()));
        wa.setName(WEIGHT);
        ba.setName(BIAS);
        return new DenseModel(backbone, classes, wa, ba);
    }

    public VisionTransformer backbone() {
        return vit;
    }

    public VitConfig config() {
        return vit.config();
    }

    public List<String> classes() {
        return classes;
    }

    public Layout layout() {
        return layout;
    }

    public int channels() {
        return layout.channels();
    }

    /** The decoder's parameters by file name (training adds them to the optimiser). */
    public Map<String, NDArray> decoderParameters() {
        Map<String, NDArray> p = new LinkedHashMap<>();
        p.put(WEIGHT, weight);
        p.put(BIAS, bias);
        return p;
    }

    /**
     * The decoder's outputs on the patch grid, [B, C, gh, gw], for images [B,3,H,W] (normalised). The tokens after
     * the last block are put back in original patch order ({@link Tokens#patchGrid}), normed, and mapped per token.
     * Results belong to the input's manager.
     */
    public NDArray maps(NDArray images, TokenReducer reducer) {
        return maps(images, reducer, null);
    }

    /** As {@link #maps(NDArray, TokenReducer)}, recording each block's tokens in {@code trace} (may be null). */
    public NDArray maps(NDArray images, TokenReducer reducer, Trace trace) {
        long b = images.getShape().get(0);
        int p = vit.config().patchSize();
        int gh = (int) (images.getShape().get(2) / p);
        int gw = (int) (images.getShape().get(3) / p);
        Tokens t = vit.forwardTokens(images, reducer, trace, reducer.merges(), true);
        NDArray patches = t.patchGrid(gh * gw);
        NDArray grid = vit.finalNorm(patches); // [B, N, D]
        NDArray out = grid.getNDArrayInternal().linear(grid, weight, bias).singletonOrThrow(); // [B, N, C]
        return out.transpose(0, 2, 1).reshape(b, channels(), gh, gw);
    }

    /** {@code maps} [B, C, h, w] bilinearly upsampled to [B, C, outH, outW] (half-pixel centres, as PyTorch). */
    public static NDArray upsample(NDArray maps, int outH, int outW) {
        NDManager m = maps.getManager();
        int h = (int) maps.getShape().get(2);
        int w = (int) maps.getShape().get(3);
        NDArray uh = m.create(flat(Bilinear.matrix(h, outH)), new Shape(outH, h));
        NDArray uwT = m.create(flat(Bilinear.matrix(w, outW)), new Shape(outW, w)).transpose();
        return uh.matMul(maps.matMul(uwT));
    }

    private static float[] flat(float[][] a) {
        int cols = a[0].length;
        float[] out = new float[a.length * cols];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], 0, out, i * cols, cols);
        }
        return out;
    }

    /** The decoder as it is saved. */
    public Map<String, FloatTensor> decoderTensors() {
        Map<String, FloatTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : decoderParameters().entrySet()) {
            out.put(e.getKey(), new FloatTensor(e.getValue().getShape().getShape(), e.getValue().toFloatArray()));
        }
        return out;
    }

    /** The {@value #METADATA_KEY} metadata of a dense model with these classes. */
    public static String metadata(List<String> classes, int stride) {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode c = o.putArray("classes");
        classes.forEach(c::add);
        Layout l = new Layout(classes.size());
        ObjectNode lay = o.putObject("layout");
        lay.putArray("segment").add(l.segment()).add(l.segmentChannels());
        lay.putArray("heatmap").add(l.heat()).add(classes.size());
        lay.putArray("size").add(l.size()).add(2);
        lay.putArray("offset").add(l.offset()).add(2);
        lay.putArray("center_offset").add(l.center()).add(2);
        o.put("stride", stride);
        o.put("units", "size, offset and center_offset in patch cells");
        return o.toString();
    }

    @Override
    public void close() {
        vit.close();
    }
}
