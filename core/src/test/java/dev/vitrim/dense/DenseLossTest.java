package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.engine.Torch;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The dense loss on the engine against plain loops over the same random maps and targets: the pixel cross-entropy
 * after bilinear upsampling, CenterNet's focal loss ({@link FocalLoss}), the L1 terms, and the upsampling itself.
 */
class DenseLossTest {
    static final int G = 4;
    static final int STRIDE = 4;
    static final int HW = G * STRIDE;

    @Test
    void everyTermEqualsAPlainLoop() {
        Random rnd = new Random(3);
        DenseModel.Layout l = new DenseModel.Layout(3);
        int c = l.channels();
        int b = 2;
        float[] maps = new float[b * c * G * G];
        for (int i = 0; i < maps.length; i++) {
            maps[i] = (float) rnd.nextGaussian() * 2;
        }
        List<DenseLoss.Sample> samples = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            samples.add(randomSample(rnd, l.classes()));
        }
        DenseLoss.Terms t;
        float total;
        try (NDManager m = Torch.newManager()) {
            Torch.inference();
            NDArray x = m.create(maps, new Shape(b, c, G, G));
            t = DenseLoss.compute(x, l, samples, STRIDE);
            total = t.total().getFloat();
        }
        // segmentation: plain upsampling + log-softmax per pixel
        double ce = 0;
        long labelled = 0;
        float[] heatLogits = new float[b * l.classes() * G * G];
        float[] heatGt = new float[heatLogits.length];
        double size = 0;
        double off = 0;
        double cen = 0;
        long objPx = 0;
        for (int i = 0; i < b; i++) {
            Maps one = new Maps(c, G, G, java.util.Arrays.copyOfRange(maps, i * c * G * G, (i + 1) * c * G * G));
            Maps seg = Bilinear.upsample(one.slice(0, l.segmentChannels()), HW, HW);
            DenseLoss.Sample s = samples.get(i);
            for (int p = 0; p < HW * HW; p++) {
                int lab = s.labels()[p] & 0xff;
                if (lab == 255) {
                    continue;
                }
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < l.segmentChannels(); k++) {
                    max = Math.max(max, seg.data()[k * HW * HW + p]);
                }
                double sum = 0;
                for (int k = 0; k < l.segmentChannels(); k++) {
                    sum += Math.exp(seg.data()[k * HW * HW + p] - max);
                }
                ce -= seg.data()[lab * HW * HW + p] - max - Math.log(sum);
                labelled++;
            }
            CenterNetTargets.Targets tg = CenterNetTargets.build(s.boxes(), l.classes(), G, G, STRIDE);
            System.arraycopy(one.slice(l.heat(), l.classes()).data(), 0, heatLogits, i * l.classes() * G * G,
                    l.classes() * G * G);
            System.arraycopy(tg.heatmap().data(), 0, heatGt, i * l.classes() * G * G, l.classes() * G * G);
            for (int cell = 0; cell < G * G; cell++) {
                if (tg.mask()[cell] == 0) {
                    continue;
                }
                for (int j = 0; j < 2; j++) {
                    size += Math.abs(one.data()[(l.size() + j) * G * G + cell] - tg.size().data()[j * G * G + cell]);
                    off += Math.abs(one.data()[(l.offset() + j) * G * G + cell] - tg.offset().data()[j * G * G + cell]);
                }
            }
            Maps up = Bilinear.upsample(one.slice(l.center(), 2), HW, HW);
            CenterNetTargets.OffsetTargets ot = CenterNetTargets.centerOffsets(s.instanceIds(), HW, HW, s.boxes());
            for (int p = 0; p < HW * HW; p++) {
                if (ot.weight()[p] == 0) {
                    continue;
                }
                objPx++;
                for (int j = 0; j < 2; j++) {
                    cen += Math.abs(up.data()[j * HW * HW + p] - ot.offset().data()[j * HW * HW + p] / STRIDE);
                }
            }
        }
        long objects = 0;
        for (float v : heatGt) {
            objects += v == 1f ? 1 : 0;
        }
        assertThat(objects).isPositive();
        assertThat(t.segment()).isCloseTo(ce / labelled, offset(1e-4));
        assertThat(t.heatmap()).isCloseTo(FocalLoss.fromLogits(heatLogits, heatGt), offset(1e-4));
        assertThat(t.size()).isCloseTo(0.1 * size / objects, offset(1e-4));
        assertThat(t.offset()).isCloseTo(off / objects, offset(1e-4));
        assertThat(t.center()).isCloseTo(cen / objPx, offset(1e-4));
        assertThat(total).isCloseTo((float) (t.segment() + t.heatmap() + t.size() + t.offset()
                + t.center()), offset(1e-3f));
    }

    /** Two boxes of random classes, their pixels as instances, a few pixels ignored. */
    static DenseLoss.Sample randomSample(Random rnd, int classes) {
        byte[] labels = new byte[HW * HW];
        int[] ids = new int[HW * HW];
        List<Box> boxes = new ArrayList<>();
        for (int k = 0; k < 2; k++) {
            int cat = rnd.nextInt(classes);
            int x0 = rnd.nextInt(HW - 5);
            int y0 = rnd.nextInt(HW - 5);
            int w = 2 + rnd.nextInt(4);
            int h = 2 + rnd.nextInt(4);
            boxes.add(new Box(cat, x0, y0, w, h));
            for (int y = y0; y < y0 + h; y++) {
                for (int x = x0; x < x0 + w; x++) {
                    labels[y * HW + x] = (byte) (cat + 1);
                    ids[y * HW + x] = k + 1;
                }
            }
        }
        for (int i = 0; i < 5; i++) {
            int p = rnd.nextInt(HW * HW);
            if (ids[p] == 0) {
                labels[p] = (byte) 255;
            }
        }
        return new DenseLoss.Sample(labels, ids, boxes);
    }
}
