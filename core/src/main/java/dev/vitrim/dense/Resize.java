package dev.vitrim.dense;

import dev.vitrim.VitrimException;

/**
 * Nearest-neighbour resizing of label maps, masks and maps, half-pixel centred: output index o reads input
 * {@code min(floor((o + 0.5) * in / out), in - 1)} per axis (torch's {@code 'nearest-exact'}), computed in integers.
 * Unlike the legacy {@code 'nearest'} ({@code floor(o * in / out)}) this does not shift the map by half a source
 * pixel when enlarging it.
 */
public final class Resize {
    private Resize() {}

    /** Labels ({@code h x w}, row-major) resized to {@code outH x outW}. */
    public static byte[] resizeLabels(byte[] labels, int h, int w, int outH, int outW) {
        checkLength("labels", labels == null ? -1 : labels.length, h, w);
        int[] ys = index(h, outH);
        int[] xs = index(w, outW);
        byte[] out = new byte[outH * outW];
        for (int y = 0; y < outH; y++) {
            for (int x = 0; x < outW; x++) {
                out[y * outW + x] = labels[ys[y] * w + xs[x]];
            }
        }
        return out;
    }

    /** A mask ({@code h x w}, row-major) resized to {@code outH x outW}. */
    public static boolean[] resizeMask(boolean[] mask, int h, int w, int outH, int outW) {
        checkLength("mask", mask == null ? -1 : mask.length, h, w);
        int[] ys = index(h, outH);
        int[] xs = index(w, outW);
        boolean[] out = new boolean[outH * outW];
        for (int y = 0; y < outH; y++) {
            for (int x = 0; x < outW; x++) {
                out[y * outW + x] = mask[ys[y] * w + xs[x]];
            }
        }
        return out;
    }

    /** Every channel of {@code m} resized to {@code outH x outW}, e.g. a one-channel map of class indices. */
    public static Maps resizeNearest(Maps m, int outH, int outW) {
        int[] ys = index(m.height(), outH);
        int[] xs = index(m.width(), outW);
        float[] out = new float[m.channels() * outH * outW];
        for (int c = 0; c < m.channels(); c++) {
            for (int y = 0; y < outH; y++) {
                for (int x = 0; x < outW; x++) {
                    out[(c * outH + y) * outW + x] = m.get(c, ys[y], xs[x]);
                }
            }
        }
        return new Maps(m.channels(), outH, outW, out);
    }

    /** The source index of every output index of one axis. */
    static int[] index(int in, int out) {
        if (in <= 0 || out <= 0) {
            throw new VitrimException("resize: sizes must be positive, got " + in + " -> " + out);
        }
        int[] idx = new int[out];
        for (int o = 0; o < out; o++) {
            idx[o] = (int) Math.min(((2L * o + 1) * in) / (2L * out), in - 1);
        }
        return idx;
    }

    private static void checkLength(String what, int length, int h, int w) {
        if (h <= 0 || w <= 0) {
            throw new VitrimException(what + ": size must be positive, got " + h + "x" + w);
        }
        if (length != (long) h * w) {
            throw new VitrimException(what + ": a " + h + "x" + w + " map needs " + (long) h * w + " values, got "
                    + (length < 0 ? "none" : length));
        }
    }
}
