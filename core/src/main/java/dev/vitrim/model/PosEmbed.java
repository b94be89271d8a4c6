package dev.vitrim.model;

/**
 * Resampling of a grid of position embeddings, as timm's {@code resample_abs_pos_embed} does it by default:
 * PyTorch's antialiased bicubic interpolation ({@code F.interpolate(mode='bicubic', antialias=True,
 * align_corners=False)}: cubic kernel with A = -0.5, support widened by the scale when shrinking, taps outside
 * the grid dropped and the weights renormalised). The plain variant (A = -0.75, borders clamped) is what
 * {@code antialias=False} gives.
 */
final class PosEmbed {
    private static final double A = -0.75;

    private PosEmbed() {}

    /**
     * @param src [gh * gw, dim] row-major grid of embeddings
     * @return [nh * nw, dim]
     */
    public static float[] resampleBicubic(float[] src, int gh, int gw, int nh, int nw, int dim) {
        return resampleBicubic(src, gh, gw, nh, nw, dim, true);
    }

    public static float[] resampleBicubic(float[] src, int gh, int gw, int nh, int nw, int dim, boolean antialias) {
        if (src.length != gh * gw * dim) {
            throw new IllegalArgumentException("grid " + gh + "x" + gw + "x" + dim + " != " + src.length);
        }
        if (gh == nh && gw == nw) {
            return src.clone();
        }
        int[][] yIdx = new int[nh][];
        double[][] yW = new double[nh][];
        int[][] xIdx = new int[nw][];
        double[][] xW = new double[nw][];
        if (antialias) {
            tapsAntialias(gh, nh, yIdx, yW);
            tapsAntialias(gw, nw, xIdx, xW);
        } else {
            taps(gh, nh, yIdx, yW);
            taps(gw, nw, xIdx, xW);
        }
        float[] out = new float[nh * nw * dim];
        double[] acc = new double[dim];
        for (int oy = 0; oy < nh; oy++) {
            for (int ox = 0; ox < nw; ox++) {
                java.util.Arrays.fill(acc, 0);
                for (int i = 0; i < yIdx[oy].length; i++) {
                    for (int j = 0; j < xIdx[ox].length; j++) {
                        double w = yW[oy][i] * xW[ox][j];
                        int base = (yIdx[oy][i] * gw + xIdx[ox][j]) * dim;
                        for (int c = 0; c < dim; c++) {
                            acc[c] += w * src[base + c];
                        }
                    }
                }
                int o = (oy * nw + ox) * dim;
                for (int c = 0; c < dim; c++) {
                    out[o + c] = (float) acc[c];
                }
            }
        }
        return out;
    }

    /** PyTorch's separable antialiased filter (the same construction as PIL's resampling). */
    private static void tapsAntialias(int in, int out, int[][] idx, double[][] w) {
        double scale = (double) in / out;
        double support = scale >= 1 ? 2 * scale : 2;
        double invScale = scale >= 1 ? 1 / scale : 1;
        for (int o = 0; o < out; o++) {
            double center = scale * (o + 0.5);
            int lo = Math.max((int) (center - support + 0.5), 0);
            int hi = Math.min((int) (center + support + 0.5), in);
            int n = Math.max(hi - lo, 0);
            idx[o] = new int[n];
            w[o] = new double[n];
            double total = 0;
            for (int j = 0; j < n; j++) {
                double v = aaCubic((j + lo - center + 0.5) * invScale);
                idx[o][j] = lo + j;
                w[o][j] = v;
                total += v;
            }
            for (int j = 0; j < n; j++) {
                w[o][j] = total != 0 ? w[o][j] / total : 0;
            }
        }
    }

    private static double aaCubic(double x) { // A = -0.5, as PIL and PyTorch's antialiased kernels use
        double a = -0.5;
        x = Math.abs(x);
        if (x < 1) {
            return ((a + 2) * x - (a + 3)) * x * x + 1;
        }
        if (x < 2) {
            return (((x - 5) * x + 8) * x - 4) * a;
        }
        return 0;
    }

    private static void taps(int in, int out, int[][] idx, double[][] w) {
        double scale = (double) in / out;
        for (int o = 0; o < out; o++) {
            idx[o] = new int[4];
            w[o] = new double[4];
            double real = scale * (o + 0.5) - 0.5;
            int i0 = (int) Math.floor(real);
            double t = real - i0;
            double[] c = {cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)};
            for (int k = 0; k < 4; k++) {
                idx[o][k] = Math.min(Math.max(i0 - 1 + k, 0), in - 1);
                w[o][k] = c[k];
            }
        }
    }

    private static double cubic1(double x) { // |x| <= 1
        return ((A + 2) * x - (A + 3)) * x * x + 1;
    }

    private static double cubic2(double x) { // 1 < |x| < 2
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    }
}
