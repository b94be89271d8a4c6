package dev.vitrim.data.scenes;

import dev.vitrim.data.DataSource;
import dev.vitrim.data.DataTestSupport;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;

/**
 * A tiny stand-in for the scenes data in a temporary data folder: Fashion-MNIST-like IDX files of synthetic 28x28
 * items and every listed background photo as a small synthetic PNG or JPEG.
 *
 * <p>Photo {@code p} (position in the list) has red {@code 10 + 5 p} and green {@code 230 - 5 p} everywhere (so a
 * background tells which photo it came from) and a smoothly varying blue channel (so crops differ).
 */
final class SceneTestData {
    static final int TRAIN_ITEMS = 200;
    static final int TEST_ITEMS = 60;

    private SceneTestData() {}

    static void write(Path root) throws IOException {
        Path fm = root.resolve(DataSource.FASHION_MNIST.id());
        Files.createDirectories(fm);
        writeItems(fm, "train", TRAIN_ITEMS, 1, true);
        writeItems(fm, "t10k", TEST_ITEMS, 2, false);
        List<ScenePhotos.Entry> list = ScenePhotos.listed();
        for (int p = 0; p < list.size(); p++) {
            ScenePhotos.Entry e = list.get(p);
            // mostly small photos; one larger than the shrink limit, one smaller than a scene
            int w = p == 0 ? 700 : p == 1 ? 90 : 150 + 7 * p;
            int h = p == 0 ? 560 : p == 1 ? 80 : 120 + 3 * p;
            Path f = e.path(root);
            Files.createDirectories(f.getParent());
            boolean png = e.file().endsWith(".png");
            if (!ImageIO.write(photo(w, h, p), png ? "png" : "jpeg", f.toFile())) {
                throw new IOException("no writer for " + f);
            }
        }
    }

    /** The red and green of photo p (exact in PNGs, within a few levels in JPEGs). */
    static int red(int p) {
        return 10 + 5 * p;
    }

    static int green(int p) {
        return 230 - 5 * p;
    }

    static BufferedImage photo(int w, int h, int p) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        byte[] d = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int o = 3 * (y * w + x);
                int t = (x + 2 * y + 17 * p) % 400;
                d[o] = (byte) (t < 200 ? t : 400 - t); // blue
                d[o + 1] = (byte) green(p);
                d[o + 2] = (byte) red(p);
            }
        }
        return img;
    }

    /** Items: filled rectangles, rings (a dark hole inside) and C shapes (a dark bay open to the border). */
    static void writeItems(Path dir, String stem, int n, long seed, boolean gz) throws IOException {
        Random r = new Random(seed);
        byte[] img = new byte[n * 784];
        byte[] lab = new byte[n];
        for (int i = 0; i < n; i++) {
            lab[i] = (byte) (i % 10);
            int kind = (i / 10) % 3;
            int cx = 12 + r.nextInt(5);
            int cy = 12 + r.nextInt(5);
            int a = 6 + r.nextInt(6);
            int b = 6 + r.nextInt(6);
            for (int y = 0; y < 28; y++) {
                for (int x = 0; x < 28; x++) {
                    boolean on;
                    double dx = (x - cx) / (double) a;
                    double dy = (y - cy) / (double) b;
                    double rr = dx * dx + dy * dy;
                    on = switch (kind) {
                        case 0 -> Math.abs(x - cx) <= a && Math.abs(y - cy) <= b;
                        case 1 -> rr <= 1;
                        default -> rr <= 1 && !(x > cx && Math.abs(y - cy) <= 1);
                    };
                    boolean hole = kind >= 1 && rr <= 0.25;
                    int v = on ? (hole ? r.nextInt(4) : 60 + r.nextInt(196)) : 0;
                    img[i * 784 + y * 28 + x] = (byte) v;
                }
            }
        }
        byte[] a = DataTestSupport.idx(new int[] {n, 28, 28}, img);
        byte[] l = DataTestSupport.idx(new int[] {n}, lab);
        String sfx = gz ? ".gz" : "";
        Files.write(dir.resolve(stem + "-images-idx3-ubyte" + sfx), gz ? DataTestSupport.gzip(a) : a);
        Files.write(dir.resolve(stem + "-labels-idx1-ubyte" + sfx), gz ? DataTestSupport.gzip(l) : l);
    }
}
