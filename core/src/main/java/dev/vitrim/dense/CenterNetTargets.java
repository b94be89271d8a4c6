package dev.vitrim.dense;

import dev.vitrim.VitrimException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * CenterNet's training targets (Zhou et al., "Objects as Points"; {@code src/lib/datasets/sample/ctdet.py}) on the
 * output grid of a ViT, and the pixel-to-centre offsets of Panoptic-DeepLab's instance grouping.
 *
 * <p>Conventions, all in the frame of the model input ({@code gridW * stride} by {@code gridH * stride} pixels):
 * <ul>
 *   <li>boxes are first clipped to the image; a box whose clipped width or height is not positive gets no
 *       target (as CenterNet skips {@code h <= 0 or w <= 0});</li>
 *   <li>centre {@code (cx, cy)} = the clipped box's centre; centre cell = {@code floor(c / stride)} (clamped to the
 *       grid); sub-cell offset target = {@code c / stride - cell}, in [0, 1);</li>
 *   <li>size target = the clipped box's {@code (w, h) / stride}, i.e. in cells (CenterNet regresses sizes in output
 *       pixels, which is the same unit);</li>
 *   <li>heatmap: per class, {@code draw_umich_gaussian} at the centre cell with radius
 *       {@code max(0, (int) gaussian_radius((ceil(h / stride), ceil(w / stride)), 0.7))}, combined by element-wise
 *       max; the centre cell is exactly 1;</li>
 *   <li>regression targets (size, offset) live at the centre cell; if several objects share a cell, the one with
 *       the larger clipped area keeps it (the earlier one in the list on a tie). CenterNet instead lets both write
 *       the same cell and trains on both; one target per cell is what a per-token head can represent.</li>
 * </ul>
 */
final class CenterNetTargets {
    /** Pixels per grid cell of the ViT (patch size 8). */
    public static final int STRIDE = 8;
    /** Grid side for the 112-pixel input. */
    public static final int GRID = 14;
    /** Object classes (segmentation has one more: background). */
    public static final int CLASSES = 10;
    /** CenterNet's {@code min_overlap} of {@code gaussian_radius}. */
    public static final double MIN_OVERLAP = 0.7;

    private CenterNetTargets() {}

    /**
     * One object's targets.
     *
     * @param box       index of the object in the list given to {@link #build}
     * @param cellX     centre cell column
     * @param cellY     centre cell row
     * @param w         size target: clipped box width / stride
     * @param h         size target: clipped box height / stride
     * @param dx        offset target {@code cx / stride - cellX}
     * @param dy        offset target {@code cy / stride - cellY}
     * @param regressed whether this object owns its cell's size and offset targets
     * @param radius    the heatmap Gaussian's radius, in cells
     */
    public record Center(int box, int category, int cellX, int cellY, float w, float h, float dx, float dy,
                         boolean regressed, int radius) {}

    /**
     * Targets on a {@code gridH x gridW} grid.
     *
     * @param heatmap [classes, gridH, gridW] in [0, 1]
     * @param size    [2, gridH, gridW]: (w, h) / stride at cells with {@code mask = 1}, else 0
     * @param offset  [2, gridH, gridW]: (dx, dy) at cells with {@code mask = 1}, else 0
     * @param mask    gridH * gridW, 1 where a cell carries size and offset targets, else 0
     * @param objects every object that got targets, in input order (skipped boxes left out)
     */
    public record Targets(Maps heatmap, Maps size, Maps offset, float[] mask, List<Center> objects) {}

    /**
     * Pixel-to-centre offset targets.
     *
     * @param offset [2, H, W]: {@code (cx - (x + 0.5), cy - (y + 0.5))} in pixels for the pixel in column x, row y
     *               (its centre) of an instance whose box centre is (cx, cy); 0 elsewhere
     * @param weight H * W, 1 on instance pixels, 0 elsewhere
     */
    public record OffsetTargets(Maps offset, float[] weight) {}

    /** Targets for the default setting: 10 classes, 14 x 14 grid, stride 8 (112-pixel input). */
    public static Targets build(List<Box> boxes) {
        return build(boxes, CLASSES, GRID, GRID, STRIDE);
    }

    /** Targets for {@code boxes} (pixels of a {@code gridW * stride} by {@code gridH * stride} image). */
    public static Targets build(List<Box> boxes, int classes, int gridH, int gridW, int stride) {
        if (classes <= 0) {
            throw new VitrimException("classes: must be positive, got " + classes);
        }
        if (gridH <= 0 || gridW <= 0) {
            throw new VitrimException("grid: must be positive, got " + gridH + "x" + gridW);
        }
        if (stride <= 0) {
            throw new VitrimException("stride: must be positive, got " + stride);
        }
        float imageW = (float) gridW * stride;
        float imageH = (float) gridH * stride;
        Maps heat = Maps.zeros(classes, gridH, gridW);
        Maps size = Maps.zeros(2, gridH, gridW);
        Maps offset = Maps.zeros(2, gridH, gridW);
        float[] mask = new float[gridH * gridW];
        int[] owner = new int[gridH * gridW];
        Arrays.fill(owner, -1);
        float[] ownerArea = new float[gridH * gridW];
        List<Center> centers = new ArrayList<>();
        for (int i = 0; i < boxes.size(); i++) {
            Box b = boxes.get(i);
            if (b.category() >= classes) {
                throw new VitrimException("box " + i + ": category " + b.category() + " is not within 0.."
                        + (classes - 1));
            }
            float[] c = clip(b, imageW, imageH);
            float w = c[2] - c[0];
            float h = c[3] - c[1];
            if (!(w > 0f) || !(h > 0f)) {
                continue;
            }
            float cx = (c[0] + c[2]) / 2f / stride;
            float cy = (c[1] + c[3]) / 2f / stride;
            int ix = Math.min((int) Math.floor(cx), gridW - 1);
            int iy = Math.min((int) Math.floor(cy), gridH - 1);
            float sw = w / stride;
            float sh = h / stride;
            int radius = Math.max(0, (int) gaussianRadius(Math.ceil(sh), Math.ceil(sw), MIN_OVERLAP));
            drawGaussian(heat.data(), b.category() * gridH * gridW, gridH, gridW, ix, iy, radius);
            int cell = iy * gridW + ix;
            float area = w * h;
            if (owner[cell] < 0 || area > ownerArea[cell]) {
                owner[cell] = centers.size();
                ownerArea[cell] = area;
            }
            centers.add(new Center(i, b.category(), ix, iy, sw, sh, cx - ix, cy - iy, false, radius));
        }
        List<Center> objects = new ArrayList<>(centers.size());
        for (int k = 0; k < centers.size(); k++) {
            Center o = centers.get(k);
            int cell = o.cellY() * gridW + o.cellX();
            boolean owns = owner[cell] == k;
            if (owns) {
                mask[cell] = 1f;
                size.data()[cell] = o.w();
                size.data()[gridH * gridW + cell] = o.h();
                offset.data()[cell] = o.dx();
                offset.data()[gridH * gridW + cell] = o.dy();
            }
            objects.add(new Center(o.box(), o.category(), o.cellX(), o.cellY(), o.w(), o.h(), o.dx(), o.dy(), owns,
                    o.radius()));
        }
        return new Targets(heat, size, offset, mask, List.copyOf(objects));
    }

    /**
     * CenterNet's {@code gaussian_radius(det_size=(height, width), min_overlap)}, verbatim: the smallest of the three
     * quadratic roots, each taken as {@code (b + sqrt(b^2 - 4ac)) / 2} as in the released code.
     */
    public static double gaussianRadius(double height, double width, double minOverlap) {
        double a1 = 1;
        double b1 = height + width;
        double c1 = width * height * (1 - minOverlap) / (1 + minOverlap);
        double r1 = (b1 + Math.sqrt(b1 * b1 - 4 * a1 * c1)) / 2;
        double a2 = 4;
        double b2 = 2 * (height + width);
        double c2 = (1 - minOverlap) * width * height;
        double r2 = (b2 + Math.sqrt(b2 * b2 - 4 * a2 * c2)) / 2;
        double a3 = 4 * minOverlap;
        double b3 = -2 * minOverlap * (height + width);
        double c3 = (minOverlap - 1) * width * height;
        double r3 = (b3 + Math.sqrt(b3 * b3 - 4 * a3 * c3)) / 2;
        return Math.min(r1, Math.min(r2, r3));
    }

    /**
     * CenterNet's {@code draw_umich_gaussian}: writes {@code max(old, exp(-(dx^2 + dy^2) / (2 sigma^2)))} with
     * {@code sigma = (2 radius + 1) / 6} into the {@code (2 radius + 1)^2} window around (x, y), cut at the map's
     * edges; values below {@code 2^-52} (numpy's float64 eps times the peak 1) are 0.
     *
     * @param heat   maps holding the channel to draw into, which starts at {@code offset}
     */
    public static void drawGaussian(float[] heat, int offset, int gridH, int gridW, int x, int y, int radius) {
        double sigma = (2 * radius + 1) / 6.0;
        double eps = Math.ulp(1.0);
        for (int dy = -radius; dy <= radius; dy++) {
            int yy = y + dy;
            if (yy < 0 || yy >= gridH) {
                continue;
            }
            for (int dx = -radius; dx <= radius; dx++) {
                int xx = x + dx;
                if (xx < 0 || xx >= gridW) {
                    continue;
                }
                double g = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
                if (g < eps) {
                    g = 0;
                }
                int at = offset + yy * gridW + xx;
                heat[at] = Math.max(heat[at], (float) g);
            }
        }
    }

    /**
     * Panoptic-DeepLab's centre regression targets from an instance id map ({@code ids[y * width + x]}: 0 = no
     * instance, k = the object {@code boxes.get(k - 1)}), pointing at the centre of that box clipped to the
     * {@code width x height} image (the centre the heatmap marks). Units: pixels of that image.
     */
    public static OffsetTargets centerOffsets(int[] ids, int height, int width, List<Box> boxes) {
        if (height <= 0 || width <= 0) {
            throw new VitrimException("instance ids: size must be positive, got " + height + "x" + width);
        }
        if (ids == null || ids.length != (long) height * width) {
            throw new VitrimException("instance ids: a " + height + "x" + width + " map needs " + (long) height * width
                    + " values, got " + (ids == null ? "none" : ids.length));
        }
        float[] cx = new float[boxes.size()];
        float[] cy = new float[boxes.size()];
        for (int k = 0; k < boxes.size(); k++) {
            float[] c = clip(boxes.get(k), width, height);
            cx[k] = (c[0] + c[2]) / 2f;
            cy[k] = (c[1] + c[3]) / 2f;
        }
        int hw = height * width;
        float[] off = new float[2 * hw];
        float[] weight = new float[hw];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = y * width + x;
                int id = ids[p];
                if (id == 0) {
                    continue;
                }
                if (id < 0 || id > boxes.size()) {
                    throw new VitrimException("instance ids: id " + id + " at pixel (" + x + ", " + y
                            + ") has no box (ids must be 0.." + boxes.size() + ")");
                }
                off[p] = cx[id - 1] - (x + 0.5f);
                off[hw + p] = cy[id - 1] - (y + 0.5f);
                weight[p] = 1f;
            }
        }
        return new OffsetTargets(new Maps(2, height, width, off), weight);
    }

    /** {@code [x0, y0, x1, y1]} of the box clipped to {@code [0, w] x [0, h]}. */
    static float[] clip(Box b, float w, float h) {
        float x0 = Math.min(Math.max(b.x(), 0f), w);
        float y0 = Math.min(Math.max(b.y(), 0f), h);
        float x1 = Math.min(Math.max(b.x() + b.w(), 0f), w);
        float y1 = Math.min(Math.max(b.y() + b.h(), 0f), h);
        return new float[] {x0, y0, x1, y1};
    }
}
