package dev.vitrim.data.scenes;

import dev.vitrim.VitrimException;
import dev.vitrim.data.DataHome;
import dev.vitrim.data.DataSource;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.Idx;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.data.Splits;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * Generates the scenes data set: 112x112 RGB images whose background is a random crop of a real photo and on which
 * one to four Fashion-MNIST items are pasted, with a per-pixel class map, per-pixel instance ids and a box per
 * instance.
 *
 * <p>A scene is a pure function of (split, index, seed, single): its random numbers come from a
 * {@link SplittableRandom} seeded with a hash of the four, so any scene can be made again on its own, on any
 * thread, in any order. Validation and test sets are the first {@value #EVAL_SCENES} indices with
 * {@link #EVAL_SEED}; training draws fresh scenes each epoch with {@link #epochSeed}.
 *
 * <p>How a scene is made:
 * <ol>
 *   <li><b>Background.</b> A photo of the split (training photos for training and validation scenes, test photos
 *       for test scenes; see {@link ScenePhotos}), a square crop of random side (from 30% of the photo's shorter
 *       side, but at least 96 px, up to all of it) at a random position, mirrored with probability 1/2, resized to
 *       112x112 by area averaging (bilinear where the crop is smaller than 112 px). Photos with a shorter side
 *       above {@value ScenePhotos#MAX_SHORT_SIDE} px are shrunk to it when loaded.</li>
 *   <li><b>Items.</b> A Fashion-MNIST image of the split's item pool: training scenes use the Fashion-MNIST
 *       training images minus the validation tenth ({@link Splits#holdOut} with {@link Splits#HOLD_OUT_SEED}, the
 *       same 6,000 images fashion-mnist training holds out), validation scenes that tenth, test scenes the official
 *       test images. Its silhouette is the pixels of grey value at least {@value #GREY_THRESHOLD}, with holes filled
 *       (a pixel is background only if it is reachable from the image border through background pixels,
 *       4-connected) and specks of fewer than {@value #MIN_SPECK} pixels (8-connected) removed. The silhouette's
 *       tight box is scaled so that its longer side is {@value #MIN_SIDE}..{@value #MAX_SIDE} px (uniform), the
 *       mask bilinearly and thresholded at 1/2, the texture bilinearly (normalised by the mask so that edges do not
 *       darken), mirrored with probability 1/2, and placed at a uniform position fully inside the image. Its colour
 *       is {@code 255 * tint * (0.25 + 0.75 * g)} per channel, g the grey value divided by the item's brightest
 *       silhouette pixel, the tint a random hue at saturation 0.35..1 and brightness 0.45..1. A pasted pixel that
 *       happens to equal the background photo in all three channels is changed by one in red, so every item pixel
 *       differs from the photo.</li>
 *   <li><b>Placement.</b> A scene has one item ({@code single}) or 1..4 (uniform). A new item's position and size
 *       are drawn again (up to {@value #MAX_TRIES} times; then the scene keeps the items it has) when its box has
 *       an IoU above {@value #MAX_IOU} with the box of an earlier item, or when, after pasting it, two visible
 *       instances' boxes would have an IoU above {@value #MAX_IOU}.</li>
 *   <li><b>Occlusion.</b> Later items cover earlier ones. Each instance's mask, box and area are those of its
 *       visible pixels. An item with no visible pixel left is not an instance; one with fewer than
 *       {@value #MIN_VISIBLE} visible pixels is not an instance either and its visible pixels are labelled 255
 *       (ignore). The last item is never covered, so a scene has at least one instance.</li>
 * </ol>
 *
 * <p>Instances are thread-safe: the data are read once by {@link #open} and never changed.
 */
public final class SceneGenerator {
    /** Scene height and width in pixels. */
    public static final int SIZE = 112;
    /** Size of the fixed validation and test sets. */
    public static final int EVAL_SCENES = 2_000;
    /** Default number of scenes-1 training images when loaded as a fixed set. */
    public static final int TRAIN_SCENES = 20_000;
    /** Seed of the fixed validation and test sets. */
    public static final long EVAL_SEED = 2_024L;
    /** Seed of the fixed scenes-1 training set that {@link Datasets#load} returns. */
    public static final long TRAIN_SEED = 0L;
    /** Items per scene: 1..MAX_ITEMS (uniform) unless single. */
    public static final int MAX_ITEMS = 4;
    /** Range of an item's longer side in pixels. */
    public static final int MIN_SIDE = 28;
    public static final int MAX_SIDE = 64;
    /** Largest box IoU between two items of a scene. */
    public static final double MAX_IOU = 0.2;
    /** Fewest visible pixels of an instance; an item with fewer (but some) becomes ignore (255). */
    public static final int MIN_VISIBLE = 20;
    /** Label of ignored pixels. */
    public static final int IGNORE = 255;
    /** Fraction of the Fashion-MNIST training images that make the validation pool. */
    public static final double VAL_FRACTION = 0.1;
    /** Everything {@code vitrim data fetch scenes} fetches. */
    public static final List<DataSource> SOURCES = Stream.concat(Stream.of(DataSource.FASHION_MNIST),
            ScenePhotos.SOURCES.stream()).toList();

    static final int GREY_THRESHOLD = 8;
    static final int MIN_SPECK = 4;
    static final int MAX_TRIES = 30;
    static final int ITEM = 28;
    static final int MIN_CROP = 96;
    static final double MIN_CROP_FRACTION = 0.3;
    static final float FLOOR = 0.25f;

    private final byte[] trainItems;
    private final int[] trainLabels;
    private final byte[] testItems;
    private final int[] testLabels;
    private final int[][] pools;
    private final List<ScenePhotos.Photo> trainPhotos;
    private final List<ScenePhotos.Photo> testPhotos;

    private SceneGenerator(LabeledImages train, LabeledImages test, List<ScenePhotos.Photo> trainPhotos,
                           List<ScenePhotos.Photo> testPhotos) {
        this.trainItems = train.pixels();
        this.trainLabels = labels(train);
        this.testItems = test.pixels();
        this.testLabels = labels(test);
        Splits.TrainVal tv = Splits.holdOut(train, VAL_FRACTION, Splits.HOLD_OUT_SEED);
        this.pools = new int[][] {tv.train(), tv.val(), IntStream.range(0, test.size()).toArray()};
        this.trainPhotos = List.copyOf(trainPhotos);
        this.testPhotos = List.copyOf(testPhotos);
    }

    private static int[] labels(LabeledImages d) {
        int[] l = new int[d.size()];
        for (int i = 0; i < l.length; i++) {
            l[i] = d.label(i);
        }
        return l;
    }

    /**
     * Reads Fashion-MNIST and the background photos from the data folder (see {@link DataHome}) where
     * {@code vitrim data fetch scenes} put them.
     */
    public static SceneGenerator open(Path dataRoot) {
        Path dir = dataRoot.resolve(DataSource.FASHION_MNIST.id());
        LabeledImages train = items(dataRoot, dir, "train");
        LabeledImages test = items(dataRoot, dir, "t10k");
        List<ScenePhotos.Entry> list = ScenePhotos.listed();
        return new SceneGenerator(train, test, ScenePhotos.load(dataRoot, list, false),
                ScenePhotos.load(dataRoot, list, true));
    }

    private static LabeledImages items(Path root, Path dir, String stem) {
        Path images = find(root, dir, stem + "-images-idx3-ubyte");
        LabeledImages d = Idx.images(images, find(root, dir, stem + "-labels-idx1-ubyte"), "fashion-mnist:" + stem,
                Datasets.FASHION);
        if (d.height() != ITEM || d.width() != ITEM || d.channels() != 1) {
            throw new VitrimException(images + ": expected 28x28 grey images, got " + d.height() + "x" + d.width());
        }
        if (d.size() == 0) {
            throw new VitrimException(images + ": no images");
        }
        return d;
    }

    private static Path find(Path root, Path dir, String name) {
        for (String n : new String[] {name, name + ".gz"}) {
            if (Files.isRegularFile(dir.resolve(n))) {
                return dir.resolve(n);
            }
        }
        throw new VitrimException(dir.resolve(name) + " not found (the items of the scenes data set); run "
                + "'vitrim data fetch scenes' (data folder: " + root + ", set " + DataHome.ENV + " to use another)");
    }

    /** The seed of training epoch {@code epoch} of a run with seed {@code seed}: every epoch sees new scenes. */
    public static long epochSeed(long seed, int epoch) {
        return mix(mix(seed ^ 0x3C6EF372FE94F82BL) + epoch);
    }

    /** Scene {@code index} of a split; {@code single}: exactly one item (the scenes-1 variant). */
    public Scene generate(SceneSplit split, long index, long seed, boolean single) {
        return build(split, index, seed, single).scene;
    }

    /** The background photo crop of a scene alone, CHW (the scene before any item is pasted). */
    byte[] background(SceneSplit split, long index, long seed, boolean single) {
        return build(split, index, seed, single).background;
    }

    /** The Fashion-MNIST image behind each instance of a scene (an index into the split's file). */
    int[] sourceItems(SceneSplit split, long index, long seed, boolean single) {
        return build(split, index, seed, single).items;
    }

    /** The Fashion-MNIST images a split draws from (indices into its file: training file, or test file for TEST). */
    int[] pool(SceneSplit split) {
        return pools[split.ordinal()].clone();
    }

    /** Names of the photos a split draws its backgrounds from. */
    public List<String> photos(SceneSplit split) {
        return (split == SceneSplit.TEST ? testPhotos : trainPhotos).stream().map(ScenePhotos.Photo::name).toList();
    }

    /**
     * Single-item scenes as a classification set ({@code scenes-1}): image i is scene i of the split with
     * {@code seed}, its label the item's class. Generated on all cores.
     */
    public LabeledImages classificationSet(SceneSplit split, int n, long seed) {
        if (n < 1) {
            throw new VitrimException("scenes-1: the number of scenes must be positive, got " + n);
        }
        int px = 3 * SIZE * SIZE;
        byte[] pixels = new byte[Math.multiplyExact(n, px)];
        int[] labels = new int[n];
        IntStream.range(0, n).parallel().forEach(i -> {
            Scene s = generate(split, i, seed, true);
            System.arraycopy(s.rgb(), 0, pixels, i * px, px);
            labels[i] = s.instances().get(0).category();
        });
        return new LabeledImages("scenes-1:" + split.id(), Datasets.FASHION, 3, SIZE, SIZE, pixels, labels);
    }

    /** Fraction of the {@code patch x patch} patches of a scene that hold no item pixel (label 0 throughout). */
    public static double backgroundPatchFraction(Scene s, int patch) {
        return backgroundPatchFraction(s.labels(), s.height(), s.width(), patch);
    }

    /**
     * Fraction of the {@code patch x patch} patches of a label map ({@code h x w}, row-major) that are label 0
     * throughout.
     */
    public static double backgroundPatchFraction(byte[] labels, int h, int w, int patch) {
        int gh = h / patch;
        int gw = w / patch;
        int bg = 0;
        for (int py = 0; py < gh; py++) {
            for (int px = 0; px < gw; px++) {
                boolean empty = true;
                for (int y = py * patch; y < (py + 1) * patch && empty; y++) {
                    for (int x = px * patch; x < (px + 1) * patch; x++) {
                        if (labels[y * w + x] != 0) {
                            empty = false;
                            break;
                        }
                    }
                }
                bg += empty ? 1 : 0;
            }
        }
        return (double) bg / (gh * gw);
    }

    /** Mean {@link #backgroundPatchFraction(Scene, int)} over scenes 0..n-1 of a split. */
    public double backgroundPatchFraction(SceneSplit split, int n, long seed, boolean single, int patch) {
        return IntStream.range(0, n).parallel()
                .mapToDouble(i -> backgroundPatchFraction(generate(split, i, seed, single), patch)).sum() / n;
    }

    // ---- generation ----

    private record Built(Scene scene, byte[] background, int[] items) {}

    /** An item scaled and cut to its silhouette's box: mask and texture (0..1), row-major w x h. */
    record Sprite(int w, int h, boolean[] mask, float[] grey, int area) {}

    private record Placed(int item, int category, Sprite sprite, int x, int y) {}

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static SplittableRandom random(SceneSplit split, long index, long seed, boolean single) {
        long h = mix(seed + 0x9E3779B97F4A7C15L);
        h = mix(h ^ ((split.ordinal() + 1L) * 0xD1B54A32D192ED03L) ^ (single ? 0x5DEECE66DL : 0L));
        h = mix(h + index * 0x9E3779B97F4A7C15L);
        return new SplittableRandom(h);
    }

    private Built build(SceneSplit split, long index, long seed, boolean single) {
        SplittableRandom rng = random(split, index, seed, single);
        SplittableRandom bgRng = rng.split();
        SplittableRandom objRng = rng.split();
        boolean test = split == SceneSplit.TEST;
        List<ScenePhotos.Photo> photos = test ? testPhotos : trainPhotos;
        ScenePhotos.Photo photo = photos.get(bgRng.nextInt(photos.size()));
        byte[] bg = crop(photo, bgRng);

        byte[] itemPx = test ? testItems : trainItems;
        int[] itemLab = test ? testLabels : trainLabels;
        int[] pool = pools[split.ordinal()];
        int n = SIZE * SIZE;
        byte[] rgb = bg.clone();
        int[] owner = new int[n];
        List<Placed> placed = new ArrayList<>();
        int want = single ? 1 : 1 + objRng.nextInt(MAX_ITEMS);
        for (int k = 0; k < want; k++) {
            int item = -1;
            boolean[] sil = null;
            for (int t = 0; t < 100 && item < 0; t++) {
                int cand = pool[objRng.nextInt(pool.length)];
                boolean[] s = silhouette(itemPx, cand * ITEM * ITEM);
                if (count(s) >= MIN_VISIBLE) {
                    item = cand;
                    sil = s;
                }
            }
            if (item < 0) {
                throw new VitrimException("fashion-mnist: 100 items in a row have fewer than " + MIN_VISIBLE
                        + " silhouette pixels (grey value " + GREY_THRESHOLD + " or more); are the files right?");
            }
            float[] tint = tint(objRng);
            Placed ok = null;
            for (int t = 0; t < (placed.isEmpty() ? 100 : MAX_TRIES) && ok == null; t++) {
                int side = MIN_SIDE + objRng.nextInt(MAX_SIDE - MIN_SIDE + 1);
                Sprite sp = scale(itemPx, item * ITEM * ITEM, sil, side, objRng.nextBoolean());
                int x = objRng.nextInt(SIZE - sp.w() + 1);
                int y = objRng.nextInt(SIZE - sp.h() + 1);
                Placed p = new Placed(item, itemLab[item], sp, x, y);
                if (sp.area() >= MIN_VISIBLE && fits(p, placed, owner)) {
                    ok = p;
                }
            }
            if (ok == null) {
                if (placed.isEmpty()) {
                    throw new IllegalStateException("no size of item " + item + " has " + MIN_VISIBLE + " pixels");
                }
                break; // no room: fewer items
            }
            placed.add(ok);
            paint(ok, placed.size(), tint, owner, rgb, bg);
        }

        // visible pixels per placed item
        int m = placed.size();
        int[][] box = visibleBoxes(owner, m);
        int[] newId = new int[m + 1];
        List<Instance> instances = new ArrayList<>();
        List<Integer> items = new ArrayList<>();
        for (int j = 1; j <= m; j++) {
            int[] b = box[j];
            if (b[4] >= MIN_VISIBLE) {
                newId[j] = instances.size() + 1;
                Placed p = placed.get(j - 1);
                instances.add(new Instance(p.category(), new double[] {b[0], b[1], b[2] - b[0] + 1, b[3] - b[1] + 1},
                        b[4]));
                items.add(p.item());
            }
        }
        byte[] labels = new byte[n];
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            int o = owner[i];
            if (o > 0) {
                ids[i] = newId[o];
                labels[i] = (byte) (newId[o] > 0 ? placed.get(o - 1).category() + 1 : IGNORE);
            }
        }
        Scene scene = new Scene(SIZE, SIZE, rgb, labels, ids, instances, photo.name());
        return new Built(scene, bg, items.stream().mapToInt(Integer::intValue).toArray());
    }

    private static byte[] crop(ScenePhotos.Photo p, SplittableRandom rng) {
        int s = p.shortSide();
        int lo = Math.min(s, Math.max(MIN_CROP, (int) Math.round(MIN_CROP_FRACTION * s)));
        int c = lo + rng.nextInt(s - lo + 1);
        int x0 = rng.nextInt(p.width() - c + 1);
        int y0 = rng.nextInt(p.height() - c + 1);
        boolean flip = rng.nextBoolean();
        return Resize.region(p.rgb(), p.width(), x0, y0, c, c, SIZE, SIZE, flip, true);
    }

    /** The tint of an item: a random hue at saturation 0.35..1, brightness 0.45..1, as RGB factors. */
    private static float[] tint(SplittableRandom rng) {
        double h = rng.nextDouble() * 6;
        double s = 0.35 + 0.65 * rng.nextDouble();
        double v = 0.45 + 0.55 * rng.nextDouble();
        int sector = Math.min(5, (int) h);
        double f = h - sector;
        double p = v * (1 - s);
        double q = v * (1 - s * f);
        double t = v * (1 - s * (1 - f));
        double[] c = switch (sector) {
            case 0 -> new double[] {v, t, p};
            case 1 -> new double[] {q, v, p};
            case 2 -> new double[] {p, v, t};
            case 3 -> new double[] {p, q, v};
            case 4 -> new double[] {t, p, v};
            default -> new double[] {v, p, q};
        };
        return new float[] {(float) c[0], (float) c[1], (float) c[2]};
    }

    /**
     * The silhouette of a 28x28 grey item: grey value at least {@link #GREY_THRESHOLD}, holes filled (background
     * is what the border reaches through background, 4-connected), 8-connected specks below {@link #MIN_SPECK}
     * pixels removed unless they are the largest part.
     */
    static boolean[] silhouette(byte[] px, int off) {
        int n = ITEM * ITEM;
        boolean[] fg = new boolean[n];
        for (int i = 0; i < n; i++) {
            fg[i] = (px[off + i] & 0xFF) >= GREY_THRESHOLD;
        }
        boolean[] outside = new boolean[n];
        int[] stack = new int[n];
        int sp = 0;
        for (int i = 0; i < ITEM; i++) {
            for (int e : new int[] {i, (ITEM - 1) * ITEM + i, i * ITEM, i * ITEM + ITEM - 1}) {
                if (!fg[e] && !outside[e]) {
                    outside[e] = true;
                    stack[sp++] = e;
                }
            }
        }
        while (sp > 0) {
            int p = stack[--sp];
            int x = p % ITEM;
            int y = p / ITEM;
            int[] nb = {x > 0 ? p - 1 : -1, x < ITEM - 1 ? p + 1 : -1, y > 0 ? p - ITEM : -1,
                y < ITEM - 1 ? p + ITEM : -1};
            for (int q : nb) {
                if (q >= 0 && !fg[q] && !outside[q]) {
                    outside[q] = true;
                    stack[sp++] = q;
                }
            }
        }
        boolean[] obj = new boolean[n];
        for (int i = 0; i < n; i++) {
            obj[i] = !outside[i];
        }
        // 8-connected components; drop specks
        int[] comp = new int[n];
        List<int[]> parts = new ArrayList<>();
        for (int s = 0; s < n; s++) {
            if (!obj[s] || comp[s] != 0) {
                continue;
            }
            int id = parts.size() + 1;
            List<Integer> members = new ArrayList<>();
            comp[s] = id;
            stack[sp++] = s;
            while (sp > 0) {
                int p = stack[--sp];
                members.add(p);
                int x = p % ITEM;
                int y = p / ITEM;
                for (int dy = -1; dy <= 1; dy++) {
                    for (int dx = -1; dx <= 1; dx++) {
                        int xx = x + dx;
                        int yy = y + dy;
                        if (xx >= 0 && xx < ITEM && yy >= 0 && yy < ITEM) {
                            int q = yy * ITEM + xx;
                            if (obj[q] && comp[q] == 0) {
                                comp[q] = id;
                                stack[sp++] = q;
                            }
                        }
                    }
                }
            }
            parts.add(members.stream().mapToInt(Integer::intValue).toArray());
        }
        int largest = 0;
        for (int[] part : parts) {
            largest = Math.max(largest, part.length);
        }
        for (int[] part : parts) {
            if (part.length < MIN_SPECK && part.length < largest) {
                for (int p : part) {
                    obj[p] = false;
                }
            }
        }
        return obj;
    }

    private static int count(boolean[] b) {
        int c = 0;
        for (boolean v : b) {
            c += v ? 1 : 0;
        }
        return c;
    }

    /**
     * The item's silhouette box scaled so that its longer side is {@code side} px, cut to the scaled mask's box.
     * Mask: bilinear, kept where at least 1/2. Texture: bilinear of grey*mask over bilinear of mask, grey divided
     * by the brightest silhouette pixel.
     */
    static Sprite scale(byte[] px, int off, boolean[] sil, int side, boolean flip) {
        int x0 = ITEM;
        int y0 = ITEM;
        int x1 = -1;
        int y1 = -1;
        int max = 0;
        for (int y = 0; y < ITEM; y++) {
            for (int x = 0; x < ITEM; x++) {
                if (sil[y * ITEM + x]) {
                    x0 = Math.min(x0, x);
                    y0 = Math.min(y0, y);
                    x1 = Math.max(x1, x);
                    y1 = Math.max(y1, y);
                    max = Math.max(max, px[off + y * ITEM + x] & 0xFF);
                }
            }
        }
        int bw = x1 - x0 + 1;
        int bh = y1 - y0 + 1;
        double f = (double) side / Math.max(bw, bh);
        int ow = Math.max(1, (int) Math.round(bw * f));
        int oh = Math.max(1, (int) Math.round(bh * f));
        double sx = (double) bw / ow;
        double sy = (double) bh / oh;
        float inv = max > 0 ? 1f / max : 0f;
        boolean[] mask = new boolean[ow * oh];
        float[] grey = new float[ow * oh];
        int mx0 = ow;
        int my0 = oh;
        int mx1 = -1;
        int my1 = -1;
        for (int oy = 0; oy < oh; oy++) {
            double fy = y0 + (oy + 0.5) * sy - 0.5;
            int iy = (int) Math.floor(fy);
            double ty = fy - iy;
            for (int ox = 0; ox < ow; ox++) {
                double fx = x0 + (ox + 0.5) * sx - 0.5;
                int ix = (int) Math.floor(fx);
                double tx = fx - ix;
                double m = 0;
                double g = 0;
                for (int k = 0; k < 4; k++) {
                    int xx = ix + (k & 1);
                    int yy = iy + (k >> 1);
                    if (xx < 0 || yy < 0 || xx >= ITEM || yy >= ITEM || !sil[yy * ITEM + xx]) {
                        continue;
                    }
                    double w = ((k & 1) == 1 ? tx : 1 - tx) * ((k >> 1) == 1 ? ty : 1 - ty);
                    m += w;
                    g += w * (px[off + yy * ITEM + xx] & 0xFF) * inv;
                }
                if (m >= 0.5) {
                    int o = oy * ow + (flip ? ow - 1 - ox : ox);
                    mask[o] = true;
                    grey[o] = (float) (g / m);
                }
            }
        }
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                if (mask[y * ow + x]) {
                    mx0 = Math.min(mx0, x);
                    my0 = Math.min(my0, y);
                    mx1 = Math.max(mx1, x);
                    my1 = Math.max(my1, y);
                }
            }
        }
        if (mx1 < 0) {
            return new Sprite(1, 1, new boolean[1], new float[1], 0);
        }
        int w = mx1 - mx0 + 1;
        int h = my1 - my0 + 1;
        boolean[] cm = new boolean[w * h];
        float[] cg = new float[w * h];
        int area = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int o = (y + my0) * ow + x + mx0;
                cm[y * w + x] = mask[o];
                cg[y * w + x] = grey[o];
                area += mask[o] ? 1 : 0;
            }
        }
        return new Sprite(w, h, cm, cg, area);
    }

    /** IoU of two boxes given as pixel extents {x, y, w, h}. */
    static double iou(int ax, int ay, int aw, int ah, int bx, int by, int bw, int bh) {
        int iw = Math.min(ax + aw, bx + bw) - Math.max(ax, bx);
        int ih = Math.min(ay + ah, by + bh) - Math.max(ay, by);
        if (iw <= 0 || ih <= 0) {
            return 0;
        }
        double inter = (double) iw * ih;
        return inter / ((double) aw * ah + (double) bw * bh - inter);
    }

    /** Whether {@code p} may join: box IoU with every earlier item, and visible-box IoU after pasting it. */
    private static boolean fits(Placed p, List<Placed> placed, int[] owner) {
        Sprite s = p.sprite();
        for (Placed q : placed) {
            if (iou(p.x(), p.y(), s.w(), s.h(), q.x(), q.y(), q.sprite().w(), q.sprite().h()) > MAX_IOU) {
                return false;
            }
        }
        if (placed.isEmpty()) {
            return true;
        }
        int m = placed.size() + 1;
        int[] probe = owner.clone();
        stamp(p, m, probe);
        int[][] box = visibleBoxes(probe, m);
        for (int a = 1; a <= m; a++) {
            if (box[a][4] < MIN_VISIBLE) {
                continue;
            }
            for (int b = a + 1; b <= m; b++) {
                if (box[b][4] < MIN_VISIBLE) {
                    continue;
                }
                int[] u = box[a];
                int[] v = box[b];
                if (iou(u[0], u[1], u[2] - u[0] + 1, u[3] - u[1] + 1, v[0], v[1], v[2] - v[0] + 1,
                        v[3] - v[1] + 1) > MAX_IOU) {
                    return false;
                }
            }
        }
        return true;
    }

    private static void stamp(Placed p, int id, int[] owner) {
        Sprite s = p.sprite();
        for (int y = 0; y < s.h(); y++) {
            for (int x = 0; x < s.w(); x++) {
                if (s.mask()[y * s.w() + x]) {
                    owner[(p.y() + y) * SIZE + p.x() + x] = id;
                }
            }
        }
    }

    /** Per owner id 1..m: {minX, minY, maxX, maxY, count} of its pixels (count 0: none). */
    private static int[][] visibleBoxes(int[] owner, int m) {
        int[][] b = new int[m + 1][];
        for (int j = 0; j <= m; j++) {
            b[j] = new int[] {SIZE, SIZE, -1, -1, 0};
        }
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                int o = owner[y * SIZE + x];
                if (o > 0) {
                    int[] v = b[o];
                    v[0] = Math.min(v[0], x);
                    v[1] = Math.min(v[1], y);
                    v[2] = Math.max(v[2], x);
                    v[3] = Math.max(v[3], y);
                    v[4]++;
                }
            }
        }
        return b;
    }

    private static void paint(Placed p, int id, float[] tint, int[] owner, byte[] rgb, byte[] bg) {
        Sprite s = p.sprite();
        int plane = SIZE * SIZE;
        for (int y = 0; y < s.h(); y++) {
            for (int x = 0; x < s.w(); x++) {
                int si = y * s.w() + x;
                if (!s.mask()[si]) {
                    continue;
                }
                int o = (p.y() + y) * SIZE + p.x() + x;
                owner[o] = id;
                float shade = FLOOR + (1 - FLOOR) * s.grey()[si];
                int r = Math.round(255f * tint[0] * shade);
                int g = Math.round(255f * tint[1] * shade);
                int b = Math.round(255f * tint[2] * shade);
                r = Math.min(255, Math.max(0, r));
                g = Math.min(255, Math.max(0, g));
                b = Math.min(255, Math.max(0, b));
                if (r == (bg[o] & 0xFF) && g == (bg[plane + o] & 0xFF) && b == (bg[2 * plane + o] & 0xFF)) {
                    r = r < 255 ? r + 1 : r - 1;
                }
                rgb[o] = (byte) r;
                rgb[plane + o] = (byte) g;
                rgb[2 * plane + o] = (byte) b;
            }
        }
    }
}
