package dev.vitrim.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.dense.Box;
import dev.vitrim.dense.DenseLoss;
import dev.vitrim.dense.PatchLabels;
import dev.vitrim.engine.Torch;
import java.util.List;

/**
 * Token Cropr's auxiliary losses on dense tasks, one module's logits at a time (REFERENCE §1.2, §5):
 * <ul>
 *   <li>segmentation: logits [B,patches,1+K] against per-patch labels ({@link PatchLabels}); cross-entropy, patches
 *       labelled {@value DenseLoss#IGNORE} left out, mean over the rest (0 when every patch is ignored);</li>
 *   <li>presence: logits [B,K] against "class k has an object in the image" (from the boxes); sigmoid binary
 *       cross-entropy, mean over the B·K entries.</li>
 * </ul>
 */
final class CroprDenseLoss {
    private CroprDenseLoss() {}

    /** The targets of one pass: per-patch labels (segmentation) or presence flags, for {@link #of}. */
    record Targets(CroprTraining.Task task, int[] patchLabels, float[] presence) {}

    /** The targets of {@code samples} for {@code task}: labels of {@code stride}-pixel patches, or presence flags. */
    static Targets targets(CroprTraining.Task task, List<DenseLoss.Sample> samples, int height, int width, int stride,
                           int classes, PatchLabels.Mode mode) {
        int b = samples.size();
        if (task == CroprTraining.Task.SEGMENT) {
            int q = (height / stride) * (width / stride);
            int[] out = new int[b * q];
            for (int i = 0; i < b; i++) {
                int[] l = PatchLabels.of(samples.get(i).labels(), height, width, stride, mode);
                for (int j = 0; j < q; j++) {
                    if (l[j] > classes && l[j] != DenseLoss.IGNORE) {
                        throw new dev.vitrim.VitrimException("label " + l[j] + " in a label map of " + classes
                                + " classes (0 background, 1.." + classes + ", " + DenseLoss.IGNORE + " ignore)");
                    }
                }
                System.arraycopy(l, 0, out, i * q, q);
            }
            return new Targets(task, out, null);
        }
        if (task == CroprTraining.Task.PRESENCE) {
            float[] out = new float[b * classes];
            for (int i = 0; i < b; i++) {
                for (Box box : samples.get(i).boxes()) {
                    if (box.category() >= classes) {
                        throw new dev.vitrim.VitrimException("box category " + box.category() + " with " + classes
                                + " classes");
                    }
                    out[i * classes + box.category()] = 1f;
                }
            }
            return new Targets(task, null, out);
        }
        throw new IllegalArgumentException("no dense auxiliary loss for " + task);
    }

    /** The auxiliary loss of one module's logits against {@code t}. */
    static NDArray of(NDArray logits, Targets t) {
        return t.task() == CroprTraining.Task.SEGMENT ? segment(logits, t.patchLabels())
                : presence(logits, t.presence());
    }

    /** Cross-entropy of logits [B,q,C] against labels (B·q, 0..C−1 or ignore), mean over the labelled patches. */
    static NDArray segment(NDArray logits, int[] labels) {
        NDManager m = logits.getManager();
        long[] s = logits.getShape().getShape();
        int c = (int) s[2];
        if (s[0] * s[1] != labels.length) {
            throw new IllegalArgumentException("segmentation logits " + logits.getShape() + " for " + labels.length
                    + " patch labels");
        }
        float[] onehot = new float[labels.length * c];
        int counted = 0;
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] != DenseLoss.IGNORE) {
                onehot[i * c + labels[i]] = 1f;
                counted++;
            }
        }
        NDArray target = m.create(onehot, new Shape(s));
        return logits.logSoftmax(-1).mul(target).sum().neg().div(Torch.scalar(m, Math.max(1, counted)));
    }

    /** Sigmoid binary cross-entropy of logits [B,K] against 0/1 targets, mean over B·K (the stable form). */
    static NDArray presence(NDArray logits, float[] targets) {
        NDManager m = logits.getManager();
        if (logits.getShape().size() != targets.length) {
            throw new IllegalArgumentException("presence logits " + logits.getShape() + " for " + targets.length
                    + " targets");
        }
        NDArray y = m.create(targets, logits.getShape());
        // max(z, 0) − z·y + log(1 + exp(−|z|))
        NDArray loss = logits.maximum(0f).sub(logits.mul(y)).add(logits.abs().neg().exp().add(1f).log());
        return loss.mean();
    }
}
