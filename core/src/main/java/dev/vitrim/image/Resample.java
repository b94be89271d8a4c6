package dev.vitrim.image;

/**
 * A bit-exact port of Pillow's 8-bit resampling ({@code ImagingResample} in libImaging/Resample.c, unchanged in
 * the relevant parts from Pillow 5 through 11) for interleaved 8-bit RGB.
 *
 * <p>What PIL does, and this class reproduces:
 * <ul>
 *   <li>separable: a horizontal pass (only if the width changes) into an 8-bit intermediate image, then a
 *       vertical pass (only if the height changes);</li>
 *   <li>per output pixel xx: {@code center = (xx + 0.5) * scale}, {@code scale = in / out}; when downscaling
 *       the filter is stretched by {@code scale} (antialiasing): {@code support = filter_support * max(scale, 1)};
 *       taps {@code x in [xmin, xmax)} with {@code xmin = (int)(center - support + 0.5)} clamped to 0 and
 *       {@code xmax = (int)(center + support + 0.5)} clamped to the input size; weights
 *       {@code filter((x - center + 0.5) / max(scale, 1))} in double, divided by their sum;</li>
 *   <li>weights converted to fixed point with {@code PRECISION_BITS = 32 - 8 - 2 = 22}, rounding half away from
 *       zero; sums accumulated in 32-bit int starting from {@code 1 << 21}; result {@code sum >> 22}
 *       clipped to 0..255.</li>
 * </ul>
 * Each output pixel depends only on its own row/column taps, so computing just a sub-rectangle of the
 * output (the centre crop) gives exactly the same values as PIL's full resize followed by a crop.
 */
final class Resample {
    static final int PRECISION_BITS = 32 - 8 - 2;

    private Resample() {}

    /** Filter taps of one axis: for output index i, {@code count[i]} weights starting at input {@code min[i]}. */
    static final class Coeffs {
        final int ksize;
        final int[] min;
        final int[] count;
        /** Normalised double weights, {@code ksize} per output index (zero-padded). */
        final double[] weights;
        /** Fixed-point weights as normalize_coeffs_8bpc computes them. */
        final int[] fixed;

        Coeffs(int ksize, int[] min, int[] count, double[] weights) {
            this.ksize = ksize;
            this.min = min;
            this.count = count;
            this.weights = weights;
            this.fixed = new int[weights.length];
            for (int i = 0; i < weights.length; i++) {
                double w = weights[i];
                fixed[i] = w < 0 ? (int) (-0.5 + w * (1 << PRECISION_BITS)) : (int) (0.5 + w * (1 << PRECISION_BITS));
            }
        }
    }

    /** precompute_coeffs of Resample.c for the box [0, inSize) mapped onto outSize pixels. */
    static Coeffs coeffs(int inSize, int outSize, Interpolation filter) {
        return coeffs(inSize, outSize, filter, 0, outSize);
    }

    /**
     * As {@link #coeffs(int, int, Interpolation)} but only for output indices [from, to); entry {@code i} of the
     * result belongs to output index {@code from + i}. The values do not depend on the range.
     */
    static Coeffs coeffs(int inSize, int outSize, Interpolation filter, int from, int to) {
        // (double)(in1 - in0) / outSize with in0 = 0f, in1 = (float) inSize: exact for any realistic size
        double scale = (double) (float) inSize / outSize;
        double filterscale = scale < 1.0 ? 1.0 : scale;
        double support = filter.support() * filterscale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int n = to - from;
        int[] min = new int[n];
        int[] count = new int[n];
        double[] kk = new double[Math.multiplyExact(n, ksize)];
        double ss = 1.0 / filterscale;
        for (int xx = from; xx < to; xx++) {
            double center = (xx + 0.5) * scale;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) {
                xmin = 0;
            }
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) {
                xmax = inSize;
            }
            xmax -= xmin;
            int base = (xx - from) * ksize;
            double ww = 0.0;
            for (int x = 0; x < xmax; x++) {
                double w = filter.filter((x + xmin - center + 0.5) * ss);
                kk[base + x] = w;
                ww += w;
            }
            if (ww != 0.0) {
                for (int x = 0; x < xmax; x++) {
                    kk[base + x] /= ww;
                }
            }
            min[xx - from] = xmin;
            count[xx - from] = xmax;
        }
        return new Coeffs(ksize, min, count, kk);
    }

    /** clip8 of Resample.c: {@code ss >> PRECISION_BITS} clamped to 0..255. */
    static int clip8(int ss) {
        int v = ss >> PRECISION_BITS;
        return v < 0 ? 0 : (v > 255 ? 255 : v);
    }

    /** {@code Image.resize((outW, outH), filter)} of an RGB image, exactly as PIL. */
    static RgbImage resize(RgbImage in, int outW, int outH, Interpolation filter) {
        return resizeRegion(in, outW, outH, filter, 0, 0, outW, outH);
    }

    /**
     * The sub-rectangle [x0, x0 + w) x [y0, y0 + h) of {@code Image.resize((outW, outH), filter)}; the rectangle
     * must lie inside the output.
     */
    static RgbImage resizeRegion(RgbImage in, int outW, int outH, Interpolation filter, int x0, int y0, int w, int h) {
        if (outW < 1 || outH < 1 || x0 < 0 || y0 < 0 || w < 1 || h < 1 || x0 + w > outW || y0 + h > outH) {
            throw new IllegalArgumentException("bad resize region " + x0 + "," + y0 + " " + w + "x" + h
                    + " of " + outW + "x" + outH);
        }
        final int inW = in.width();
        final int inH = in.height();
        final boolean horizontal = outW != inW;
        final boolean vertical = outH != inH;
        final Coeffs cv = vertical ? coeffs(inH, outH, filter, y0, y0 + h) : null;

        // Input rows that the wanted output rows need.
        int rowFirst;
        int rowLast; // exclusive
        if (vertical) {
            rowFirst = Integer.MAX_VALUE;
            rowLast = 0;
            for (int i = 0; i < h; i++) {
                rowFirst = Math.min(rowFirst, cv.min[i]);
                rowLast = Math.max(rowLast, cv.min[i] + cv.count[i]);
            }
        } else {
            rowFirst = y0;
            rowLast = y0 + h;
        }

        // Horizontal pass: rows [rowFirst, rowLast), output columns [x0, x0 + w), 8-bit result.
        byte[] tmp;
        int tmpW = w;
        if (horizontal) {
            Coeffs ch = coeffs(inW, outW, filter, x0, x0 + w);
            tmp = horizontalPass(in.rgb(), inW, rowFirst, rowLast, ch, w);
        } else {
            tmp = new byte[3 * w * (rowLast - rowFirst)];
            for (int y = rowFirst; y < rowLast; y++) {
                System.arraycopy(in.rgb(), 3 * (y * inW + x0), tmp, 3 * (y - rowFirst) * w, 3 * w);
            }
        }

        if (!vertical) {
            return new RgbImage(w, h, tmp); // rowFirst == y0, rowLast == y0 + h
        }
        return new RgbImage(w, h, verticalPass(tmp, tmpW, rowFirst, cv, h));
    }

    /** Output columns 0..w-1 of {@code c} (its range), input rows [rowFirst, rowLast). */
    private static byte[] horizontalPass(byte[] src, int inW, int rowFirst, int rowLast, Coeffs c, int w) {
        final int half = 1 << (PRECISION_BITS - 1);
        final int ksize = c.ksize;
        final int[] k = c.fixed;
        byte[] out = new byte[3 * w * (rowLast - rowFirst)];
        int o = 0;
        for (int y = rowFirst; y < rowLast; y++) {
            final int rowBase = 3 * y * inW;
            for (int xx = 0; xx < w; xx++) {
                final int kb = xx * ksize;
                final int n = c.count[xx];
                int p = rowBase + 3 * c.min[xx];
                int s0 = half;
                int s1 = half;
                int s2 = half;
                for (int x = 0; x < n; x++, p += 3) {
                    final int kx = k[kb + x];
                    s0 += (src[p] & 0xFF) * kx;
                    s1 += (src[p + 1] & 0xFF) * kx;
                    s2 += (src[p + 2] & 0xFF) * kx;
                }
                out[o++] = (byte) clip8(s0);
                out[o++] = (byte) clip8(s1);
                out[o++] = (byte) clip8(s2);
            }
        }
        return out;
    }

    /** Output rows 0..h-1 of {@code c} (its range) from the intermediate rows starting at input row rowFirst. */
    private static byte[] verticalPass(byte[] tmp, int w, int rowFirst, Coeffs c, int h) {
        final int half = 1 << (PRECISION_BITS - 1);
        final int ksize = c.ksize;
        final int[] k = c.fixed;
        final int stride = 3 * w;
        byte[] out = new byte[3 * w * h];
        int[] acc = new int[stride];
        for (int yy = 0; yy < h; yy++) {
            final int kb = yy * ksize;
            final int n = c.count[yy];
            final int first = c.min[yy] - rowFirst;
            java.util.Arrays.fill(acc, half);
            for (int y = 0; y < n; y++) {
                final int ky = k[kb + y];
                final int rb = (first + y) * stride;
                for (int i = 0; i < stride; i++) {
                    acc[i] += (tmp[rb + i] & 0xFF) * ky;
                }
            }
            final int ob = yy * stride;
            for (int i = 0; i < stride; i++) {
                out[ob + i] = (byte) clip8(acc[i]);
            }
        }
        return out;
    }
}
