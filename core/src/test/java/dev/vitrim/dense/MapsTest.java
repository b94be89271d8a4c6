package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** CHW maps: layout, per-token input, channel slices; the head's channel order. */
class MapsTest {

    @Test
    void tokenRowsBecomeChannelPlanes() {
        Random r = new Random(14);
        int h = 3;
        int w = 5;
        int c = 4;
        float[] hwc = new float[h * w * c];
        for (int i = 0; i < hwc.length; i++) {
            hwc[i] = r.nextFloat();
        }
        Maps m = Maps.fromTokens(hwc, h, w, c);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int k = 0; k < c; k++) {
                    assertThat(m.get(k, y, x)).isEqualTo(hwc[(y * w + x) * c + k]);
                    assertThat(m.data()[(k * h + y) * w + x]).isEqualTo(hwc[(y * w + x) * c + k]);
                }
            }
        }
        Maps s = m.slice(1, 2);
        assertThat(s.channels()).isEqualTo(2);
        assertThat(s.get(1, 2, 4)).isEqualTo(m.get(2, 2, 4));
    }

    @Test
    void decoderChannelsFollowTheDocumentedOrder() {
        DenseModel.Layout l = new DenseModel.Layout(10);
        assertThat(l.segment()).isZero();
        assertThat(l.heat()).isEqualTo(11);
        assertThat(l.size()).isEqualTo(21);
        assertThat(l.offset()).isEqualTo(23);
        assertThat(l.center()).isEqualTo(25);
        assertThat(l.channels()).isEqualTo(27);
    }

    @Test
    void wrongShapesAreUserErrors() {
        assertThatThrownBy(() -> new Maps(2, 3, 4, new float[23]))
                .isExactlyInstanceOf(VitrimException.class).hasMessage("maps: 2x3x4 needs 24 floats, got 23");
        assertThatThrownBy(() -> Maps.zeros(3, 2, 2).slice(2, 2))
                .isExactlyInstanceOf(VitrimException.class).hasMessage("slice: channels 2..3 are not within 0..2");
        assertThatThrownBy(() -> Maps.fromTokens(new float[5], 2, 2, 1))
                .isExactlyInstanceOf(VitrimException.class).hasMessageStartingWith("tokens:");
    }
}
