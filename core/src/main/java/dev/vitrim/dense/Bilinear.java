package dev.vitrim.dense;

import dev.vitrim.VitrimException;

/**
 * Bilinear resizing exactly as PyTorch's {@code F.interpolate(x, size=(outH, outW), mode='bilinear',
 * align_corners=False)} (antialias off), per axis:
 * {@code src = max(0, (dst + 0.5) * in / out - 0.5)}, {@code i0 = floor(src)}, {@code i1 = min(i0 + 1, in - 1)},
 * weights {@code 1 - (src - i0)} and {@code src - i0}. The source coordinate is computed in float, as PyTorch does
 * for float tensors. Downscaling uses the same two taps (no antialiasing), like PyTorch's default.
 */
final class Bilinear {
    private Bilinear() {}

    /**
     * The interpolation weights {@code U[out][in]} of one axis: row {@code o} holds at most two non-zero weights
     * summing to 1. Resizing an {@code H x W} map X is {@code U_h · X · U_wᵀ}.
     */
    public static float[][] matrix(int in, int out) {
        check(in, out);
        float[][] u = new float[out][in];
        int[] i0 = new int[out];
        int[] i1 = new int[out];
        float[] w1 = new float[out];
        taps(in, out, i0, i1, w1);
        for (int o = 0; o < out; o++) {
            u[o][i0[o]] += 1f - w1[o];
            u[o][i1[o]] += w1[o];
        }
        return u;
    }

    /** Every channel of {@code m} resized to {@code outH x outW}. */
    public static Maps upsample(Maps m, int outH, int outW) {
        check(m.height(), outH);
        check(m.width(), outW);
        int h = m.height();
        int w = m.width();
        int[] y0 = new int[outH];
        int[] y1 = new int[outH];
        float[] wy = new float[outH];
        taps(h, outH, y0, y1, wy);
        int[] x0 = new int[outW];
        int[] x1 = new int[outW];
        float[] wx = new float[outW];
        taps(w, outW, x0, x1, wx);
        float[] src = m.data();
        float[] out = new float[m.channels() * outH * outW];
        float[] row = new float[outW];
        for (int c = 0; c < m.channels(); c++) {
            int base = c * h * w;
            for (int oy = 0; oy < outH; oy++) {
                int r0 = base + y0[oy] * w;
                int r1 = base + y1[oy] * w;
                float b = wy[oy];
                float a = 1f - b;
                for (int ox = 0; ox < outW; ox++) {
                    float top = (1f - wx[ox]) * src[r0 + x0[ox]] + wx[ox] * src[r0 + x1[ox]];
                    float bottom = (1f - wx[ox]) * src[r1 + x0[ox]] + wx[ox] * src[r1 + x1[ox]];
                    row[ox] = a * top + b * bottom;
                }
                System.arraycopy(row, 0, out, (c * outH + oy) * outW, outW);
            }
        }
        return new Maps(m.channels(), outH, outW, out);
    }

    /** For each output index: the two input taps and the weight of the second one. */
    static void taps(int in, int out, int[] i0, int[] i1, float[] w1) {
        float scale = (float) in / out;
        for (int o = 0; o < out; o++) {
            float src = Math.max(0f, scale * (o + 0.5f) - 0.5f);
            int lo = (int) src;
            i0[o] = lo;
            i1[o] = lo < in - 1 ? lo + 1 : lo;
            w1[o] = src - lo;
        }
    }

    private static void check(int in, int out) {
        if (in <= 0 || out <= 0) {
            throw new VitrimException("bilinear: sizes must be positive, got " + in + " -> " + out);
        }
    }
}
