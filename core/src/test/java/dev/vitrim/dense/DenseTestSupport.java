package dev.vitrim.dense;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/** Random boxes and the "perfect" head outputs that encode them. */
final class DenseTestSupport {
    private DenseTestSupport() {}

    /**
     * {@code n} boxes inside the 112-pixel image, 6..60 pixels a side, no two with their centre in the same cell
     * (so each owns its regression targets).
     */
    static List<Box> randomBoxes(Random r, int n) {
        List<Box> out = new ArrayList<>();
        Set<Integer> cells = new HashSet<>();
        while (out.size() < n) {
            float w = 6 + r.nextFloat() * 54;
            float h = 6 + r.nextFloat() * 54;
            float x = r.nextFloat() * (112 - w);
            float y = r.nextFloat() * (112 - h);
            int cell = (int) Math.floor((y + h / 2) / 8) * 14 + (int) Math.floor((x + w / 2) / 8);
            if (cells.add(cell)) {
                out.add(new Box(r.nextInt(10), x, y, w, h));
            }
        }
        return out;
    }

    /** Heatmap logits whose sigmoid is the target heatmap (values clamped to [1e-6, 1 - 1e-6]). */
    static Maps logits(Maps heat) {
        float[] out = new float[heat.data().length];
        for (int i = 0; i < out.length; i++) {
            double p = Math.min(Math.max(heat.data()[i], 1e-6), 1 - 1e-6);
            out[i] = (float) Math.log(p / (1 - p));
        }
        return new Maps(heat.channels(), heat.height(), heat.width(), out);
    }
}
