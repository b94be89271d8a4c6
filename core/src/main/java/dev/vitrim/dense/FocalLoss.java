package dev.vitrim.dense;

import dev.vitrim.VitrimException;

/**
 * CenterNet's penalty-reduced focal loss ({@code _neg_loss} in {@code src/lib/models/losses.py}), alpha = 2,
 * beta = 4, as a reference value:
 * {@code -(sum_{gt = 1} (1 - p)^2 log p + sum_{gt < 1} (1 - gt)^4 p^2 log(1 - p)) / N}, N = the number of values with
 * {@code gt == 1} (one per object unless two objects of a class share a cell); with N = 0 the sum is not divided.
 * The arrays may hold a whole batch: the loss is normalised over all of it, as CenterNet does. Sums in double.
 */
final class FocalLoss {
    /** CenterNet's clamp of the predicted probability ({@code _sigmoid}). */
    public static final double EPS = 1e-4;

    private FocalLoss() {}

    /** The loss of heatmap logits: {@code p = clamp(sigmoid(logit), 1e-4, 1 - 1e-4)}, as CenterNet trains. */
    public static double fromLogits(float[] logits, float[] gt) {
        check(logits, gt);
        double[] p = new double[logits.length];
        for (int i = 0; i < p.length; i++) {
            double s = 1.0 / (1.0 + Math.exp(-logits[i]));
            p[i] = Math.min(Math.max(s, EPS), 1 - EPS);
        }
        return loss(p, gt);
    }

    /** The loss of probabilities {@code pred} in (0, 1), used as given. */
    public static double value(float[] pred, float[] gt) {
        check(pred, gt);
        double[] p = new double[pred.length];
        for (int i = 0; i < p.length; i++) {
            p[i] = pred[i];
        }
        return loss(p, gt);
    }

    private static double loss(double[] p, float[] gt) {
        double pos = 0;
        double neg = 0;
        int num = 0;
        for (int i = 0; i < p.length; i++) {
            if (gt[i] == 1f) {
                pos += Math.log(p[i]) * (1 - p[i]) * (1 - p[i]);
                num++;
            } else if (gt[i] < 1f) {
                double wneg = Math.pow(1 - gt[i], 4);
                neg += Math.log(1 - p[i]) * p[i] * p[i] * wneg;
            }
        }
        return num == 0 ? -neg : -(pos + neg) / num;
    }

    private static void check(float[] pred, float[] gt) {
        if (pred == null || gt == null || pred.length != gt.length) {
            throw new VitrimException("focal loss: prediction and target must have the same length, got "
                    + (pred == null ? "none" : pred.length) + " and " + (gt == null ? "none" : gt.length));
        }
    }
}
