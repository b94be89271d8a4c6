package dev.vitrim.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Builders of small data files for the data tests. */
public final class DataTestSupport {
    private DataTestSupport() {}

    /** An IDX file of unsigned bytes with the given dimensions. */
    public static byte[] idx(int[] dims, byte[] data) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(0);
        o.write(0);
        o.write(8);
        o.write(dims.length);
        for (int d : dims) {
            o.write(d >>> 24);
            o.write(d >>> 16);
            o.write(d >>> 8);
            o.write(d);
        }
        o.writeBytes(data);
        return o.toByteArray();
    }

    public static byte[] gzip(byte[] b) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(o)) {
            g.write(b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return o.toByteArray();
    }

    /** Writes a small MNIST-like set (train and t10k) of {@code n} 28x28 images into {@code dir}. */
    public static void writeMnistLike(Path dir, int n, boolean gz) throws IOException {
        Files.createDirectories(dir);
        for (String stem : new String[] {"train", "t10k"}) {
            byte[] img = new byte[n * 28 * 28];
            byte[] lab = new byte[n];
            for (int i = 0; i < n; i++) {
                lab[i] = (byte) (i % 10);
                img[i * 784 + (i % 10) * 28 + 5] = (byte) 200;
            }
            byte[] a = idx(new int[] {n, 28, 28}, img);
            byte[] b = idx(new int[] {n}, lab);
            String sfx = gz ? ".gz" : "";
            Files.write(dir.resolve(stem + "-images-idx3-ubyte" + sfx), gz ? gzip(a) : a);
            Files.write(dir.resolve(stem + "-labels-idx1-ubyte" + sfx), gz ? gzip(b) : b);
        }
    }
}
