package dev.vitrim.dense;

import dev.vitrim.VitrimException;

/** Per-pixel operations on class maps {@code [classes, H, W]} (class 0 = background). */
public final class Semantic {
    private Semantic() {}

    /** Softmax over the channels at every pixel (max-subtracted, accumulated in double). */
    public static Maps softmax(Maps logits) {
        int c = logits.channels();
        int hw = logits.plane();
        float[] in = logits.data();
        float[] out = new float[in.length];
        for (int p = 0; p < hw; p++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int k = 0; k < c; k++) {
                max = Math.max(max, in[k * hw + p]);
            }
            double sum = 0;
            for (int k = 0; k < c; k++) {
                sum += Math.exp(in[k * hw + p] - max);
            }
            for (int k = 0; k < c; k++) {
                out[k * hw + p] = (float) (Math.exp(in[k * hw + p] - max) / sum);
            }
        }
        return new Maps(c, logits.height(), logits.width(), out);
    }

    /**
     * The class of every pixel, row-major: the channel with the largest value, the lowest index on a tie (as
     * {@code torch.argmax} on CPU). At most 256 channels; read the bytes as unsigned.
     */
    public static byte[] argmax(Maps scores) {
        int c = scores.channels();
        if (c > 256) {
            throw new VitrimException("argmax: at most 256 classes fit a byte label, got " + c);
        }
        int hw = scores.plane();
        float[] in = scores.data();
        byte[] out = new byte[hw];
        for (int p = 0; p < hw; p++) {
            int best = 0;
            float bv = in[p];
            for (int k = 1; k < c; k++) {
                float v = in[k * hw + p];
                if (v > bv) {
                    bv = v;
                    best = k;
                }
            }
            out[p] = (byte) best;
        }
        return out;
    }
}
