package dev.vitrim.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.Golden;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.DensePrediction;
import dev.vitrim.dense.DensePredictor;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.train.ArchSpec;
import dev.vitrim.train.ModelFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A dense model file through the facade: the same predictions as the dense package's own predictor. */
class VitrimDenseTest {
    static final Path DOG = Golden.path("images/dog.jpg");
    static final Path PNG = Golden.path("images/palette.png");
    @TempDir
    static Path dir;
    static Path file;
    static VitrimModel model;

    @BeforeAll
    static void make() {
        PreprocessConfig pre = new PreprocessConfig(32, 1.0, new float[] {0.5f, 0.5f, 0.5f},
                new float[] {0.25f, 0.25f, 0.25f}, Interpolation.BILINEAR);
        VitConfig c = ArchSpec.toConfig("width=32,depth=2,heads=2,patch=4", 32, 0, List.of(), s -> pre);
        file = dir.resolve("dense.safetensors");
        try (DenseModel m = DenseModel.fresh(VisionTransformer.random(c, 4), List.of("circle", "square"), 5)) {
            ModelFiles.saveDense(m, null, file);
        }
        model = Vitrim.load(file);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void aDenseFileLoadsAsADenseModel() {
        assertThat(model.isDense()).isTrue();
        assertThat(model.labels()).containsExactly("circle", "square");
        assertThatThrownBy(() -> model.classify(DOG)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("dense.safetensors").hasMessageContaining("use segment or detect");
        assertThatThrownBy(() -> model.preprocess(PreprocessConfig.imagenetDefault(32)))
                .isInstanceOf(VitrimException.class).hasMessageContaining("no preprocess");
    }

    @Test
    void segmentAndDetectGiveTheDensePredictorsAnswerAtTheImagesSize() throws Exception {
        for (String spec : new String[] {"none", "tome:r=3"}) {
            VitrimModel m = model.reduce(spec);
            DensePrediction ref = DensePredictor.predict(model.denseModel(), List.of(DOG), m.reducer(), 1, null)
                    .get(0).prediction();
            DensePrediction p = m.segment(DOG);
            assertThat(p.width()).isEqualTo(ref.width());
            assertThat(p.height()).isEqualTo(ref.height());
            assertThat(p.labels()).containsExactly(ref.labels());
            assertThat(p.detections()).isEqualTo(ref.detections());
            assertThat(m.detect(DOG)).isEqualTo(ref.detections());
            assertThat(m.segment(Files.readAllBytes(DOG)).labels()).containsExactly(ref.labels());
            assertThat(m.detect(ImageIO.read(PNG.toFile()))).isEqualTo(m.detect(PNG));
        }
        assertThat(model.segment(DOG).width()).isEqualTo(ImageIO.read(DOG.toFile()).getWidth());
    }

    @Test
    void inABatchABadFileGetsAnErrorEntry(@TempDir Path tmp) throws Exception {
        Path bad = tmp.resolve("bad.jpg");
        Files.write(bad, new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 0, 1, 2});
        List<Outcome<DensePrediction>> out = model.segmentFiles(List.of(PNG, bad, DOG));
        assertThat(out.get(0).ok()).isTrue();
        assertThat(out.get(1).error()).contains("bad.jpg");
        assertThat(out.get(2).result().labels()).containsExactly(model.segment(DOG).labels());
    }

    @Test
    void aReducerThatDropsPatchesStillSegmentsEveryPixel() {
        // pruned patches keep their token's value from when they were pruned (no Last Layer Fusion)
        DensePrediction full = model.segment(DOG);
        DensePrediction pruned = model.reduce(Reducers.evit().keep(0.5).at(0)).segment(DOG);
        assertThat(pruned.labels()).hasSameSizeAs(full.labels());
    }
}
