package dev.vitrim.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Decoder behaviour beyond the golden tensors: conversions, and every failure being a one-line VitrimException. */
class ImageDecoderTest {
    static final Path GOLDEN = ImageTestSupport.goldenDir();

    @TempDir
    Path tmp;

    private Path write(String name, byte[] data) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, data);
        return p;
    }

    private static byte[] golden(String name) throws IOException {
        return Files.readAllBytes(GOLDEN.resolve(name));
    }

    private static void assertUserError(Path p, String... fragments) {
        assertThatThrownBy(() -> ImageDecoder.read(p))
                .isExactlyInstanceOf(VitrimException.class)
                .satisfies(e -> {
                    assertThat(e.getMessage()).startsWith(p + ": ").doesNotContain("\n");
                    for (String f : fragments) {
                        assertThat(e.getMessage()).contains(f);
                    }
                });
    }

    @Test
    void decodesEveryFixtureToTheRightSize() {
        assertThat(ImageDecoder.read(GOLDEN.resolve("dog.jpg"))).extracting(RgbImage::width, RgbImage::height)
                .containsExactly(768, 576);
        assertThat(ImageDecoder.read(GOLDEN.resolve("rgb_portrait.png"))).extracting(RgbImage::width, RgbImage::height)
                .containsExactly(45, 55);
        assertThat(ImageDecoder.read(GOLDEN.resolve("cmyk.jpg"))).extracting(RgbImage::width, RgbImage::height)
                .containsExactly(64, 48);
        assertThat(ImageDecoder.read(GOLDEN.resolve("ycck.jpg"))).extracting(RgbImage::width, RgbImage::height)
                .containsExactly(56, 40);
    }

    @Test
    void greyIsReplicatedAndSixteenBitTakesTheHighByte() {
        RgbImage g = ImageDecoder.read(GOLDEN.resolve("grey16.png"));
        for (int i = 0; i < g.width() * g.height(); i++) {
            assertThat(g.rgb()[3 * i]).isEqualTo(g.rgb()[3 * i + 1]).isEqualTo(g.rgb()[3 * i + 2]);
        }
        // grey16.png holds 257 * v + noise(0..256) for 8-bit v: the high byte is v or v + 1, and PIL's clipping
        // bug would have made nearly everything 255.
        long saturated = 0;
        for (byte b : g.rgb()) {
            saturated += (b & 0xFF) == 255 ? 1 : 0;
        }
        assertThat(saturated).isLessThan(g.rgb().length / 4);
    }

    @Test
    void alphaIsDroppedNotComposited() {
        // rgba.png: top-left 10x10 fully transparent but with colours; they must survive unchanged
        RgbImage a = ImageDecoder.read(GOLDEN.resolve("rgba.png"));
        RgbImage b = ImageDecoder.read(GOLDEN.resolve("rgba.png"));
        assertThat(a.rgb()).isEqualTo(b.rgb());
        boolean anyNonBlack = false;
        for (int y = 0; y < 10; y++) {
            for (int x = 0; x < 10; x++) {
                anyNonBlack |= a.get(x, y, 0) + a.get(x, y, 1) + a.get(x, y, 2) > 0;
            }
        }
        assertThat(anyNonBlack).isTrue();
    }

    @Test
    void formatIsRecognisedByContentNotName() throws IOException {
        Path p = write("actually_a_png.jpg", golden("rgb_landscape.png"));
        assertThat(ImageDecoder.read(p).rgb()).isEqualTo(ImageDecoder.read(GOLDEN.resolve("rgb_landscape.png")).rgb());
    }

    @Test
    void trailingGarbageAfterJpegIsAccepted() throws IOException {
        byte[] dog = golden("dog.jpg");
        byte[] withTail = Arrays.copyOf(dog, dog.length + 100);
        Arrays.fill(withTail, dog.length, withTail.length, (byte) 0x5A);
        assertThat(ImageDecoder.read(write("tail.jpg", withTail)).rgb())
                .isEqualTo(ImageDecoder.read(GOLDEN.resolve("dog.jpg")).rgb());
    }

    @Test
    void emptyFile() throws IOException {
        assertUserError(write("empty.jpg", new byte[0]), "empty file");
    }

    @Test
    void textFileNamedJpg() throws IOException {
        assertUserError(write("notes.jpg", "hello, this is not an image\n".getBytes(StandardCharsets.UTF_8)),
                "not a supported image", "looks like text");
    }

    @Test
    void unsupportedBinaryFormat() throws IOException {
        // TIFF little-endian header
        assertUserError(write("x.tif", new byte[] {'I', 'I', 42, 0, 8, 0, 0, 0, 0, 0}), "not a supported image",
                "49 49 2a 00");
    }

    @Test
    void missingFileAndDirectory() {
        assertUserError(tmp.resolve("nope.png"), "no such file");
        assertUserError(tmp, "directory");
    }

    @ParameterizedTest
    @ValueSource(strings = {"dog.jpg", "baseline.jpg", "progressive.jpg", "cmyk.jpg", "ycck.jpg", "grey.jpg"})
    void truncatedJpeg(String name) throws IOException {
        byte[] d = golden(name);
        for (double frac : new double[] {0.5, 0.9}) {
            Path p = write("cut_" + frac + "_" + name, Arrays.copyOf(d, (int) (d.length * frac)));
            assertUserError(p, "corrupt or truncated JPEG");
        }
    }

    @Test
    void jpegCutInsideHeaders() throws IOException {
        assertUserError(write("head.jpg", Arrays.copyOf(golden("baseline.jpg"), 40)), "JPEG");
        assertUserError(write("soi.jpg", new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF}), "JPEG");
    }

    @Test
    void jpegMagicFollowedByGarbage() throws IOException {
        byte[] d = new byte[2000];
        new java.util.Random(3).nextBytes(d);
        d[0] = (byte) 0xFF;
        d[1] = (byte) 0xD8;
        d[2] = (byte) 0xFF;
        assertUserError(write("garbage.jpg", d), "JPEG");
    }

    @ParameterizedTest
    @ValueSource(strings = {"rgb_landscape.png", "palette.png", "grey16.png", "rgba.png"})
    void truncatedPng(String name) throws IOException {
        byte[] d = golden(name);
        for (double frac : new double[] {0.3, 0.7, 0.97}) {
            Path p = write("cut_" + frac + "_" + name, Arrays.copyOf(d, (int) (d.length * frac)));
            assertUserError(p, "corrupt or truncated PNG");
        }
        assertUserError(write("sig_" + name, Arrays.copyOf(d, 8)), "PNG");
        assertUserError(write("ihdr_" + name, Arrays.copyOf(d, 33)), "PNG");
    }

    @Test
    void truncatedGifAndBmp() throws IOException {
        byte[] gif = golden("palette.gif");
        byte[] bmp = golden("rgb.bmp");
        for (double frac : new double[] {0.2, 0.6, 0.95}) {
            assertUserError(write("cut_" + frac + ".gif", Arrays.copyOf(gif, (int) (gif.length * frac))), "GIF");
            assertUserError(write("cut_" + frac + ".bmp", Arrays.copyOf(bmp, (int) (bmp.length * frac))), "BMP");
        }
    }

    @Test
    void truncatedFileThroughPreprocessorIsAlsoAnError() throws IOException {
        byte[] d = golden("dog.jpg");
        Path p = write("cut.jpg", Arrays.copyOf(d, d.length / 2));
        assertThatThrownBy(() -> new Preprocessor(PreprocessConfig.inception(224)).apply(p))
                .isExactlyInstanceOf(VitrimException.class).hasMessageStartingWith(p + ": ");
    }
}
