package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.vitrim.VitrimException;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** CenterNet targets: Gaussian heatmaps, size and offset targets, and the pixel-to-centre offsets. */
class CenterNetTargetsTest {

    @Test
    void gaussianRadiusMatchesTheReleasedFormula() {
        // Values of CenterNet's gaussian_radius((h, w), 0.7) worked out from its three roots, e.g. for 4 x 4:
        // r1 = (8 + sqrt(64 - 4 * 2.8235)) / 2 = 7.630, r2 = (16 + sqrt(256 - 76.8)) / 2 = 14.693,
        // r3 = (-11.2 + sqrt(125.44 + 53.76)) / 2 = 1.0933.
        assertThat(CenterNetTargets.gaussianRadius(4, 4, 0.7)).isCloseTo(1.0932802122726049, within(1e-12));
        assertThat(CenterNetTargets.gaussianRadius(3, 5, 0.7)).isCloseTo(1.0302337817003107, within(1e-12));
        assertThat(CenterNetTargets.gaussianRadius(14, 14, 0.7)).isCloseTo(3.826480742954118, within(1e-12));
        assertThat(CenterNetTargets.gaussianRadius(1, 1, 0.7)).isCloseTo(0.2733200530681512, within(1e-12));
    }

    @Test
    void oneObjectDrawsTheUmichGaussianAtItsCentreCell() {
        // 40 x 40 px at stride 8: 5 x 5 cells, radius (int) gaussian_radius(5, 5) = 1, sigma = 3 / 6
        Box b = new Box(3, 30, 50, 40, 40);
        CenterNetTargets.Targets t = CenterNetTargets.build(List.of(b));
        CenterNetTargets.Center c = t.objects().get(0);
        assertThat(c.radius()).isEqualTo((int) CenterNetTargets.gaussianRadius(5, 5, 0.7)).isEqualTo(1);
        assertThat(c.cellX()).isEqualTo(6); // centre x 50 / 8 = 6.25
        assertThat(c.cellY()).isEqualTo(8); // centre y 70 / 8 = 8.75
        double sigma = (2 * c.radius() + 1) / 6.0;
        for (int k = 0; k < 10; k++) {
            for (int y = 0; y < 14; y++) {
                for (int x = 0; x < 14; x++) {
                    int dx = x - 6;
                    int dy = y - 8;
                    double expected = k == 3 && Math.abs(dx) <= 1 && Math.abs(dy) <= 1
                            ? Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) : 0;
                    assertThat((double) t.heatmap().get(k, y, x)).isCloseTo(expected, within(1e-7));
                }
            }
        }
        assertThat(t.heatmap().get(3, 8, 6)).isEqualTo(1f);
        assertThat(t.heatmap().get(3, 8, 7)).isCloseTo((float) Math.exp(-2), within(1e-7f));
    }

    @Test
    void heatmapIsOneExactlyAtEachCentreAndBelowOneElsewhere() {
        Random r = new Random(3);
        for (int trial = 0; trial < 20; trial++) {
            List<Box> boxes = DenseTestSupport.randomBoxes(r, 1 + r.nextInt(8));
            CenterNetTargets.Targets t = CenterNetTargets.build(boxes);
            boolean[] centre = new boolean[10 * 14 * 14];
            for (CenterNetTargets.Center c : t.objects()) {
                centre[(c.category() * 14 + c.cellY()) * 14 + c.cellX()] = true;
            }
            for (int i = 0; i < centre.length; i++) {
                if (centre[i]) {
                    assertThat(t.heatmap().data()[i]).isEqualTo(1f);
                } else {
                    assertThat(t.heatmap().data()[i]).isLessThan(1f).isGreaterThanOrEqualTo(0f);
                }
            }
            assertThat(t.objects()).hasSize(boxes.size());
        }
    }

    @Test
    void overlappingObjectsOfOneClassTakeTheElementwiseMax() {
        Box a = new Box(2, 0, 0, 48, 48);   // centre cell (3, 3), 6 x 6 cells
        Box b = new Box(2, 24, 24, 48, 48); // centre cell (6, 6)
        CenterNetTargets.Targets both = CenterNetTargets.build(List.of(a, b));
        CenterNetTargets.Targets onlyA = CenterNetTargets.build(List.of(a));
        CenterNetTargets.Targets onlyB = CenterNetTargets.build(List.of(b));
        for (int i = 0; i < both.heatmap().data().length; i++) {
            assertThat(both.heatmap().data()[i])
                    .isEqualTo(Math.max(onlyA.heatmap().data()[i], onlyB.heatmap().data()[i]));
        }
    }

    @Test
    void sizeAndOffsetTargetsReconstructTheBoxes() {
        Random r = new Random(4);
        for (int trial = 0; trial < 20; trial++) {
            List<Box> boxes = DenseTestSupport.randomBoxes(r, 1 + r.nextInt(8));
            CenterNetTargets.Targets t = CenterNetTargets.build(boxes);
            float mask = 0;
            for (float m : t.mask()) {
                mask += m;
            }
            assertThat(mask).isEqualTo(boxes.size());
            for (CenterNetTargets.Center c : t.objects()) {
                Box b = boxes.get(c.box());
                assertThat(c.regressed()).isTrue();
                int cell = c.cellY() * 14 + c.cellX();
                assertThat(t.mask()[cell]).isEqualTo(1f);
                float dx = t.offset().get(0, c.cellY(), c.cellX());
                float dy = t.offset().get(1, c.cellY(), c.cellX());
                assertThat(dx).isGreaterThanOrEqualTo(0f).isLessThan(1f);
                assertThat(dy).isGreaterThanOrEqualTo(0f).isLessThan(1f);
                float cx = (c.cellX() + dx) * 8;
                float cy = (c.cellY() + dy) * 8;
                float w = t.size().get(0, c.cellY(), c.cellX()) * 8;
                float h = t.size().get(1, c.cellY(), c.cellX()) * 8;
                assertThat(cx - w / 2).isCloseTo(b.x(), within(1e-4f));
                assertThat(cy - h / 2).isCloseTo(b.y(), within(1e-4f));
                assertThat(w).isCloseTo(b.w(), within(1e-4f));
                assertThat(h).isCloseTo(b.h(), within(1e-4f));
            }
        }
    }

    @Test
    void theLargerObjectKeepsASharedCell() {
        Box small = new Box(1, 40, 40, 10, 10);  // centre (45, 45): cell (5, 5)
        Box large = new Box(4, 36, 36, 20, 20);  // centre (46, 46): cell (5, 5)
        Box other = new Box(4, 80, 80, 16, 16);
        CenterNetTargets.Targets t = CenterNetTargets.build(List.of(small, large, other));
        assertThat(t.objects()).extracting(CenterNetTargets.Center::regressed).containsExactly(false, true, true);
        assertThat(t.size().get(0, 5, 5)).isEqualTo(20f / 8);
        assertThat(t.offset().get(0, 5, 5)).isEqualTo(46f / 8 - 5);
        assertThat(t.heatmap().get(1, 5, 5)).isEqualTo(1f); // both still peak in their own class
        assertThat(t.heatmap().get(4, 5, 5)).isEqualTo(1f);
        float n = 0;
        for (float m : t.mask()) {
            n += m;
        }
        assertThat(n).isEqualTo(2f);
        // equal areas: the earlier one keeps the cell
        CenterNetTargets.Targets tie = CenterNetTargets.build(List.of(new Box(0, 40, 40, 10, 10),
                new Box(1, 41, 41, 10, 10)));
        assertThat(tie.objects()).extracting(CenterNetTargets.Center::regressed).containsExactly(true, false);
    }

    @Test
    void boxesAreClippedToTheImageAndEmptyOnesSkipped() {
        Box out = new Box(0, -20, 100, 40, 30); // clipped to [0, 100, 20, 112]
        Box gone = new Box(1, 120, 5, 10, 10);
        CenterNetTargets.Targets t = CenterNetTargets.build(List.of(gone, out));
        assertThat(t.objects()).hasSize(1);
        CenterNetTargets.Center c = t.objects().get(0);
        assertThat(c.box()).isEqualTo(1);
        assertThat(c.w()).isEqualTo(20f / 8);
        assertThat(c.h()).isEqualTo(12f / 8);
        assertThat(c.cellX()).isEqualTo(1); // centre (10, 106)
        assertThat(c.cellY()).isEqualTo(13);
        assertThat(c.dx()).isEqualTo(10f / 8 - 1);
    }

    @Test
    void otherGridsAndStrides() {
        CenterNetTargets.Targets t = CenterNetTargets.build(List.of(new Box(1, 10, 10, 20, 20)), 3, 7, 5, 16);
        assertThat(t.heatmap().channels()).isEqualTo(3);
        assertThat(t.heatmap().height()).isEqualTo(7);
        assertThat(t.heatmap().width()).isEqualTo(5);
        assertThat(t.heatmap().get(1, 1, 1)).isEqualTo(1f); // centre (20, 20) / 16
        assertThat(t.size().get(0, 1, 1)).isEqualTo(20f / 16);
    }

    @Test
    void centerOffsetsPointEveryInstancePixelAtItsBoxCentre() {
        int h = 20;
        int w = 30;
        int[] ids = new int[h * w];
        List<Box> boxes = List.of(new Box(0, 2, 3, 6, 5), new Box(5, 10, 10, 15, 8));
        for (int k = 0; k < boxes.size(); k++) {
            Box b = boxes.get(k);
            for (int y = (int) b.y(); y < b.y() + b.h(); y++) {
                for (int x = (int) b.x(); x < b.x() + b.w(); x++) {
                    if ((x + y) % 3 != 0) { // not every pixel of the box belongs to the object
                        ids[y * w + x] = k + 1;
                    }
                }
            }
        }
        CenterNetTargets.OffsetTargets o = CenterNetTargets.centerOffsets(ids, h, w, boxes);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int id = ids[y * w + x];
                if (id == 0) {
                    assertThat(o.weight()[y * w + x]).isZero();
                    assertThat(o.offset().get(0, y, x)).isZero();
                    assertThat(o.offset().get(1, y, x)).isZero();
                } else {
                    Box b = boxes.get(id - 1);
                    assertThat(o.weight()[y * w + x]).isEqualTo(1f);
                    assertThat(x + 0.5f + o.offset().get(0, y, x)).isCloseTo(b.cx(), within(1e-5f));
                    assertThat(y + 0.5f + o.offset().get(1, y, x)).isCloseTo(b.cy(), within(1e-5f));
                }
            }
        }
    }

    @Test
    void userErrorsNameTheParameter() {
        assertThatThrownBy(() -> CenterNetTargets.build(List.of(new Box(10, 0, 0, 8, 8))))
                .isExactlyInstanceOf(VitrimException.class).hasMessage("box 0: category 10 is not within 0..9");
        assertThatThrownBy(() -> CenterNetTargets.centerOffsets(new int[] {0, 2}, 1, 2, List.of(new Box(0, 0, 0, 1, 1))))
                .isExactlyInstanceOf(VitrimException.class)
                .hasMessage("instance ids: id 2 at pixel (1, 0) has no box (ids must be 0..1)");
        assertThatThrownBy(() -> CenterNetTargets.build(List.of(), 10, 14, 14, 0))
                .isExactlyInstanceOf(VitrimException.class).hasMessageStartingWith("stride:");
    }
}
