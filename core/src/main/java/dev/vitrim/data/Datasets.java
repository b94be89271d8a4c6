package dev.vitrim.data;

import dev.vitrim.VitrimException;
import dev.vitrim.data.scenes.SceneGenerator;
import dev.vitrim.data.scenes.SceneSplit;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Data sets by name, as on the command line: {@code mnist[:train|test]}, {@code fashion-mnist[:train|test]},
 * {@code cats-dogs[:train|test]}, {@code scenes[:train|val|test]}, {@code scenes-1[:train|val|test]} and
 * {@code folder:PATH}. The named ones are read from the data cache ({@link DataHome}) where {@code vitrim data fetch}
 * put them.
 *
 * <p>Splits: MNIST and Fashion-MNIST have their official 60,000 / 10,000 train/test files; cats-dogs uses the
 * package's own division (images 0..799 of each class train, 800..999 test); a folder is all training data. The
 * validation split is always held out from the training data ({@link Splits#holdOut}, fixed seed), so the test
 * split stays untouched until the final numbers.
 *
 * <p>The scenes data sets ({@link SceneGenerator}) are generated from Fashion-MNIST items and photos and have a
 * validation split of their own ({@code :val}, whose items are held out of the Fashion-MNIST training images):
 * {@code scenes-1} (one item per 112x112 image, labelled with its class) loads as a fixed set of
 * {@value SceneGenerator#EVAL_SCENES} scenes for val and test and {@value SceneGenerator#TRAIN_SCENES} for train;
 * {@code scenes} (one to four items, with masks and boxes) is for dense tasks and is not a classification set.
 */
public final class Datasets {
    public static final String USAGE = "mnist[:train|test], fashion-mnist[:train|test], cats-dogs[:train|test], "
            + "scenes-1[:train|val|test], scenes[:train|val|test], folder:PATH";

    public static final List<String> DIGITS = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
    public static final List<String> FASHION = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    private Datasets() {}

    /**
     * A parsed data set name. {@code split} is "train" or "test" (or "val" for the scenes data sets);
     * {@code folder} is set for folder:PATH.
     */
    public record Spec(String kind, String split, Path folder) {
        public boolean isTest() {
            return "test".equals(split);
        }

        public boolean isFolder() {
            return folder != null;
        }

        @Override
        public String toString() {
            return isFolder() ? "folder:" + folder : kind + ":" + split;
        }
    }

    public static Spec parse(String s) {
        if (s == null || s.isBlank()) {
            throw new VitrimException("data set: empty name (allowed: " + USAGE + ")");
        }
        String t = s.strip();
        if (t.startsWith("folder:")) {
            String p = t.substring("folder:".length());
            if (p.isEmpty()) {
                throw new VitrimException("data set '" + s + "': folder: needs a path, e.g. folder:photos/");
            }
            return new Spec("folder", "train", Path.of(p));
        }
        String kind = t;
        String split = "train";
        int colon = t.indexOf(':');
        if (colon >= 0) {
            kind = t.substring(0, colon);
            split = t.substring(colon + 1).toLowerCase(Locale.ROOT);
        }
        kind = kind.toLowerCase(Locale.ROOT);
        if (!kind.equals("mnist") && !kind.equals("fashion-mnist") && !kind.equals("cats-dogs") && !isScenes(kind)) {
            throw new VitrimException("unknown data set '" + s + "' (allowed: " + USAGE + ")");
        }
        if (isScenes(kind)) {
            if (!split.equals("train") && !split.equals("val") && !split.equals("test")) {
                throw new VitrimException("data set '" + s + "': unknown split '" + split
                        + "' (allowed: train, val, test)");
            }
        } else if (!split.equals("train") && !split.equals("test")) {
            throw new VitrimException("data set '" + s + "': unknown split '" + split + "' (allowed: train, test)");
        }
        return new Spec(kind, split, null);
    }

    private static boolean isScenes(String kind) {
        return kind.equals("scenes") || kind.equals("scenes-1");
    }

    /** Facts about a data set that the model is built from, known before its images are loaded. */
    public record Info(Spec spec, List<String> classes, int nativeSize, float[] mean, float[] std, int translate,
                       boolean flip) {
        /** The preprocessing of a model trained from scratch on this data at {@code size}. */
        public PreprocessConfig preprocess(int size) {
            return new PreprocessConfig(size, 1.0, mean, std, Interpolation.BICUBIC);
        }

        /** Default translation for a model input of {@code size} pixels. */
        public int translateFor(int size) {
            return translate >= 0 ? translate : Math.max(1, size / 8);
        }
    }

    /** The classes and defaults of a data set. Folders are listed (not decoded). */
    public static Info info(Spec spec) {
        float[] grey = null;
        switch (spec.kind()) {
            case "mnist":
                grey = new float[] {0.1307f, 0.3081f};
                return new Info(spec, DIGITS, 28, triple(grey[0]), triple(grey[1]), 2, false);
            case "fashion-mnist":
                grey = new float[] {0.2860f, 0.3530f};
                return new Info(spec, FASHION, 28, triple(grey[0]), triple(grey[1]), 2, true);
            case "cats-dogs":
                return new Info(spec, CatsDogs.CLASSES, 32, new float[] {0.4914f, 0.4822f, 0.4465f},
                        new float[] {0.2470f, 0.2435f, 0.2616f}, 4, true);
            case "scenes":
            case "scenes-1":
                return new Info(spec, FASHION, SceneGenerator.SIZE, PreprocessConfig.IMAGENET_MEAN,
                        PreprocessConfig.IMAGENET_STD, 0, false);
            default:
                ImageFolder.Listing l = ImageFolder.list(spec.folder());
                return new Info(spec, l.classes(), 224, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD,
                        -1, true);
        }
    }

    private static float[] triple(float v) {
        return new float[] {v, v, v};
    }

    /**
     * The images of a data set's split. {@code pre} is used only by folders (decoded straight to the model's size);
     * the fixed-size data sets come as stored and are resized, if at all, by {@link ImageTransform}.
     */
    public static LabeledImages load(Spec spec, Path root, PreprocessConfig pre) {
        switch (spec.kind()) {
            case "mnist":
            case "fashion-mnist": {
                DataSource src = spec.kind().equals("mnist") ? DataSource.MNIST : DataSource.FASHION_MNIST;
                Path dir = root.resolve(src.id());
                String stem = spec.isTest() ? "t10k" : "train";
                Path images = find(dir, stem + "-images-idx3-ubyte", src, root);
                Path labels = find(dir, stem + "-labels-idx1-ubyte", src, root);
                LabeledImages d = Idx.images(images, labels, spec.toString(), info(spec).classes());
                if (d.height() != 28 || d.width() != 28) {
                    throw new VitrimException(images + ": expected 28x28 images, got " + d.height() + "x" + d.width());
                }
                return d;
            }
            case "cats-dogs": {
                Path dir = root.resolve(DataSource.CATS_DOGS.id());
                Path json = find(dir, "dogsNcats.json", DataSource.CATS_DOGS, root);
                LabeledImages all = CatsDogs.readAll(json);
                return all.subset(CatsDogs.split(spec.isTest()), spec.toString());
            }
            case "scenes-1": {
                SceneSplit split = SceneSplit.parse(spec.split());
                boolean train = split == SceneSplit.TRAIN;
                return SceneGenerator.open(root).classificationSet(split,
                        train ? SceneGenerator.TRAIN_SCENES : SceneGenerator.EVAL_SCENES,
                        train ? SceneGenerator.TRAIN_SEED : SceneGenerator.EVAL_SEED);
            }
            case "scenes":
                throw new VitrimException("data set '" + spec + "' has one to four items per image (masks and boxes, "
                        + "for dense tasks), not one label; use scenes-1:" + spec.split() + " for classification, "
                        + "the segment, detect or instances task with a dense model, or export it as images "
                        + "(SceneExport)");
            default: {
                ImageFolder.Listing l = ImageFolder.list(spec.folder());
                int[] all = new int[l.files().size()];
                for (int i = 0; i < all.length; i++) {
                    all[i] = i;
                }
                return ImageFolder.load(l, all, pre, spec.toString());
            }
        }
    }

    /** The fetched data sets a named data set is made from (none for a folder). */
    public static List<DataSource> sources(Spec spec) {
        if (spec.isFolder()) {
            return List.of();
        }
        return isScenes(spec.kind()) ? SceneGenerator.SOURCES : List.of(DataSource.byId(spec.kind()));
    }

    /** {@code dir/name}, or {@code dir/name.gz}; a clear message naming both and the fetch command otherwise. */
    static Path find(Path dir, String name, DataSource src, Path root) {
        Path plain = dir.resolve(name);
        if (Files.isRegularFile(plain)) {
            return plain;
        }
        Path gz = dir.resolve(name + ".gz");
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        throw new VitrimException(src.id() + ": " + plain + " not found; run 'vitrim data fetch " + src.id()
                + "' (data folder: " + root + ", set " + DataHome.ENV + " to use another)");
    }
}
