package dev.vitrim.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import dev.vitrim.image.PreprocessConfig;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** IDX, cats/dogs JSON and image-folder readers, and data set names: good input and one-line errors. */
class ReadersTest {
    @TempDir
    Path tmp;

    @Test
    void idxPlainAndGzipReadTheSame() throws IOException {
        byte[] data = {1, 2, 3, 4, 5, 6};
        byte[] f = DataTestSupport.idx(new int[] {2, 3}, data);
        Files.write(tmp.resolve("a"), f);
        Files.write(tmp.resolve("a.gz"), DataTestSupport.gzip(f));
        for (String n : List.of("a", "a.gz")) {
            Idx.Array a = Idx.read(tmp.resolve(n));
            assertThat(a.dims()).containsExactly(2, 3);
            assertThat(a.data()).containsExactly(data);
        }
    }

    @Test
    void idxErrorsNameTheFileAndTheProblem() throws IOException {
        Path bad = tmp.resolve("bad");
        Files.write(bad, new byte[] {1, 2, 3, 4, 5});
        assertThatThrownBy(() -> Idx.read(bad)).isInstanceOf(VitrimException.class).hasMessageContaining(bad.toString())
                .hasMessageContaining("bad magic");
        Path trunc = tmp.resolve("trunc");
        byte[] f = DataTestSupport.idx(new int[] {10, 28, 28}, new byte[100]);
        Files.write(trunc, f);
        assertThatThrownBy(() -> Idx.read(trunc)).hasMessageContaining("truncated IDX file")
                .hasMessageContaining("7856 bytes, got 116");
        Path type = tmp.resolve("float");
        byte[] g = DataTestSupport.idx(new int[] {1}, new byte[4]);
        g[2] = 0x0D;
        Files.write(type, g);
        assertThatThrownBy(() -> Idx.read(type)).hasMessageContaining("element type 0xd");
        Path gz = tmp.resolve("x.gz");
        byte[] z = DataTestSupport.gzip(f);
        Files.write(gz, Arrays.copyOf(z, z.length / 2));
        assertThatThrownBy(() -> Idx.read(gz)).hasMessageContaining("corrupt gzip");
        assertThatThrownBy(() -> Idx.read(tmp.resolve("missing"))).hasMessageContaining("no such file");
    }

    @Test
    void idxImagesAndLabelsMustAgree() throws IOException {
        Files.write(tmp.resolve("i"), DataTestSupport.idx(new int[] {3, 2, 2}, new byte[12]));
        Files.write(tmp.resolve("l"), DataTestSupport.idx(new int[] {2}, new byte[] {0, 1}));
        assertThatThrownBy(() -> Idx.images(tmp.resolve("i"), tmp.resolve("l"), "x", Datasets.DIGITS))
                .isInstanceOf(VitrimException.class).hasMessageContaining("2 labels for 3 images");
        Files.write(tmp.resolve("l"), DataTestSupport.idx(new int[] {3}, new byte[] {0, 1, 12}));
        assertThatThrownBy(() -> Idx.images(tmp.resolve("i"), tmp.resolve("l"), "x", Datasets.DIGITS))
                .hasMessageContaining("label 12 at index 2 is outside 0..9");
    }

    @Test
    void mnistFromTheCacheFolderPlainOrGzipped() throws IOException {
        DataTestSupport.writeMnistLike(tmp.resolve("mnist"), 20, false);
        DataTestSupport.writeMnistLike(tmp.resolve("fashion-mnist"), 30, true);
        LabeledImages m = Datasets.load(Datasets.parse("mnist:test"), tmp, null);
        assertThat(m.size()).isEqualTo(20);
        assertThat(m.label(13)).isEqualTo(3);
        assertThat(m.name()).isEqualTo("mnist:test");
        LabeledImages f = Datasets.load(Datasets.parse("fashion-mnist"), tmp, null);
        assertThat(f.size()).isEqualTo(30);
        assertThat(f.classes().get(9)).isEqualTo("Ankle boot");
        assertThatThrownBy(() -> Datasets.load(Datasets.parse("mnist"), tmp.resolve("empty"), null))
                .isInstanceOf(VitrimException.class).hasMessageContaining("train-images-idx3-ubyte not found")
                .hasMessageContaining("vitrim data fetch mnist");
    }

    @Test
    void dataSetNames() {
        assertThat(Datasets.parse("mnist").toString()).isEqualTo("mnist:train");
        assertThat(Datasets.parse("Fashion-MNIST:test").isTest()).isTrue();
        assertThat(Datasets.parse("folder:/x/y").folder()).isEqualTo(Path.of("/x/y"));
        assertThatThrownBy(() -> Datasets.parse("cifar10")).isInstanceOf(VitrimException.class)
                .hasMessageContaining("unknown data set 'cifar10'").hasMessageContaining("folder:PATH");
        assertThatThrownBy(() -> Datasets.parse("mnist:val")).hasMessageContaining("unknown split 'val'");
        assertThatThrownBy(() -> Datasets.parse("folder:")).hasMessageContaining("needs a path");
    }

    static String catsDogsJson(int perClass, float value) {
        ByteBuffer b = ByteBuffer.allocate(perClass * 32 * 32 * 3 * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < perClass * 32 * 32 * 3; i++) {
            b.putFloat(i == 5 ? value : (i % 256));
        }
        String s = Base64.getEncoder().encodeToString(b.array());
        return "{\"cats\": \"" + s + "\", \"dogs\": \"" + s + "\"}";
    }

    @Test
    void catsDogsErrors() throws IOException {
        Path j = tmp.resolve("dogsNcats.json");
        Files.writeString(j, catsDogsJson(3, 1f), StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> CatsDogs.readAll(j)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("holds 36864 bytes, expected 12288000");
        Files.writeString(j, "{\"cats\": \"AAAA\"", StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> CatsDogs.readAll(j)).hasMessageContaining("malformed JSON");
        Files.writeString(j, "{\"cats\": \"AAAA\"}", StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> CatsDogs.readAll(j)).hasMessageContaining("no \"dogs\" string");
    }

    @Test
    void catsDogsDecodesHwcFloatsToChwBytes() throws IOException {
        Path j = tmp.resolve("dogsNcats.json");
        Files.writeString(j, catsDogsJson(1000, 7f), StandardCharsets.US_ASCII);
        LabeledImages all = CatsDogs.readAll(j);
        assertThat(all.size()).isEqualTo(2000);
        assertThat(all.channels()).isEqualTo(3);
        assertThat(all.label(0)).isZero();
        assertThat(all.label(1999)).isOne();
        byte[] px = all.pixels();
        // HWC value index i = (y*32+x)*3+c -> CHW index c*1024 + y*32 + x; value i % 256 (i=5 holds 7)
        assertThat(px[0]).isEqualTo((byte) 0); // i=0
        assertThat(px[1024] & 0xFF).isEqualTo(1); // c=1, pixel 0: i=1
        assertThat(px[1] & 0xFF).isEqualTo(3); // c=0, pixel 1: i=3
        assertThat(px[2048 + 1] & 0xFF).isEqualTo(7); // c=2, pixel 1: i=5 -> 7
        int[] train = CatsDogs.split(false);
        int[] test = CatsDogs.split(true);
        assertThat(train).hasSize(1600);
        assertThat(test).hasSize(400).contains(800, 999, 1800, 1999).doesNotContain(799);
        Files.writeString(j, catsDogsJson(1000, 300f), StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> CatsDogs.readAll(j)).hasMessageContaining("pixel value 300.0 outside 0..255");
    }

    static void png(Path file, int w, int h, int rgb) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, rgb);
            }
        }
        Files.createDirectories(file.getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    @Test
    void folderListsClassesInOrderAndResizesImages() throws IOException {
        png(tmp.resolve("b_cat/1.png"), 40, 20, 0xFF0000);
        png(tmp.resolve("b_cat/2.PNG"), 16, 16, 0x00FF00);
        png(tmp.resolve("a_dog/x.png"), 10, 30, 0x0000FF);
        Files.writeString(tmp.resolve("a_dog/notes.txt"), "not an image");
        Files.createDirectories(tmp.resolve(".hidden"));
        ImageFolder.Listing l = ImageFolder.list(tmp);
        assertThat(l.classes()).containsExactly("a_dog", "b_cat");
        assertThat(l.files()).hasSize(3);
        LabeledImages d = Datasets.load(Datasets.parse("folder:" + tmp), tmp, PreprocessConfig.imagenetDefault(8));
        assertThat(d.size()).isEqualTo(3);
        assertThat(d.height()).isEqualTo(8);
        assertThat(d.label(0)).isZero();
        assertThat(d.pixels()[2 * 64] & 0xFF).isEqualTo(255); // blue plane of the dog
        assertThat(d.pixels()[192] & 0xFF).isEqualTo(255); // red plane of the first cat
    }

    @Test
    void folderErrors() throws IOException {
        Path none = tmp.resolve("none");
        assertThatThrownBy(() -> ImageFolder.list(none)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("no such folder");
        Files.createDirectories(tmp.resolve("flat"));
        png(tmp.resolve("flat/a.png"), 4, 4, 0);
        assertThatThrownBy(() -> ImageFolder.list(tmp.resolve("flat"))).hasMessageContaining("has no class sub-folders");
        png(tmp.resolve("one/cls/a.png"), 4, 4, 0);
        assertThatThrownBy(() -> ImageFolder.list(tmp.resolve("one"))).hasMessageContaining("only one class ('cls')");
        png(tmp.resolve("two/a/a.png"), 4, 4, 0);
        Files.createDirectories(tmp.resolve("two/b"));
        Files.writeString(tmp.resolve("two/b/readme.md"), "x");
        assertThatThrownBy(() -> ImageFolder.list(tmp.resolve("two"))).hasMessageContaining("class folder 'b' has no "
                + "images");
        Files.writeString(tmp.resolve("two/b/broken.jpg"), "this is not a jpeg");
        assertThatThrownBy(() -> Datasets.load(Datasets.parse("folder:" + tmp.resolve("two")), tmp,
                PreprocessConfig.imagenetDefault(8))).isInstanceOf(VitrimException.class)
                .hasMessageContaining("broken.jpg");
    }
}
