package dev.vitrim.dense;

import dev.vitrim.VitrimException;
import java.util.Locale;

/**
 * One class label per patch from a per-pixel label map (0 background, 1..K the classes, {@value DenseLoss#IGNORE}
 * ignore), for Token Cropr's segmentation auxiliary loss, two ways:
 * <ul>
 *   <li>{@link Mode#NEAREST}: PyTorch's (legacy) {@code nearest} interpolation to the patch grid, as the Cropr authors
 *       downsample: output cell {@code i} reads input pixel {@code min(floor(i · in/out), in − 1)}; when the image is
 *       a whole number of patches that is the top-left pixel of each patch, so thin or small objects can vanish;</li>
 *   <li>{@link Mode#MAJORITY}: the most frequent label among the patch's pixels that are not
 *       {@value DenseLoss#IGNORE}; ties go to the lower label; a patch of ignored pixels only is
 *       {@value DenseLoss#IGNORE}.</li>
 * </ul>
 */
public final class PatchLabels {
    private PatchLabels() {}

    /** How a patch's label is picked from its pixels. */
    public enum Mode {
        /** One pixel per patch, as PyTorch's nearest interpolation picks it (the authors' choice). */
        NEAREST,
        /** The patch's most frequent non-ignored label. */
        MAJORITY;

        /** {@code nearest} or {@code majority} (any case); anything else is an error naming the choices. */
        public static Mode parse(String s) {
            for (Mode m : values()) {
                if (m.name().equalsIgnoreCase(s == null ? "" : s.strip())) {
                    return m;
                }
            }
            throw new VitrimException("patch labels '" + s + "': choose nearest or majority");
        }

        /** The lower-case name, as {@link #parse} reads it. */
        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * The labels of the {@code (height/stride) × (width/stride)} patches of a {@code height × width} label map
     * (row-major, unsigned bytes), row-major, each 0…255.
     */
    public static int[] of(byte[] labels, int height, int width, int stride, Mode mode) {
        if (stride < 1 || height < stride || width < stride) {
            throw new VitrimException("patch labels: a " + height + "x" + width + " label map has no whole " + stride
                    + "-pixel patch");
        }
        if (labels.length != height * width) {
            throw new VitrimException("patch labels: " + labels.length + " labels for a " + height + "x" + width
                    + " map");
        }
        int gh = height / stride;
        int gw = width / stride;
        int[] out = new int[gh * gw];
        if (mode == Mode.NEAREST) {
            for (int i = 0; i < gh; i++) {
                int y = nearestSource(i, height, gh);
                for (int j = 0; j < gw; j++) {
                    out[i * gw + j] = labels[y * width + nearestSource(j, width, gw)] & 0xFF;
                }
            }
            return out;
        }
        int[] count = new int[256];
        for (int i = 0; i < gh; i++) {
            for (int j = 0; j < gw; j++) {
                java.util.Arrays.fill(count, 0);
                for (int y = i * stride; y < (i + 1) * stride; y++) {
                    for (int x = j * stride; x < (j + 1) * stride; x++) {
                        count[labels[y * width + x] & 0xFF]++;
                    }
                }
                int best = DenseLoss.IGNORE;
                for (int v = 0; v < 256; v++) {
                    if (v != DenseLoss.IGNORE && count[v] > 0 && (best == DenseLoss.IGNORE || count[v] > count[best])) {
                        best = v;
                    }
                }
                out[i * gw + j] = best;
            }
        }
        return out;
    }

    /**
     * The input index PyTorch's legacy {@code nearest} mode reads for output index {@code dst} when resizing
     * {@code in} samples to {@code out} (no scale factor given): {@code min(floor(dst · (float) in/out), in − 1)}.
     */
    static int nearestSource(int dst, int in, int out) {
        float scale = (float) in / out;
        return Math.min((int) Math.floor(dst * scale), in - 1);
    }
}
