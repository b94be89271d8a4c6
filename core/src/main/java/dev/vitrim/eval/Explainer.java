package dev.vitrim.eval;

import dev.vitrim.arch.VitConfig;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.reduce.Trace;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Draws what a reducer did: each image (as the model saw it, after preprocessing) beside its patches at each
 * stage where the token count changed. Pruned patches are greyed out and hatched; patches merged into one token (ToMe) or
 * fused (EViT) share a colour tint and are outlined as a group.
 */
public final class Explainer {
    private static final int TITLE = 18;
    private static final int GAP = 8;

    private Explainer() {}

    /**
     * @param inputs preprocessed images, CHW floats (normalised)
     * @param labels a caption per image (e.g. the file and the predicted class)
     * @param trace  a trace recorded with sources for the same images
     */
    public static BufferedImage render(List<float[]> inputs, List<String> labels, PreprocessConfig pre, VitConfig c,
                                       Trace trace) {
        int size = pre.size();
        int scale = Math.max(1, (int) Math.ceil(160.0 / size));
        int panel = size * scale;
        List<List<Trace.Block>> stagesPerImage = new ArrayList<>();
        int maxStages = 0;
        for (List<Trace.Block> img : trace.images()) {
            List<Trace.Block> stages = new ArrayList<>();
            int prev = c.tokens();
            for (Trace.Block b : img) {
                if (b.tokens() != prev || b.block() == img.size() - 1) {
                    stages.add(b);
                }
                prev = b.tokens();
            }
            stagesPerImage.add(stages);
            maxStages = Math.max(maxStages, stages.size());
        }
        int cols = 1 + maxStages;
        int rowH = TITLE + panel + TITLE + GAP;
        BufferedImage out = new BufferedImage(GAP + cols * (panel + GAP), GAP + inputs.size() * rowH,
                BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, out.getWidth(), out.getHeight());
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int row = 0; row < inputs.size(); row++) {
            int[] rgb = toRgb(inputs.get(row), pre);
            int y0 = GAP + row * rowH;
            g.setColor(Color.BLACK);
            g.drawString(labels.get(row), GAP, y0 + 13);
            drawImage(out, rgb, size, scale, GAP, y0 + TITLE, null, c);
            g.setColor(Color.DARK_GRAY);
            g.drawString("input, " + c.tokens() + " tokens", GAP, y0 + TITLE + panel + 14);
            List<Trace.Block> stages = stagesPerImage.get(row);
            for (int s = 0; s < stages.size(); s++) {
                Trace.Block b = stages.get(s);
                int x0 = GAP + (s + 1) * (panel + GAP);
                drawImage(out, rgb, size, scale, x0, y0 + TITLE, b.owner(), c);
                outlineGroups(g, b.owner(), c, scale, x0, y0 + TITLE);
                g.setColor(Color.DARK_GRAY);
                g.drawString("after block " + b.block() + ": " + b.tokens(), x0, y0 + TITLE + panel + 14);
            }
        }
        g.dispose();
        return out;
    }

    /** Denormalises a CHW float image back to 0xRRGGBB pixels. */
    static int[] toRgb(float[] chw, PreprocessConfig pre) {
        int s = pre.size();
        int[] rgb = new int[s * s];
        float[] mean = pre.mean();
        float[] std = pre.std();
        for (int i = 0; i < s * s; i++) {
            int px = 0;
            for (int ch = 0; ch < 3; ch++) {
                float v = (chw[ch * s * s + i] * std[ch] + mean[ch]) * 255f;
                px = (px << 8) | Math.max(0, Math.min(255, Math.round(v)));
            }
            rgb[i] = px;
        }
        return rgb;
    }

    /** Draws an image at {@code scale}, greying and hatching pruned patches and tinting merged groups when {@code owner} is set. */
    static void drawImage(BufferedImage out, int[] rgb, int size, int scale, int x0, int y0, int[] owner,
                          VitConfig c) {
        int p = c.patchSize();
        int gw = size / p;
        Map<Integer, Integer> groupSize = groupSizes(owner);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                int px = rgb[y * size + x];
                boolean pruned = false;
                if (owner != null) {
                    int patch = (y / p) * gw + x / p;
                    int o = owner[c.prefixTokens() + patch];
                    if (o < 0) {
                        px = grey(px);
                        pruned = true;
                    } else if (groupSize.getOrDefault(o, 1) > 1) {
                        px = tint(px, colour(o));
                    }
                }
                for (int dy = 0; dy < scale; dy++) {
                    for (int dx = 0; dx < scale; dx++) {
                        int sx = x * scale + dx;
                        int sy = y * scale + dy;
                        // pruned patches are also hatched: grey alone vanishes on light images
                        boolean hatch = pruned && (sx + sy) % HATCH_PERIOD == 0;
                        out.setRGB(x0 + sx, y0 + sy, hatch ? HATCH : px);
                    }
                }
            }
        }
    }

    /** Outlines the groups of patches merged or fused into one token. */
    static void outlineGroups(Graphics2D g, int[] owner, VitConfig c, int scale, int x0, int y0) {
        int p = c.patchSize() * scale;
        int gh = c.gridH();
        int gw = c.gridW();
        if (owner.length - c.prefixTokens() != gh * gw) {
            return;
        }
        Map<Integer, Integer> sizes = groupSizes(owner);
        g.setColor(new Color(20, 20, 20));
        g.setStroke(new BasicStroke(Math.max(1, scale / 2f)));
        for (int r = 0; r < gh; r++) {
            for (int col = 0; col < gw; col++) {
                int o = owner[c.prefixTokens() + r * gw + col];
                int x = x0 + col * p;
                int y = y0 + r * p;
                if (col + 1 < gw) {
                    int right = owner[c.prefixTokens() + r * gw + col + 1];
                    if (right != o && (sizes.getOrDefault(o, 1) > 1 || sizes.getOrDefault(right, 1) > 1)) {
                        g.drawLine(x + p, y, x + p, y + p);
                    }
                }
                if (r + 1 < gh) {
                    int below = owner[c.prefixTokens() + (r + 1) * gw + col];
                    if (below != o && (sizes.getOrDefault(o, 1) > 1 || sizes.getOrDefault(below, 1) > 1)) {
                        g.drawLine(x, y + p, x + p, y + p);
                    }
                }
            }
        }
    }

    private static Map<Integer, Integer> groupSizes(int[] owner) {
        Map<Integer, Integer> m = new HashMap<>();
        if (owner != null) {
            for (int o : owner) {
                if (o >= 0) {
                    m.merge(o, 1, Integer::sum);
                }
            }
        }
        return m;
    }

    /** Colour and spacing (pixels) of the diagonal lines over pruned patches. */
    static final int HATCH = 0x505050;
    static final int HATCH_PERIOD = 4;

    private static int grey(int px) {
        int r = (px >> 16) & 255;
        int gr = (px >> 8) & 255;
        int b = px & 255;
        int l = (r * 3 + gr * 6 + b) / 10;
        int v = 150 + l / 5;
        return (v << 16) | (v << 8) | v;
    }

    private static int tint(int px, int colour) {
        int out = 0;
        for (int sh = 16; sh >= 0; sh -= 8) {
            int a = (px >> sh) & 255;
            int b = (colour >> sh) & 255;
            out |= ((a * 11 + b * 9) / 20) << sh;
        }
        return out;
    }

    private static int colour(int group) {
        float hue = (group * 0.61803398875f) % 1f;
        return Color.HSBtoRGB(hue, 0.85f, 0.95f) & 0xFFFFFF;
    }
}
