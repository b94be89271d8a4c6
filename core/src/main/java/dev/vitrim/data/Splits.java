package dev.vitrim.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Deterministic, seeded index splits: the same data and seed always give the same split, on any machine. */
public final class Splits {
    /** Seed of the validation hold-out: fixed, independent of the training seed, so every run validates alike. */
    public static final long HOLD_OUT_SEED = 20_240_601L;

    private Splits() {}

    /** Training and validation indices into a pool. */
    public record TrainVal(int[] train, int[] val) {}

    /**
     * Holds out {@code fraction} of each class (rounded, at least one image of every class that has two or more)
     * for validation. Within each class the images are shuffled with {@code seed}; the training indices are
     * returned in pool order, the validation indices too.
     */
    public static TrainVal holdOut(LabeledImages pool, double fraction, long seed) {
        if (!(fraction > 0 && fraction < 1)) {
            throw new IllegalArgumentException("fraction must be in (0, 1), got " + fraction);
        }
        int k = pool.numClasses();
        List<List<Integer>> byClass = new ArrayList<>();
        for (int c = 0; c < k; c++) {
            byClass.add(new ArrayList<>());
        }
        for (int i = 0; i < pool.size(); i++) {
            byClass.get(pool.label(i)).add(i);
        }
        boolean[] isVal = new boolean[pool.size()];
        Random rng = new Random(seed);
        for (int c = 0; c < k; c++) {
            List<Integer> idx = byClass.get(c);
            java.util.Collections.shuffle(idx, rng);
            int nVal = (int) Math.round(fraction * idx.size());
            if (idx.size() >= 2) {
                nVal = Math.max(1, Math.min(idx.size() - 1, nVal));
            } else {
                nVal = 0;
            }
            for (int j = 0; j < nVal; j++) {
                isVal[idx.get(j)] = true;
            }
        }
        int nv = 0;
        for (boolean b : isVal) {
            nv += b ? 1 : 0;
        }
        int[] train = new int[pool.size() - nv];
        int[] val = new int[nv];
        int a = 0;
        int b = 0;
        for (int i = 0; i < pool.size(); i++) {
            if (isVal[i]) {
                val[b++] = i;
            } else {
                train[a++] = i;
            }
        }
        return new TrainVal(train, val);
    }

    /** The first {@code limit} of a seeded shuffle of {@code idx} (all of them, shuffled, when limit >= length). */
    public static int[] limit(int[] idx, int limit, long seed) {
        int[] s = idx.clone();
        Random rng = new Random(seed);
        for (int i = s.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = s[i];
            s[i] = s[j];
            s[j] = t;
        }
        return java.util.Arrays.copyOf(s, Math.min(limit, s.length));
    }
}
