package dev.vitrim.dense;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.engine.Torch;
import java.util.List;

/**
 * The training loss of {@link DenseModel}'s heads on one batch, differentiable on the engine:
 * <ul>
 *   <li>segmentation: cross-entropy per pixel of the logits bilinearly upsampled to the image, pixels labelled
 *       {@value #IGNORE} left out, mean over the labelled pixels;</li>
 *   <li>detection: CenterNet's penalty-reduced focal loss on the heatmap (α = 2, β = 4, probabilities clamped to
 *       [1e-4, 1 − 1e-4], normalised by the number of objects; {@link FocalLoss} is its plain reference), plus L1 on
 *       the size (weight {@value #SIZE_WEIGHT}) and the sub-cell offset at the objects' centre cells;</li>
 *   <li>instance grouping: L1 of each object pixel's predicted offset to its centre, in cells, mean over object
 *       pixels (weight {@value #CENTER_WEIGHT}).</li>
 * </ul>
 * All terms have weight 1 unless stated.
 */
public final class DenseLoss {
    public static final int IGNORE = 255;
    static final float SIZE_WEIGHT = 0.1f;
    static final float CENTER_WEIGHT = 1f;

    private DenseLoss() {}

    /** One image's targets, from its label map, instance ids and boxes (pixels of the model input). */
    public record Sample(byte[] labels, int[] instanceIds, List<Box> boxes) {}

    /** The loss and its terms (the terms as numbers, for the log). */
    public record Terms(NDArray total, double segment, double heatmap, double size, double offset, double center) {}

    /**
     * The loss of decoder maps [B, C, gh, gw] against the samples' targets (images of gh·stride × gw·stride pixels).
     * {@code batch} divides the sums so that passes of a split batch add up to the batch's mean.
     */
    public static Terms compute(NDArray maps, DenseModel.Layout l, List<Sample> samples, int stride) {
        NDManager m = maps.getManager();
        int b = samples.size();
        int gh = (int) maps.getShape().get(2);
        int gw = (int) maps.getShape().get(3);
        int h = gh * stride;
        int w = gw * stride;
        int k = l.classes();
        int s = l.segmentChannels();
        float[] onehot = new float[b * s * h * w];
        float[] heat = new float[b * k * gh * gw];
        float[] size = new float[b * 2 * gh * gw];
        float[] offset = new float[b * 2 * gh * gw];
        float[] mask = new float[b * gh * gw];
        float[] center = new float[b * 2 * h * w];
        float[] centerW = new float[b * h * w];
        long labelled = 0;
        long objects = 0;
        long objectPixels = 0;
        for (int i = 0; i < b; i++) {
            Sample smp = samples.get(i);
            for (int p = 0; p < h * w; p++) {
                int c = smp.labels()[p] & 0xff;
                if (c == IGNORE) {
                    continue;
                }
                if (c >= s) {
                    throw new IllegalArgumentException("label " + c + " at pixel " + p + " of sample " + i
                            + " is outside 0.." + (s - 1) + " (or " + IGNORE + ")");
                }
                onehot[(i * s + c) * h * w + p] = 1f;
                labelled++;
            }
            CenterNetTargets.Targets t = CenterNetTargets.build(smp.boxes(), k, gh, gw, stride);
            System.arraycopy(t.heatmap().data(), 0, heat, i * k * gh * gw, k * gh * gw);
            System.arraycopy(t.size().data(), 0, size, i * 2 * gh * gw, 2 * gh * gw);
            System.arraycopy(t.offset().data(), 0, offset, i * 2 * gh * gw, 2 * gh * gw);
            System.arraycopy(t.mask(), 0, mask, i * gh * gw, gh * gw);
            for (float v : t.heatmap().data()) {
                if (v == 1f) {
                    objects++;
                }
            }
            CenterNetTargets.OffsetTargets o = CenterNetTargets.centerOffsets(smp.instanceIds(), h, w, smp.boxes());
            float[] od = o.offset().data();
            for (int j = 0; j < od.length; j++) {
                center[i * 2 * h * w + j] = od[j] / stride;
            }
            System.arraycopy(o.weight(), 0, centerW, i * h * w, h * w);
            for (float v : o.weight()) {
                objectPixels += v > 0 ? 1 : 0;
            }
        }
        // segmentation: cross-entropy at pixel resolution
        NDArray seg = DenseModel.upsample(maps.get(new NDIndex(":, {}:{}", l.segment(), l.segment() + s)), h, w);
        NDArray segLoss = seg.logSoftmax(1).mul(m.create(onehot, new Shape(b, s, h, w))).sum().neg()
                .div(Torch.scalar(m, (float) Math.max(1, labelled)));
        // detection: focal loss on the heatmap, L1 on size and offset at the centre cells
        NDArray z = maps.get(new NDIndex(":, {}:{}", l.heat(), l.heat() + k));
        NDArray gt = m.create(heat, new Shape(b, k, gh, gw));
        NDArray pos = gt.eq(Torch.scalar(m, 1f)).toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
        NDArray negW = Torch.scalar(m, 1f).sub(gt).pow(Torch.scalar(m, 4f)).mul(Torch.scalar(m, 1f).sub(pos));
        NDArray p = ai.djl.nn.Activation.sigmoid(z).clip(1e-4, 1 - 1e-4);
        NDArray one = Torch.scalar(m, 1f);
        NDArray posTerm = one.sub(p).square().mul(p.log()).mul(pos);
        NDArray negTerm = p.square().mul(one.sub(p).log()).mul(negW);
        NDArray nObj = Torch.scalar(m, (float) Math.max(1, objects));
        NDArray heatLoss = posTerm.add(negTerm).sum().neg().div(nObj);
        NDArray cellMask = m.create(mask, new Shape(b, 1, gh, gw));
        NDArray sizeLoss = maps.get(new NDIndex(":, {}:{}", l.size(), l.size() + 2))
                .sub(m.create(size, new Shape(b, 2, gh, gw))).abs().mul(cellMask).sum().div(nObj)
                .mul(Torch.scalar(m, SIZE_WEIGHT));
        NDArray offLoss = maps.get(new NDIndex(":, {}:{}", l.offset(), l.offset() + 2))
                .sub(m.create(offset, new Shape(b, 2, gh, gw))).abs().mul(cellMask).sum().div(nObj);
        // instance grouping: each object pixel's offset to its centre, in cells
        NDArray cen = DenseModel.upsample(maps.get(new NDIndex(":, {}:{}", l.center(), l.center() + 2)), h, w);
        NDArray cenLoss = cen.sub(m.create(center, new Shape(b, 2, h, w))).abs()
                .mul(m.create(centerW, new Shape(b, 1, h, w))).sum()
                .div(Torch.scalar(m, (float) Math.max(1, objectPixels))).mul(Torch.scalar(m, CENTER_WEIGHT));
        NDArray total = segLoss.add(heatLoss).add(sizeLoss).add(offLoss).add(cenLoss);
        return new Terms(total, segLoss.getFloat(), heatLoss.getFloat(), sizeLoss.getFloat(), offLoss.getFloat(),
                cenLoss.getFloat());
    }
}
