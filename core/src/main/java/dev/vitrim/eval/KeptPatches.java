package dev.vitrim.eval;

import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Trace;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * Which patches each method kept at the end, for a few images: one row per image, one column per method, each
 * cell the image (as the model saw it) with the patches that left the last block (with Token Cropr's Last Layer
 * Fusion, the block before it); pruned patches greyed out,
 * merged or fused ones tinted and outlined as a group (drawn by {@link Explainer}'s machinery), and the token
 * count (CLS included) under it.
 */
public final class KeptPatches {
    private static final int TITLE = 18;
    private static final int GAP = 8;
    /** The key under the picture. */
    static final String LEGEND = "Grey, hatched: pruned. Tinted, outlined: merged (tome) or fused (evit) into one token. "
            + "Counts: tokens after the last block, CLS included (cropr with LLF: the block before).";

    private KeptPatches() {}

    /**
     * The traced images and, per image and method, what left the last block ({@code last[image][method]}).
     *
     * @param inputs preprocessed images, CHW floats (normalised)
     */
    public record Grid(List<ExampleImages.Example> examples, List<Comparison.Method> methods, List<float[]> inputs,
                       Trace.Block[][] last) {
        /** Tokens (CLS included) image {@code i} kept under method {@code m}. */
        public int tokens(int i, int m) {
            return last[i][m].tokens();
        }
    }

    /** Runs each method once on the example images, tracing which original tokens every token holds. */
    public static Grid trace(VisionTransformer vit, LabeledImages data, List<ExampleImages.Example> examples,
                             List<Comparison.Method> methods) {
        VitConfig c = vit.config();
        ImageTransform t = new ImageTransform(c.preprocess(), 0, false);
        int s = c.preprocess().size();
        int per = 3 * s * s;
        float[] x = new float[examples.size() * per];
        List<float[]> inputs = new ArrayList<>();
        for (int i = 0; i < examples.size(); i++) {
            t.apply(data, examples.get(i).index(), x, i * per, null);
            inputs.add(java.util.Arrays.copyOfRange(x, i * per, (i + 1) * per));
        }
        Trace.Block[][] last = new Trace.Block[examples.size()][methods.size()];
        for (int m = 0; m < methods.size(); m++) {
            Trace trace = new Trace(true);
            Comparison.Method method = methods.get(m);
            method.on(vit).forward(new FloatTensor(new long[] {examples.size(), 3, s, s}, x), method.reducer(), trace);
            for (int i = 0; i < examples.size(); i++) {
                last[i][m] = leanest(trace.images().get(i));
            }
        }
        return new Grid(List.copyOf(examples), List.copyOf(methods), inputs, last);
    }

    /**
     * The deepest of the blocks that saw the fewest tokens: the last block, except under Token Cropr's Last Layer
     * Fusion, which brings every pruned token back for the final block (its picture would show nothing pruned).
     */
    static Trace.Block leanest(List<Trace.Block> blocks) {
        Trace.Block best = blocks.get(blocks.size() - 1);
        for (int b = blocks.size() - 2; b >= 0; b--) {
            if (blocks.get(b).tokens() < best.tokens()) {
                best = blocks.get(b);
            }
        }
        return best;
    }

    /**
     * The picture: a header with the method names, then per image a caption ({@code captions}, e.g. the role and
     * index), the input and one cell per method with its token count; a key at the bottom. Cells are
     * {@code ceil(160 / size)} times the model's input size.
     */
    public static BufferedImage render(Grid g, List<String> captions, PreprocessConfig pre, VitConfig c) {
        int size = pre.size();
        int scale = Math.max(1, (int) Math.ceil(160.0 / size));
        int panel = size * scale;
        int cols = 1 + g.methods().size();
        int rowH = TITLE + panel + TITLE + GAP;
        BufferedImage out = new BufferedImage(GAP + cols * (panel + GAP),
                GAP + TITLE + g.inputs().size() * rowH + TITLE, BufferedImage.TYPE_INT_RGB);
        Graphics2D gr = out.createGraphics();
        gr.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        gr.setColor(Color.WHITE);
        gr.fillRect(0, 0, out.getWidth(), out.getHeight());
        gr.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 12));
        gr.setColor(Color.BLACK);
        gr.drawString("input", GAP, GAP + 13);
        for (int m = 0; m < g.methods().size(); m++) {
            gr.drawString(g.methods().get(m).name(), GAP + (m + 1) * (panel + GAP), GAP + 13);
        }
        gr.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int row = 0; row < g.inputs().size(); row++) {
            int[] rgb = Explainer.toRgb(g.inputs().get(row), pre);
            int y0 = GAP + TITLE + row * rowH;
            gr.setColor(Color.BLACK);
            gr.drawString(captions.get(row), GAP, y0 + 13);
            Explainer.drawImage(out, rgb, size, scale, GAP, y0 + TITLE, null, c);
            gr.setColor(Color.DARK_GRAY);
            gr.drawString(c.tokens() + " tokens", GAP, y0 + TITLE + panel + 14);
            for (int m = 0; m < g.methods().size(); m++) {
                Trace.Block b = g.last()[row][m];
                int x0 = GAP + (m + 1) * (panel + GAP);
                Explainer.drawImage(out, rgb, size, scale, x0, y0 + TITLE, b.owner(), c);
                Explainer.outlineGroups(gr, b.owner(), c, scale, x0, y0 + TITLE);
                gr.setColor(Color.DARK_GRAY);
                gr.drawString(b.tokens() + " tokens", x0, y0 + TITLE + panel + 14);
            }
        }
        gr.setColor(Color.BLACK);
        gr.drawString(LEGEND, GAP, out.getHeight() - GAP);
        gr.dispose();
        return out;
    }
}
