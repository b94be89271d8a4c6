package dev.vitrim.dense;

/**
 * One instance: category (0-based object class), score, its pixels as a row-major {@code height x width} mask in
 * the frame of the maps it came from, and the detection it grew from. The array is shared, not copied.
 */
public record InstanceMask(int category, float score, boolean[] mask, Detection from) {
    /** Number of pixels in the mask. */
    public int area() {
        int n = 0;
        for (boolean b : mask) {
            if (b) {
                n++;
            }
        }
        return n;
    }
}
