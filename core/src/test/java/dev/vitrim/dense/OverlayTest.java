package dev.vitrim.dense;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pictures: size, untouched background, tinted objects; label PNGs. */
class OverlayTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    private static BufferedImage noise(int w, int h, long seed) {
        Random r = new Random(seed);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, r.nextInt(1 << 24));
            }
        }
        return img;
    }

    private static int mix(int a, int b) {
        return Math.round(0.5f * a + 0.5f * b);
    }

    @Test
    void smallImagesAreEnlargedToAtLeast448Pixels() {
        assertThat(Overlay.render(noise(112, 112, 1), null, null, null, List.of(), 0f))
                .extracting(BufferedImage::getWidth, BufferedImage::getHeight).containsExactly(448, 448);
        assertThat(Overlay.render(noise(50, 40, 1), null, null, null, List.of(), 0f))
                .extracting(BufferedImage::getWidth, BufferedImage::getHeight).containsExactly(450, 360);
        assertThat(Overlay.render(noise(600, 400, 1), null, null, null, List.of(), 0f))
                .extracting(BufferedImage::getWidth, BufferedImage::getHeight).containsExactly(600, 400);
    }

    @Test
    void backgroundIsUntouchedAndObjectPixelsAreTinted() {
        BufferedImage img = noise(112, 112, 2);
        byte[] labels = new byte[112 * 112];
        for (int x = 0; x < 112; x++) {
            labels[100 * 112 + x] = (byte) 255; // "ignore": left as it is
        }
        boolean[] mask = new boolean[112 * 112];
        for (int y = 40; y < 60; y++) {
            for (int x = 40; x < 60; x++) {
                labels[y * 112 + x] = 2;
                mask[y * 112 + x] = true;
            }
        }
        Detection d = new Detection(1, 0.93f, 38, 38, 24, 24, 50, 50);
        Detection faint = new Detection(5, 0.2f, 0, 0, 30, 30, 15, 15); // below minScore: not drawn
        BufferedImage out = Overlay.render(img, labels, List.of(d, faint), List.of(new InstanceMask(1, 0.9f, mask, d)),
                SceneSupport.NAMES, 0.5f);
        int tint = Overlay.classColor(2).getRGB();
        for (int y = 0; y < 112; y++) {
            for (int x = 0; x < 112; x++) {
                boolean nearBox = x >= 36 && x < 64 + 20 && y >= 28 && y < 64; // box, its outline and tag
                int in = img.getRGB(x, y) & 0xFFFFFF;
                for (int yy = 0; yy < 4; yy++) {
                    for (int xx = 0; xx < 4; xx++) {
                        int o = out.getRGB(4 * x + xx, 4 * y + yy) & 0xFFFFFF;
                        if (!nearBox) {
                            assertThat(o).as("pixel (%d, %d)", x, y).isEqualTo(in);
                        }
                    }
                }
                if (x > 40 && x < 59 && y > 40 && y < 59) { // inside the object, clear of its outline
                    int expected = (mix(in >> 16 & 0xFF, tint >> 16 & 0xFF) << 16)
                            | (mix(in >> 8 & 0xFF, tint >> 8 & 0xFF) << 8) | mix(in & 0xFF, tint & 0xFF);
                    assertThat(out.getRGB(4 * x + 2, 4 * y + 2) & 0xFFFFFF).isEqualTo(expected);
                }
            }
        }
        // the outline runs along the mask's edge in the first instance colour
        assertThat(out.getRGB(4 * 45, 4 * 40) & 0xFFFFFF).isEqualTo(Overlay.OUTLINE[0].getRGB() & 0xFFFFFF);
        // the box edge is in the class colour
        assertThat(out.getRGB(4 * 50, 4 * 62 - 1) & 0xFFFFFF).isEqualTo(tint & 0xFFFFFF);
    }

    @Test
    void greyImagesKeepTheirSampleValues() {
        BufferedImage grey = new BufferedImage(20, 10, BufferedImage.TYPE_BYTE_GRAY);
        grey.getRaster().setSample(3, 4, 0, 100);
        BufferedImage out = Overlay.render(grey, new byte[200], List.of(), List.of(), List.of(), 0f);
        int s = Overlay.scale(20, 10);
        assertThat(out.getRGB(3 * s, 4 * s) & 0xFFFFFF).isEqualTo(0x646464);
        assertThat(out.getRGB(0, 0) & 0xFFFFFF).isEqualTo(0);
    }

    @Test
    void perfectMapsGiveBackTheSceneAndAPicture() throws IOException {
        List<BufferedImage> tiles = new ArrayList<>();
        List<String> captions = new ArrayList<>();
        for (long seed = 1; seed <= 4; seed++) {
            SceneSupport.Scene s = SceneSupport.digits(seed, 4);
            SceneSupport.Prediction p = SceneSupport.perfect(s);
            assertThat(p.detections()).hasSize(s.boxes().size());
            assertThat(p.instances()).hasSize(s.boxes().size());
            for (InstanceMask m : p.instances()) {
                // the instance is exactly the pixels of one object
                int id = 0;
                for (int i = 0; i < m.mask().length; i++) {
                    if (m.mask()[i]) {
                        id = s.ids()[i];
                        break;
                    }
                }
                for (int i = 0; i < m.mask().length; i++) {
                    assertThat(m.mask()[i]).isEqualTo(s.ids()[i] == id);
                }
                assertThat(m.category()).isEqualTo(s.boxes().get(id - 1).category());
            }
            tiles.add(Overlay.render(s.image(), s.labels(), p.detections(), p.instances(), SceneSupport.NAMES, 0.3f));
            captions.add("scene " + seed + ": " + s.boxes().size() + " digits");
        }
        BufferedImage grid = Overlay.grid(tiles, 2, captions);
        assertThat(grid.getWidth()).isEqualTo(10 + 2 * (448 + 10));
        assertThat(grid.getHeight()).isEqualTo(10 + 2 * (24 + 448 + 10));
        Path png = tmp.resolve("overlay.png");
        ImageIO.write(grid, "png", png.toFile());
        assertThat(Files.size(png)).isPositive();
        String keep = System.getProperty("vitrim.dense.picture");
        if (keep != null) {
            ImageIO.write(grid, "png", Path.of(keep).toFile());
        }
    }

    @Test
    void labelPngRoundTrip() throws IOException {
        byte[] labels = new byte[64 * 84];
        new Random(3).nextBytes(labels);
        Path f = tmp.resolve("labels.png");
        Overlay.writeLabelPng(labels, 64, 84, f);
        byte[] png = Files.readAllBytes(f);
        assertThat(png[24]).as("bit depth").isEqualTo((byte) 8);
        assertThat(png[25]).as("colour type (0 = greyscale)").isEqualTo((byte) 0);
        assertThat(Overlay.readLabelPng(f, 64, 84)).isEqualTo(labels);
    }

    @Test
    void labelPngOfTheWrongSizeOrKindIsAUserError() throws IOException {
        Path f = tmp.resolve("labels.png");
        Overlay.writeLabelPng(new byte[64 * 84], 64, 84, f);
        assertThatThrownBy(() -> Overlay.readLabelPng(f, 112, 112))
                .isExactlyInstanceOf(VitrimException.class)
                .hasMessage(f + ": label PNG is 84x64 (width x height), expected 112x112");
        Path rgb = tmp.resolve("rgb.png");
        ImageIO.write(noise(8, 8, 4), "png", rgb.toFile());
        assertThatThrownBy(() -> Overlay.readLabelPng(rgb, 8, 8))
                .isExactlyInstanceOf(VitrimException.class)
                .hasMessage(rgb + ": label PNG must be 8-bit greyscale (class index per pixel), got 8-bit RGB");
        Path text = tmp.resolve("labels.txt");
        Files.writeString(text, "not an image");
        assertThatThrownBy(() -> Overlay.readLabelPng(text, 8, 8))
                .isExactlyInstanceOf(VitrimException.class)
                .hasMessage(text + ": not a PNG file (expected an 8-bit greyscale PNG of class indices)");
        assertThatThrownBy(() -> Overlay.readLabelPng(tmp.resolve("missing.png"), 8, 8))
                .isExactlyInstanceOf(VitrimException.class).hasMessageStartingWith(tmp.resolve("missing.png") + ": ");
    }

    @Test
    void mismatchedLabelsAreUserErrors() {
        assertThatThrownBy(() -> Overlay.render(noise(10, 10, 5), new byte[99], null, null, List.of(), 0f))
                .isExactlyInstanceOf(VitrimException.class)
                .hasMessage("labels: expected 10x10 = 100 values for the image, got 99");
        assertThatThrownBy(() -> Overlay.grid(List.of(noise(2, 2, 6)), 1, List.of("a", "b")))
                .isExactlyInstanceOf(VitrimException.class).hasMessage("grid captions: 2 for 1 tiles");
    }
}
