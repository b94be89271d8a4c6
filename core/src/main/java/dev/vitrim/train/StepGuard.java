package dev.vitrim.train;

import dev.vitrim.VitrimException;
import java.nio.file.Files;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The divergence rule of every training loop, for one epoch: a non-finite loss stops training; a non-finite
 * gradient norm skips that update (AdamW leaves the weights untouched) and is counted, and
 * {@value Trainer#MAX_SKIPPED_IN_A_ROW} of them in a row stop training. Either stop names the step, the learning rate
 * and what is still on disk.
 */
final class StepGuard {
    private final Trainer.Files4 files;
    private final Consumer<String> message;
    private int badInARow;
    private int skipped;
    private double gradNorm;

    StepGuard(Trainer.Files4 files, Consumer<String> message) {
        this.files = files;
        this.message = message;
    }

    /** Throws when the step's main or auxiliary loss is not finite ({@code epoch}, {@code step}: 0-based). */
    void checkLoss(double loss, double aux, int epoch, int step, double lr) {
        if (!Double.isFinite(loss) || !Double.isFinite(aux)) {
            throw diverged("the loss became " + (Double.isFinite(loss) ? aux + " (auxiliary)" : loss), epoch, step, lr);
        }
    }

    /** After the optimiser step: counts a skipped update, or stops after too many in a row. */
    void afterUpdate(double norm, double loss, int epoch, int step, double lr) {
        if (Double.isFinite(norm)) {
            badInARow = 0;
            gradNorm = norm;
            return;
        }
        if (++badInARow >= Trainer.MAX_SKIPPED_IN_A_ROW) {
            throw diverged("the gradient norm became " + norm + " on " + badInARow + " steps in a row", epoch, step, lr);
        }
        skipped++;
        message.accept(String.format(Locale.ROOT, "note: step %d of epoch %d skipped: gradient norm %s (the loss was "
                + "%.4f)", step + 1, epoch + 1, norm, loss));
    }

    /** Updates skipped this epoch. */
    int skipped() {
        return skipped;
    }

    /** The gradient norm of the latest applied update (0 before the first). */
    double gradNorm() {
        return gradNorm;
    }

    private VitrimException diverged(String what, int epoch, int step, double lr) {
        String kept = Files.exists(files.model()) ? files.model() + " still holds the best model so far"
                : "no model was saved";
        return new VitrimException(String.format(Locale.ROOT, "training diverged: %s at epoch %d, step %d (lr %.3g); "
                + "nothing was saved for this epoch and %s; lower lr, lengthen the warm-up or keep gradient clipping on",
                what, epoch + 1, step + 1, lr, kept));
    }
}
