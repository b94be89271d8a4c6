package dev.vitrim.data.scenes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.vitrim.VitrimException;
import dev.vitrim.data.DataSource;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.Idx;
import dev.vitrim.data.LabeledImages;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The scenes generator on a small fake data folder: masks, boxes, labels, occlusion, splits, determinism. */
class SceneGeneratorTest {
    static final int S = SceneGenerator.SIZE;
    static final int N = S * S;

    @TempDir
    static Path tmp;
    static Path root;
    static SceneGenerator gen;
    static LabeledImages trainItems;
    static LabeledImages testItems;

    @BeforeAll
    static void setUp() throws IOException {
        root = tmp.resolve("data");
        SceneTestData.write(root);
        gen = SceneGenerator.open(root);
        Path fm = root.resolve("fashion-mnist");
        trainItems = Idx.images(fm.resolve("train-images-idx3-ubyte.gz"), fm.resolve("train-labels-idx1-ubyte.gz"), "t",
                Datasets.FASHION);
        testItems = Idx.images(fm.resolve("t10k-images-idx3-ubyte"), fm.resolve("t10k-labels-idx1-ubyte"), "t",
                Datasets.FASHION);
    }

    static int px(byte[] b, int i) {
        return b[i] & 0xFF;
    }

    /** Everything a scene promises, checked against the background photo crop it was made on. */
    static void checkScene(Scene s, byte[] bg, int[] items, LabeledImages itemFile, boolean single, String what) {
        assertThat(s.height()).isEqualTo(S);
        assertThat(s.width()).isEqualTo(S);
        int m = s.instances().size();
        if (single) {
            assertThat(m).as(what).isEqualTo(1);
        } else {
            assertThat(m).as(what).isBetween(1, SceneGenerator.MAX_ITEMS);
        }
        assertThat(items).hasSize(m);
        for (int i = 0; i < N; i++) { // plain checks: AssertJ per pixel would be slow
            int id = s.instanceIds()[i];
            int label = px(s.labels(), i);
            boolean same = px(s.rgb(), i) == px(bg, i) && px(s.rgb(), N + i) == px(bg, N + i)
                    && px(s.rgb(), 2 * N + i) == px(bg, 2 * N + i);
            final int pix = i;
            java.util.function.Supplier<String> where = () -> what + " pixel (" + pix % S + ", " + pix / S + "): ";
            if (id < 0 || id > m) {
                fail(where.get() + "instance id " + id + " of " + m);
            } else if (id > 0) {
                if (label != s.instances().get(id - 1).category() + 1) {
                    fail(where.get() + "label " + label + " on instance " + id + " of class "
                            + s.instances().get(id - 1).category());
                }
                if (same) {
                    fail(where.get() + "instance " + id + " has the photo's colour");
                }
            } else if (label == SceneGenerator.IGNORE) {
                if (same) {
                    fail(where.get() + "an ignored pixel has the photo's colour (no item there?)");
                }
            } else if (label != 0) {
                fail(where.get() + "label " + label + " without an instance");
            } else if (!same) {
                fail(where.get() + "a background pixel differs from the photo");
            }
        }
        for (int k = 0; k < m; k++) {
            Instance in = s.instances().get(k);
            boolean[] mask = s.mask(k);
            int x0 = S;
            int y0 = S;
            int x1 = -1;
            int y1 = -1;
            long area = 0;
            for (int i = 0; i < N; i++) {
                if (mask[i]) {
                    area++;
                    x0 = Math.min(x0, i % S);
                    x1 = Math.max(x1, i % S);
                    y0 = Math.min(y0, i / S);
                    y1 = Math.max(y1, i / S);
                }
            }
            assertThat(area).as(what).isEqualTo(in.area()).isGreaterThanOrEqualTo(SceneGenerator.MIN_VISIBLE);
            assertThat(in.bbox()).as(what).containsExactly(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
            assertThat(in.category()).as(what).isEqualTo(itemFile.label(items[k]));
            for (int j = 0; j < k; j++) {
                assertThat(iou(in.bbox(), s.instances().get(j).bbox())).as("%s IoU of %d and %d", what, j, k)
                        .isLessThanOrEqualTo(SceneGenerator.MAX_IOU);
            }
        }
    }

    static double iou(double[] a, double[] b) {
        double iw = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
        double ih = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
        if (iw <= 0 || ih <= 0) {
            return 0;
        }
        return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih);
    }

    @Test
    void everyScenePixelMaskBoxAndLabelAgrees() {
        int ignored = 0;
        int occluded = 0;
        int[] perCount = new int[SceneGenerator.MAX_ITEMS + 1];
        for (SceneSplit split : new SceneSplit[] {SceneSplit.VAL, SceneSplit.TEST}) {
            LabeledImages file = split == SceneSplit.TEST ? testItems : trainItems;
            for (boolean single : new boolean[] {false, true}) {
                for (int i = 0; i < 150; i++) {
                    long seed = SceneGenerator.EVAL_SEED;
                    Scene s = gen.generate(split, i, seed, single);
                    String what = split + (single ? " single " : " ") + "scene " + i;
                    checkScene(s, gen.background(split, i, seed, single), gen.sourceItems(split, i, seed, single),
                            file, single, what);
                    if (!single) {
                        perCount[s.instances().size()]++;
                    }
                    for (byte b : s.labels()) {
                        if ((b & 0xFF) == SceneGenerator.IGNORE) {
                            ignored++;
                            break;
                        }
                    }
                    for (int k = 0; k < s.instances().size(); k++) {
                        double[] b = s.instances().get(k).bbox();
                        if (s.instances().get(k).area() < b[2] * b[3] * 0.3) {
                            occluded++;
                        }
                    }
                }
            }
        }
        // every count of items occurs; the rules were exercised rather than vacuous
        assertThat(Arrays.stream(perCount, 1, perCount.length).allMatch(c -> c > 0)).as(Arrays.toString(perCount)).isTrue();
        assertThat(occluded + ignored).isGreaterThan(0);
    }

    @Test
    void trainingScenesToo() {
        for (int i = 0; i < 60; i++) {
            long seed = SceneGenerator.epochSeed(5, 3);
            checkScene(gen.generate(SceneSplit.TRAIN, i, seed, false), gen.background(SceneSplit.TRAIN, i, seed, false),
                    gen.sourceItems(SceneSplit.TRAIN, i, seed, false), trainItems, false, "train " + i);
        }
    }

    @Test
    void sameArgumentsSameBytesOtherArgumentsOtherScenes() {
        for (SceneSplit split : SceneSplit.values()) {
            for (boolean single : new boolean[] {false, true}) {
                Scene a = gen.generate(split, 17, 3, single);
                Scene b = gen.generate(split, 17, 3, single);
                assertThat(b.rgb()).isEqualTo(a.rgb());
                assertThat(b.labels()).isEqualTo(a.labels());
                assertThat(b.instanceIds()).isEqualTo(a.instanceIds());
                assertThat(b.photo()).isEqualTo(a.photo());
                assertThat(b.instances()).hasSameSizeAs(a.instances());
                for (int k = 0; k < a.instances().size(); k++) {
                    assertThat(b.instances().get(k).bbox()).isEqualTo(a.instances().get(k).bbox());
                    assertThat(b.instances().get(k).area()).isEqualTo(a.instances().get(k).area());
                    assertThat(b.instances().get(k).category()).isEqualTo(a.instances().get(k).category());
                }
                assertThat(gen.generate(split, 18, 3, single).rgb()).isNotEqualTo(a.rgb());
                assertThat(gen.generate(split, 17, 4, single).rgb()).isNotEqualTo(a.rgb());
            }
        }
        // the same scene from many threads at once
        byte[] want = gen.generate(SceneSplit.TRAIN, 5, 9, false).rgb();
        assertThat(IntStream.range(0, 64).parallel()
                .allMatch(i -> Arrays.equals(gen.generate(SceneSplit.TRAIN, 5, 9, false).rgb(), want))).isTrue();
        // epochs see other scenes
        assertThat(SceneGenerator.epochSeed(1, 0)).isNotEqualTo(SceneGenerator.epochSeed(1, 1))
                .isNotEqualTo(SceneGenerator.epochSeed(2, 0));
        assertThat(gen.generate(SceneSplit.TRAIN, 0, SceneGenerator.epochSeed(1, 0), false).rgb())
                .isNotEqualTo(gen.generate(SceneSplit.TRAIN, 0, SceneGenerator.epochSeed(1, 1), false).rgb());
    }

    @Test
    void splitsUseDisjointItemsAndPhotos() {
        int[] train = gen.pool(SceneSplit.TRAIN);
        int[] val = gen.pool(SceneSplit.VAL);
        Set<Integer> trainSet = new HashSet<>();
        Arrays.stream(train).forEach(trainSet::add);
        Set<Integer> valSet = new HashSet<>();
        Arrays.stream(val).forEach(valSet::add);
        assertThat(val).hasSize(SceneTestData.TRAIN_ITEMS / 10);
        assertThat(trainSet).doesNotContainAnyElementsOf(valSet);
        assertThat(trainSet.size() + valSet.size()).isEqualTo(SceneTestData.TRAIN_ITEMS);
        assertThat(gen.pool(SceneSplit.TEST)).hasSize(SceneTestData.TEST_ITEMS);

        List<String> trainPhotos = gen.photos(SceneSplit.TRAIN);
        List<String> testPhotos = gen.photos(SceneSplit.TEST);
        assertThat(gen.photos(SceneSplit.VAL)).isEqualTo(trainPhotos);
        assertThat(trainPhotos).doesNotContainAnyElementsOf(testPhotos);
        List<String> listed = ScenePhotos.listed().stream().map(ScenePhotos.Entry::name).toList();
        assertThat(listed).containsExactlyInAnyOrderElementsOf(
                java.util.stream.Stream.concat(trainPhotos.stream(), testPhotos.stream()).toList());

        Set<Integer> usedTrain = new HashSet<>();
        Set<Integer> usedVal = new HashSet<>();
        Set<String> photosTrain = new HashSet<>();
        Set<String> photosTest = new HashSet<>();
        for (int i = 0; i < 300; i++) {
            for (int it : gen.sourceItems(SceneSplit.TRAIN, i, 1, false)) {
                usedTrain.add(it);
            }
            for (int it : gen.sourceItems(SceneSplit.VAL, i, 1, false)) {
                usedVal.add(it);
            }
            for (int it : gen.sourceItems(SceneSplit.TEST, i, 1, false)) {
                assertThat(it).isBetween(0, SceneTestData.TEST_ITEMS - 1);
            }
            photosTrain.add(checkPhoto(SceneSplit.TRAIN, i, listed));
            photosTrain.add(checkPhoto(SceneSplit.VAL, i, listed));
            photosTest.add(checkPhoto(SceneSplit.TEST, i, listed));
        }
        assertThat(trainSet).containsAll(usedTrain);
        assertThat(valSet).containsAll(usedVal);
        assertThat(usedVal).hasSizeGreaterThan(val.length / 2);
        assertThat(trainPhotos).containsAll(photosTrain);
        assertThat(testPhotos).containsAll(photosTest);
        assertThat(photosTest).hasSizeGreaterThan(testPhotos.size() / 2);
    }

    /** The scene's background really is a crop of the photo it names: the fake photos' red and green say which. */
    private String checkPhoto(SceneSplit split, int i, List<String> listed) {
        Scene s = gen.generate(split, i, 1, false);
        byte[] bg = gen.background(split, i, 1, false);
        int p = listed.indexOf(s.photo());
        assertThat(p).isNotNegative();
        double r = 0;
        double g = 0;
        for (int j = 0; j < N; j++) {
            r += px(bg, j);
            g += px(bg, N + j);
        }
        int nearest = -1;
        double best = Double.MAX_VALUE;
        for (int q = 0; q < listed.size(); q++) {
            double d = Math.abs(r / N - SceneTestData.red(q)) + Math.abs(g / N - SceneTestData.green(q));
            if (d < best) {
                best = d;
                nearest = q;
            }
        }
        assertThat(listed.get(nearest)).as("the photo whose colours the background has").isEqualTo(s.photo());
        return s.photo();
    }

    @Test
    void silhouetteFillsHolesKeepsBaysDropsSpecks() {
        byte[] px = new byte[784];
        // ring rows 4..12, cols 4..12, with a dark (below threshold) centre: the centre is object
        for (int y = 4; y <= 12; y++) {
            for (int x = 4; x <= 12; x++) {
                boolean edge = y == 4 || y == 12 || x == 4 || x == 12;
                px[y * 28 + x] = (byte) (edge ? 200 : 3);
            }
        }
        // a U open to the bottom border at cols 16..22: its bay stays background
        for (int y = 15; y < 28; y++) {
            px[y * 28 + 16] = (byte) 150;
            px[y * 28 + 22] = (byte) 150;
        }
        for (int x = 16; x <= 22; x++) {
            px[15 * 28 + x] = (byte) 150;
        }
        px[2 * 28 + 25] = (byte) 255; // a 2-pixel speck
        px[2 * 28 + 26] = (byte) 255;
        px[20 * 28 + 2] = (byte) (SceneGenerator.GREY_THRESHOLD - 1); // too faint
        boolean[] sil = SceneGenerator.silhouette(px, 0);
        assertThat(sil[8 * 28 + 8]).as("hole inside the ring").isTrue();
        assertThat(sil[4 * 28 + 4]).isTrue();
        assertThat(sil[20 * 28 + 19]).as("bay of the U").isFalse();
        assertThat(sil[20 * 28 + 16]).isTrue();
        assertThat(sil[2 * 28 + 25]).as("speck").isFalse();
        assertThat(sil[20 * 28 + 2]).as("faint").isFalse();
        int count = 0;
        for (boolean b : sil) {
            count += b ? 1 : 0;
        }
        assertThat(count).isEqualTo(81 + 13 * 2 + 5);
    }

    @Test
    void scaledItemsHaveTheDrawnSize() {
        byte[] px = new byte[784];
        for (int y = 10; y < 20; y++) {
            for (int x = 6; x < 26; x++) {
                px[y * 28 + x] = (byte) (100 + x);
            }
        }
        boolean[] sil = SceneGenerator.silhouette(px, 0);
        for (int side : new int[] {28, 45, 64}) {
            SceneGenerator.Sprite s = SceneGenerator.scale(px, 0, sil, side, false);
            assertThat(s.w()).isEqualTo(side);
            assertThat(s.h()).isEqualTo(Math.round(side / 2f));
            // bilinear-then-threshold rounds the corners off a little at strong enlargement
            assertThat(s.area()).isBetween(s.w() * s.h() - 4, s.w() * s.h());
            SceneGenerator.Sprite f = SceneGenerator.scale(px, 0, sil, side, true);
            int mid = s.h() / 2 * s.w();
            assertThat(f.grey()[mid]).isEqualTo(s.grey()[mid + s.w() - 1]); // mirrored
            // the texture ramps up to the brightest pixel, normalised to 1
            assertThat(s.grey()[mid + s.w() - 1]).isGreaterThan(s.grey()[mid]).isCloseTo(1f,
                    org.assertj.core.data.Offset.offset(0.01f));
            assertThat(s.grey()[mid]).isCloseTo(106f / 125, org.assertj.core.data.Offset.offset(0.01f));
        }
    }

    @Test
    void resizeAveragesAreasAndInterpolatesUp() {
        // 4x2 region, 2x2 blocks of 0 / 100 / 200 / 40 -> 2x1
        byte[] rgb = new byte[4 * 2 * 3];
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 4; x++) {
                int val = x < 2 ? (y == 0 ? 0 : 200) : (y == 0 ? 100 : 40);
                for (int c = 0; c < 3; c++) {
                    rgb[3 * (y * 4 + x) + c] = (byte) val;
                }
            }
        }
        byte[] out = Resize.region(rgb, 4, 0, 0, 4, 2, 2, 1, false, true);
        assertThat(out[0] & 0xFF).isEqualTo(100);
        assertThat(out[1] & 0xFF).isEqualTo(70);
        byte[] flipped = Resize.region(rgb, 4, 0, 0, 4, 2, 2, 1, true, true);
        assertThat(flipped[0] & 0xFF).isEqualTo(70);
        // a non-integer factor: 3 -> 2 weighs the middle pixel half to each side
        byte[] row = {0, 0, 0, 90, 90, 90, (byte) 180, (byte) 180, (byte) 180};
        byte[] r2 = Resize.region(row, 3, 0, 0, 3, 1, 2, 1, false, false);
        assertThat(r2[0] & 0xFF).isEqualTo(30);
        assertThat(r2[3] & 0xFF).isEqualTo(150);
        // upscaling a constant stays constant; a ramp stays monotonic
        byte[] up = Resize.region(row, 3, 0, 0, 3, 1, 7, 1, false, false);
        for (int i = 1; i < 7; i++) {
            assertThat(up[3 * i] & 0xFF).isGreaterThanOrEqualTo(up[3 * (i - 1)] & 0xFF);
        }
        assertThat(up[0] & 0xFF).isZero();
        assertThat(up[18] & 0xFF).isEqualTo(180);
    }

    @Test
    void scenesOneIsAClassificationSet() {
        LabeledImages d = gen.classificationSet(SceneSplit.VAL, 40, SceneGenerator.EVAL_SEED);
        assertThat(d.size()).isEqualTo(40);
        assertThat(d.channels()).isEqualTo(3);
        assertThat(d.height()).isEqualTo(S);
        assertThat(d.classes()).isEqualTo(Datasets.FASHION);
        assertThat(d.name()).isEqualTo("scenes-1:val");
        for (int i = 0; i < 40; i += 7) {
            Scene s = gen.generate(SceneSplit.VAL, i, SceneGenerator.EVAL_SEED, true);
            assertThat(d.label(i)).isEqualTo(s.instances().get(0).category());
            assertThat(Arrays.copyOfRange(d.pixels(), i * 3 * N, (i + 1) * 3 * N)).isEqualTo(s.rgb());
        }
    }

    @Test
    void datasetsKnowsScenes() {
        Datasets.Spec v = Datasets.parse("scenes-1:val");
        assertThat(v.kind()).isEqualTo("scenes-1");
        assertThat(v.split()).isEqualTo("val");
        assertThat(v.isTest()).isFalse();
        assertThat(Datasets.parse("scenes").split()).isEqualTo("train");
        assertThat(Datasets.parse("SCENES:Test").isTest()).isTrue();
        Datasets.Info info = Datasets.info(v);
        assertThat(info.classes()).isEqualTo(Datasets.FASHION);
        assertThat(info.nativeSize()).isEqualTo(S);
        assertThat(info.translate()).isZero();
        assertThat(info.flip()).isFalse();
        assertThatThrownBy(() -> Datasets.parse("scenes:dev")).isInstanceOf(VitrimException.class)
                .hasMessageContaining("train, val, test");
        assertThatThrownBy(() -> Datasets.parse("mnist:val")).isInstanceOf(VitrimException.class)
                .hasMessageContaining("train, test");
        LabeledImages test = Datasets.load(Datasets.parse("scenes-1:test"), root, null);
        assertThat(test.size()).isEqualTo(SceneGenerator.EVAL_SCENES);
        Scene s7 = gen.generate(SceneSplit.TEST, 7, SceneGenerator.EVAL_SEED, true);
        assertThat(Arrays.copyOfRange(test.pixels(), 7 * 3 * N, 8 * 3 * N)).isEqualTo(s7.rgb());
        assertThatThrownBy(() -> Datasets.load(Datasets.parse("scenes:val"), root, null))
                .isInstanceOf(VitrimException.class).hasMessageContaining("scenes-1")
                .hasMessageContaining("export it as images");
    }

    @Test
    void backgroundIsMostOfTheImage() {
        double multi = gen.backgroundPatchFraction(SceneSplit.TEST, 300, SceneGenerator.EVAL_SEED, false, 8);
        double single = gen.backgroundPatchFraction(SceneSplit.TEST, 300, SceneGenerator.EVAL_SEED, true, 8);
        assertThat(multi).isGreaterThan(0.5).isLessThan(single);
        assertThat(single).isLessThan(1.0);
        // the per-scene count on a hand-made label map: one object pixel in patch (0, 0) and one in patch (13, 13)
        byte[] labels = new byte[N];
        labels[3 * S + 5] = 4;
        labels[N - 1] = (byte) 255;
        Scene s = new Scene(S, S, new byte[3 * N], labels, new int[N], List.of(), "x");
        assertThat(SceneGenerator.backgroundPatchFraction(s, 8)).isEqualTo(194.0 / 196);
    }

    @Test
    void photoListNamesFetchedFilesAndSplitsThreeToOne() {
        List<ScenePhotos.Entry> list = ScenePhotos.listed();
        long test = list.stream().filter(ScenePhotos.Entry::test).count();
        assertThat(test / (double) list.size()).isBetween(0.2, 0.3);
        for (ScenePhotos.Entry e : list) {
            assertThat(e.source().files()).contains(e.file());
            assertThat(SceneGenerator.SOURCES).contains(e.source());
        }
        assertThat(SceneGenerator.SOURCES).contains(DataSource.FASHION_MNIST, DataSource.PHOTOS,
                DataSource.SKIMAGE_PHOTOS, DataSource.OPENCV_PHOTOS);
        // views of one scene share a split
        for (String[] pair : new String[][] {{"motorcycle_left.png", "motorcycle_right.png"},
                {"aloeL.jpg", "aloeR.jpg"}, {"leuvenA.jpg", "leuvenB.jpg"}, {"left.jpg", "right.jpg"},
                {"graf1.png", "graf3.png"}, {"rubberwhale1.png", "rubberwhale2.png"},
                {"ela_modified.jpg", "ela_original.jpg"}, {"aero1.jpg", "aero3.jpg"}}) {
            List<Boolean> sides = list.stream().filter(e -> e.file().equals(pair[0]) || e.file().equals(pair[1]))
                    .map(ScenePhotos.Entry::test).distinct().toList();
            assertThat(sides).as(Arrays.toString(pair)).hasSize(1);
        }
        assertThatThrownBy(() -> ScenePhotos.parse("train photos/scream.jpeg\n", "l")).hasMessageContaining("line 1")
                .hasMessageContaining("photos/scream.jpeg");
        assertThatThrownBy(() -> ScenePhotos.parse("# c\ntrain photos/dog.jpg\nval photos/kite.jpg", "l"))
                .hasMessageContaining("line 3");
        assertThatThrownBy(() -> ScenePhotos.parse("train photos/dog.jpg\ntest photos/dog.jpg", "l"))
                .hasMessageContaining("twice");
    }

    @Test
    void missingDataNamesTheFileAndTheFetchCommand(@TempDir Path other) throws IOException {
        Path r = other.resolve("data");
        assertThatThrownBy(() -> SceneGenerator.open(r)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("train-images-idx3-ubyte").hasMessageContaining("vitrim data fetch scenes");
        SceneTestData.write(r);
        ScenePhotos.Entry gone = ScenePhotos.listed().get(5);
        Files.delete(gone.path(r));
        assertThatThrownBy(() -> SceneGenerator.open(r)).isInstanceOf(VitrimException.class)
                .hasMessageContaining(gone.path(r).toString()).hasMessageContaining("vitrim data fetch scenes")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }
}
