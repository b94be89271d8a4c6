package dev.vitrim.io;

import static dev.vitrim.io.StBytes.entry;
import static dev.vitrim.io.StBytes.f32;
import static dev.vitrim.io.StBytes.file;
import static dev.vitrim.io.StBytes.zeros;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.vitrim.VitrimException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every malformed file is rejected at open time with a one-line "FILE: problem" VitrimException. */
class SafeTensorsValidationTest {

    @TempDir
    Path dir;

    private static final String X4 = entry("x", "F32", "[1]", 0, 4);

    private static Arguments bad(String name, byte[] bytes, String... phrases) {
        return Arguments.of(name, bytes, phrases);
    }

    private static Arguments badHeader(String name, String header, byte[] data, String... phrases) {
        return bad(name, file(header, data), phrases);
    }

    static Stream<Arguments> malformedFiles() {
        return Stream.of(
                bad("empty file", new byte[0], "0 bytes, too short"),
                bad("5-byte file", new byte[5], "5 bytes, too short"),
                bad("header length beyond file", StBytes.withLength(100, 20), "header length 100 exceeds the file size (28 bytes)"),
                bad("header length over the limit", StBytes.withLength(200_000_000L, 16), "header length 200000000 exceeds the limit of 100000000"),
                bad("header length negative as signed", StBytes.withLength(-1L, 16), "header length 18446744073709551615 exceeds the limit"),
                bad("header not UTF-8", file(new byte[] {'{', (byte) 0xFF, '}'}, new byte[0]), "header is not valid UTF-8"),
                badHeader("truncated JSON", "{\"x\": ", new byte[0], "header is not valid JSON"),
                badHeader("not JSON at all", "PK\u0003\u0004zipfile", new byte[0], "header is not valid JSON"),
                badHeader("trailing JSON", "{} {}", new byte[0], "header is not valid JSON"),
                badHeader("blank header", "        ", new byte[0], "header is empty"),
                badHeader("array header", "[1,2]", new byte[0], "header is not a JSON object"),
                badHeader("string header", "\"x\"", new byte[0], "header is not a JSON object"),
                badHeader("duplicate tensor", "{" + X4 + "," + X4 + "}", f32(1f), "duplicate key", "'x'"),
                badHeader("duplicate field in entry", "{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                        f32(1f), "duplicate key", "'dtype'"),
                badHeader("entry not an object", "{\"x\":5}", new byte[0], "tensor 'x'", "must be an object"),
                badHeader("missing dtype", "{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", f32(1f), "tensor 'x'", "missing 'dtype'"),
                badHeader("missing shape", "{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", f32(1f), "tensor 'x'", "missing 'shape'"),
                badHeader("missing data_offsets", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", f32(1f), "tensor 'x'", "missing 'data_offsets'"),
                badHeader("dtype not a string", "{\"x\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", f32(1f), "'dtype' must be a string"),
                badHeader("unknown dtype", "{" + entry("w", "F8_E4M3", "[4]", 0, 4) + "}", zeros(4), "tensor 'w' has unknown dtype 'F8_E4M3'"),
                badHeader("lower-case dtype", "{" + entry("w", "f32", "[1]", 0, 4) + "}", zeros(4), "tensor 'w' has unknown dtype 'f32'"),
                badHeader("shape not an array", "{" + entry("x", "F32", "\"1\"", 0, 4) + "}", f32(1f), "'shape' must be an array of integers"),
                badHeader("fractional dim", "{" + entry("x", "F32", "[1.5]", 0, 4) + "}", f32(1f), "'shape' must be an array of integers"),
                badHeader("null dim", "{" + entry("x", "F32", "[null]", 0, 4) + "}", f32(1f), "'shape' must be an array of integers"),
                badHeader("huge dim", "{" + entry("x", "F32", "[99999999999999999999999]", 0, 4) + "}", f32(1f), "'shape' must be an array of integers"),
                badHeader("negative dim", "{" + entry("x", "F32", "[-1,2]", 0, 4) + "}", f32(1f), "tensor 'x'", "negative dimension"),
                badHeader("overflowing shape", "{" + entry("x", "F32", "[4611686018427387904,4]", 0, 4) + "}", f32(1f), "tensor 'x'", "too large"),
                badHeader("offsets not an array", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":4}}", f32(1f), "'data_offsets' must be [begin, end]"),
                badHeader("one offset", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", f32(1f), "'data_offsets' must be [begin, end]"),
                badHeader("three offsets", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", f32(1f), "'data_offsets' must be [begin, end]"),
                badHeader("string offset", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", f32(1f), "two non-negative integers"),
                badHeader("negative offset", "{" + entry("x", "F32", "[1]", -4, 0) + "}", f32(1f), "two non-negative integers"),
                badHeader("begin after end", "{" + entry("x", "F32", "[1]", 4, 0) + "}", f32(1f), "tensor 'x'", "begin > end"),
                badHeader("end beyond data", "{" + entry("x", "F32", "[4]", 0, 16) + "}", f32(1f, 2f), "tensor 'x'", "beyond the data section (8 bytes)"),
                badHeader("size mismatch", "{" + entry("x", "F32", "[3]", 0, 8) + "}", f32(1f, 2f), "tensor 'x'", "needs 12 bytes", "span 8"),
                badHeader("size mismatch by dtype", "{" + entry("x", "F16", "[2]", 0, 8) + "}", f32(1f, 2f), "tensor 'x'", "needs 4 bytes"),
                badHeader("overlap", "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}",
                        f32(1f, 2f, 3f), "tensors 'a' and 'b' overlap"),
                badHeader("same region twice", "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 0, 4) + "}",
                        f32(1f), "tensors 'a' and 'b' overlap"),
                badHeader("empty tensor inside another", "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("e", "F32", "[0]", 4, 4) + "}",
                        f32(1f, 2f), "tensors 'a' and 'e' overlap"),
                badHeader("gap", "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}",
                        f32(1f, 2f, 3f), "gap of 4 bytes", "before tensor 'b'"),
                badHeader("first tensor not at 0", "{" + entry("a", "F32", "[1]", 4, 8) + "}", f32(1f, 2f), "gap of 4 bytes", "before tensor 'a'"),
                badHeader("trailing bytes", "{" + X4 + "}", f32(1f, 2f), "4 trailing bytes after the last tensor"),
                badHeader("data but no tensors", "{}", f32(1f), "4 trailing bytes"),
                badHeader("metadata value not a string", "{\"__metadata__\":{\"epoch\":3}," + X4 + "}", f32(1f),
                        "__metadata__ value for key 'epoch' must be a string"),
                badHeader("metadata null value", "{\"__metadata__\":{\"k\":null}," + X4 + "}", f32(1f), "key 'k' must be a string"),
                badHeader("metadata not an object", "{\"__metadata__\":\"pt\"," + X4 + "}", f32(1f), "__metadata__ must be an object of strings"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedFiles")
    void rejectsWithOneLineMessageNamingTheFile(String name, byte[] bytes, String[] phrases) {
        Path f = StBytes.write(dir.resolve("bad-" + name.replace(' ', '_') + ".safetensors"), bytes);
        VitrimException e = catchThrowableOfType(VitrimException.class, () -> SafeTensorsFile.open(f).close());
        assertThat(e).as("no exception for " + name).isNotNull();
        assertThat(e.getMessage()).startsWith(f + ": ");
        assertThat(e.getMessage()).doesNotContain("\n", "\r");
        for (String p : phrases) {
            assertThat(e.getMessage()).contains(p);
        }
        // the same through the generic entry point
        assertThatThrownBy(() -> TensorSource.open(f).close()).isInstanceOf(VitrimException.class).hasMessage(e.getMessage());
    }

    @Test
    void missingFileAndFolder() throws Exception {
        Path missing = dir.resolve("missing.safetensors");
        assertThatThrownBy(() -> SafeTensorsFile.open(missing))
                .isInstanceOf(VitrimException.class)
                .hasMessage(missing + ": no such file");
        Path folder = Files.createDirectory(dir.resolve("x.safetensors"));
        assertThatThrownBy(() -> SafeTensorsFile.open(folder))
                .isInstanceOf(VitrimException.class)
                .hasMessageStartingWith(folder + ": ");
    }

    @Test
    void validFileIsAcceptedByTheSameChecks() {
        // sanity check for the fixtures above: the well-formed variant opens
        Path f = StBytes.write(dir.resolve("ok.safetensors"),
                file("{\"__metadata__\":{\"k\":\"v\"}," + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 4, 8) + "}", f32(1f, 2f)));
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertThat(st.names()).containsExactly("a", "b");
            assertThat(st.metadata()).containsEntry("k", "v");
        }
    }
}
