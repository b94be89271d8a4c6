package dev.vitrim.dense;

import dev.vitrim.VitrimException;

/**
 * A ground-truth object: its category (0-based object class; segmentation class {@code category + 1}) and its box
 * {@code [x, y, w, h]} in pixels, x and y the top-left corner, in the frame of the image it belongs to.
 */
public record Box(int category, float x, float y, float w, float h) {
    public Box {
        if (category < 0) {
            throw new VitrimException("box category: must be 0 or more, got " + category);
        }
        if (!Float.isFinite(x) || !Float.isFinite(y) || !Float.isFinite(w) || !Float.isFinite(h)) {
            throw new VitrimException("box: coordinates must be finite, got [" + x + ", " + y + ", " + w + ", " + h + "]");
        }
    }

    public float cx() {
        return x + w / 2f;
    }

    public float cy() {
        return y + h / 2f;
    }
}
