package dev.vitrim.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.image.PreprocessConfig;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingDataTest {
    @TempDir
    Path tmp;
    private Datasets.Spec folder;
    private final PreprocessConfig pre = PreprocessConfig.imagenetDefault(4);

    /** 20 images per class, each a distinct grey level, so every image is recognisable by its first pixel. */
    @BeforeEach
    void images() throws IOException {
        for (int c = 0; c < 2; c++) {
            for (int i = 0; i < 20; i++) {
                BufferedImage img = new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB);
                int v = c * 100 + i * 4;
                for (int y = 0; y < 4; y++) {
                    for (int x = 0; x < 4; x++) {
                        img.setRGB(x, y, v << 16 | v << 8 | v);
                    }
                }
                Path f = tmp.resolve("class" + c + "/" + i + ".png");
                Files.createDirectories(f.getParent());
                ImageIO.write(img, "png", f.toFile());
            }
        }
        folder = Datasets.parse("folder:" + tmp);
    }

    private static Set<Integer> firstPixels(LabeledImages d) {
        Set<Integer> out = new HashSet<>();
        int per = d.pixels().length / d.size();
        for (int i = 0; i < d.size(); i++) {
            out.add(d.pixels()[i * per] & 0xFF);
        }
        return out;
    }

    @Test
    void validationIsHeldOutDisjointAndTheSameEveryTime() {
        TrainingData a = TrainingData.load(folder, null, 0.25, 0, 0, pre, tmp);
        TrainingData b = TrainingData.load(folder, null, 0.25, 0, 0, pre, tmp);
        assertThat(a.train().size() + a.val().size()).isEqualTo(40);
        assertThat(a.val().size()).isEqualTo(10);
        Set<Integer> train = firstPixels(a.train());
        assertThat(train).hasSize(30).doesNotContainAnyElementsOf(firstPixels(a.val()));
        assertThat(firstPixels(b.val())).isEqualTo(firstPixels(a.val()));
        assertThat(a.epochData()).isNull();
    }

    @Test
    void limitsTakeSeededSubsetsOfEachSide() {
        TrainingData full = TrainingData.load(folder, null, 0.25, 0, 0, pre, tmp);
        TrainingData small = TrainingData.load(folder, null, 0.25, 12, 4, pre, tmp);
        assertThat(small.train().size()).isEqualTo(12);
        assertThat(small.val().size()).isEqualTo(4);
        assertThat(firstPixels(full.train())).containsAll(firstPixels(small.train()));
        assertThat(firstPixels(full.val())).containsAll(firstPixels(small.val()));
    }

    @Test
    void badParametersAndTestSplitsAreRefusedByName() {
        assertThatThrownBy(() -> TrainingData.load(folder, null, 1.0, 0, 0, pre, tmp))
                .isInstanceOf(VitrimException.class).hasMessageContaining("valFraction");
        assertThatThrownBy(() -> TrainingData.load(folder, null, 0.1, -1, 0, pre, tmp))
                .isInstanceOf(VitrimException.class).hasMessageContaining("limit");
        assertThatThrownBy(() -> TrainingData.load(Datasets.parse("mnist:test"), null, 0.1, 0, 0, pre, tmp))
                .isInstanceOf(VitrimException.class).hasMessageContaining("the test split is only for final numbers");
        assertThatThrownBy(() -> TrainingData.load(folder, "fashion-mnist:test", 0.1, 0, 0, pre, tmp))
                .isInstanceOf(VitrimException.class).hasMessageContaining("validation data fashion-mnist:test");
    }
}
