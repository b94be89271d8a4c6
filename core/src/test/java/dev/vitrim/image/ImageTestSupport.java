package dev.vitrim.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/** Fixture access for the image tests: golden directory, manifest, minimal .npy(.gz) float32 reader. */
final class ImageTestSupport {
    private ImageTestSupport() {}

    static Path goldenDir() {
        try {
            return Path.of(ImageTestSupport.class.getResource("/golden/images/manifest.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode manifest() {
        try {
            return new ObjectMapper().readTree(goldenDir().resolve("manifest.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A float32 .npy (optionally gzip-compressed, by name .gz): shape and data. */
    record Npy(int[] shape, float[] data) {}

    static Npy readNpy(Path p) {
        try {
            byte[] b;
            if (p.toString().endsWith(".gz")) {
                try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
                    ByteArrayOutputStream bo = new ByteArrayOutputStream();
                    in.transferTo(bo);
                    b = bo.toByteArray();
                }
            } else {
                b = Files.readAllBytes(p);
            }
            if (b[0] != (byte) 0x93 || b[1] != 'N' || b[6] != 1) {
                throw new IllegalStateException(p + ": not an npy v1 file");
            }
            int hlen = (b[8] & 0xFF) | (b[9] & 0xFF) << 8;
            String header = new String(b, 10, hlen, StandardCharsets.ISO_8859_1);
            if (!header.contains("'descr': '<f4'") || !header.contains("'fortran_order': False")) {
                throw new IllegalStateException(p + ": expected little-endian float32 C order, got " + header);
            }
            String sh = header.substring(header.indexOf("'shape': (") + 10);
            sh = sh.substring(0, sh.indexOf(')'));
            int[] shape = Arrays.stream(sh.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                    .mapToInt(Integer::parseInt).toArray();
            int n = Arrays.stream(shape).reduce(1, (x, y) -> x * y);
            float[] data = new float[n];
            ByteBuffer.wrap(b, 10 + hlen, 4 * n).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
            return new Npy(shape, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static float[] floats(JsonNode arr) {
        float[] f = new float[arr.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) arr.get(i).asDouble();
        }
        return f;
    }

    static PreprocessConfig config(JsonNode c) {
        return new PreprocessConfig(c.get("size").asInt(), c.get("crop_pct").asDouble(), floats(c.get("mean")),
                floats(c.get("std")), Interpolation.parse(c.get("interpolation").asText()));
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }
}
