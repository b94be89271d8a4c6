package dev.vitrim.data.scenes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.data.DataHome;
import dev.vitrim.data.DataSource;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.Fetcher;
import dev.vitrim.data.Idx;
import dev.vitrim.data.LabeledImages;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The scenes data set on the real fetched data (skipped when {@code vitrim data fetch scenes} has not been run):
 * the fixed test sets' background-patch fraction, generation speed, and the scene checks on real items and photos.
 */
class SceneRealDataTest {
    @Test
    void realTestScenesAreMostlyBackground() {
        Path root = DataHome.root();
        Fetcher f = new Fetcher(root, null);
        for (DataSource s : SceneGenerator.SOURCES) {
            Assumptions.assumeTrue(f.isComplete(s), s.id() + " is not fetched into " + root);
        }
        SceneGenerator gen = SceneGenerator.open(root);
        int n = SceneGenerator.EVAL_SCENES;
        double multi = gen.backgroundPatchFraction(SceneSplit.TEST, n, SceneGenerator.EVAL_SEED, false, 8);
        double single = gen.backgroundPatchFraction(SceneSplit.TEST, n, SceneGenerator.EVAL_SEED, true, 8);
        System.out.printf(Locale.ROOT, "scenes:test background patches (8x8, 14x14 grid, %d scenes): %.4f%n", n,
                multi);
        System.out.printf(Locale.ROOT, "scenes-1:test background patches (8x8, 14x14 grid, %d scenes): %.4f%n", n,
                single);
        assertThat(multi).isGreaterThan(0.5);
        assertThat(single).isGreaterThan(0.5);

        // speed, one thread (after a warm-up)
        for (boolean s1 : new boolean[] {false, true}) {
            for (int i = 0; i < 300; i++) {
                gen.generate(SceneSplit.TRAIN, i, 99, s1);
            }
            long t0 = System.nanoTime();
            int m = 1000;
            for (int i = 0; i < m; i++) {
                gen.generate(SceneSplit.TRAIN, 1000 + i, 99, s1);
            }
            System.out.printf(Locale.ROOT, "%s: %.0f scenes/s on one thread%n", s1 ? "scenes-1" : "scenes",
                    m / ((System.nanoTime() - t0) / 1e9));
        }

        // the scene checks on real data
        Path fm = root.resolve(DataSource.FASHION_MNIST.id());
        LabeledImages test = Idx.images(fm.resolve("t10k-images-idx3-ubyte.gz"), fm.resolve("t10k-labels-idx1-ubyte.gz"),
                "t", Datasets.FASHION);
        for (int i = 0; i < 100; i++) {
            for (boolean s1 : new boolean[] {false, true}) {
                long seed = SceneGenerator.EVAL_SEED;
                SceneGeneratorTest.checkScene(gen.generate(SceneSplit.TEST, i, seed, s1),
                        gen.background(SceneSplit.TEST, i, seed, s1), gen.sourceItems(SceneSplit.TEST, i, seed, s1),
                        test, s1, "real test scene " + i);
            }
        }
    }
}
