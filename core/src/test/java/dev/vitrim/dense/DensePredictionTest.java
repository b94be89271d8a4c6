package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class DensePredictionTest {
    @Test
    void classFractionsCountPixelsAndIgnoreIndicesBeyondTheClasses() {
        byte[] labels = {0, 0, 1, 2, 2, 2, 0, (byte) 255};
        DensePrediction p = new DensePrediction(2, 4, labels, List.of(), List.of());
        assertThat(p.classFractions(3)).containsExactly(3 / 8.0, 1 / 8.0, 3 / 8.0);
    }

    @Test
    void eachDetectionFindsTheMaskGroupedFromIt() {
        Detection a = new Detection(0, 0.9f, 1, 1, 2, 2, 2, 2);
        Detection b = new Detection(1, 0.5f, 5, 5, 2, 2, 6, 6);
        InstanceMask m = new InstanceMask(0, 0.8f, new boolean[4], a);
        DensePrediction p = new DensePrediction(2, 2, new byte[4], List.of(a, b), List.of(m));
        assertThat(p.masksByDetection()).containsOnlyKeys(a).containsEntry(a, m);
    }
}
