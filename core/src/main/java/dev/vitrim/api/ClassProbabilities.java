package dev.vitrim.api;

import dev.vitrim.infer.Classification;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a classifier says about one image: the probability of every class (softmax of the logits in double
 * precision), the logits themselves, and top-k helpers. Immutable; the getters return copies.
 */
public final class ClassProbabilities {
    private final List<String> labels;
    private final double[] probs;
    private final float[] logits;

    ClassProbabilities(List<String> labels, double[] probs, float[] logits) {
        this.labels = labels;
        this.probs = probs;
        this.logits = logits;
    }

    /** The class names, index by index. */
    public List<String> labels() {
        return labels;
    }

    /** The number of classes. */
    public int size() {
        return probs.length;
    }

    /** The probability of every class, index by index (they sum to 1). */
    public double[] probabilities() {
        return probs.clone();
    }

    /** The probability of class {@code index}. */
    public double probability(int index) {
        return probs[index];
    }

    /** The probability of the class named {@code label}. */
    public double probability(String label) {
        int i = labels.indexOf(label);
        if (i < 0) {
            throw new IllegalArgumentException("no class '" + label + "' (classes: " + labels + ")");
        }
        return probs[i];
    }

    /** The raw logits. */
    public float[] logits() {
        return logits.clone();
    }

    /** The {@code k} most probable classes, best first (ties: lower index first). */
    public List<Classification.Top> top(int k) {
        Integer[] order = new Integer[probs.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(probs[b], probs[a]));
        List<Classification.Top> out = new ArrayList<>();
        for (int i = 0; i < Math.min(k, order.length); i++) {
            out.add(new Classification.Top(labels.get(order[i]), order[i], probs[order[i]]));
        }
        return out;
    }

    /** The most probable class. */
    public Classification.Top best() {
        return top(1).get(0);
    }

    @Override
    public String toString() {
        Classification.Top b = best();
        return String.format(java.util.Locale.ROOT, "%s (%.4f)", b.label(), b.prob());
    }
}
