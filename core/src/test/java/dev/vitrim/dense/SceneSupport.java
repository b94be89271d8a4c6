package dev.vitrim.dense;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.font.GlyphVector;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Small synthetic scenes for the dense tests: digits drawn with a font on a dark noisy 112 x 112 background, with
 * their per-pixel class labels (digit + 1), instance ids and boxes (the tight box of each digit's pixels). Digits do
 * not overlap and no two have their centre in the same grid cell.
 */
final class SceneSupport {
    static final int SIZE = 112;
    static final List<String> NAMES = List.of("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
            "nine");

    record Scene(BufferedImage image, byte[] labels, int[] ids, List<Box> boxes) {}

    private SceneSupport() {}

    static Scene digits(long seed, int count) {
        Random r = new Random(seed);
        BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                int v = 25 + r.nextInt(30);
                img.setRGB(x, y, (v << 16) | ((v + 5) << 8) | (v + 15));
            }
        }
        byte[] labels = new byte[SIZE * SIZE];
        int[] ids = new int[SIZE * SIZE];
        List<Box> boxes = new ArrayList<>();
        Set<Integer> cells = new HashSet<>();
        for (int attempt = 0; attempt < 500 && boxes.size() < count; attempt++) {
            int digit = r.nextInt(10);
            boolean[] glyph = glyph(digit, 26 + r.nextInt(30), r.nextInt(SIZE), r.nextInt(SIZE));
            int x0 = SIZE;
            int y0 = SIZE;
            int x1 = -1;
            int y1 = -1;
            boolean free = true;
            for (int p = 0; p < glyph.length; p++) {
                if (glyph[p]) {
                    int x = p % SIZE;
                    int y = p / SIZE;
                    x0 = Math.min(x0, x);
                    y0 = Math.min(y0, y);
                    x1 = Math.max(x1, x);
                    y1 = Math.max(y1, y);
                }
            }
            if (x1 < 0 || x0 == 0 || y0 == 0 || x1 == SIZE - 1 || y1 == SIZE - 1) {
                continue; // empty or cut by the border
            }
            for (Box b : boxes) { // keep a 2-pixel gap between boxes
                if (x0 <= b.x() + b.w() + 1 && b.x() <= x1 + 2 && y0 <= b.y() + b.h() + 1 && b.y() <= y1 + 2) {
                    free = false;
                }
            }
            Box box = new Box(digit, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
            int cell = (int) (box.cy() / 8) * 14 + (int) (box.cx() / 8);
            if (!free || cells.contains(cell)) {
                continue;
            }
            cells.add(cell);
            boxes.add(box);
            for (int p = 0; p < glyph.length; p++) {
                if (glyph[p]) {
                    labels[p] = (byte) (digit + 1);
                    ids[p] = boxes.size();
                    int v = 200 + r.nextInt(56);
                    img.setRGB(p % SIZE, p / SIZE, (v << 16) | (v << 8) | v);
                }
            }
        }
        return new Scene(img, labels, ids, List.copyOf(boxes));
    }

    /** The pixels of a digit drawn without antialiasing with its top-left near (x, y). */
    private static boolean[] glyph(int digit, int size, int x, int y) {
        BufferedImage m = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_BYTE_GRAY);
        Graphics2D g = m.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_OFF);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_OFF);
        Font f = new Font(Font.SANS_SERIF, Font.BOLD, size);
        GlyphVector gv = f.createGlyphVector(g.getFontRenderContext(), Integer.toString(digit));
        g.setColor(Color.WHITE);
        g.drawGlyphVector(gv, x, y + size * 0.75f);
        g.dispose();
        boolean[] out = new boolean[SIZE * SIZE];
        for (int p = 0; p < out.length; p++) {
            out[p] = m.getRaster().getSample(p % SIZE, p / SIZE, 0) > 0;
        }
        return out;
    }

    /** Semantic probabilities that put {@code p} on each pixel's label and spread the rest. */
    static Maps probabilities(byte[] labels, int classes, float p) {
        Maps m = Maps.zeros(classes, SIZE, SIZE);
        for (int i = 0; i < labels.length; i++) {
            for (int k = 0; k < classes; k++) {
                m.data()[k * labels.length + i] = k == labels[i] ? p : (1 - p) / (classes - 1);
            }
        }
        return m;
    }

    /** Decoding and grouping from the maps a perfect head would output for the scene. */
    record Prediction(List<Detection> detections, List<InstanceMask> instances) {}

    static Prediction perfect(Scene s) {
        CenterNetTargets.Targets t = CenterNetTargets.build(s.boxes());
        List<Detection> ds = CenterNetDecoder.decode(DenseTestSupport.logits(t.heatmap()), t.size(), t.offset(), 8,
                100, 0.3f);
        Maps offsets = CenterNetTargets.centerOffsets(s.ids(), SIZE, SIZE, s.boxes()).offset();
        List<InstanceMask> ms = InstanceGrouping.group(probabilities(s.labels(), 11, 0.9f), offsets, ds);
        return new Prediction(ds, ms);
    }
}
