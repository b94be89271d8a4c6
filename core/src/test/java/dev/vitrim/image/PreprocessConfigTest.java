package dev.vitrim.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import org.junit.jupiter.api.Test;

class PreprocessConfigTest {

    @Test
    void scaleSizeIsTimmsFloor() {
        assertThat(PreprocessConfig.imagenetDefault(224).scaleSize()).isEqualTo(256);
        assertThat(PreprocessConfig.inception(224).scaleSize()).isEqualTo(248);
        assertThat(PreprocessConfig.inception(384).scaleSize()).isEqualTo(426);
        assertThat(PreprocessConfig.imagenetDefault(32).scaleSize()).isEqualTo(36);
        assertThat(new PreprocessConfig(384, 1.0, PreprocessConfig.INCEPTION_MEAN, PreprocessConfig.INCEPTION_MEAN,
                Interpolation.BICUBIC).scaleSize()).isEqualTo(384);
        assertThat(new PreprocessConfig(224, 0.95, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD,
                Interpolation.BICUBIC).scaleSize()).isEqualTo(235); // 235.78...
        assertThat(new PreprocessConfig(32, 1.25, PreprocessConfig.IMAGENET_MEAN, PreprocessConfig.IMAGENET_STD,
                Interpolation.BICUBIC).scaleSize()).isEqualTo(25);
    }

    @Test
    void presets() {
        PreprocessConfig d = PreprocessConfig.imagenetDefault(224);
        assertThat(d.mean()).containsExactly(0.485f, 0.456f, 0.406f);
        assertThat(d.std()).containsExactly(0.229f, 0.224f, 0.225f);
        assertThat(d.cropPct()).isEqualTo(0.875);
        assertThat(d.interpolation()).isEqualTo(Interpolation.BICUBIC);
        PreprocessConfig i = PreprocessConfig.inception(224);
        assertThat(i.mean()).containsExactly(0.5f, 0.5f, 0.5f);
        assertThat(i.std()).containsExactly(0.5f, 0.5f, 0.5f);
        assertThat(i.cropPct()).isEqualTo(0.9);
        assertThat(i).isEqualTo(PreprocessConfig.inception(224)).hasSameHashCodeAs(PreprocessConfig.inception(224));
        assertThat(i).isNotEqualTo(d);
    }

    @Test
    void arraysAreCopied() {
        float[] mean = {0.1f, 0.2f, 0.3f};
        PreprocessConfig c = new PreprocessConfig(8, 1.0, mean, mean, Interpolation.BILINEAR);
        mean[0] = 9f;
        c.mean()[1] = 9f;
        assertThat(c.mean()).containsExactly(0.1f, 0.2f, 0.3f);
    }

    @Test
    void invalidConfigs() {
        float[] ok = {0.5f, 0.5f, 0.5f};
        assertThatThrownBy(() -> new PreprocessConfig(0, 0.9, ok, ok, Interpolation.BICUBIC))
                .isInstanceOf(VitrimException.class).hasMessageStartingWith("size: ");
        assertThatThrownBy(() -> new PreprocessConfig(224, 0, ok, ok, Interpolation.BICUBIC))
                .isInstanceOf(VitrimException.class).hasMessageStartingWith("crop_pct: ");
        assertThatThrownBy(() -> new PreprocessConfig(224, Double.NaN, ok, ok, Interpolation.BICUBIC))
                .isInstanceOf(VitrimException.class).hasMessageStartingWith("crop_pct: ");
        assertThatThrownBy(() -> new PreprocessConfig(224, 0.9, new float[] {1, 2}, ok, Interpolation.BICUBIC))
                .isInstanceOf(VitrimException.class).hasMessageStartingWith("mean: ");
        assertThatThrownBy(() -> new PreprocessConfig(224, 0.9, ok, new float[] {1, 0, 1}, Interpolation.BICUBIC))
                .isInstanceOf(VitrimException.class).hasMessageStartingWith("std: ");
        assertThatThrownBy(() -> new PreprocessConfig(224, 0.9, ok, ok, null))
                .isInstanceOf(VitrimException.class).hasMessageStartingWith("interpolation: ");
    }

    @Test
    void interpolationParse() {
        assertThat(Interpolation.parse("bicubic")).isEqualTo(Interpolation.BICUBIC);
        assertThat(Interpolation.parse(" BiLinear ")).isEqualTo(Interpolation.BILINEAR);
        assertThat(Interpolation.BICUBIC.timmName()).isEqualTo("bicubic");
        assertThatThrownBy(() -> Interpolation.parse("lanczos")).isInstanceOf(VitrimException.class)
                .hasMessage("interpolation: unsupported value 'lanczos' (allowed: bicubic, bilinear)");
        assertThatThrownBy(() -> Interpolation.parse(null)).isInstanceOf(VitrimException.class);
    }

    @Test
    void cropOriginRoundsHalfToEvenLikePython() {
        assertThat(Preprocessor.cropOrigin(29, 24)).isEqualTo(2);  // round(2.5) = 2
        assertThat(Preprocessor.cropOrigin(27, 24)).isEqualTo(2);  // round(1.5) = 2
        assertThat(Preprocessor.cropOrigin(57, 24)).isEqualTo(16); // round(16.5) = 16
        assertThat(Preprocessor.cropOrigin(256, 224)).isEqualTo(16);
        assertThat(Preprocessor.cropOrigin(24, 24)).isEqualTo(0);
        assertThat(Preprocessor.cropOrigin(25, 32)).isEqualTo(-3); // pad (32 - 25) // 2 = 3 before
    }

    @Test
    void preprocessorGeometryAndNormalisation() {
        // 40x20 constant image: shorter side 20 -> 36, longer 72; crop 32; value 51 -> (0.2 - 0.5) / 0.5
        byte[] px = new byte[3 * 40 * 20];
        java.util.Arrays.fill(px, (byte) 51);
        PreprocessConfig cfg = new PreprocessConfig(32, 0.875, PreprocessConfig.INCEPTION_MEAN,
                PreprocessConfig.INCEPTION_MEAN, Interpolation.BICUBIC);
        float[] t = new Preprocessor(cfg).apply(new RgbImage(40, 20, px));
        assertThat(t).hasSize(3 * 32 * 32);
        float expected = (51 / 255f - 0.5f) / 0.5f;
        for (float v : t) {
            assertThat(v).isEqualTo(expected);
        }
        // crop_pct > 1: zero padding, normalised (0 - mean) / std
        PreprocessConfig pad = new PreprocessConfig(32, 1.25, PreprocessConfig.INCEPTION_MEAN,
                PreprocessConfig.INCEPTION_MEAN, Interpolation.BILINEAR);
        float[] p = new Preprocessor(pad).apply(new RgbImage(40, 20, px));
        assertThat(p[0]).isEqualTo(-1f);             // top-left corner lies in the padding
        assertThat(p[16 * 32 + 16]).isEqualTo(expected); // centre is image
    }

    @Test
    void extremeAspectRatiosStayCheapOrFailCleanly() {
        // 3000x1 -> 224x672000 wide before the crop: only the crop's coefficients and pixels are computed
        byte[] px = new byte[3 * 3000];
        java.util.Arrays.fill(px, (byte) 128);
        float[] t = new Preprocessor(PreprocessConfig.imagenetDefault(224)).apply(new RgbImage(3000, 1, px));
        float r = (128 / 255f - 0.485f) / 0.229f;
        assertThat(t[0]).isEqualTo(r);
        assertThat(t[224 * 224 - 1]).isEqualTo(r);
        // the resized long side would not fit in an int
        byte[] wide = new byte[3 * 200_000];
        PreprocessConfig big = new PreprocessConfig(16384, 1.0, PreprocessConfig.INCEPTION_MEAN,
                PreprocessConfig.INCEPTION_MEAN, Interpolation.BICUBIC);
        assertThatThrownBy(() -> new Preprocessor(big).apply(new RgbImage(200_000, 1, wide)))
                .isInstanceOf(VitrimException.class).hasMessageContaining("aspect ratio");
    }
}
