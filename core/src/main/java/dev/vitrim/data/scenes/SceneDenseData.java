package dev.vitrim.data.scenes;

import dev.vitrim.data.Datasets;
import dev.vitrim.dense.Box;
import dev.vitrim.dense.DenseDataset;
import dev.vitrim.dense.DenseExample;
import java.util.ArrayList;
import java.util.List;

/**
 * Generated scenes as a {@link DenseDataset}: image {@code i} is scene {@code first + i} of the split with the given
 * seed, so a fixed set (validation, test) and a fresh stream per training epoch are the same thing with other offsets.
 */
public final class SceneDenseData implements DenseDataset {
    private final SceneGenerator gen;
    private final SceneSplit split;
    private final long seed;
    private final long first;
    private final int size;
    private final boolean single;

    public SceneDenseData(SceneGenerator gen, SceneSplit split, long seed, long first, int size, boolean single) {
        this.gen = gen;
        this.split = split;
        this.seed = seed;
        this.first = first;
        this.size = size;
        this.single = single;
    }

    /** The fixed validation or test set ({@value SceneGenerator#EVAL_SCENES} scenes). */
    public static SceneDenseData fixed(SceneGenerator gen, SceneSplit split, boolean single) {
        return new SceneDenseData(gen, split, SceneGenerator.EVAL_SEED, 0, SceneGenerator.EVAL_SCENES, single);
    }

    /** Training scenes of epoch {@code epoch}: {@code size} fresh ones per epoch. */
    public static SceneDenseData trainEpoch(SceneGenerator gen, long seed, int epoch, int size, boolean single) {
        return new SceneDenseData(gen, SceneSplit.TRAIN, seed, (long) epoch * size, size, single);
    }

    @Override
    public String name() {
        return (single ? "scenes-1:" : "scenes:") + split.id();
    }

    @Override
    public List<String> classes() {
        return Datasets.FASHION;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public DenseExample get(int index) {
        if (index < 0 || index >= size) {
            throw new IndexOutOfBoundsException("scene " + index + " of " + size);
        }
        Scene s = gen.generate(split, first + index, seed, single);
        List<Box> boxes = new ArrayList<>();
        for (Instance in : s.instances()) {
            double[] b = in.bbox();
            boxes.add(new Box(in.category(), (float) b[0], (float) b[1], (float) b[2], (float) b[3]));
        }
        return new DenseExample(String.format("%s-%06d.png", split.id(), first + index), s.height(), s.width(), s.rgb(),
                s.labels(), s.instanceIds(), boxes);
    }
}
