package dev.vitrim.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StepGuardTest {
    @TempDir
    Path dir;

    @Test
    void aLoneBadGradientIsSkippedAndCountedARunOfThemStops() {
        List<String> notes = new ArrayList<>();
        StepGuard g = new StepGuard(Trainer.Files4.of(dir.resolve("m.safetensors")), notes::add);
        g.afterUpdate(2.5, 1.0, 0, 0, 1e-3);
        g.afterUpdate(Double.NaN, 1.0, 0, 1, 1e-3);
        g.afterUpdate(Double.POSITIVE_INFINITY, 1.0, 0, 2, 1e-3);
        assertThat(g.gradNorm()).isEqualTo(2.5); // the last update applied
        g.afterUpdate(3.0, 1.0, 0, 3, 1e-3); // the run of bad ones is broken
        assertThat(g.skipped()).isEqualTo(2);
        assertThat(notes).hasSize(2).first().asString().contains("step 2 of epoch 1 skipped");
        g.afterUpdate(Double.NaN, 1.0, 0, 4, 1e-3);
        g.afterUpdate(Double.NaN, 1.0, 0, 5, 1e-3);
        assertThatThrownBy(() -> g.afterUpdate(Double.NaN, 1.0, 0, 6, 1e-3)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("gradient norm became NaN on 3 steps in a row at epoch 1, step 7")
                .hasMessageContaining("no model was saved");
    }

    @Test
    void aNonFiniteLossStopsAtOnceAndSaysWhichOne() {
        StepGuard g = new StepGuard(Trainer.Files4.of(dir.resolve("m.safetensors")), s -> { });
        g.checkLoss(1.0, 0.5, 0, 0, 1e-3);
        assertThatThrownBy(() -> g.checkLoss(1.0, Double.NaN, 1, 4, 1e-3))
                .hasMessageStartingWith("training diverged: the loss became NaN (auxiliary) at epoch 2, step 5");
        assertThatThrownBy(() -> g.checkLoss(Double.POSITIVE_INFINITY, 0, 0, 0, 1e-3))
                .hasMessageStartingWith("training diverged: the loss became Infinity at epoch 1");
    }
}
