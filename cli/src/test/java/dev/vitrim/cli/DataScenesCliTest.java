package dev.vitrim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.data.DataHome;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.scenes.ScenePhotos;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vitrim data export} on a fake data folder: the files, the COCO JSON, and RLEs that match the label maps. */
class DataScenesCliTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void fakeData() throws IOException {
        Path root = tmp.resolve("data");
        System.setProperty(DataHome.PROPERTY, root.toString());
        Path fm = root.resolve("fashion-mnist");
        Files.createDirectories(fm);
        writeItems(fm, "train", 100, 1);
        writeItems(fm, "t10k", 30, 2);
        int p = 0;
        for (ScenePhotos.Entry e : ScenePhotos.listed()) {
            BufferedImage img = new BufferedImage(140 + p, 120, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < img.getHeight(); y++) {
                for (int x = 0; x < img.getWidth(); x++) {
                    img.setRGB(x, y, ((20 + 5 * p) << 16) | ((x + y) % 256 << 8) | (255 - 5 * p));
                }
            }
            Files.createDirectories(e.path(root).getParent());
            ImageIO.write(img, e.file().endsWith(".png") ? "png" : "jpeg", e.path(root).toFile());
            p++;
        }
    }

    @AfterEach
    void clear() {
        System.clearProperty(DataHome.PROPERTY);
    }

    /** Fashion-MNIST-like files: filled ellipses of random size and texture, labels i % 10. */
    static void writeItems(Path dir, String stem, int n, long seed) throws IOException {
        Random r = new Random(seed);
        byte[] img = new byte[n * 784];
        byte[] lab = new byte[n];
        for (int i = 0; i < n; i++) {
            lab[i] = (byte) (i % 10);
            int a = 5 + r.nextInt(8);
            int b = 5 + r.nextInt(8);
            for (int y = 0; y < 28; y++) {
                for (int x = 0; x < 28; x++) {
                    double dx = (x - 13.5) / a;
                    double dy = (y - 13.5) / b;
                    img[i * 784 + y * 28 + x] = (byte) (dx * dx + dy * dy <= 1 ? 50 + r.nextInt(200) : 0);
                }
            }
        }
        Files.write(dir.resolve(stem + "-images-idx3-ubyte"), idx(new int[] {n, 28, 28}, img));
        Files.write(dir.resolve(stem + "-labels-idx1-ubyte"), idx(new int[] {n}, lab));
    }

    static byte[] idx(int[] dims, byte[] data) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(new byte[] {0, 0, 8, (byte) dims.length});
        for (int d : dims) {
            o.writeBytes(new byte[] {(byte) (d >>> 24), (byte) (d >>> 16), (byte) (d >>> 8), (byte) d});
        }
        o.writeBytes(data);
        return o.toByteArray();
    }

    /** Decodes the compressed COCO RLE of an annotation into a row-major mask. */
    static boolean[] decode(JsonNode rle) {
        int h = rle.get("size").get(0).asInt();
        int w = rle.get("size").get(1).asInt();
        assertThat(rle.get("counts").isTextual()).as("compressed RLE").isTrue();
        return dev.vitrim.coco.Rle.fromCompressedString(rle.get("counts").asText(), h, w).decode();
    }

    @Test
    void exportWritesImagesLabelMapsAndCocoThatAgree() throws IOException {
        Path out = tmp.resolve("out");
        CliTest.Run r = CliTest.run("data", "export", "scenes:test", out.toString(), "--limit", "12");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("12 / 12 scenes");
        JsonNode coco = new ObjectMapper().readTree(out.resolve("instances.json").toFile());
        assertThat(coco.get("images")).hasSize(12);
        assertThat(coco.get("categories")).hasSize(10);
        for (int c = 0; c < 10; c++) {
            assertThat(coco.get("categories").get(c).get("id").asInt()).isEqualTo(c + 1);
            assertThat(coco.get("categories").get(c).get("name").asText()).isEqualTo(Datasets.FASHION.get(c));
        }
        Set<Long> annIds = new HashSet<>();
        int annotations = 0;
        for (JsonNode im : coco.get("images")) {
            int id = im.get("id").asInt();
            String file = im.get("file_name").asText();
            assertThat(file).isEqualTo(String.format("%06d.png", id - 1));
            assertThat(im.get("height").asInt()).isEqualTo(112);
            assertThat(im.get("width").asInt()).isEqualTo(112);
            BufferedImage rgb = ImageIO.read(out.resolve("images").resolve(file).toFile());
            BufferedImage lab = ImageIO.read(out.resolve("labels").resolve(file).toFile());
            assertThat(rgb.getWidth()).isEqualTo(112);
            assertThat(rgb.getColorModel().getNumComponents()).isEqualTo(3);
            assertThat(lab.getType()).isEqualTo(BufferedImage.TYPE_BYTE_GRAY);
            int[] labels = lab.getRaster().getPixels(0, 0, 112, 112, (int[]) null);
            boolean[] covered = new boolean[112 * 112];
            int mine = 0;
            for (JsonNode a : coco.get("annotations")) {
                if (a.get("image_id").asInt() != id) {
                    continue;
                }
                mine++;
                assertThat(annIds.add(a.get("id").asLong())).isTrue();
                assertThat(a.get("iscrowd").asInt()).isZero();
                int cat = a.get("category_id").asInt();
                assertThat(cat).isBetween(1, 10);
                boolean[] m = decode(a.get("segmentation"));
                int x0 = 112;
                int y0 = 112;
                int x1 = -1;
                int y1 = -1;
                int area = 0;
                for (int i = 0; i < m.length; i++) {
                    if (m[i]) {
                        assertThat(labels[i]).as("label under %s", file).isEqualTo(cat);
                        assertThat(covered[i]).as("masks overlap").isFalse();
                        covered[i] = true;
                        area++;
                        x0 = Math.min(x0, i % 112);
                        x1 = Math.max(x1, i % 112);
                        y0 = Math.min(y0, i / 112);
                        y1 = Math.max(y1, i / 112);
                    }
                }
                assertThat(a.get("area").asInt()).isEqualTo(area);
                JsonNode b = a.get("bbox");
                assertThat(new double[] {b.get(0).asDouble(), b.get(1).asDouble(), b.get(2).asDouble(),
                    b.get(3).asDouble()}).containsExactly(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
            }
            assertThat(mine).isBetween(1, 4);
            annotations += mine;
            for (int i = 0; i < labels.length; i++) {
                if (!covered[i]) {
                    assertThat(labels[i]).as("label outside every mask of %s", file).isIn(0, 255);
                }
            }
        }
        assertThat(annotations).isEqualTo(coco.get("annotations").size());

        Path one = tmp.resolve("one");
        r = CliTest.run("data", "export", "scenes-1:val", one.toString(), "--limit", "5");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode c1 = new ObjectMapper().readTree(one.resolve("instances.json").toFile());
        assertThat(c1.get("images")).hasSize(5);
        assertThat(c1.get("annotations")).hasSize(5);
        assertThat(c1.path("info").path("single").asBoolean()).isTrue();
    }

    @Test
    void badRequestsGetOneLine() throws IOException {
        CliTest.assertBadInput(CliTest.run("data", "export", "mnist:test", tmp.resolve("x").toString()), "mnist:test",
                "scenes");
        CliTest.assertBadInput(CliTest.run("data", "export", "scenes:test", tmp.resolve("x").toString(), "--seed", "3"),
                "--seed");
        CliTest.assertBadInput(CliTest.run("data", "export", "scenes:dev", tmp.resolve("x").toString()), "dev",
                "train, val, test");
        Path full = tmp.resolve("full");
        Files.createDirectories(full);
        Files.writeString(full.resolve("keep.txt"), "mine");
        CliTest.assertBadInput(CliTest.run("data", "export", "scenes:val", full.toString(), "--limit", "2"),
                full.toString(), "not empty");
        Files.delete(tmp.resolve("data/opencv-photos/stuff.jpg"));
        CliTest.assertBadInput(CliTest.run("data", "export", "scenes:val", tmp.resolve("y").toString()), "stuff.jpg",
                "vitrim data fetch scenes");
    }

    @Test
    void helpTeaches() {
        CliTest.Run r = CliTest.run("data", "export", "--help");
        assertThat(r.status()).isZero();
        assertThat(r.out()).contains("instances.json").contains("RLE").contains("255").contains("--single")
                .contains("vitrim data fetch scenes");
        r = CliTest.run("data", "fetch", "--help");
        assertThat(r.out()).contains("skimage-photos").contains("opencv-photos").contains("scenes");
    }
}
