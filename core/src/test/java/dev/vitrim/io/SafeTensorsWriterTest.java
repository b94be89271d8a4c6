package dev.vitrim.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.VitrimException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsWriterTest {

    @TempDir
    Path dir;

    private static FloatTensor t(long[] shape, float... data) {
        return new FloatTensor(shape, data);
    }

    /** Insertion order deliberately not sorted. */
    private static Map<String, FloatTensor> sample() {
        Map<String, FloatTensor> m = new LinkedHashMap<>();
        m.put("zz.weight", t(new long[] {2, 2}, 1f, -2f, 3.5f, 0.1f));
        m.put("aa.bias", t(new long[] {3}, 7f, 8f, 9f));
        m.put("mm.scalar", t(new long[0], 42f));
        return m;
    }

    private static ByteBuffer bytes(Path f) throws Exception {
        return ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void f32RoundTripWithMetadata() {
        Path f = dir.resolve("out.safetensors");
        SafeTensorsWriter.write(f, Map.of("format", "pt", "vitrim.merge", "r=8"), sample());
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertThat(st.names()).containsExactly("aa.bias", "mm.scalar", "zz.weight");
            assertThat(st.info("zz.weight").dtype()).isEqualTo(DType.F32);
            assertThat(st.info("zz.weight").shape()).containsExactly(2, 2);
            assertThat(st.info("mm.scalar").shape()).isEmpty();
            assertThat(st.floats("zz.weight")).containsExactly(1f, -2f, 3.5f, 0.1f);
            assertThat(st.floats("aa.bias")).containsExactly(7f, 8f, 9f);
            assertThat(st.floats("mm.scalar")).containsExactly(42f);
            assertThat(st.metadata()).containsOnly(Map.entry("format", "pt"), Map.entry("vitrim.merge", "r=8"));
        }
    }

    @Test
    void layoutIsPaddedHeaderThenTensorsInSortedNameOrder() throws Exception {
        Path f = dir.resolve("layout.safetensors");
        SafeTensorsWriter.write(f, Map.of("k", "v"), sample());
        ByteBuffer b = bytes(f);
        long n = b.getLong(0);
        assertThat(n % 8).isZero();
        assertThat(b.capacity()).isEqualTo(8 + n + 4 * (3 + 1 + 4));
        String header = new String(b.array(), 8, (int) n, StandardCharsets.UTF_8);
        assertThat(header).startsWith("{\"__metadata__\":{\"k\":\"v\"},");
        String json = header.stripTrailing();
        assertThat(json).endsWith("}");
        assertThat(header.substring(json.length())).matches(" {0,7}");

        JsonNode root = new ObjectMapper().readTree(header);
        List<String> keys = new ArrayList<>();
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            keys.add(it.next());
        }
        assertThat(keys).containsExactly("__metadata__", "aa.bias", "mm.scalar", "zz.weight");
        assertThat(root.at("/aa.bias/data_offsets").toString()).isEqualTo("[0,12]");
        assertThat(root.at("/mm.scalar/data_offsets").toString()).isEqualTo("[12,16]");
        assertThat(root.at("/zz.weight/data_offsets").toString()).isEqualTo("[16,32]");
        assertThat(root.at("/zz.weight/shape").toString()).isEqualTo("[2,2]");
        assertThat(root.at("/mm.scalar/shape").toString()).isEqualTo("[]");
        assertThat(root.at("/aa.bias/dtype").asText()).isEqualTo("F32");

        int data = 8 + (int) n;
        assertThat(b.getFloat(data)).isEqualTo(7f); // aa.bias first
        assertThat(b.getFloat(data + 12)).isEqualTo(42f); // then mm.scalar
        assertThat(b.getFloat(data + 16)).isEqualTo(1f); // then zz.weight
        assertThat(b.getFloat(data + 28)).isEqualTo(0.1f);
    }

    @Test
    void headerPaddingForEveryResidue() {
        // names of growing length move the JSON length through all residues mod 8
        for (int len = 1; len <= 8; len++) {
            Path f = dir.resolve("pad" + len + ".safetensors");
            SafeTensorsWriter.write(f, null, Map.of("x".repeat(len), t(new long[] {1}, 1f)));
            ByteBuffer b;
            try {
                b = bytes(f);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            assertThat(b.getLong(0) % 8).as("header length for name length %d", len).isZero();
            try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
                assertThat(st.floats("x".repeat(len))).containsExactly(1f);
                assertThat(st.metadata()).isEmpty();
            }
        }
    }

    @Test
    void noMetadataKeyWhenMetadataEmpty() throws Exception {
        Path f = dir.resolve("nometa.safetensors");
        SafeTensorsWriter.write(f, Map.of(), Map.of("a", t(new long[] {1}, 1f)));
        String header = new String(Files.readAllBytes(f), StandardCharsets.UTF_8);
        assertThat(header).doesNotContain("__metadata__");
    }

    @Test
    void f16RoundsToNearestEven() {
        float[] in = {1f, 1 + 0x1p-11f, 1 + 3 * 0x1p-11f, 1 + 0x1p-11f + 0x1p-20f, 65504f, 65519f, 65520f, 1e-8f,
            0x1p-25f, 1.5f * 0x1p-25f, 0x1p-24f, -2f, 0x1p-14f - 0x1p-25f, 0.1f, 1f / 3, Float.NEGATIVE_INFINITY, Float.NaN};
        // expected bit patterns, as numpy 2.4 gives for np.float32(v).astype(np.float16)
        int[] bits = {0x3C00, 0x3C00, 0x3C02, 0x3C01, 0x7BFF, 0x7BFF, 0x7C00, 0x0000,
            0x0000, 0x0001, 0x0001, 0xC000, 0x0400, 0x2E66, 0x3555, 0xFC00, 0x7E00};
        Path f = dir.resolve("h.safetensors");
        SafeTensorsWriter.write(f, null, Map.of("h", t(new long[] {in.length}, in)), DType.F16);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertThat(st.info("h").dtype()).isEqualTo(DType.F16);
            float[] out = st.floats("h");
            for (int i = 0; i < in.length; i++) {
                assertThat(Float.floatToRawIntBits(out[i]))
                        .as("F16 of %s", in[i])
                        .isEqualTo(Float.floatToRawIntBits(HalfFloats.f16ToFloatSlow(bits[i])));
            }
        }
        ByteBuffer raw = rawData(f);
        for (int i = 0; i < in.length; i++) {
            assertThat(raw.getShort(2 * i) & 0xFFFF).as("F16 bits of %s", in[i]).isEqualTo(bits[i]);
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        float[] in = {1f, 1 + 0x1p-8f, 1 + 3 * 0x1p-8f, 1 + 0x1p-8f + 0x1p-20f, -3f, 3.14159265f, Float.MAX_VALUE,
            Float.POSITIVE_INFINITY, Float.NaN, -0f, Float.MIN_VALUE};
        int[] bits = {0x3F80, 0x3F80, 0x3F82, 0x3F81, 0xC040, 0x4049, 0x7F80, 0x7F80, 0x7FC0, 0x8000, 0x0000};
        Path f = dir.resolve("b.safetensors");
        SafeTensorsWriter.write(f, null, Map.of("b", t(new long[] {in.length}, in)), DType.BF16);
        ByteBuffer raw = rawData(f);
        for (int i = 0; i < in.length; i++) {
            assertThat(raw.getShort(2 * i) & 0xFFFF).as("BF16 bits of %s", in[i]).isEqualTo(bits[i]);
        }
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            float[] out = st.floats("b");
            assertThat(out[0]).isEqualTo(1f);
            assertThat(out[2]).isEqualTo(1 + 2 * 0x1p-7f);
            assertThat(out[5]).isEqualTo(3.140625f);
            assertThat(out[8]).isNaN();
        }
    }

    private static ByteBuffer rawData(Path f) {
        try {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
            long n = b.getLong(0);
            return b.position(8 + (int) n).slice().order(ByteOrder.LITTLE_ENDIAN);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void halfPrecisionRoundTripIsExactForRepresentableValues() {
        float[] in = {0f, 0.5f, -0.25f, 2048f, 0x1p-24f, 0x1p-14f, 65504f};
        Path f = dir.resolve("r.safetensors");
        SafeTensorsWriter.write(f, null, Map.of("v", t(new long[] {in.length}, in)), DType.F16);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertThat(st.floats("v")).containsExactly(in);
        }
        float[] bf = {0f, 0.5f, -0.25f, 1.5f, 0x1p-126f, 0x1p100f};
        SafeTensorsWriter.write(f, null, Map.of("v", t(new long[] {bf.length}, bf)), DType.BF16);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertThat(st.floats("v")).containsExactly(bf);
        }
    }

    @Test
    void atomicWriteLeavesOnlyTheTargetAndReplacesAnOldFile() throws Exception {
        Path f = dir.resolve("model.safetensors");
        Files.writeString(f, "old content that is not safetensors");
        SafeTensorsWriter.write(f, null, sample());
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s).containsExactly(f);
        }
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertThat(st.names()).hasSize(3);
        }
    }

    @Test
    void createsMissingParentFolders() {
        Path f = dir.resolve("a/b/c.safetensors");
        SafeTensorsWriter.write(f, null, sample());
        assertThat(f).isRegularFile();
    }

    @Test
    void failedWriteReportsTheFileAndLeavesNoTempFile() throws Exception {
        Path target = Files.createDirectory(dir.resolve("occupied.safetensors"));
        Files.writeString(target.resolve("keep"), "x"); // a non-empty folder cannot be replaced by a rename
        assertThatThrownBy(() -> SafeTensorsWriter.write(target, null, sample()))
                .isInstanceOf(VitrimException.class)
                .hasMessageStartingWith(target + ": cannot write");
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s).containsExactly(target);
        }
    }

    @Test
    void emptyTensorMapWritesAValidFile() {
        Path f = dir.resolve("empty.safetensors");
        SafeTensorsWriter.write(f, Map.of("only", "metadata"), Map.of());
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertThat(st.names()).isEmpty();
            assertThat(st.metadata()).containsEntry("only", "metadata");
        }
    }

    @Test
    void unicodeAndEmptyTensors() {
        Map<String, FloatTensor> m = Map.of("blöck.0", t(new long[] {1}, 5f), "empty", t(new long[] {0, 4}));
        Path f = dir.resolve("u.safetensors");
        SafeTensorsWriter.write(f, null, m);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertThat(st.floats("blöck.0")).containsExactly(5f);
            assertThat(st.info("empty").shape()).containsExactly(0, 4);
        }
    }

    @Test
    void largeTensorCrossesTheWriteBuffer() {
        float[] big = new float[700_000]; // 2.8 MB of F32: several 1 MiB buffers
        for (int i = 0; i < big.length; i++) {
            big[i] = i * 0.5f;
        }
        Path f = dir.resolve("big.safetensors");
        SafeTensorsWriter.write(f, null, Map.of("a", t(new long[] {big.length}, big), "b", t(new long[] {2}, 1f, 2f)));
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertThat(st.floats("a")).isEqualTo(big); // not containsExactly: quadratic on 700k elements
            assertThat(st.floats("b")).containsExactly(1f, 2f);
        }
        SafeTensorsWriter.write(f, null, Map.of("a", t(new long[] {big.length}, big)), DType.BF16);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            float[] back = st.floats("a");
            for (int i = 0; i < big.length; i += 9973) {
                assertThat(back[i]).isEqualTo(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(big[i])));
            }
        }
    }

    @Test
    void rejectsBadArguments() {
        Path f = dir.resolve("x.safetensors");
        assertThatThrownBy(() -> SafeTensorsWriter.write(f, null, Map.of("__metadata__", t(new long[] {1}, 1f))))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SafeTensorsWriter.write(f, null, sample(), DType.I64))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> SafeTensorsWriter.write(f, null, sample(), DType.F64))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(f).doesNotExist();
    }
}
