package dev.vitrim.data;

import dev.vitrim.VitrimException;
import dev.vitrim.coco.CocoJson;
import dev.vitrim.data.scenes.SceneDenseData;
import dev.vitrim.data.scenes.SceneGenerator;
import dev.vitrim.data.scenes.SceneSplit;
import dev.vitrim.dense.Box;
import dev.vitrim.dense.DenseDataset;
import dev.vitrim.dense.DenseExample;
import dev.vitrim.dense.DensePredictor;
import dev.vitrim.dense.Overlay;
import dev.vitrim.dense.Resize;
import dev.vitrim.image.ImageDecoder;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.Preprocessor;
import dev.vitrim.image.RgbImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Data sets with dense annotations by name: {@code scenes[:train|val|test]} (generated; validation and test are
 * fixed sets of {@value SceneGenerator#EVAL_SCENES}) and {@code coco:DIR}, a folder as {@code vitrim data export}
 * writes it: {@code DIR/instances.json} (COCO), the images under {@code DIR/images/} (or next to the JSON) and,
 * optionally, 8-bit label maps {@code DIR/labels/<stem>.png} (0 background, k = category k, 255 ignore); without a
 * label map, a pixel's class is that of the instance mask covering it. Images of another size than the model's are
 * resized to it (bilinear; masks and label maps nearest; boxes scaled).
 */
public final class DenseData {
    public static final String USAGE = "scenes[:train|val|test], coco:DIR";

    private DenseData() {}

    /** The data set {@code name}, at {@code size} pixels (the model's input). */
    public static DenseDataset open(String name, Path dataRoot, int size) {
        String t = name.strip();
        if (t.startsWith("coco:")) {
            String dir = t.substring("coco:".length());
            if (dir.isEmpty()) {
                throw new VitrimException("data set '" + name + "': coco: needs a folder, e.g. coco:exported/");
            }
            return CocoFolder.open(Path.of(dir), size);
        }
        Datasets.Spec spec = Datasets.parse(t);
        if (!spec.kind().equals("scenes")) {
            throw new VitrimException("data set '" + name + "' has no dense annotations (allowed: " + USAGE + ")");
        }
        SceneGenerator gen = SceneGenerator.open(dataRoot);
        SceneSplit split = SceneSplit.parse(spec.split());
        if (size != SceneGenerator.SIZE) {
            throw new VitrimException("data set '" + name + "': scenes are " + SceneGenerator.SIZE + " px, the model takes "
                    + size);
        }
        return split == SceneSplit.TRAIN ? SceneDenseData.trainEpoch(gen, SceneGenerator.TRAIN_SEED, 0,
                SceneGenerator.TRAIN_SCENES, false) : SceneDenseData.fixed(gen, split, false);
    }

    /** {@link #open(String, Path, int)} at the scenes' own size. */
    public static DenseDataset open(String name, Path dataRoot) {
        return open(name, dataRoot, SceneGenerator.SIZE);
    }

    /** A COCO folder; images that cannot be used are left out and named in {@link #problems()}. */
    public static final class CocoFolder implements DenseDataset {
        private final Path dir;
        private final CocoJson.Dataset gt;
        private final List<CocoJson.Image> images;
        private final Map<Long, List<CocoJson.Annotation>> byImage = new HashMap<>();
        private final Map<Long, Integer> categoryIndex = new HashMap<>();
        private final List<String> classes = new ArrayList<>();
        private final List<String> problems = new ArrayList<>();
        private final int size;

        private CocoFolder(Path dir, CocoJson.Dataset gt, int size) {
            this.dir = dir;
            this.gt = gt;
            this.size = size;
            List<CocoJson.Category> cats = new ArrayList<>(gt.categories());
            cats.sort(java.util.Comparator.comparingLong(CocoJson.Category::id));
            for (CocoJson.Category c : cats) {
                categoryIndex.put(c.id(), classes.size());
                classes.add(c.name() == null ? Long.toString(c.id()) : c.name());
            }
            for (CocoJson.Annotation a : gt.annotations()) {
                byImage.computeIfAbsent(a.imageId(), k -> new ArrayList<>()).add(a);
            }
            List<CocoJson.Image> ok = new ArrayList<>();
            for (CocoJson.Image im : gt.images()) {
                String problem = check(im);
                if (problem == null) {
                    ok.add(im);
                } else {
                    problems.add(problem);
                }
            }
            this.images = ok;
        }

        static CocoFolder open(Path dir, int size) {
            Path json = dir.resolve("instances.json");
            if (!Files.isRegularFile(json)) {
                throw new VitrimException(dir + ": no instances.json (a COCO folder as `vitrim data export` writes)");
            }
            return new CocoFolder(dir, CocoJson.readInstances(json), size);
        }

        /** One line per image left out: a missing file, or a label map of the wrong size. */
        public List<String> problems() {
            return problems;
        }

        private String check(CocoJson.Image im) {
            if (im.fileName() == null) {
                return dir.resolve("instances.json") + ": image " + im.id() + ": no file_name";
            }
            Path f = imageFile(im);
            if (!Files.isRegularFile(f)) {
                return dir.resolve("instances.json") + ": image " + im.id() + ": file_name '" + im.fileName()
                        + "' not found (looked for " + f + ")";
            }
            Path l = labelFile(im);
            if (Files.isRegularFile(l)) {
                try {
                    Overlay.readLabelPng(l, im.height(), im.width());
                } catch (VitrimException e) {
                    return e.getMessage();
                }
            }
            return null;
        }

        private Path imageFile(CocoJson.Image im) {
            Path f = dir.resolve("images").resolve(im.fileName());
            return Files.isRegularFile(f) ? f : dir.resolve(im.fileName());
        }

        private Path labelFile(CocoJson.Image im) {
            String n = Path.of(im.fileName()).getFileName().toString();
            int dot = n.lastIndexOf('.');
            return dir.resolve("labels").resolve((dot > 0 ? n.substring(0, dot) : n) + ".png");
        }

        @Override
        public String name() {
            return "coco:" + dir;
        }

        @Override
        public List<String> classes() {
            return classes;
        }

        @Override
        public int size() {
            return images.size();
        }

        @Override
        public DenseExample get(int index) {
            CocoJson.Image im = images.get(index);
            RgbImage img = ImageDecoder.read(imageFile(im));
            if (img.width() != im.width() || img.height() != im.height()) {
                throw new VitrimException(imageFile(im) + ": " + img.width() + "x" + img.height()
                        + " pixels, instances.json says " + im.width() + "x" + im.height());
            }
            int h = im.height();
            int w = im.width();
            int[] ids = new int[h * w];
            byte[] labels = new byte[h * w];
            List<Box> boxes = new ArrayList<>();
            List<CocoJson.Annotation> anns = byImage.getOrDefault(im.id(), List.of());
            for (CocoJson.Annotation a : anns) {
                if (a.crowd()) {
                    continue;
                }
                int k = categoryIndex.get(a.categoryId());
                boxes.add(new Box(k, (float) a.bbox()[0], (float) a.bbox()[1], (float) a.bbox()[2],
                        (float) a.bbox()[3]));
                if (a.segmentation() != null) {
                    boolean[] m = CocoJson.toRle(a.segmentation(), h, w).decode();
                    for (int p = 0; p < m.length; p++) {
                        if (m[p]) {
                            ids[p] = boxes.size();
                            labels[p] = (byte) (k + 1);
                        }
                    }
                }
            }
            Path lf = labelFile(im);
            if (Files.isRegularFile(lf)) {
                labels = Overlay.readLabelPng(lf, h, w);
            }
            String name = im.fileName();
            if (h == size && w == size) {
                return new DenseExample(name, h, w, DensePredictor.chw(img), labels, ids, boxes);
            }
            RgbImage small = Preprocessor.resize(img, size, size, Interpolation.BILINEAR);
            byte[] sl = Resize.resizeLabels(labels, h, w, size, size);
            byte[] idBytes = new byte[ids.length];
            for (int p = 0; p < ids.length; p++) {
                idBytes[p] = (byte) ids[p];
            }
            byte[] sid = Resize.resizeLabels(idBytes, h, w, size, size);
            int[] sids = new int[sid.length];
            for (int p = 0; p < sid.length; p++) {
                sids[p] = sid[p] & 0xff;
            }
            double fx = (double) size / w;
            double fy = (double) size / h;
            List<Box> sb = new ArrayList<>();
            for (Box b : boxes) {
                sb.add(new Box(b.category(), (float) (b.x() * fx), (float) (b.y() * fy), (float) (b.w() * fx),
                        (float) (b.h() * fy)));
            }
            return new DenseExample(name, size, size, DensePredictor.chw(small), sl, sids, sb);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s (%d images, %d classes)", name(), size(), classes.size());
        }
    }
}
