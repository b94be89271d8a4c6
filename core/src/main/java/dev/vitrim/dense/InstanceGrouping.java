package dev.vitrim.dense;

import dev.vitrim.VitrimException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Instance masks from semantic segmentation, pixel-to-centre offsets and detected centres, after Panoptic-DeepLab's
 * grouping: every foreground pixel (argmax class other than 0, see {@link Semantic#argmax}) at column x, row y
 * votes for the centre {@code (x + 0.5 + dx, y + 0.5 + dy)} and joins the detection whose centre {@code (cx, cy)} is
 * nearest to its vote (squared Euclidean distance; the earlier detection in the list on a tie). Only detections
 * scoring at least {@code minDetectionScore} (default {@value #MIN_DETECTION_SCORE}) take part; each gives at most
 * one instance.
 *
 * <p>Classes: object category k is segmentation class {@code k + 1}. With {@link ClassRule#RESTRICT} (the default)
 * an instance keeps only the pixels whose semantic class is its detection's; the others are dropped, not handed to
 * the next-nearest centre. With {@link ClassRule#MAJORITY} (Panoptic-DeepLab's rule) an instance keeps every pixel
 * that joined it and takes the most frequent semantic class among them (the lower class on a tie).
 *
 * <p>Score: detection score times the mean probability of the instance's class over its mask. Empty masks are
 * dropped; the result is sorted by score, descending (stable). All maps and detections are in one pixel frame.
 */
final class InstanceGrouping {
    /** Detections scoring below this do not collect pixels. */
    public static final float MIN_DETECTION_SCORE = 0.1f;

    /** How an instance's class and pixels follow from the semantic map. */
    public enum ClassRule {
        /** The detection's class; pixels of other classes are dropped. */
        RESTRICT,
        /** The majority class of the pixels that voted for the centre; all of them are kept. */
        MAJORITY
    }

    private InstanceGrouping() {}

    /** {@link ClassRule#RESTRICT}, detections scoring at least {@value #MIN_DETECTION_SCORE}. */
    public static List<InstanceMask> group(Maps probabilities, Maps offsets, List<Detection> detections) {
        return group(probabilities, offsets, detections, MIN_DETECTION_SCORE, ClassRule.RESTRICT);
    }

    /**
     * Groups pixels into instances.
     *
     * @param probabilities [classes + 1, H, W] class probabilities (softmax already applied, e.g. with
     *                      {@link Semantic#softmax}), channel 0 background
     * @param offsets       [2, H, W] pixel-to-centre offsets (dx, dy) in pixels
     * @param detections    detections in the same pixel frame, best first
     */
    public static List<InstanceMask> group(Maps probabilities, Maps offsets, List<Detection> detections,
                                           float minDetectionScore, ClassRule rule) {
        int h = probabilities.height();
        int w = probabilities.width();
        int classes = probabilities.channels();
        offsets.require("offsets", 2, h, w);
        List<Detection> kept = new ArrayList<>();
        for (Detection d : detections) {
            if (d.category() < 0 || d.category() + 1 >= classes) {
                throw new VitrimException("detection category " + d.category() + ": not within 0.." + (classes - 2)
                        + " for " + classes + " probability channels");
            }
            if (d.score() >= minDetectionScore) {
                kept.add(d);
            }
        }
        if (kept.isEmpty()) {
            return List.of();
        }
        int hw = h * w;
        byte[] labels = Semantic.argmax(probabilities);
        int[] assign = assign(labels, offsets, kept);
        float[] prob = probabilities.data();
        List<InstanceMask> out = new ArrayList<>();
        for (int k = 0; k < kept.size(); k++) {
            Detection d = kept.get(k);
            int cls = d.category() + 1;
            if (rule == ClassRule.MAJORITY) {
                int[] count = new int[classes];
                for (int p = 0; p < hw; p++) {
                    if (assign[p] == k) {
                        count[labels[p] & 0xFF]++;
                    }
                }
                int best = 1;
                for (int c = 2; c < classes; c++) {
                    if (count[c] > count[best]) {
                        best = c;
                    }
                }
                cls = best;
            }
            boolean[] mask = new boolean[hw];
            int area = 0;
            double sum = 0;
            for (int p = 0; p < hw; p++) {
                if (assign[p] == k && (rule == ClassRule.MAJORITY || (labels[p] & 0xFF) == cls)) {
                    mask[p] = true;
                    area++;
                    sum += prob[cls * hw + p];
                }
            }
            if (area > 0) {
                out.add(new InstanceMask(cls - 1, (float) (d.score() * (sum / area)), mask, d));
            }
        }
        out.sort(Comparator.comparingDouble(InstanceMask::score).reversed());
        return out;
    }

    /** For every pixel, the index in {@code centres} it joins, or -1 for background. */
    static int[] assign(byte[] labels, Maps offsets, List<Detection> centres) {
        int h = offsets.height();
        int w = offsets.width();
        int hw = h * w;
        float[] off = offsets.data();
        int[] assign = new int[hw];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = y * w + x;
                if (labels[p] == 0) {
                    assign[p] = -1;
                    continue;
                }
                float vx = x + 0.5f + off[p];
                float vy = y + 0.5f + off[hw + p];
                int best = 0;
                float bestD = Float.POSITIVE_INFINITY;
                for (int k = 0; k < centres.size(); k++) {
                    float ex = centres.get(k).cx() - vx;
                    float ey = centres.get(k).cy() - vy;
                    float dist = ex * ex + ey * ey;
                    if (dist < bestD) {
                        bestD = dist;
                        best = k;
                    }
                }
                assign[p] = best;
            }
        }
        return assign;
    }
}
