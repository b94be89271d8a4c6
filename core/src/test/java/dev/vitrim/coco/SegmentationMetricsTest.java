package dev.vitrim.coco;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** mIoU against per-pixel counting written out here, and merging of partial accumulators. */
class SegmentationMetricsTest {
    static final List<String> CLASSES = List.of("road", "car", "tree", "sky", "rare");

    record Pair(int[] pred, int[] label) {}

    static List<Pair> randomImages(Random rnd, int n) {
        List<Pair> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int size = 1 + rnd.nextInt(300);
            int[] p = new int[size];
            int[] l = new int[size];
            for (int k = 0; k < size; k++) {
                l[k] = rnd.nextDouble() < .1 ? 255 : rnd.nextInt(4); // class 4 ("rare") is never labelled
                p[k] = rnd.nextDouble() < .6 && l[k] != 255 ? l[k] : rnd.nextInt(l[k] == 255 ? 5 : 4);
                if (l[k] == 255 && rnd.nextBoolean()) {
                    p[k] = rnd.nextInt(1000) - 500; // anything goes where the label is ignored
                }
            }
            if (i == 0) {
                p[0] = 4; // one prediction of the never-labelled class: its union is 1, IoU 0
                l[0] = 0;
            }
            out.add(new Pair(p, l));
        }
        return out;
    }

    @Test
    void matchesPlainPixelCounting() {
        Random rnd = new Random(5);
        List<Pair> images = randomImages(rnd, 40);
        SegmentationMetrics m = new SegmentationMetrics(CLASSES);
        for (Pair p : images) {
            m.add(p.pred(), p.label());
        }
        // direct: for every class, count over every pixel of every image
        int n = CLASSES.size();
        double iouSum = 0;
        int present = 0;
        long correct = 0;
        long counted = 0;
        double[] wantIou = new double[n];
        for (int c = 0; c < n; c++) {
            long inter = 0;
            long union = 0;
            for (Pair p : images) {
                for (int k = 0; k < p.label().length; k++) {
                    if (p.label()[k] == 255) {
                        continue;
                    }
                    boolean inP = p.pred()[k] == c;
                    boolean inL = p.label()[k] == c;
                    inter += inP && inL ? 1 : 0;
                    union += inP || inL ? 1 : 0;
                }
            }
            wantIou[c] = union == 0 ? Double.NaN : (double) inter / union;
            if (union > 0) {
                iouSum += wantIou[c];
                present++;
            }
        }
        for (Pair p : images) {
            for (int k = 0; k < p.label().length; k++) {
                if (p.label()[k] != 255) {
                    counted++;
                    correct += p.pred()[k] == p.label()[k] ? 1 : 0;
                }
            }
        }
        assertThat(m.iou()).containsExactly(wantIou);
        assertThat(m.iou()[4]).isZero();
        assertThat(m.meanIou()).isCloseTo(iouSum / present, org.assertj.core.data.Offset.offset(1e-15));
        assertThat(m.pixelAccuracy()).isEqualTo((double) correct / counted);
        assertThat(m.images()).isEqualTo(40);
        assertThat(m.accuracy()[4]).isNaN();
    }

    @Test
    void mIouSkipsClassesAbsentFromBothAndSumsOverTheSet() {
        SegmentationMetrics m = new SegmentationMetrics(List.of("a", "b", "c"));
        m.add(new int[] {0, 0, 1, 1}, new int[] {0, 1, 1, 255});
        m.add(new int[] {0}, new int[] {0});
        // a: I=2, U=3; b: I=1, U=2; c: absent everywhere
        assertThat(m.intersection()).containsExactly(2, 1, 0);
        assertThat(m.union()).containsExactly(3, 2, 0);
        assertThat(m.predictionArea()).containsExactly(3, 1, 0);
        assertThat(m.labelArea()).containsExactly(2, 2, 0);
        assertThat(m.iou()[2]).isNaN();
        assertThat(m.meanIou()).isEqualTo((2.0 / 3 + 1.0 / 2) / 2);
        assertThat(m.pixelAccuracy()).isEqualTo(3.0 / 4);
        // a per-image average would differ: the histograms are summed first
        assertThat(new SegmentationMetrics(List.of("a")).meanIou()).isNaN();
    }

    @Test
    void mergeEqualsOneAccumulatorOverEverything() {
        Random rnd = new Random(9);
        List<Pair> images = randomImages(rnd, 30);
        SegmentationMetrics all = new SegmentationMetrics(CLASSES);
        SegmentationMetrics[] parts = {new SegmentationMetrics(CLASSES), new SegmentationMetrics(CLASSES),
            new SegmentationMetrics(CLASSES)};
        for (int i = 0; i < images.size(); i++) {
            all.add(images.get(i).pred(), images.get(i).label());
            parts[rnd.nextInt(3)].add(images.get(i).pred(), images.get(i).label());
        }
        long before = parts[0].images();
        SegmentationMetrics merged = parts[0].merge(parts[1]).merge(parts[2]);
        assertThat(parts[0].images()).as("inputs unchanged").isEqualTo(before);
        assertThat(merged.intersection()).containsExactly(all.intersection());
        assertThat(merged.predictionArea()).containsExactly(all.predictionArea());
        assertThat(merged.labelArea()).containsExactly(all.labelArea());
        assertThat(merged.iou()).containsExactly(all.iou());
        assertThat(merged.meanIou()).isEqualTo(all.meanIou());
        assertThat(merged.pixelAccuracy()).isEqualTo(all.pixelAccuracy());
        assertThat(merged.images()).isEqualTo(30);
        assertThat(parts[2].merge(parts[0]).merge(parts[1]).iou()).containsExactly(all.iou());
    }

    @Test
    void twoDimensionalMapsEqualFlatOnes() {
        SegmentationMetrics a = new SegmentationMetrics(List.of("x", "y"));
        SegmentationMetrics b = new SegmentationMetrics(List.of("x", "y"));
        a.add(new int[][] {{0, 1, 1}, {1, 0, 0}}, new int[][] {{0, 1, 0}, {255, 0, 1}});
        b.add(new int[] {0, 1, 1, 1, 0, 0}, new int[] {0, 1, 0, 255, 0, 1});
        assertThat(a.iou()).containsExactly(b.iou());
    }

    @Test
    void rejectsBadMapsWithoutCountingThem() {
        SegmentationMetrics m = new SegmentationMetrics(List.of("x", "y"));
        assertThatThrownBy(() -> m.add(new int[6], new int[5])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("label map has 5 pixels").hasMessageContaining("prediction has 6");
        assertThatThrownBy(() -> m.add(new int[2][3], new int[2][4])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("label map has 4 columns");
        assertThatThrownBy(() -> m.add(new int[3][3], new int[2][3])).hasMessageContaining("label map has 2 rows");
        assertThatThrownBy(() -> m.add(new int[] {0, 0}, new int[] {0, 7})).hasMessageContaining("label map pixel 1")
                .hasMessageContaining("class 7");
        assertThatThrownBy(() -> m.add(new int[] {0, 2}, new int[] {0, 1})).hasMessageContaining("prediction pixel 1")
                .hasMessageContaining("class 2");
        assertThat(m.images()).isZero();
        assertThat(m.labelArea()).containsExactly(0, 0);
        assertThatThrownBy(() -> new SegmentationMetrics(List.of("x", "y"), 1)).hasMessageContaining("class 'y'");
        assertThatThrownBy(() -> m.merge(new SegmentationMetrics(List.of("x", "z"))))
                .hasMessageContaining("cannot merge");
    }
}
