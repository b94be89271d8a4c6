package dev.vitrim.io;

import static dev.vitrim.io.StBytes.concat;
import static dev.vitrim.io.StBytes.entry;
import static dev.vitrim.io.StBytes.f32;
import static dev.vitrim.io.StBytes.f64;
import static dev.vitrim.io.StBytes.i64;
import static dev.vitrim.io.StBytes.u16;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Decoding of hand-built safetensors files (bytes assembled in the test, not by SafeTensorsWriter). */
class SafeTensorsFileTest {

    @TempDir
    Path dir;

    private SafeTensorsFile open(String header, byte[] data) {
        Path f = StBytes.write(dir.resolve("t.safetensors"), StBytes.file(header, data));
        return SafeTensorsFile.open(f);
    }

    @Test
    void decodesF32RowMajor() {
        try (SafeTensorsFile st = open("{" + entry("w", "F32", "[2,3]", 0, 24) + "}",
                f32(1.5f, -3.25f, 0f, 1e-30f, Float.MAX_VALUE, -0.0f))) {
            assertThat(st.names()).containsExactly("w");
            TensorInfo info = st.info("w");
            assertThat(info.dtype()).isEqualTo(DType.F32);
            assertThat(info.shape()).containsExactly(2, 3);
            assertThat(info.numel()).isEqualTo(6);
            assertThat(info.rank()).isEqualTo(2);
            float[] v = st.floats("w");
            assertThat(v).containsExactly(1.5f, -3.25f, 0f, 1e-30f, Float.MAX_VALUE, -0.0f);
            assertThat(Float.floatToRawIntBits(v[5])).isEqualTo(0x80000000); // the sign of -0 survives
            assertThat(st.metadata()).isEmpty();
            assertThat(st.dataLength()).isEqualTo(24);
        }
    }

    @Test
    void decodesF16IncludingSubnormalsInfinitiesAndNan() {
        int[] bits = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x8000, 0x3555, 0x0000};
        try (SafeTensorsFile st = open("{" + entry("h", "F16", "[12]", 0, 24) + "}", u16(bits))) {
            float[] v = st.floats("h");
            assertThat(v[0]).isEqualTo(1.0f);
            assertThat(v[1]).isEqualTo(-2.0f);
            assertThat(v[2]).isEqualTo(0x1p-24f); // smallest subnormal, 5.96e-8
            assertThat(v[3]).isEqualTo(1023 * 0x1p-24f); // largest subnormal
            assertThat(v[4]).isEqualTo(0x1p-14f); // smallest normal
            assertThat(v[5]).isEqualTo(65504f); // largest finite
            assertThat(v[6]).isEqualTo(Float.POSITIVE_INFINITY);
            assertThat(v[7]).isEqualTo(Float.NEGATIVE_INFINITY);
            assertThat(v[8]).isNaN();
            assertThat(Float.floatToRawIntBits(v[9])).isEqualTo(0x80000000); // -0.0
            assertThat(v[10]).isEqualTo(0.333251953125f);
            assertThat(Float.floatToRawIntBits(v[11])).isZero();
        }
    }

    @Test
    void decodesBf16ByShiftingIntoTheHighHalf() {
        int[] bits = {0x3F80, 0xC040, 0x3E80, 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x4049};
        try (SafeTensorsFile st = open("{" + entry("b", "BF16", "[2,4]", 0, 16) + "}", u16(bits))) {
            float[] v = st.floats("b");
            assertThat(v[0]).isEqualTo(1.0f);
            assertThat(v[1]).isEqualTo(-3.0f);
            assertThat(v[2]).isEqualTo(0.25f);
            assertThat(v[3]).isEqualTo(Float.POSITIVE_INFINITY);
            assertThat(v[4]).isEqualTo(Float.NEGATIVE_INFINITY);
            assertThat(v[5]).isNaN();
            assertThat(v[6]).isEqualTo(Float.intBitsToFloat(0x00010000)); // bf16 subnormal
            assertThat(v[7]).isEqualTo(3.140625f);
        }
    }

    @Test
    void decodesF64ByRoundingToFloat() {
        try (SafeTensorsFile st = open("{" + entry("d", "F64", "[4]", 0, 32) + "}", f64(0.1, -2.5, 1e300, 1e-300))) {
            float[] v = st.floats("d");
            assertThat(v[0]).isEqualTo((float) 0.1);
            assertThat(v[1]).isEqualTo(-2.5f);
            assertThat(v[2]).isEqualTo(Float.POSITIVE_INFINITY);
            assertThat(v[3]).isZero();
        }
    }

    @Test
    void readsTensorsByOffsetWhenFileOrderDiffersFromNameOrder() {
        // header lists "zeta" first and stores it first; "alpha" comes second in the data section
        String header = "{" + entry("zeta", "F32", "[2]", 0, 8) + "," + entry("alpha", "F32", "[1]", 8, 12) + ","
                + entry("mid", "F16", "[2]", 12, 16) + "}";
        byte[] data = concat(f32(10f, 20f), f32(30f), u16(0x3C00, 0x4000));
        try (SafeTensorsFile st = open(header, data)) {
            assertThat(st.names()).containsExactly("alpha", "mid", "zeta");
            assertThat(st.infos()).extracting(TensorInfo::name).containsExactly("alpha", "mid", "zeta");
            assertThat(st.floats("alpha")).containsExactly(30f);
            assertThat(st.floats("zeta")).containsExactly(10f, 20f);
            assertThat(st.floats("mid")).containsExactly(1f, 2f);
        }
    }

    @Test
    void offsetsNeedNotBeSortedInTheHeader() {
        // the entry for the later region is written first; the reader sorts regions by begin
        String header = "{" + entry("a", "F32", "[1]", 4, 8) + "," + entry("b", "F32", "[1]", 0, 4) + "}";
        try (SafeTensorsFile st = open(header, f32(7f, 9f))) {
            assertThat(st.floats("a")).containsExactly(9f);
            assertThat(st.floats("b")).containsExactly(7f);
        }
    }

    @Test
    void readsMetadata() {
        String header = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"h\u00e9llo\"}," + entry("x", "F32", "[1]", 0, 4) + "}";
        try (SafeTensorsFile st = open(header, f32(1f))) {
            assertThat(st.metadata()).containsExactly(Map.entry("format", "pt"), Map.entry("note", "h\u00e9llo"));
            assertThat(st.names()).containsExactly("x"); // __metadata__ is not a tensor
            assertThat(st.contains("__metadata__")).isFalse();
        }
    }

    @Test
    void headerPaddedWithSpacesAndUnalignedDataBothWork() {
        String header = "{" + entry("x", "F32", "[2]", 0, 8) + "}";
        try (SafeTensorsFile st = open(header + "        ", f32(1f, 2f))) {
            assertThat(st.floats("x")).containsExactly(1f, 2f);
        }
        // odd header length: data section starts at an odd file offset
        String odd = header.length() % 2 == 0 ? header + " " : header;
        try (SafeTensorsFile st = open(odd, f32(3f, 4f))) {
            assertThat(st.floats("x")).containsExactly(3f, 4f);
        }
    }

    @Test
    void scalarsAndEmptyTensors() {
        String header = "{" + entry("s", "F32", "[]", 0, 4) + "," + entry("e", "F32", "[0,3]", 4, 4) + ","
                + entry("e2", "BF16", "[0]", 4, 4) + "}";
        try (SafeTensorsFile st = open(header, f32(42f))) {
            assertThat(st.info("s").numel()).isEqualTo(1);
            assertThat(st.info("s").shape()).isEmpty();
            assertThat(st.floats("s")).containsExactly(42f);
            assertThat(st.info("e").numel()).isZero();
            assertThat(st.floats("e")).isEmpty();
            assertThat(st.floats("e2")).isEmpty();
        }
    }

    @Test
    void emptyHeaderObjectIsAnEmptySource() {
        try (SafeTensorsFile st = open("{}", new byte[0])) {
            assertThat(st.names()).isEmpty();
            assertThat(st.metadata()).isEmpty();
        }
    }

    @Test
    void integerTensorsHaveInfoButNoFloats() {
        String header = "{" + entry("ids", "I64", "[2]", 0, 16) + "," + entry("mask", "BOOL", "[3]", 16, 19) + "}";
        try (SafeTensorsFile st = open(header, concat(i64(1, 2), new byte[] {1, 0, 1}))) {
            assertThat(st.info("ids").dtype()).isEqualTo(DType.I64);
            assertThat(st.info("mask").dtype()).isEqualTo(DType.BOOL);
            assertThatThrownBy(() -> st.floats("ids"))
                    .isInstanceOf(VitrimException.class)
                    .hasMessageContaining("t.safetensors")
                    .hasMessageContaining("tensor 'ids' has dtype I64")
                    .hasMessageContaining("float dtype");
        }
    }

    @Test
    void missingTensorIsNamed() {
        try (SafeTensorsFile st = open("{" + entry("x", "F32", "[1]", 0, 4) + "}", f32(1f))) {
            assertThat(st.contains("x")).isTrue();
            assertThat(st.contains("y")).isFalse();
            assertThatThrownBy(() -> st.info("y"))
                    .isInstanceOf(VitrimException.class)
                    .hasMessage(st.path() + ": no tensor named 'y'");
            assertThatThrownBy(() -> st.floats("y"))
                    .isInstanceOf(VitrimException.class)
                    .hasMessage(st.path() + ": no tensor named 'y'");
        }
    }

    @Test
    void returnedArraysAndShapesAreCopies() {
        try (SafeTensorsFile st = open("{" + entry("x", "F32", "[2]", 0, 8) + "}", f32(1f, 2f))) {
            st.floats("x")[0] = 99f;
            st.info("x").shape()[0] = 99;
            assertThat(st.floats("x")).containsExactly(1f, 2f);
            assertThat(st.info("x").shape()).containsExactly(2);
            assertThatThrownBy(() -> st.names().add("z")).isInstanceOf(UnsupportedOperationException.class);
            assertThatThrownBy(() -> st.metadata().put("k", "v")).isInstanceOf(UnsupportedOperationException.class);
        }
    }

    @Test
    void readingAfterCloseFails() {
        SafeTensorsFile st = open("{" + entry("x", "F32", "[1]", 0, 4) + "}", f32(1f));
        float[] before = st.floats("x");
        st.close();
        st.close(); // idempotent
        assertThat(before).containsExactly(1f);
        assertThatThrownBy(() -> st.floats("x")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThat(st.info("x").numel()).isEqualTo(1); // header info is still known
    }

    @Test
    void fileStaysReadableWhenDeletedWhileOpen() throws Exception {
        SafeTensorsFile st = open("{" + entry("x", "F32", "[1]", 0, 4) + "}", f32(5f));
        try (st) {
            Files.delete(st.path());
            assertThat(st.floats("x")).containsExactly(5f);
        }
    }

    @Test
    void tensorSourceOpenPicksTheReaderByPath() throws Exception {
        Path f = StBytes.write(dir.resolve("model.safetensors"), StBytes.file("{" + entry("x", "F32", "[1]", 0, 4) + "}", f32(2f)));
        try (TensorSource s = TensorSource.open(f)) {
            assertThat(s).isInstanceOf(SafeTensorsFile.class);
            assertThat(s.path()).isEqualTo(f);
            assertThat(s.floats("x")).containsExactly(2f);
        }
        // a folder holding model.safetensors
        try (TensorSource s = TensorSource.open(dir)) {
            assertThat(s).isInstanceOf(SafeTensorsFile.class);
            assertThat(s.floats("x")).containsExactly(2f);
        }
        Path empty = Files.createDirectory(dir.resolve("empty"));
        assertThatThrownBy(() -> TensorSource.open(empty))
                .isInstanceOf(VitrimException.class)
                .hasMessageContaining("empty")
                .hasMessageContaining("model.safetensors");
        assertThatThrownBy(() -> TensorSource.open(dir.resolve("nope.safetensors")))
                .isInstanceOf(VitrimException.class)
                .hasMessageContaining("nope.safetensors: no such file");
    }

    @Test
    void perTensorMappingAndSmallChunksGiveTheSameValues() {
        float[] f = new float[10];
        for (int i = 0; i < f.length; i++) {
            f[i] = i * 1.25f - 3;
        }
        String header = "{" + entry("a32", "F32", "[10]", 0, 40) + "," + entry("b16", "F16", "[7]", 40, 54) + ","
                + entry("c16", "BF16", "[5]", 54, 64) + "," + entry("d64", "F64", "[3]", 64, 88) + "}";
        byte[] data = concat(f32(f), u16(0x3C00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600, 0x4700),
                u16(0x3F80, 0x4000, 0x4040, 0x4080, 0x40A0), f64(1, 2, 3));
        Path p = StBytes.write(dir.resolve("chunks.safetensors"), StBytes.file(header, data));
        try (SafeTensorsFile chunked = SafeTensorsFile.open(p, -1, 8); SafeTensorsFile whole = SafeTensorsFile.open(p)) {
            assertThat(chunked.floats("a32")).containsExactly(f);
            assertThat(chunked.floats("b16")).containsExactly(1, 2, 3, 4, 5, 6, 7);
            assertThat(chunked.floats("c16")).containsExactly(1, 2, 3, 4, 5);
            assertThat(chunked.floats("d64")).containsExactly(1, 2, 3);
            for (String n : whole.names()) {
                assertThat(chunked.floats(n)).as(n).containsExactly(whole.floats(n));
            }
        }
    }

    @Test
    void tensorsBeyondTwoGibibytesAreMappedPerTensor() throws Exception {
        // a sparse file: a 2 GiB + 100 byte U8 tensor (never materialized) followed by a small F32 tensor
        long big = (1L << 31) + 100;
        String header = "{" + entry("big", "U8", "[" + big + "]", 0, big) + "," + entry("tail", "F32", "[3]", big, big + 12) + "}";
        byte[] h = header.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Path p = dir.resolve("sparse.safetensors");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.getFileStore(dir).getUsableSpace() > (4L << 30),
                "needs room for a 2 GiB sparse file");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p,
                java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(StBytes.file(h, new byte[0])), 0);
            ch.write(java.nio.ByteBuffer.wrap(f32(1.5f, 2.5f, -3.5f)), 8 + h.length + big);
        }
        try (SafeTensorsFile st = SafeTensorsFile.open(p)) {
            assertThat(st.dataLength()).isEqualTo(big + 12);
            assertThat(st.info("big").numel()).isEqualTo(big);
            assertThat(st.floats("tail")).containsExactly(1.5f, 2.5f, -3.5f);
        } finally {
            Files.delete(p);
        }
    }

    @Test
    void dtypeProperties() {
        assertThat(DType.parse("BF16")).isEqualTo(DType.BF16);
        assertThat(DType.parse("F64").byteSize()).isEqualTo(8);
        assertThat(DType.F32.byteSize()).isEqualTo(4);
        assertThat(DType.F16.byteSize()).isEqualTo(2);
        assertThat(DType.BF16.byteSize()).isEqualTo(2);
        assertThat(DType.I64.byteSize()).isEqualTo(8);
        assertThat(DType.I32.byteSize()).isEqualTo(4);
        assertThat(DType.I16.byteSize()).isEqualTo(2);
        assertThat(DType.I8.byteSize()).isEqualTo(1);
        assertThat(DType.U8.byteSize()).isEqualTo(1);
        assertThat(DType.BOOL.byteSize()).isEqualTo(1);
        assertThat(DType.values()).filteredOn(DType::isFloat).containsExactly(DType.F64, DType.F32, DType.F16, DType.BF16);
        assertThatThrownBy(() -> DType.parse("F8_E4M3")).isInstanceOf(VitrimException.class).hasMessageContaining("'F8_E4M3'");
        assertThatThrownBy(() -> DType.parse("f32")).isInstanceOf(VitrimException.class);
        assertThatThrownBy(() -> DType.parse(null)).isInstanceOf(VitrimException.class);
    }

    @Test
    void tensorInfoValueSemantics() {
        TensorInfo a = new TensorInfo("w", DType.F16, new long[] {2, 3});
        TensorInfo b = new TensorInfo("w", DType.F16, new long[] {2, 3});
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(new TensorInfo("w", DType.F16, new long[] {3, 2}));
        assertThat(a.toString()).isEqualTo("w F16 [2, 3]");
        assertThat(a.byteSize()).isEqualTo(12);
        assertThat(new TensorInfo("s", DType.F32, new long[0]).numel()).isEqualTo(1);
        assertThatThrownBy(() -> new TensorInfo("n", DType.F32, new long[] {-1})).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new TensorInfo("big", DType.F32, new long[] {1L << 40, 1L << 40}).numel())
                .isInstanceOf(ArithmeticException.class);
    }
}
