package dev.vitrim.dense;

import java.util.List;

/**
 * One image with dense annotations: RGB samples ({@code rgb}, CHW, 8-bit), the class of every pixel ({@code labels},
 * row-major: 0 background, k = class k − 1, {@value DenseLoss#IGNORE} ignore), the instance of every pixel
 * ({@code instanceIds}: 0 none, k = {@code boxes.get(k − 1)}) and the objects' boxes in pixels.
 */
public record DenseExample(String name, int height, int width, byte[] rgb, byte[] labels, int[] instanceIds,
                           List<Box> boxes) {
    public DenseExample {
        int hw = height * width;
        if (rgb.length != 3 * hw || labels.length != hw || instanceIds.length != hw) {
            throw new IllegalArgumentException(name + ": " + height + "x" + width + " needs " + 3 * hw + " samples and "
                    + hw + " labels and ids, got " + rgb.length + ", " + labels.length + ", " + instanceIds.length);
        }
    }

    /** Instance k's mask (0-based), row-major. */
    public boolean[] mask(int k) {
        boolean[] m = new boolean[instanceIds.length];
        for (int i = 0; i < m.length; i++) {
            m[i] = instanceIds[i] == k + 1;
        }
        return m;
    }
}
