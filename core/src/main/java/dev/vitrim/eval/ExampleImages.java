package dev.vitrim.eval;

import dev.vitrim.data.LabeledImages;
import java.util.ArrayList;
import java.util.List;

/**
 * A few images of a data set chosen deterministically to show what a reducer does: a sparse one and a busy one,
 * then the first images of two other classes. For digits (classes named "1" and "8") the sparse one is the
 * "1" with the least ink and the busy one the "8" with the most; otherwise the least and most inked images of all.
 * Ink is the number of samples at 128 or above (the mean over channels, for colour images).
 */
public final class ExampleImages {
    private static final int INK = 128;

    private ExampleImages() {}

    /** An image of the data set: its index, label, and why it was chosen (e.g. "thinnest 1"). */
    public record Example(int index, int label, String role) {}

    /** The sparse image, the busy one, and the first images of up to two more classes, in that order. */
    public static List<Example> pick(LabeledImages data) {
        List<Example> out = new ArrayList<>();
        if (data.size() == 0) {
            return out;
        }
        int one = data.classes().indexOf("1");
        int eight = data.classes().indexOf("8");
        boolean digits = one >= 0 && eight >= 0;
        int sparse = extreme(data, digits ? one : -1, false);
        int busy = extreme(data, digits ? eight : -1, true);
        if (sparse >= 0) {
            out.add(new Example(sparse, data.label(sparse), digits ? "thinnest 1"
                    : "sparsest (" + data.classes().get(data.label(sparse)) + ")"));
        }
        if (busy >= 0 && busy != sparse) {
            out.add(new Example(busy, data.label(busy), digits ? "busiest 8"
                    : "busiest (" + data.classes().get(data.label(busy)) + ")"));
        }
        for (int i = 0; i < data.size() && out.size() < 4; i++) {
            int label = data.label(i);
            if (out.stream().noneMatch(e -> e.label() == label)) {
                out.add(new Example(i, label, "first " + data.classes().get(label)));
            }
        }
        return out;
    }

    /** Ink of image {@code i}: samples (mean over channels) at {@value #INK} or above. */
    public static int ink(LabeledImages data, int i) {
        int c = data.channels();
        int plane = data.height() * data.width();
        int base = i * data.imageBytes();
        byte[] px = data.pixels();
        int n = 0;
        for (int p = 0; p < plane; p++) {
            int sum = 0;
            for (int k = 0; k < c; k++) {
                sum += px[base + k * plane + p] & 0xFF;
            }
            if (sum >= INK * c) {
                n++;
            }
        }
        return n;
    }

    /** The first image of class {@code label} (any class when negative) with the least or the most ink; -1 if none. */
    private static int extreme(LabeledImages data, int label, boolean most) {
        int best = -1;
        int bestInk = 0;
        for (int i = 0; i < data.size(); i++) {
            if (label >= 0 && data.label(i) != label) {
                continue;
            }
            int ink = ink(data, i);
            if (best < 0 || (most ? ink > bestInk : ink < bestInk)) {
                best = i;
                bestInk = ink;
            }
        }
        return best;
    }
}
