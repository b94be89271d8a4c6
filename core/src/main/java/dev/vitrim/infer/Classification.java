package dev.vitrim.infer;

import java.util.List;

/**
 * The outcome for one image: either its top classes (and optionally the raw logits) or the reason it could
 * not be read. One bad image never costs the others their results.
 */
public record Classification(String file, List<Top> top, float[] logits, String error) {
    /** One ranked class. */
    public record Top(String label, int index, double prob) {}

    public boolean ok() {
        return error == null;
    }

    public static Classification failed(String file, String error) {
        return new Classification(file, List.of(), null, error);
    }
}
