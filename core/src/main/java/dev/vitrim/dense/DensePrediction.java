package dev.vitrim.dense;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a dense model says about one image, in the pixels of the image it was given: the class of every pixel
 * ({@code labels}, row-major, 0 = background, k = class k − 1), the detections (best first) and the instance masks.
 */
public record DensePrediction(int height, int width, byte[] labels, List<Detection> detections,
                              List<InstanceMask> instances) {
    /**
     * The fraction of the image's pixels in each segmentation class: index 0 background, k class k − 1;
     * {@code classes} counts the background too.
     */
    public double[] classFractions(int classes) {
        double[] f = new double[classes];
        for (byte b : labels) {
            int c = b & 0xff;
            if (c < classes) {
                f[c]++;
            }
        }
        for (int i = 0; i < classes; i++) {
            f[i] /= labels.length;
        }
        return f;
    }

    /** Each detection's instance mask, for the detections that instance grouping gave one. */
    public Map<Detection, InstanceMask> masksByDetection() {
        Map<Detection, InstanceMask> out = new HashMap<>();
        for (InstanceMask m : instances) {
            out.put(m.from(), m);
        }
        return out;
    }
}
