package dev.vitrim.coco;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A binary mask in COCO's run-length encoding, bit-compatible with the COCO API (pycocotools' maskApi).
 *
 * <p>The mask is read in column-major order (down each column, columns left to right); {@link #counts()}
 * alternate runs of 0s and 1s and always start with a run of 0s, possibly empty. Instances are immutable;
 * the counts are non-negative and sum to {@code height * width}.
 */
public final class Rle implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    /** Points on a polygon's upsampled boundary beyond which rasterising is refused (about 1 GiB of memory). */
    private static final long MAX_BOUNDARY_POINTS = 1L << 27;

    private final int height;
    private final int width;
    private final int[] counts;

    private Rle(int height, int width, int[] counts) {
        this.height = height;
        this.width = width;
        this.counts = counts;
    }

    /**
     * An RLE from its counts (COCO's uncompressed form {@code {"size":[h,w],"counts":[...]}}).
     *
     * @throws IllegalArgumentException if a count is negative or they do not sum to {@code height * width}
     */
    public static Rle of(int height, int width, int[] counts) {
        checkSize(height, width);
        long sum = 0;
        for (int i = 0; i < counts.length; i++) {
            if (counts[i] < 0) {
                throw new IllegalArgumentException("RLE count " + i + " is negative (" + counts[i] + ")");
            }
            sum += counts[i];
        }
        if (sum != (long) height * width) {
            throw new IllegalArgumentException("RLE counts sum to " + sum + ", not height*width = " + height + "*"
                    + width + " = " + (long) height * width);
        }
        return new Rle(height, width, counts.clone());
    }

    private static void checkSize(int height, int width) {
        if (height < 0 || width < 0 || (long) height * width > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("mask size " + height + "x" + width + " is negative or too large");
        }
    }

    /** Encodes a mask given in row-major order (pixel (x, y) at {@code y * width + x}). */
    public static Rle encode(boolean[] mask, int height, int width) {
        checkSize(height, width);
        if (mask.length != height * width) {
            throw new IllegalArgumentException("mask has " + mask.length + " pixels, not " + height + "x" + width);
        }
        int[] runs = new int[height * width + 1];
        int k = 0;
        boolean prev = false;
        int run = 0;
        for (int x = 0; x < width; x++) {
            for (int y = 0; y < height; y++) {
                boolean v = mask[y * width + x];
                if (v != prev) {
                    runs[k++] = run;
                    run = 0;
                    prev = v;
                }
                run++;
            }
        }
        runs[k++] = run;
        return new Rle(height, width, Arrays.copyOf(runs, k));
    }

    /** The mask in row-major order (pixel (x, y) at {@code y * width + x}). */
    public boolean[] decode() {
        boolean[] mask = new boolean[height * width];
        int pos = 0;
        for (int j = 0; j < counts.length; j++) {
            if (j % 2 == 1) {
                for (int p = pos; p < pos + counts[j]; p++) {
                    mask[(p % height) * width + p / height] = true;
                }
            }
            pos += counts[j];
        }
        return mask;
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    /** A copy of the run lengths. */
    public int[] counts() {
        return counts.clone();
    }

    /** Number of pixels set. */
    public long area() {
        long a = 0;
        for (int j = 1; j < counts.length; j += 2) {
            a += counts[j];
        }
        return a;
    }

    /**
     * The bounding box {@code [x, y, w, h]} of the set pixels, as pycocotools' {@code toBbox}: all zeros for an
     * empty mask; a run of 1s that crosses a column boundary spans the full height.
     */
    public double[] bbox() {
        final long mask32 = 0xFFFFFFFFL; // maskApi computes in unsigned 32-bit arithmetic
        long h = height;
        long w = width;
        int m = (counts.length / 2) * 2;
        if (m == 0 || h == 0) {
            return new double[4];
        }
        long xs = w;
        long ys = h;
        long xe = 0;
        long ye = 0;
        long cc = 0;
        long xp = 0;
        for (int j = 0; j < m; j++) {
            cc = (cc + counts[j]) & mask32;
            long t = (cc - j % 2) & mask32;
            long y = t % h;
            long x = (t - y) / h;
            if (j % 2 == 0) {
                xp = x;
            } else if (xp < x) {
                ys = 0;
                ye = h - 1;
            }
            xs = Math.min(xs, x);
            xe = Math.max(xe, x);
            ys = Math.min(ys, y);
            ye = Math.max(ye, y);
        }
        return new double[] {xs, ys, (xe - xs + 1) & mask32, (ye - ys + 1) & mask32};
    }

    /** COCO's compressed string form (pycocotools' {@code rleToString}). */
    public String toCompressedString() {
        StringBuilder s = new StringBuilder(counts.length * 2);
        for (int i = 0; i < counts.length; i++) {
            long x = counts[i];
            if (i > 2) {
                x -= counts[i - 2];
            }
            boolean more = true;
            while (more) {
                int c = (int) (x & 0x1f);
                x >>= 5;
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more) {
                    c |= 0x20;
                }
                s.append((char) (c + 48));
            }
        }
        return s.toString();
    }

    /**
     * Decodes COCO's compressed string form (pycocotools' {@code rleFrString}).
     *
     * @throws IllegalArgumentException if a character is outside {@code '0'..'o'}, the string ends inside a
     *     number, a count comes out negative or the counts do not sum to {@code height * width}
     */
    public static Rle fromCompressedString(String s, int height, int width) {
        checkSize(height, width);
        int[] cnts = new int[s.length()];
        int m = 0;
        int p = 0;
        while (p < s.length()) {
            long x = 0;
            int k = 0;
            boolean more = true;
            while (more) {
                if (p >= s.length()) {
                    throw new IllegalArgumentException("compressed RLE ends inside a count");
                }
                char ch = s.charAt(p);
                if (ch < 48 || ch > 111) {
                    throw new IllegalArgumentException("compressed RLE has character '" + ch + "' at " + p
                            + " (allowed: '0'..'o')");
                }
                if (k >= 12) {
                    throw new IllegalArgumentException("compressed RLE has a count too long at " + p);
                }
                int c = ch - 48;
                x |= (long) (c & 0x1f) << (5 * k);
                more = (c & 0x20) != 0;
                p++;
                k++;
                if (!more && (c & 0x10) != 0) {
                    x |= -1L << (5 * k);
                }
            }
            if (m > 2) {
                x += cnts[m - 2];
            }
            if (x < 0 || x > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("compressed RLE count " + m + " is out of range (" + x + ")");
            }
            cnts[m++] = (int) x;
        }
        return of(height, width, Arrays.copyOf(cnts, m));
    }

    /**
     * Rasterises polygons {@code [x0, y0, x1, y1, ...]} (pixel coordinates, pixel (0,0) covering [0,1)²) exactly
     * as pycocotools' {@code rleFrPoly} and unites the parts as {@code merge}.
     *
     * @throws IllegalArgumentException if there are no polygons, a polygon is empty, has an odd number of values
     *     or a value that is not finite
     */
    public static Rle fromPolygons(List<double[]> polygons, int height, int width) {
        checkSize(height, width);
        if (polygons.isEmpty()) {
            throw new IllegalArgumentException("no polygons");
        }
        List<Rle> parts = new ArrayList<>(polygons.size());
        for (int i = 0; i < polygons.size(); i++) {
            double[] xy = polygons.get(i);
            if (xy.length == 0 || xy.length % 2 != 0) {
                throw new IllegalArgumentException("polygon " + i + " has " + xy.length
                        + " values; it needs x,y pairs");
            }
            for (double v : xy) {
                if (!Double.isFinite(v)) {
                    throw new IllegalArgumentException("polygon " + i + " has a value that is not finite: " + v);
                }
            }
            parts.add(fromPolygon(xy, height, width));
        }
        return merge(parts, false);
    }

    private static Rle fromPolygon(double[] xy, int h, int w) {
        final double scale = 5;
        int k = xy.length / 2;
        // vertices on the 5x grid, closed
        int[] x = new int[k + 1];
        int[] y = new int[k + 1];
        for (int j = 0; j < k; j++) {
            x[j] = (int) (scale * xy[2 * j] + .5);
            y[j] = (int) (scale * xy[2 * j + 1] + .5);
        }
        x[k] = x[0];
        y[k] = y[0];
        long total = 0;
        for (int j = 0; j < k; j++) {
            total += Math.max(Math.abs((long) x[j] - x[j + 1]), Math.abs((long) y[j] - y[j + 1])) + 1;
        }
        if (total > MAX_BOUNDARY_POINTS) {
            throw new IllegalArgumentException(
                    "polygon is too large to rasterise (coordinates far outside the image?)");
        }
        // every point along every edge, stepping along the longer axis
        int[] u = new int[(int) total];
        int[] v = new int[(int) total];
        int m = 0;
        for (int j = 0; j < k; j++) {
            int xs = x[j];
            int xe = x[j + 1];
            int ys = y[j];
            int ye = y[j + 1];
            int dx = Math.abs(xe - xs);
            int dy = Math.abs(ys - ye);
            boolean flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
            if (flip) {
                int t = xs;
                xs = xe;
                xe = t;
                t = ys;
                ys = ye;
                ye = t;
            }
            double s = dx >= dy ? (double) (ye - ys) / dx : (double) (xe - xs) / dy;
            if (dx >= dy) {
                for (int d = 0; d <= dx; d++) {
                    int t = flip ? dx - d : d;
                    u[m] = t + xs;
                    v[m] = (int) (ys + s * t + .5);
                    m++;
                }
            } else {
                for (int d = 0; d <= dy; d++) {
                    int t = flip ? dy - d : d;
                    v[m] = t + ys;
                    u[m] = (int) (xs + s * t + .5);
                    m++;
                }
            }
        }
        // where the boundary changes column: back to the pixel grid, as a column-major toggle position
        long[] pos = new long[m + 1];
        int n = 0;
        for (int j = 1; j < m; j++) {
            if (u[j] == u[j - 1]) {
                continue;
            }
            double xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
            xd = (xd + .5) / scale - .5;
            if (Math.floor(xd) != xd || xd < 0 || xd > w - 1) {
                continue;
            }
            double yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
            yd = (yd + .5) / scale - .5;
            if (yd < 0) {
                yd = 0;
            } else if (yd > h) {
                yd = h;
            }
            yd = Math.ceil(yd);
            pos[n++] = (long) (int) xd * h + (int) yd;
        }
        pos[n++] = (long) h * w;
        Arrays.sort(pos, 0, n);
        long prev = 0;
        for (int j = 0; j < n; j++) {
            long t = pos[j];
            pos[j] -= prev;
            prev = t;
        }
        // two toggles at one position cancel: fold the run after a zero-length run into the one before
        int[] b = new int[n];
        int j = 0;
        int c = 0;
        b[c++] = (int) pos[j++];
        while (j < n) {
            if (pos[j] > 0) {
                b[c++] = (int) pos[j++];
            } else {
                j++;
                if (j < n) {
                    b[c - 1] += (int) pos[j++];
                }
            }
        }
        return new Rle(h, w, Arrays.copyOf(b, c));
    }

    /**
     * The union (or intersection) of masks of one size, as pycocotools' {@code merge}. No parts give an empty
     * 0x0 mask; one part is returned as it is.
     *
     * @throws IllegalArgumentException if the parts differ in size
     */
    public static Rle merge(List<Rle> parts, boolean intersect) {
        if (parts.isEmpty()) {
            return new Rle(0, 0, new int[0]);
        }
        Rle first = parts.get(0);
        int h = first.height;
        int w = first.width;
        for (Rle r : parts) {
            if (r.height != h || r.width != w) {
                throw new IllegalArgumentException("cannot merge masks of sizes " + h + "x" + w + " and " + r.height
                        + "x" + r.width);
            }
        }
        if (parts.size() == 1) {
            return first;
        }
        int[] acc = first.counts;
        int[] out = new int[h * w + 1];
        for (int i = 1; i < parts.size(); i++) {
            int[] a = acc;
            int[] b = parts.get(i).counts;
            int ca = a.length > 0 ? a[0] : 0;
            int cb = b.length > 0 ? b[0] : 0;
            boolean v = false;
            boolean va = false;
            boolean vb = false;
            int m = 0;
            int ia = 1;
            int ib = 1;
            int cc = 0;
            long ct = 1;
            while (ct > 0) {
                int c = Math.min(ca, cb);
                cc += c;
                ct = 0;
                ca -= c;
                if (ca == 0 && ia < a.length) {
                    ca = a[ia++];
                    va = !va;
                }
                ct += ca;
                cb -= c;
                if (cb == 0 && ib < b.length) {
                    cb = b[ib++];
                    vb = !vb;
                }
                ct += cb;
                boolean vp = v;
                v = intersect ? va && vb : va || vb;
                if (v != vp || ct == 0) {
                    out[m++] = cc;
                    cc = 0;
                }
            }
            acc = Arrays.copyOf(out, m);
        }
        return new Rle(h, w, acc);
    }

    /**
     * Mask IoU as pycocotools' {@code iou}: {@code [dt.size()][gt.size()]}; against a crowd ground truth the
     * union is the detection's area.
     *
     * @param gtCrowd one flag per ground truth, or null for none
     * @throws IllegalArgumentException if a detection and a ground truth differ in size
     */
    public static double[][] iou(List<Rle> dt, List<Rle> gt, boolean[] gtCrowd) {
        checkCrowd(gtCrowd, gt.size());
        double[][] db = new double[dt.size()][];
        double[][] gb = new double[gt.size()][];
        for (int d = 0; d < db.length; d++) {
            db[d] = dt.get(d).bbox();
        }
        for (int g = 0; g < gb.length; g++) {
            gb[g] = gt.get(g).bbox();
        }
        double[][] o = iouBoxes(db, gb, gtCrowd);
        for (int g = 0; g < gb.length; g++) {
            boolean crowd = gtCrowd != null && gtCrowd[g];
            Rle gr = gt.get(g);
            for (int d = 0; d < db.length; d++) {
                Rle dr = dt.get(d);
                if (dr.height != gr.height || dr.width != gr.width) {
                    throw new IllegalArgumentException("detection " + d + " is " + dr.height + "x" + dr.width
                            + " but ground truth " + g + " is " + gr.height + "x" + gr.width);
                }
                if (o[d][g] > 0) { // boxes overlap: count the pixels
                    o[d][g] = maskIou(dr, gr, crowd);
                }
            }
        }
        return o;
    }

    private static double maskIou(Rle dt, Rle gt, boolean crowd) {
        int[] a = dt.counts;
        int[] b = gt.counts;
        long ca = a.length > 0 ? a[0] : 0;
        long cb = b.length > 0 ? b[0] : 0;
        boolean va = false;
        boolean vb = false;
        int ia = 1;
        int ib = 1;
        long inter = 0;
        long union = 0;
        long ct = 1;
        while (ct > 0) {
            long c = Math.min(ca, cb);
            if (va || vb) {
                union += c;
                if (va && vb) {
                    inter += c;
                }
            }
            ct = 0;
            ca -= c;
            if (ca == 0 && ia < a.length) {
                ca = a[ia++];
                va = !va;
            }
            ct += ca;
            cb -= c;
            if (cb == 0 && ib < b.length) {
                cb = b[ib++];
                vb = !vb;
            }
            ct += cb;
        }
        if (inter == 0) {
            union = 1;
        } else if (crowd) {
            union = dt.area();
        }
        return (double) inter / (double) union;
    }

    /**
     * Box IoU as pycocotools' {@code iou} on {@code [x, y, w, h]} boxes (no +1): {@code [dt.length][gt.length]};
     * against a crowd ground truth the union is the detection's area.
     *
     * @param crowd one flag per ground truth, or null for none
     */
    public static double[][] iouBoxes(double[][] dt, double[][] gt, boolean[] crowd) {
        checkCrowd(crowd, gt.length);
        double[][] o = new double[dt.length][gt.length];
        for (int g = 0; g < gt.length; g++) {
            double[] gb = gt[g];
            double ga = gb[2] * gb[3];
            boolean isCrowd = crowd != null && crowd[g];
            for (int d = 0; d < dt.length; d++) {
                double[] db = dt[d];
                double da = db[2] * db[3];
                double iw = Math.min(db[2] + db[0], gb[2] + gb[0]) - Math.max(db[0], gb[0]);
                if (iw <= 0) {
                    continue;
                }
                double ih = Math.min(db[3] + db[1], gb[3] + gb[1]) - Math.max(db[1], gb[1]);
                if (ih <= 0) {
                    continue;
                }
                double i = iw * ih;
                double u = isCrowd ? da : da + ga - i;
                o[d][g] = i / u;
            }
        }
        return o;
    }

    private static void checkCrowd(boolean[] crowd, int n) {
        if (crowd != null && crowd.length != n) {
            throw new IllegalArgumentException("crowd flags: " + crowd.length + " for " + n + " ground truths");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Rle r && r.height == height && r.width == width && Arrays.equals(r.counts, counts);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * height + width) + Arrays.hashCode(counts);
    }

    @Override
    public String toString() {
        return "Rle[" + height + "x" + width + ", area " + area() + ", counts " + counts.length + "]";
    }
}
