package dev.vitrim.train;

import dev.vitrim.VitrimException;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.data.Splits;
import dev.vitrim.data.scenes.SceneGenerator;
import dev.vitrim.data.scenes.SceneSplit;
import dev.vitrim.image.PreprocessConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The images of a classifier's training run: the training set, the validation set (a named split, or held out from
 * the training data with a fixed seed) and, for generated {@code scenes-1}, a fresh training set every epoch. The test
 * split is refused on either side: it is only for final numbers.
 *
 * @param train     the training images (of epoch 0 when {@code epochData} is set)
 * @param val       the validation images
 * @param epochData the training images of epoch e (0-based), or null when every epoch uses {@code train}
 */
public record TrainingData(LabeledImages train, LabeledImages val, IntFunction<LabeledImages> epochData) {
    /**
     * Loads the sets of a run.
     *
     * @param data       the training data set (a train split)
     * @param valName    the validation data set, or null to hold out {@code valFraction} of {@code data} (generated
     *                   {@code scenes-1} always validates on {@code scenes-1:val} when none is named)
     * @param valFraction the held-out share, in (0, 1)
     * @param limit      at most this many training images (a seeded subset; for {@code scenes-1} the scenes per
     *                   epoch); 0: all
     * @param valLimit   at most this many validation images (a seeded subset); 0: all
     * @param pre        the model's preprocessing (images are decoded at its size)
     * @param root       the data directory
     */
    public static TrainingData load(Datasets.Spec data, String valName, double valFraction, int limit, int valLimit,
                                    PreprocessConfig pre, Path root) {
        if (!(valFraction > 0 && valFraction < 1)) {
            throw new VitrimException("valFraction must be between 0 and 1 (exclusive), got " + valFraction);
        }
        if (limit < 0 || valLimit < 0) {
            throw new VitrimException("limit and valLimit must be 0 (all) or positive, got " + limit + " and "
                    + valLimit);
        }
        if (data.isTest()) {
            throw new VitrimException("data " + data + ": the test split is only for final numbers; train on "
                    + data.kind() + " (its train split; validation is held out from it)");
        }
        boolean scenes1 = isScenes1(data);
        String vName = valName == null && scenes1 ? "scenes-1:val" : valName;
        List<String> classes = Datasets.info(data).classes();
        // generated scenes-1 training images are made below, one fresh set per epoch
        LabeledImages pool = scenes1 ? null : Datasets.load(data, root, pre);
        LabeledImages train;
        LabeledImages val;
        if (vName != null) {
            Datasets.Spec vs = Datasets.parse(vName);
            if (vs.isTest()) {
                throw new VitrimException("validation data " + vName + ": the test split is only for final numbers; "
                        + "name no validation set to hold one out from the training data");
            }
            val = Datasets.load(vs, root, pre);
            if (!val.classes().equals(classes)) {
                throw new VitrimException("validation data " + vName + ": its classes " + val.classes()
                        + " differ from the training data's " + classes);
            }
            train = pool;
        } else {
            Splits.TrainVal tv = Splits.holdOut(pool, valFraction, Splits.HOLD_OUT_SEED);
            train = pool.subset(tv.train(), data + " (train)");
            val = pool.subset(tv.val(), data + " (val)");
        }
        IntFunction<LabeledImages> epochData = null;
        if (scenes1) { // a fresh stream of generated scenes every epoch
            int n = limit > 0 ? limit : SceneGenerator.TRAIN_SCENES;
            SceneGenerator gen = SceneGenerator.open(root);
            long seed = SceneGenerator.TRAIN_SEED;
            train = gen.classificationSet(SceneSplit.TRAIN, n, SceneGenerator.epochSeed(seed, 0));
            epochData = e -> gen.classificationSet(SceneSplit.TRAIN, n, SceneGenerator.epochSeed(seed, e));
        } else if (limit > 0) {
            train = slice(train, limit, Splits.HOLD_OUT_SEED + 1);
        }
        if (valLimit > 0) {
            val = slice(val, valLimit, Splits.HOLD_OUT_SEED + 2);
        }
        return new TrainingData(train, val, epochData);
    }

    /** Whether a data set is the generated single-object scenes (validated on its own split). */
    public static boolean isScenes1(Datasets.Spec data) {
        return "scenes-1".equals(data.kind());
    }

    private static LabeledImages slice(LabeledImages d, int n, long seed) {
        int[] all = new int[d.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        return d.subset(Splits.limit(all, n, seed), d.name());
    }
}
