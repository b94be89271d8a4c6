package dev.vitrim.data;

import dev.vitrim.VitrimException;
import java.util.List;

/**
 * Images of one size with integer labels, held in memory as 8-bit samples: image {@code i} occupies
 * {@code pixels[i * imageBytes() ...]} in CHW order ({@code channels} planes of {@code height x width}); one channel
 * means grey. Labels index {@link #classes()}.
 */
public final class LabeledImages {
    private final String name;
    private final List<String> classes;
    private final int channels;
    private final int height;
    private final int width;
    private final byte[] pixels;
    private final int[] labels;

    public LabeledImages(String name, List<String> classes, int channels, int height, int width, byte[] pixels,
                         int[] labels) {
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
        }
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("image size must be positive, got " + height + "x" + width);
        }
        long need = (long) labels.length * channels * height * width;
        if (pixels.length != need) {
            throw new IllegalArgumentException(labels.length + " images of " + channels + "x" + height + "x" + width
                    + " need " + need + " bytes, got " + pixels.length);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes.size()) {
                throw new VitrimException(name + ": label " + labels[i] + " of image " + i + " is outside 0.."
                        + (classes.size() - 1));
            }
        }
        this.name = name;
        this.classes = List.copyOf(classes);
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.pixels = pixels;
        this.labels = labels;
    }

    /** Where the images come from, e.g. "mnist:train" or "folder:/data/pets (val)". */
    public String name() {
        return name;
    }

    public List<String> classes() {
        return classes;
    }

    public int numClasses() {
        return classes.size();
    }

    public int size() {
        return labels.length;
    }

    public int channels() {
        return channels;
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    public int imageBytes() {
        return channels * height * width;
    }

    /** The backing samples (not copied: do not modify). */
    public byte[] pixels() {
        return pixels;
    }

    public int label(int i) {
        return labels[i];
    }

    /** Images per class. */
    public int[] classCounts() {
        int[] c = new int[classes.size()];
        for (int l : labels) {
            c[l]++;
        }
        return c;
    }

    /** The images at the given indices, in that order. */
    public LabeledImages subset(int[] indices, String newName) {
        int n = imageBytes();
        byte[] px = new byte[indices.length * n];
        int[] lb = new int[indices.length];
        for (int k = 0; k < indices.length; k++) {
            System.arraycopy(pixels, indices[k] * n, px, k * n, n);
            lb[k] = labels[indices[k]];
        }
        return new LabeledImages(newName, classes, channels, height, width, px, lb);
    }

    @Override
    public String toString() {
        return name + " (" + size() + " images, " + channels + "x" + height + "x" + width + ", " + numClasses()
                + " classes)";
    }
}
