package dev.vitrim.data;

import dev.vitrim.VitrimException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * Reader of the IDX format of MNIST and Fashion-MNIST: magic {@code 00 00 08 N} (unsigned bytes, N dimensions),
 * N big-endian int32 sizes, then the data. Gzipped files are recognised by their content and unpacked on the fly.
 */
public final class Idx {
    private Idx() {}

    /** An unsigned-byte IDX array. */
    public record Array(int[] dims, byte[] data) {
        public int count() {
            return dims[0];
        }
    }

    public static Array read(Path file) {
        byte[] raw;
        try {
            raw = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new VitrimException(file + ": no such file", e);
        } catch (IOException e) {
            throw new VitrimException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        if (raw.length >= 2 && (raw[0] & 0xFF) == 0x1F && (raw[1] & 0xFF) == 0x8B) {
            try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(raw))) {
                raw = in.readAllBytes();
            } catch (IOException e) {
                throw new VitrimException(file + ": corrupt gzip data (" + e.getMessage() + ")", e);
            }
        }
        return parse(raw, file.toString());
    }

    static Array parse(byte[] b, String name) {
        if (b.length < 4 || b[0] != 0 || b[1] != 0) {
            throw new VitrimException(name + ": not an IDX file (bad magic number)");
        }
        if (b[2] != 0x08) {
            throw new VitrimException(name + ": IDX element type 0x" + Integer.toHexString(b[2] & 0xFF)
                    + " is not supported (expected 0x08, unsigned bytes)");
        }
        int nd = b[3] & 0xFF;
        if (nd < 1 || nd > 4 || b.length < 4 + 4 * nd) {
            throw new VitrimException(name + ": truncated or malformed IDX header (" + nd + " dimensions)");
        }
        int[] dims = new int[nd];
        long total = 1;
        for (int i = 0; i < nd; i++) {
            int o = 4 + 4 * i;
            dims[i] = ((b[o] & 0xFF) << 24) | ((b[o + 1] & 0xFF) << 16) | ((b[o + 2] & 0xFF) << 8) | (b[o + 3] & 0xFF);
            if (dims[i] < 0) {
                throw new VitrimException(name + ": negative IDX dimension " + dims[i]);
            }
            total *= dims[i];
        }
        long expected = 4L + 4L * nd + total;
        if (b.length != expected) {
            throw new VitrimException(name + ": " + (b.length < expected ? "truncated" : "oversized") + " IDX file: "
                    + Arrays.toString(dims) + " needs " + expected + " bytes, got " + b.length);
        }
        return new Array(dims, Arrays.copyOfRange(b, 4 + 4 * nd, b.length));
    }

    /** Images (N x H x W) and labels (N) as a grey {@link LabeledImages}. */
    public static LabeledImages images(Path imagesFile, Path labelsFile, String name, java.util.List<String> classes) {
        Array img = read(imagesFile);
        Array lab = read(labelsFile);
        if (img.dims().length != 3) {
            throw new VitrimException(imagesFile + ": expected images [N, H, W], got IDX dimensions "
                    + Arrays.toString(img.dims()));
        }
        if (lab.dims().length != 1) {
            throw new VitrimException(labelsFile + ": expected labels [N], got IDX dimensions "
                    + Arrays.toString(lab.dims()));
        }
        if (img.count() != lab.count()) {
            throw new VitrimException(labelsFile + ": " + lab.count() + " labels for " + img.count() + " images in "
                    + imagesFile.getFileName());
        }
        int[] labels = new int[lab.count()];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = lab.data()[i] & 0xFF;
            if (labels[i] >= classes.size()) {
                throw new VitrimException(labelsFile + ": label " + labels[i] + " at index " + i + " is outside 0.."
                        + (classes.size() - 1));
            }
        }
        return new LabeledImages(name, classes, 1, img.dims()[1], img.dims()[2], img.data(), labels);
    }
}
