package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.vitrim.VitrimException;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Nearest resizing and the model-frame to image-frame mapping. */
class FrameTest {

    @Test
    void resizeLabelsEqualsThePlainFormula() {
        Random r = new Random(13);
        int[][] sizes = {{112, 112, 300, 200}, {112, 112, 64, 84}, {5, 7, 5, 7}, {3, 3, 10, 1}, {9, 13, 4, 26}};
        for (int[] s : sizes) {
            byte[] labels = new byte[s[0] * s[1]];
            r.nextBytes(labels);
            byte[] out = Resize.resizeLabels(labels, s[0], s[1], s[2], s[3]);
            assertThat(out).hasSize(s[2] * s[3]);
            for (int y = 0; y < s[2]; y++) {
                for (int x = 0; x < s[3]; x++) {
                    int sy = Math.min((int) Math.floor((y + 0.5) * s[0] / s[2]), s[0] - 1);
                    int sx = Math.min((int) Math.floor((x + 0.5) * s[1] / s[3]), s[1] - 1);
                    assertThat(out[y * s[3] + x]).isEqualTo(labels[sy * s[1] + sx]);
                }
            }
        }
    }

    @Test
    void enlargingByAnIntegerFactorReplicatesPixels() {
        byte[] labels = {1, 2, 3, 4};
        assertThat(Resize.resizeLabels(labels, 2, 2, 4, 4)).containsExactly(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4);
        boolean[] mask = {true, false};
        assertThat(Resize.resizeMask(mask, 1, 2, 1, 6)).containsExactly(true, true, true, false, false, false);
        Maps m = Resize.resizeNearest(new Maps(2, 1, 2, new float[] {1, 2, 3, 4}), 2, 4);
        assertThat(m.data()).containsExactly(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4);
    }

    @Test
    void detectionsAndBoxesMoveBetweenFrames() {
        Frame f = Frame.of(336, 224); // 3x wide, 2x high
        assertThat(f.scaleX()).isEqualTo(3.0);
        assertThat(f.scaleY()).isEqualTo(2.0);
        Detection d = f.toImage(new Detection(4, 0.8f, 10, 20, 30, 40, 25, 40));
        assertThat(d).isEqualTo(new Detection(4, 0.8f, 30, 40, 90, 80, 75, 80));
        Box b = new Box(2, 33, 50, 99, 20);
        Box back = f.toModel(b);
        assertThat(back.x()).isCloseTo(11f, within(1e-5f));
        assertThat(back.h()).isCloseTo(10f, within(1e-5f));
        assertThat(f.boxesToModel(List.of(b))).containsExactly(back);
        assertThat(f.detectionsToImage(List.of(new Detection(0, 1f, 0, 0, 112, 112, 56, 56))).get(0).w()).isEqualTo(336f);
    }

    @Test
    void masksLabelsAndMapsComeBackAtImageSize() {
        Frame f = Frame.of(56, 224);
        boolean[] mask = new boolean[112 * 112];
        mask[112 * 10 + 20] = true;
        mask[112 * 10 + 21] = true;
        InstanceMask m = f.toImage(new InstanceMask(1, 0.5f, mask, new Detection(1, 0.5f, 20, 10, 2, 1, 21, 10.5f)));
        assertThat(m.mask()).hasSize(56 * 224);
        assertThat(m.area()).isEqualTo(2); // one image column per 2 model columns, 2 image rows per model row
        assertThat(m.mask()[56 * 20 + 10]).isTrue();
        assertThat(m.mask()[56 * 21 + 10]).isTrue();
        assertThat(m.from().x()).isEqualTo(10f);
        assertThat(f.labelsToImage(new byte[112 * 112])).hasSize(56 * 224);
        Maps up = f.toImage(Maps.zeros(11, 112, 112));
        assertThat(up.height()).isEqualTo(224);
        assertThat(up.width()).isEqualTo(56);
        assertThatThrownBy(() -> f.toImage(Maps.zeros(11, 14, 14)))
                .isExactlyInstanceOf(VitrimException.class).hasMessage("maps: expected 11x112x112 maps, got 11x14x14");
    }

    @Test
    void wrongLengthsAreUserErrors() {
        assertThatThrownBy(() -> Resize.resizeLabels(new byte[10], 3, 3, 6, 6))
                .isExactlyInstanceOf(VitrimException.class).hasMessage("labels: a 3x3 map needs 9 values, got 10");
        assertThatThrownBy(() -> Frame.of(0, 10)).isExactlyInstanceOf(VitrimException.class)
                .hasMessageStartingWith("frame:");
    }
}
