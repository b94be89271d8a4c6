package dev.vitrim.dense;

import dev.vitrim.VitrimException;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Pictures of dense predictions, and label maps as PNG files.
 *
 * <p>{@link #render} draws, over the image enlarged by an integer factor to at least {@value #MIN_SIDE} pixels on
 * its longer side (nearest neighbour, so pixels stay square): class colours blended in where the label is not 0
 * (background and ignore-label 255 pixels keep the image's colour exactly), each instance's outline in a bright
 * colour of its own (one that differs from its class colour), and each box in its class colour with a "name 0.93"
 * tag, placed so that tags do not cover each other where the picture leaves room (best score first). Class k of a
 * label map (k &ge; 1) is object category k - 1, named {@code classNames.get(k - 1)} (its number when the list is
 * shorter).
 */
public final class Overlay {
    /** The enlarged picture's longer side is at least this many pixels. */
    public static final int MIN_SIDE = 448;
    /** Weight of the class colour in tinted pixels. */
    static final float ALPHA = 0.5f;
    private static final int TAG_PAD = 3;
    /** The "ignore" label of segmentation data sets, left untinted like background. */
    static final int IGNORE = 255;
    /**
     * Colour of segmentation class k at index k; 0 (background) is never drawn. Ten of Sasha Trubetskoy's
     * distinct colours.
     */
    static final Color[] PALETTE = {
        new Color(0, 0, 0), new Color(0xE6194B), new Color(0x3CB44B), new Color(0x4363D8), new Color(0xF58231),
        new Color(0x911EB4), new Color(0x42D4F4), new Color(0xF032E6), new Color(0xBFEF45), new Color(0xFFE119),
        new Color(0x9A6324),
    };
    /** Instance outline colours, one per instance in turn. */
    static final Color[] OUTLINE = {
        new Color(0x00FFFF), new Color(0xFF00FF), new Color(0xFFFF00), new Color(0x00FF00), new Color(0xFF8000),
        new Color(0xFFFFFF), new Color(0x0080FF), new Color(0xFF0080),
    };

    private Overlay() {}

    /** Colour of segmentation class k (k &ge; 1); classes past the palette reuse it cyclically. */
    public static Color classColor(int k) {
        return PALETTE[1 + Math.floorMod(k - 1, PALETTE.length - 1)];
    }

    /** The factor by which {@link #render} enlarges a {@code width x height} image. */
    public static int scale(int width, int height) {
        return Math.max(1, (MIN_SIDE + Math.max(width, height) - 1) / Math.max(width, height));
    }

    /**
     * The picture.
     *
     * @param image      the image, in the frame of everything else
     * @param labels     class per pixel, row-major, image size; null for none
     * @param boxes      detections to draw as boxes; null for none
     * @param instances  instances to outline (masks of image size); null for none
     * @param classNames names of object categories 0, 1, ...
     * @param minScore   detections and instances scoring below this are not drawn
     */
    public static BufferedImage render(BufferedImage image, byte[] labels, List<Detection> boxes,
                                       List<InstanceMask> instances, List<String> classNames, float minScore) {
        int w = image.getWidth();
        int h = image.getHeight();
        if (labels != null && labels.length != w * h) {
            throw new VitrimException("labels: expected " + w + "x" + h + " = " + w * h + " values for the image, got "
                    + labels.length);
        }
        if (instances != null) {
            for (int i = 0; i < instances.size(); i++) {
                if (instances.get(i).mask().length != w * h) {
                    throw new VitrimException("instance " + i + ": mask has " + instances.get(i).mask().length
                            + " values, expected " + w + "x" + h + " = " + w * h + " for the image");
                }
            }
        }
        int s = scale(w, h);
        int[] rgb = rgb(image);
        BufferedImage out = new BufferedImage(w * s, h * s, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int c = rgb[y * w + x];
                int k = labels == null ? 0 : labels[y * w + x] & 0xFF;
                if (k != 0 && k != IGNORE) {
                    c = blend(c, classColor(k).getRGB());
                }
                for (int yy = 0; yy < s; yy++) {
                    for (int xx = 0; xx < s; xx++) {
                        out.setRGB(x * s + xx, y * s + yy, c);
                    }
                }
            }
        }
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        if (instances != null) {
            int t = Math.max(1, s / 2);
            int n = 0;
            for (InstanceMask m : instances) {
                if (m.score() >= minScore) {
                    g.setColor(outlineColor(n++, m.category() + 1));
                    outline(g, m.mask(), w, h, s, t);
                }
            }
        }
        if (boxes != null) {
            int stroke = Math.max(2, s / 2);
            int fontSize = Math.max(12, Math.min(20, Math.round(Math.max(w, h) * s / 32f)));
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, fontSize));
            g.setStroke(new BasicStroke(stroke));
            for (Detection d : boxes) {
                if (d.score() >= minScore) {
                    g.setColor(classColor(d.category() + 1));
                    int x0 = Math.round(d.x() * s);
                    int y0 = Math.round(d.y() * s);
                    int bw = Math.max(1, Math.round(d.w() * s));
                    int bh = Math.max(1, Math.round(d.h() * s));
                    g.drawRect(x0 + stroke / 2, y0 + stroke / 2, Math.max(0, bw - stroke), Math.max(0, bh - stroke));
                }
            }
            List<Detection> shown = new ArrayList<>();
            for (Detection d : boxes) {
                if (d.score() >= minScore) {
                    shown.add(d);
                }
            }
            shown.sort(Comparator.comparingDouble(Detection::score).reversed());
            List<Rectangle> placed = new ArrayList<>();
            String[] texts = new String[shown.size()];
            for (int i = 0; i < shown.size(); i++) {
                texts[i] = label(shown.get(i), classNames);
                placed.add(placeTag(g.getFontMetrics(), texts[i], shown.get(i), s, out.getWidth(), out.getHeight(),
                        placed));
            }
            for (int i = shown.size() - 1; i >= 0; i--) { // the best on top
                drawTag(g, texts[i], shown.get(i), placed.get(i));
            }
        }
        g.dispose();
        return out;
    }

    private static String label(Detection d, List<String> classNames) {
        String name = classNames != null && d.category() < classNames.size() ? classNames.get(d.category())
                : Integer.toString(d.category());
        return name + String.format(Locale.ROOT, " %.2f", d.score());
    }

    /**
     * Where the tag of {@code d} goes: above the box's top-left corner, else just inside its top, else below it,
     * taking the first place that stays in the picture and covers no tag placed before (the first place if none).
     */
    private static Rectangle placeTag(FontMetrics fm, String text, Detection d, int s, int maxX, int maxY,
                                      List<Rectangle> placed) {
        int tw = fm.stringWidth(text) + 2 * TAG_PAD;
        int th = fm.getAscent() + fm.getDescent() + 2;
        int x0 = Math.min(Math.max(0, Math.round(d.x() * s)), Math.max(0, maxX - tw));
        int top = Math.round(d.y() * s);
        int bottom = Math.round((d.y() + d.h()) * s);
        int[] ys = {top - th, top, bottom};
        Rectangle first = null;
        for (int y : ys) {
            if (y < 0 || y + th > maxY) {
                continue;
            }
            Rectangle r = new Rectangle(x0, y, tw, th);
            if (first == null) {
                first = r;
            }
            boolean free = true;
            for (Rectangle p : placed) {
                free &= !p.intersects(r);
            }
            if (free) {
                return r;
            }
        }
        return first != null ? first : new Rectangle(x0, Math.max(0, Math.min(top, maxY - th)), tw, th);
    }

    private static void drawTag(Graphics2D g, String text, Detection d, Rectangle r) {
        Color c = classColor(d.category() + 1);
        g.setColor(c);
        g.fillRect(r.x, r.y, r.width, r.height);
        double lum = 0.299 * c.getRed() + 0.587 * c.getGreen() + 0.114 * c.getBlue();
        g.setColor(lum > 150 ? Color.BLACK : Color.WHITE);
        g.drawString(text, r.x + TAG_PAD, r.y + 1 + g.getFontMetrics().getAscent());
    }

    /**
     * Outline colour of the n-th instance drawn: the n-th entry of {@link #OUTLINE}, or the next one that is not
     * close to the colour of the instance's class {@code k}, so that the outline stands out from the tint.
     */
    static Color outlineColor(int n, int k) {
        Color c = classColor(k);
        for (int i = 0; i < OUTLINE.length; i++) {
            Color o = OUTLINE[(n + i) % OUTLINE.length];
            int dr = o.getRed() - c.getRed();
            int dg = o.getGreen() - c.getGreen();
            int db = o.getBlue() - c.getBlue();
            if (dr * dr + dg * dg + db * db > 160 * 160) {
                return o;
            }
        }
        return OUTLINE[n % OUTLINE.length];
    }

    /** Draws, inside every mask pixel, a {@code t}-pixel band along each side that borders a non-mask pixel. */
    private static void outline(Graphics2D g, boolean[] mask, int w, int h, int s, int t) {
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (!mask[y * w + x]) {
                    continue;
                }
                int px = x * s;
                int py = y * s;
                if (x == 0 || !mask[y * w + x - 1]) {
                    g.fillRect(px, py, t, s);
                }
                if (x == w - 1 || !mask[y * w + x + 1]) {
                    g.fillRect(px + s - t, py, t, s);
                }
                if (y == 0 || !mask[(y - 1) * w + x]) {
                    g.fillRect(px, py, s, t);
                }
                if (y == h - 1 || !mask[(y + 1) * w + x]) {
                    g.fillRect(px, py + s - t, s, t);
                }
            }
        }
    }

    private static int blend(int base, int colour) {
        int r = mix((base >> 16) & 0xFF, (colour >> 16) & 0xFF);
        int gr = mix((base >> 8) & 0xFF, (colour >> 8) & 0xFF);
        int b = mix(base & 0xFF, colour & 0xFF);
        return (r << 16) | (gr << 8) | b;
    }

    private static int mix(int a, int b) {
        return Math.round((1 - ALPHA) * a + ALPHA * b);
    }

    /**
     * The image's pixels as 0xRRGGBB. 8-bit grey images are read from the raster (their samples replicated), since
     * {@code getRGB} would convert them from linear grey and brighten them.
     */
    static int[] rgb(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        int[] out = new int[w * h];
        if (image.getType() == BufferedImage.TYPE_BYTE_GRAY) {
            Raster r = image.getRaster();
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int v = r.getSample(x, y, 0);
                    out[y * w + x] = (v << 16) | (v << 8) | v;
                }
            }
        } else {
            image.getRGB(0, 0, w, h, out, 0, w);
            for (int i = 0; i < out.length; i++) {
                out[i] &= 0xFFFFFF;
            }
        }
        return out;
    }

    /**
     * A montage: the tiles in rows of {@code columns}, each in a cell as large as the largest tile, with its caption
     * (if {@code captions} is not null) above it, on white.
     */
    public static BufferedImage grid(List<BufferedImage> tiles, int columns, List<String> captions) {
        if (tiles.isEmpty()) {
            throw new VitrimException("grid: no tiles");
        }
        if (columns <= 0) {
            throw new VitrimException("grid columns: must be positive, got " + columns);
        }
        if (captions != null && captions.size() != tiles.size()) {
            throw new VitrimException("grid captions: " + captions.size() + " for " + tiles.size() + " tiles");
        }
        int cw = 0;
        int ch = 0;
        for (BufferedImage t : tiles) {
            cw = Math.max(cw, t.getWidth());
            ch = Math.max(ch, t.getHeight());
        }
        int gap = 10;
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 16);
        int capH = captions == null ? 0 : 24;
        int cols = Math.min(columns, tiles.size());
        int rows = (tiles.size() + cols - 1) / cols;
        BufferedImage out = new BufferedImage(gap + cols * (cw + gap), gap + rows * (capH + ch + gap),
                BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, out.getWidth(), out.getHeight());
        g.setFont(font);
        for (int i = 0; i < tiles.size(); i++) {
            int x0 = gap + (i % cols) * (cw + gap);
            int y0 = gap + (i / cols) * (capH + ch + gap);
            if (captions != null) {
                g.setColor(Color.BLACK);
                g.drawString(captions.get(i), x0, y0 + capH - 6);
            }
            g.drawImage(tiles.get(i), x0, y0 + capH, null);
        }
        g.dispose();
        return out;
    }

    /** Writes class indices ({@code h x w}, row-major) as an 8-bit greyscale PNG. */
    public static void writeLabelPng(byte[] labels, int h, int w, Path file) {
        byte[] png = labelPng(labels, h, w, file.toString());
        try {
            Files.write(file, png);
        } catch (IOException e) {
            throw new VitrimException(file + ": cannot write label PNG: " + e.getMessage(), e);
        }
    }

    /**
     * Class indices ({@code h x w}, row-major) as the bytes of an 8-bit greyscale PNG; {@code what} names the map in
     * errors.
     */
    public static byte[] labelPng(byte[] labels, int h, int w, String what) {
        if (h <= 0 || w <= 0) {
            throw new VitrimException(what + ": label map size must be positive, got " + w + "x" + h);
        }
        if (labels == null || labels.length != w * h) {
            throw new VitrimException(what + ": a " + w + "x" + h + " label map needs " + w * h + " values, got "
                    + (labels == null ? "none" : labels.length));
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setDataElements(0, 0, w, h, labels);
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try {
            if (!ImageIO.write(img, "png", bytes)) {
                throw new VitrimException(what + ": no PNG writer available");
            }
        } catch (IOException e) {
            throw new VitrimException(what + ": cannot encode label PNG: " + e.getMessage(), e);
        }
        return bytes.toByteArray();
    }

    /**
     * Reads an 8-bit greyscale PNG of class indices, row-major; fails unless it is {@code expectW x expectH}
     * (width x height).
     */
    public static byte[] readLabelPng(Path file, int expectH, int expectW) {
        byte[] head = new byte[8];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, 8);
        } catch (IOException e) {
            throw new VitrimException(file + ": cannot read label PNG: " + e.getMessage(), e);
        }
        if (n < 8 || (head[0] & 0xFF) != 0x89 || head[1] != 'P' || head[2] != 'N' || head[3] != 'G') {
            throw new VitrimException(file + ": not a PNG file (expected an 8-bit greyscale PNG of class indices)");
        }
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new VitrimException(file + ": cannot decode label PNG: " + e.getMessage(), e);
        }
        if (img == null) {
            throw new VitrimException(file + ": cannot decode label PNG");
        }
        Raster r = img.getRaster();
        boolean grey8 = r.getNumBands() == 1 && r.getSampleModel().getSampleSize(0) == 8
                && !(img.getColorModel() instanceof IndexColorModel)
                && img.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY;
        if (!grey8) {
            throw new VitrimException(file + ": label PNG must be 8-bit greyscale (class index per pixel), got "
                    + describe(img));
        }
        if (img.getWidth() != expectW || img.getHeight() != expectH) {
            throw new VitrimException(file + ": label PNG is " + img.getWidth() + "x" + img.getHeight()
                    + " (width x height), expected " + expectW + "x" + expectH);
        }
        byte[] out = new byte[expectW * expectH];
        r.getDataElements(0, 0, expectW, expectH, out);
        return out;
    }

    private static String describe(BufferedImage img) {
        if (img.getColorModel() instanceof IndexColorModel) {
            int bits = img.getColorModel().getPixelSize();
            return bits < 8 ? "a " + bits + "-bit image" : "a palette image";
        }
        int bands = img.getRaster().getNumBands();
        int bits = img.getRaster().getSampleModel().getSampleSize(0);
        String kind = switch (bands) {
            case 1 -> "greyscale";
            case 2 -> "greyscale with alpha";
            case 3 -> "RGB";
            case 4 -> "RGBA";
            default -> bands + " channels";
        };
        return bits + "-bit " + kind;
    }
}
