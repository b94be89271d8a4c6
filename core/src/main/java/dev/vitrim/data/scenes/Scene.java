package dev.vitrim.data.scenes;

import java.util.List;

/**
 * A generated scene: clothing items pasted on a photo, with per-pixel labels and per-pixel instance ids.
 *
 * @param height      image height (112)
 * @param width       image width (112)
 * @param rgb         the image, 8-bit, CHW: three planes (R, G, B) of {@code height x width}, row-major
 * @param labels      {@code height x width}, row-major: 0 background, {@code category + 1} (1..10) on the visible
 *                    pixels of an instance, 255 (ignore) on the few visible pixels of an item that was almost
 *                    entirely covered by later ones and so is not an instance
 * @param instanceIds {@code height x width}, row-major: 0 where there is no instance, {@code k} where instance
 *                    {@code instances.get(k - 1)} is visible
 * @param instances   the visible items, in paste order (later ones cover earlier ones)
 * @param photo       the background photo, as {@code <data set>/<file>}, e.g. "skimage-photos/coffee.png"
 */
public record Scene(int height, int width, byte[] rgb, byte[] labels, int[] instanceIds, List<Instance> instances,
                    String photo) {
    public Scene {
        int n = height * width;
        if (rgb.length != 3 * n || labels.length != n || instanceIds.length != n) {
            throw new IllegalArgumentException("a " + height + "x" + width + " scene needs " + 3 * n + " rgb bytes and "
                    + n + " labels and ids, got " + rgb.length + ", " + labels.length + ", " + instanceIds.length);
        }
        instances = List.copyOf(instances);
    }

    /** The visible pixels of instance {@code k} (0-based), row-major. */
    public boolean[] mask(int k) {
        if (k < 0 || k >= instances.size()) {
            throw new IndexOutOfBoundsException("instance " + k + " of " + instances.size());
        }
        boolean[] m = new boolean[instanceIds.length];
        for (int i = 0; i < m.length; i++) {
            m[i] = instanceIds[i] == k + 1;
        }
        return m;
    }
}
