package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.vitrim.VitrimException;
import org.junit.jupiter.api.Test;

/** CenterNet's focal loss against values worked out by hand from its definition. */
class FocalLossTest {

    @Test
    void smallCaseByHand() {
        // -(log 0.8 * 0.2^2 + log 0.7 * 0.3^2 * 0.5^4 + log 0.9 * 0.1^2 * 1^4) / 1
        float[] gt = {1f, 0.5f, 0f};
        float[] pred = {0.8f, 0.3f, 0.1f};
        assertThat(FocalLoss.value(pred, gt)).isCloseTo(0.011985643768802023, within(1e-7));
    }

    @Test
    void normalisedByTheNumberOfPositives() {
        // -(log 0.8 * 0.04 + log 0.5 * 0.25 + log 0.9 * 0.01) / 2
        assertThat(FocalLoss.value(new float[] {0.8f, 0.5f, 0.1f}, new float[] {1f, 1f, 0f}))
                .isCloseTo(0.09163307117456648, within(1e-7));
    }

    @Test
    void withoutPositivesTheNegativeSumIsNotDivided() {
        // -(log 0.7 * 0.09 * 0.0625 + log 0.9 * 0.01)
        assertThat(FocalLoss.value(new float[] {0.3f, 0.1f}, new float[] {0.5f, 0f}))
                .isCloseTo(0.003059901716233633, within(1e-7));
    }

    @Test
    void logitsGoThroughSigmoidAndCenterNetsClamp() {
        float[] gt = {1f, 0.5f, 0f};
        float[] logits = {(float) Math.log(4), (float) Math.log(0.3 / 0.7), (float) Math.log(1 / 9.0)};
        assertThat(FocalLoss.fromLogits(logits, gt)).isCloseTo(0.011985643768802023, within(1e-6));
        // a confident false positive: p clamped to 1 - 1e-4, loss -log(1e-4) * (1 - 1e-4)^2
        assertThat(FocalLoss.fromLogits(new float[] {30f}, new float[] {0f})).isCloseTo(9.208498396005302, within(1e-6));
        // a confident true positive costs (almost) nothing
        assertThat(FocalLoss.fromLogits(new float[] {30f}, new float[] {1f})).isCloseTo(0.0, within(1e-10));
    }

    @Test
    void lengthsMustAgree() {
        assertThatThrownBy(() -> FocalLoss.value(new float[2], new float[3]))
                .isExactlyInstanceOf(VitrimException.class)
                .hasMessage("focal loss: prediction and target must have the same length, got 2 and 3");
    }
}
