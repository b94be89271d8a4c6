package dev.vitrim.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.modality.cv.output.CategoryMask;
import ai.djl.modality.cv.output.DetectedObjects;
import ai.djl.modality.cv.output.Rectangle;
import dev.vitrim.Golden;
import dev.vitrim.VitrimException;
import dev.vitrim.api.ClassProbabilities;
import dev.vitrim.api.Vitrim;
import dev.vitrim.api.VitrimModel;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.DensePrediction;
import dev.vitrim.dense.Detection;
import dev.vitrim.image.Interpolation;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.train.ArchSpec;
import dev.vitrim.train.ModelFiles;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A DJL predictor over a vitrim model answers as the facade does for the same image. */
class VitrimTranslatorsTest {
    static final Path DOG = Golden.path("images/dog.jpg");
    static final Path PNG = Golden.path("images/palette.png");

    @Test
    void aPredictorGivesTheFacadesProbabilities() throws Exception {
        try (VitrimModel root = Vitrim.load(Golden.path("vit224"))) {
            predictorMatches(root.reduce("attn:keep=0.6..0.3,start=0,avg=1"));
        }
    }

    static void predictorMatches(VitrimModel vit) throws Exception {
        try (Model model = VitrimTranslators.newModel(vit);
             Predictor<Image, Classifications> p = model.newPredictor(VitrimTranslators.classifications(vit))) {
            for (Path f : List.of(PNG, DOG)) {
                Image img = ImageFactory.getInstance().fromFile(f);
                Classifications c = p.predict(img);
                ClassProbabilities ref = vit.classify(javax.imageio.ImageIO.read(f.toFile()));
                assertThat(c.getClassNames()).isEqualTo(vit.labels());
                for (int i = 0; i < ref.size(); i++) {
                    assertThat(c.getProbabilities().get(i)).as("%s class %d", f, i)
                            .isCloseTo(ref.probability(i), within(1e-6));
                }
                assertThat(c.best().getClassName()).isEqualTo(ref.best().label());
            }
            // a batch through DJL's stacking batchifier: the same answers per image
            List<Classifications> both = p.batchPredict(List.of(ImageFactory.getInstance().fromFile(PNG),
                    ImageFactory.getInstance().fromFile(PNG)));
            assertThat(both.get(1).getProbabilities().get(0))
                    .isCloseTo(vit.classify(PNG).probability(0), within(1e-5));
        }
    }

    @Test
    void aPredictorOnADenseModelDetectsAndSegmentsAsTheFacade(@TempDir Path dir) throws Exception {
        PreprocessConfig pre = new PreprocessConfig(32, 1.0, new float[] {0.5f, 0.5f, 0.5f},
                new float[] {0.25f, 0.25f, 0.25f}, Interpolation.BILINEAR);
        VitConfig c = ArchSpec.toConfig("width=32,depth=2,heads=2,patch=4", 32, 0, List.of(), s -> pre);
        Path file = dir.resolve("dense.safetensors");
        try (DenseModel m = DenseModel.fresh(VisionTransformer.random(c, 4), List.of("circle", "square"), 5)) {
            ModelFiles.saveDense(m, null, file);
        }
        try (VitrimModel vit = Vitrim.load(file); Model model = VitrimTranslators.newModel(vit);
             Predictor<Image, DetectedObjects> det = model.newPredictor(VitrimTranslators.detections(vit));
             Predictor<Image, CategoryMask> seg = model.newPredictor(VitrimTranslators.segmentation(vit))) {
            Image img = ImageFactory.getInstance().fromFile(DOG);
            DensePrediction ref = vit.segment(javax.imageio.ImageIO.read(DOG.toFile()));
            DetectedObjects objs = det.predict(img);
            assertThat(objs.getNumberOfObjects()).isEqualTo(ref.detections().size()).isPositive();
            for (int i = 0; i < objs.getNumberOfObjects(); i++) {
                DetectedObjects.DetectedObject o = objs.item(i);
                Detection d = ref.detections().get(i);
                assertThat(o.getClassName()).isEqualTo(vit.labels().get(d.category()));
                assertThat(o.getProbability()).isCloseTo(d.score(), within(1e-6));
                Rectangle r = o.getBoundingBox().getBounds();
                assertThat(r.getX() * ref.width()).isCloseTo(d.x(), within(1e-3));
                assertThat(r.getHeight() * ref.height()).isCloseTo(d.h(), within(1e-3));
            }
            CategoryMask mask = seg.predict(img);
            assertThat(mask.getClasses()).containsExactly("background", "circle", "square");
            assertThat(mask.getMask()).hasNumberOfRows(ref.height());
            for (int y = 0; y < ref.height(); y += 7) {
                for (int x = 0; x < ref.width(); x += 5) {
                    assertThat(mask.getMask()[y][x]).isEqualTo(ref.labels()[y * ref.width() + x] & 0xFF);
                }
            }
            assertThatThrownBy(() -> VitrimTranslators.classifications(vit)).isInstanceOf(VitrimException.class)
                    .hasMessageContaining("dense");
        }
    }
}
