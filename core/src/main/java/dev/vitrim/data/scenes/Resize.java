package dev.vitrim.data.scenes;

/**
 * Resizing of an interleaved 8-bit RGB region: area averaging (each output pixel is the mean of the input area it
 * covers, with fractional edge weights) along an axis that shrinks, bilinear interpolation (pixel centres aligned)
 * along one that grows. Separable: a horizontal pass into floats, then a vertical pass.
 */
final class Resize {
    private Resize() {}

    /** Taps of one axis: output j reads inputs {@code first[j] .. first[j] + count[j] - 1} with {@code weight[j][.]}. */
    record Taps(int[] first, int[] count, float[][] weight) {}

    static Taps taps(int in, int out) {
        int[] first = new int[out];
        int[] count = new int[out];
        float[][] w = new float[out][];
        double scale = (double) in / out;
        for (int j = 0; j < out; j++) {
            if (scale >= 1) {
                double a = j * scale;
                double b = Math.min(in, (j + 1) * scale);
                int i0 = (int) Math.floor(a);
                int i1 = Math.min(in, (int) Math.ceil(b));
                first[j] = i0;
                count[j] = i1 - i0;
                w[j] = new float[i1 - i0];
                for (int i = i0; i < i1; i++) {
                    w[j][i - i0] = (float) ((Math.min(b, i + 1) - Math.max(a, i)) / (b - a));
                }
            } else {
                double c = (j + 0.5) * scale - 0.5;
                int i0 = (int) Math.floor(c);
                double t = c - i0;
                int lo = Math.max(0, Math.min(in - 1, i0));
                int hi = Math.max(0, Math.min(in - 1, i0 + 1));
                first[j] = lo;
                if (hi == lo) {
                    count[j] = 1;
                    w[j] = new float[] {1f};
                } else {
                    count[j] = 2;
                    w[j] = new float[] {(float) (1 - t), (float) t};
                }
            }
        }
        return new Taps(first, count, w);
    }

    /**
     * Resizes the region {@code [x0, x0 + w) x [y0, y0 + h)} of an interleaved RGB image of width {@code stride} to
     * {@code outW x outH}, mirrored left-right when {@code flip}. Returns CHW planes when {@code planar}, interleaved
     * RGB otherwise.
     */
    static byte[] region(byte[] rgb, int stride, int x0, int y0, int w, int h, int outW, int outH, boolean flip,
                         boolean planar) {
        Taps tx = taps(w, outW);
        Taps ty = taps(h, outH);
        float[] tmp = new float[h * outW * 3];
        for (int y = 0; y < h; y++) {
            int row = ((y0 + y) * stride + x0) * 3;
            for (int j = 0; j < outW; j++) {
                float r = 0;
                float g = 0;
                float b = 0;
                float[] wt = tx.weight[j];
                int p = row + tx.first[j] * 3;
                for (int k = 0; k < wt.length; k++, p += 3) {
                    r += wt[k] * (rgb[p] & 0xFF);
                    g += wt[k] * (rgb[p + 1] & 0xFF);
                    b += wt[k] * (rgb[p + 2] & 0xFF);
                }
                int o = (y * outW + j) * 3;
                tmp[o] = r;
                tmp[o + 1] = g;
                tmp[o + 2] = b;
            }
        }
        byte[] out = new byte[outW * outH * 3];
        int plane = outW * outH;
        for (int i = 0; i < outH; i++) {
            float[] wt = ty.weight[i];
            for (int j = 0; j < outW; j++) {
                float r = 0;
                float g = 0;
                float b = 0;
                int p = (ty.first[i] * outW + j) * 3;
                for (int k = 0; k < wt.length; k++, p += outW * 3) {
                    r += wt[k] * tmp[p];
                    g += wt[k] * tmp[p + 1];
                    b += wt[k] * tmp[p + 2];
                }
                int x = flip ? outW - 1 - j : j;
                if (planar) {
                    int o = i * outW + x;
                    out[o] = clip(r);
                    out[plane + o] = clip(g);
                    out[2 * plane + o] = clip(b);
                } else {
                    int o = (i * outW + x) * 3;
                    out[o] = clip(r);
                    out[o + 1] = clip(g);
                    out[o + 2] = clip(b);
                }
            }
        }
        return out;
    }

    static byte clip(float v) {
        int i = Math.round(v);
        return (byte) (i < 0 ? 0 : Math.min(255, i));
    }
}
