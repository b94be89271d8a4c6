package dev.vitrim.dense;

import dev.vitrim.VitrimException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * CenterNet's {@code ctdet_decode}: sigmoid of the heatmap logits, peaks by 3 x 3 max pooling ({@code _nms}: a cell
 * is a peak if its score equals the maximum of its 3 x 3 neighbourhood, cells outside the map ignored, so equal
 * neighbours are all peaks), the top K peaks over all classes, and boxes
 * {@code centre = (cell + offset) * stride}, {@code size = max(0, size) * stride}, clipped to the
 * {@code gridW * stride} by {@code gridH * stride} image.
 *
 * <p>Differences from the released code: only peaks are candidates (CenterNet pads its top K with non-peak cells of
 * score 0), and ties are ordered deterministically: score descending, then class, then cell (row-major) ascending.
 * Size and offset maps are in the units of {@link CenterNetTargets}: cells.
 */
public final class CenterNetDecoder {
    /** CenterNet's default number of detections ({@code K}). */
    public static final int TOP_K = 100;

    private CenterNetDecoder() {}

    /** Up to {@value #TOP_K} detections, all scores. */
    public static List<Detection> decode(Maps heatLogits, Maps size, Maps offset, int stride) {
        return decode(heatLogits, size, offset, stride, TOP_K, 0f);
    }

    /**
     * Detections from the head's maps, best first.
     *
     * @param heatLogits [classes, gridH, gridW] heatmap logits (sigmoid applied here)
     * @param size       [2, gridH, gridW]: (w, h) in cells
     * @param offset     [2, gridH, gridW]: sub-cell centre offset (x, y) in cells
     * @param topK       at most this many detections
     * @param minScore   detections scoring below this are dropped (after taking the top K)
     */
    public static List<Detection> decode(Maps heatLogits, Maps size, Maps offset, int stride, int topK,
                                         float minScore) {
        int gh = heatLogits.height();
        int gw = heatLogits.width();
        size.require("size", 2, gh, gw);
        offset.require("offset", 2, gh, gw);
        if (stride <= 0) {
            throw new VitrimException("stride: must be positive, got " + stride);
        }
        if (topK <= 0) {
            throw new VitrimException("top-k: must be positive, got " + topK);
        }
        int hw = gh * gw;
        float[] scores = new float[heatLogits.data().length];
        for (int i = 0; i < scores.length; i++) {
            scores[i] = sigmoid(heatLogits.data()[i]);
        }
        boolean[] peak = peaks(scores, heatLogits.channels(), gh, gw);
        int n = 0;
        for (boolean b : peak) {
            if (b) {
                n++;
            }
        }
        Integer[] cand = new Integer[n];
        n = 0;
        for (int i = 0; i < peak.length; i++) {
            if (peak[i]) {
                cand[n++] = i;
            }
        }
        // A stable sort on the ascending (class, cell) order: ties keep it.
        Arrays.sort(cand, (a, b) -> Float.compare(scores[b], scores[a]));
        float imageW = (float) gw * stride;
        float imageH = (float) gh * stride;
        float[] s = size.data();
        float[] o = offset.data();
        List<Detection> out = new ArrayList<>(Math.min(topK, n));
        for (int k = 0; k < Math.min(topK, n); k++) {
            int i = cand[k];
            float score = scores[i];
            if (score < minScore) {
                break;
            }
            int cls = i / hw;
            int cell = i % hw;
            int y = cell / gw;
            int x = cell % gw;
            float cx = (x + o[cell]) * stride;
            float cy = (y + o[hw + cell]) * stride;
            float w = Math.max(0f, s[cell]) * stride;
            float h = Math.max(0f, s[hw + cell]) * stride;
            float x0 = clamp(cx - w / 2f, imageW);
            float y0 = clamp(cy - h / 2f, imageH);
            float x1 = clamp(cx + w / 2f, imageW);
            float y1 = clamp(cy + h / 2f, imageH);
            out.add(new Detection(cls, score, x0, y0, x1 - x0, y1 - y0, cx, cy));
        }
        return out;
    }

    /** {@code 1 / (1 + exp(-x))}. */
    public static float sigmoid(float x) {
        return (float) (1.0 / (1.0 + Math.exp(-x)));
    }

    /** Per value of {@code [channels, h, w]} scores: whether it equals the maximum of its 3 x 3 neighbourhood. */
    static boolean[] peaks(float[] scores, int channels, int h, int w) {
        boolean[] peak = new boolean[scores.length];
        for (int c = 0; c < channels; c++) {
            int base = c * h * w;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    float v = scores[base + y * w + x];
                    float max = v;
                    for (int yy = Math.max(0, y - 1); yy <= Math.min(h - 1, y + 1); yy++) {
                        for (int xx = Math.max(0, x - 1); xx <= Math.min(w - 1, x + 1); xx++) {
                            max = Math.max(max, scores[base + yy * w + xx]);
                        }
                    }
                    peak[base + y * w + x] = v == max;
                }
            }
        }
        return peak;
    }

    private static float clamp(float v, float hi) {
        return Math.min(Math.max(v, 0f), hi);
    }
}
