package dev.vitrim.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NpyTest {

    @TempDir
    Path dir;

    /** Bytes of a .npy file as numpy lays it out: magic, version, header length, dict padded to 64, data. */
    private static byte[] npy(int major, String dict, byte[] data) {
        int lenBytes = major == 1 ? 2 : 4;
        int prefix = 6 + 2 + lenBytes;
        StringBuilder h = new StringBuilder(dict);
        while ((prefix + h.length() + 1) % 64 != 0) {
            h.append(' ');
        }
        h.append('\n');
        byte[] header = h.toString().getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(prefix + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) major).put((byte) 0);
        if (major == 1) {
            b.putShort((short) header.length);
        } else {
            b.putInt(header.length);
        }
        return b.put(header).put(data).array();
    }

    private static String dict(String descr, String fortran, String shape) {
        return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
    }

    private Path file(String name, byte[] bytes) {
        return StBytes.write(dir.resolve(name), bytes);
    }

    private static Path resource(String name) {
        try {
            return Path.of(NpyTest.class.getResource("/io/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    private static float[] range(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i * 0.5f - 3f;
        }
        return v;
    }

    @Test
    void readsHandBuiltVersion1File() {
        byte[] bytes = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", StBytes.f32(1, 2, 3, 4, 5, 6.5f));
        assertThat(bytes.length - 24).isEqualTo(128); // 10-byte prefix + 60-char dict + padding + newline: two 64-byte units
        FloatTensor t = Npy.read(file("a.npy", bytes));
        assertThat(t.shape()).containsExactly(2, 3);
        assertThat(t.data()).containsExactly(1, 2, 3, 4, 5, 6.5f);
    }

    @Test
    void readsHandBuiltVersion2File() {
        FloatTensor t = Npy.read(file("v2.npy", npy(2, dict("<f4", "False", "(3,)"), StBytes.f32(-1, 0, 1))));
        assertThat(t.shape()).containsExactly(3);
        assertThat(t.data()).containsExactly(-1, 0, 1);
    }

    @Test
    void parsesShapeTuplesOfEveryForm() {
        assertThat(Npy.read(file("s1.npy", npy(1, dict("<f4", "False", "(5,)"), StBytes.f32(1, 2, 3, 4, 5)))).shape())
                .containsExactly(5);
        FloatTensor scalar = Npy.read(file("s0.npy", npy(1, dict("<f4", "False", "()"), StBytes.f32(9))));
        assertThat(scalar.shape()).isEmpty();
        assertThat(scalar.data()).containsExactly(9);
        assertThat(Npy.read(file("py2.npy", npy(1, dict("<f4", "False", "(2L, 1L)"), StBytes.f32(1, 2)))).shape())
                .containsExactly(2, 1);
        assertThat(Npy.read(file("empty.npy", npy(1, dict("<f4", "False", "(0, 3)"), new byte[0]))).shape())
                .containsExactly(0, 3);
        // other key order, double quotes, no trailing comma, odd spacing: still a valid Python dict literal
        String odd = "{\"shape\":(1,2,1),  \"fortran_order\" : False,'descr':\"<f4\"}";
        assertThat(Npy.read(file("odd.npy", npy(1, odd, StBytes.f32(1, 2)))).shape()).containsExactly(1, 2, 1);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 4})
    void roundTripsEveryRank(int rank) throws Exception {
        long[] shape = Arrays.copyOf(new long[] {2, 3, 4, 5}, rank);
        int n = (int) FloatTensor.numel(shape);
        FloatTensor in = new FloatTensor(shape, range(n));
        Path f = dir.resolve("r" + rank + ".npy");
        Npy.write(f, in);
        FloatTensor out = Npy.read(f);
        assertThat(out.shape()).containsExactly(shape);
        assertThat(out.data()).containsExactly(in.data());

        byte[] bytes = Files.readAllBytes(f);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(Arrays.copyOf(bytes, 8)).containsExactly(0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0);
        int headerLen = b.getShort(8) & 0xFFFF;
        int dataStart = 10 + headerLen;
        assertThat(dataStart % 64).isZero();
        assertThat(bytes.length).isEqualTo(dataStart + 4 * n);
        assertThat(bytes[dataStart - 1]).isEqualTo((byte) '\n');
        String header = new String(bytes, 10, headerLen, StandardCharsets.ISO_8859_1).strip();
        String tuple = rank == 0 ? "()" : rank == 1 ? "(2,)" : "(" + String.join(", ",
                Arrays.stream(shape).mapToObj(Long::toString).toArray(String[]::new)) + ")";
        assertThat(header).isEqualTo("{'descr': '<f4', 'fortran_order': False, 'shape': " + tuple + ", }");
        if (n > 0) {
            assertThat(b.getFloat(dataStart)).isEqualTo(in.data()[0]);
        }
    }

    @Test
    void writerOverwritesAtomicallyAndLeavesNoTempFile() throws Exception {
        Path f = dir.resolve("x.npy");
        Files.writeString(f, "junk");
        Npy.write(f, new FloatTensor(new long[] {2}, new float[] {1, 2}));
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s).containsExactly(f);
        }
        assertThat(Npy.read(f).data()).containsExactly(1, 2);
    }

    @Test
    void largeArrayRoundTrip() {
        float[] v = range(600_000); // 2.4 MB: several write buffers
        Path f = dir.resolve("big.npy");
        Npy.write(f, new FloatTensor(new long[] {600, 1000}, v));
        assertThat(Npy.read(f).data()).isEqualTo(v);
    }

    // ---- files written by numpy 2.4.6 (src/test/resources/io), generated with:
    // python3 -c "import numpy as np
    //   np.save('np_f4_2x3.npy', np.arange(6, dtype='<f4').reshape(2, 3) / np.float32(4))
    //   np.save('np_f4_5.npy', np.array([1.5, -2, 0, 3.25, 1e-3], dtype='<f4'))
    //   np.save('np_f4_scalar.npy', np.array(7.5, dtype='<f4'))
    //   np.save('np_f4_0x3.npy', np.zeros((0, 3), dtype='<f4'))
    //   np.save('np_f4_1x3x2x2.npy', np.arange(12, dtype='<f4').reshape(1, 3, 2, 2) - np.float32(5.5))
    //   with open('np_f4_v2.npy', 'wb') as f: np.lib.format.write_array(f, np.arange(4, dtype='<f4').reshape(2, 2), version=(2, 0))
    //   np.save('np_f8.npy', np.array([1.0, 2.0]))
    //   np.save('np_i8.npy', np.array([1, 2], dtype='<i8'))
    //   np.save('np_fortran.npy', np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))"

    @Test
    void readsFilesWrittenByNumpy() {
        FloatTensor a = Npy.read(resource("np_f4_2x3.npy"));
        assertThat(a.shape()).containsExactly(2, 3);
        assertThat(a.data()).containsExactly(0f, 0.25f, 0.5f, 0.75f, 1f, 1.25f);

        FloatTensor b = Npy.read(resource("np_f4_5.npy"));
        assertThat(b.shape()).containsExactly(5);
        assertThat(b.data()).containsExactly(1.5f, -2f, 0f, 3.25f, 1e-3f);

        FloatTensor c = Npy.read(resource("np_f4_scalar.npy"));
        assertThat(c.shape()).isEmpty();
        assertThat(c.data()).containsExactly(7.5f);

        assertThat(Npy.read(resource("np_f4_0x3.npy")).shape()).containsExactly(0, 3);

        FloatTensor d = Npy.read(resource("np_f4_1x3x2x2.npy"), 4, "input");
        assertThat(d.shape()).containsExactly(1, 3, 2, 2);
        assertThat(d.data()[0]).isEqualTo(-5.5f);
        assertThat(d.data()[11]).isEqualTo(5.5f);

        FloatTensor e = Npy.read(resource("np_f4_v2.npy"));
        assertThat(e.shape()).containsExactly(2, 2);
        assertThat(e.data()).containsExactly(0f, 1f, 2f, 3f);
    }

    @Test
    void writesTheSameBytesAsNumpy() throws Exception {
        // numpy's extra "growth" padding stays within the same 64-byte block for these shapes, so files are identical
        String[] names = {"np_f4_2x3.npy", "np_f4_5.npy", "np_f4_scalar.npy", "np_f4_0x3.npy", "np_f4_1x3x2x2.npy"};
        for (String name : names) {
            Path f = dir.resolve(name);
            Npy.write(f, Npy.read(resource(name)));
            assertThat(Files.readAllBytes(f)).as(name).isEqualTo(Files.readAllBytes(resource(name)));
        }
    }

    @Test
    void rejectsNumpyFilesOfOtherDtypesAndOrder() {
        Path f8 = resource("np_f8.npy");
        assertThatThrownBy(() -> Npy.read(f8)).isInstanceOf(VitrimException.class)
                .hasMessageStartingWith(f8 + ": ").hasMessageContaining("unsupported dtype '<f8'");
        Path i8 = resource("np_i8.npy");
        assertThatThrownBy(() -> Npy.read(i8)).isInstanceOf(VitrimException.class)
                .hasMessageStartingWith(i8 + ": ").hasMessageContaining("unsupported dtype '<i8'");
        Path fortran = resource("np_fortran.npy");
        assertThatThrownBy(() -> Npy.read(fortran)).isInstanceOf(VitrimException.class)
                .hasMessageStartingWith(fortran + ": ").hasMessageContaining("fortran_order is True");
    }

    // ---- rejection of hand-built files

    private void assertRejected(String name, byte[] bytes, String phrase) {
        Path f = file(name, bytes);
        assertThatThrownBy(() -> Npy.read(f))
                .as(name)
                .isInstanceOf(VitrimException.class)
                .hasMessageStartingWith(f + ": ")
                .hasMessageContaining(phrase)
                .hasMessageNotContaining("\n");
    }

    @Test
    void rejectsOtherDtypes() {
        assertRejected("f8.npy", npy(1, dict("<f8", "False", "(2,)"), new byte[16]), "unsupported dtype '<f8'");
        assertRejected("i8.npy", npy(1, dict("<i8", "False", "(2,)"), new byte[16]), "unsupported dtype '<i8'");
        assertRejected("be.npy", npy(1, dict(">f4", "False", "(2,)"), new byte[8]), "unsupported dtype '>f4'");
        assertRejected("u1.npy", npy(1, dict("|u1", "False", "(2,)"), new byte[2]), "unsupported dtype '|u1'");
        assertRejected("f2.npy", npy(1, dict("<f2", "False", "(2,)"), new byte[4]), "expected '<f4'");
        assertRejected("struct.npy", npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", new byte[8]),
                "unsupported dtype");
    }

    @Test
    void rejectsFortranOrder() {
        assertRejected("f.npy", npy(1, dict("<f4", "True", "(2, 3)"), new byte[24]), "fortran_order is True");
    }

    @Test
    void rejectsTruncatedAndOverlongData() {
        assertRejected("trunc.npy", npy(1, dict("<f4", "False", "(2, 3)"), new byte[20]),
                "truncated data: shape [2, 3] needs 24 bytes of float32 data, file has 20");
        assertRejected("long.npy", npy(1, dict("<f4", "False", "(2,)"), new byte[12]), "4 trailing bytes");
        byte[] full = npy(1, dict("<f4", "False", "(2,)"), new byte[8]);
        assertRejected("header-cut.npy", Arrays.copyOf(full, 40), "truncated .npy header");
        assertRejected("len-cut.npy", Arrays.copyOf(full, 9), "truncated .npy header");
    }

    @Test
    void rejectsBadMagicShortFilesAndVersions() {
        byte[] good = npy(1, dict("<f4", "False", "(1,)"), new byte[4]);
        byte[] badMagic = good.clone();
        badMagic[1] = 'X';
        assertRejected("magic.npy", badMagic, "not a .npy file (bad magic");
        assertRejected("text.npy", "1.0 2.0 3.0\n".getBytes(StandardCharsets.US_ASCII), "bad magic");
        assertRejected("short.npy", new byte[] {(byte) 0x93, 'N', 'U'}, "too short to be a .npy file");
        assertRejected("empty.npy", new byte[0], "0 bytes, too short");
        byte[] v3 = good.clone();
        v3[6] = 3;
        assertRejected("v3.npy", v3, "unsupported .npy format version 3.0");
        byte[] v11 = good.clone();
        v11[7] = 1;
        assertRejected("v11.npy", v11, "unsupported .npy format version 1.1");
    }

    @Test
    void rejectsMalformedHeaders() {
        assertRejected("nodict.npy", npy(1, "[1, 2]", new byte[0]), "not a dict");
        assertRejected("nokey.npy", npy(1, "{'descr': '<f4', 'shape': (1,), }", new byte[4]), "missing 'fortran_order'");
        assertRejected("extra.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", new byte[4]),
                "unexpected keys");
        assertRejected("syntax.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,", new byte[4]),
                "malformed .npy header");
        assertRejected("list-shape.npy", npy(1, dict("<f4", "False", "[2]"), new byte[8]), "shape must be a tuple");
        assertRejected("neg-shape.npy", npy(1, dict("<f4", "False", "(-2,)"), new byte[0]), "non-negative integers");
        assertRejected("str-shape.npy", npy(1, dict("<f4", "False", "('2',)"), new byte[8]), "non-negative integers");
        assertRejected("fortran-str.npy", npy(1, dict("<f4", "'no'", "(2,)"), new byte[8]), "fortran_order must be True or False");
        assertRejected("trailing.npy", npy(1, dict("<f4", "False", "(2,)") + " }", new byte[8]), "after the dict");
        assertRejected("name.npy", npy(1, dict("<f4", "false", "(2,)"), new byte[8]), "unexpected name 'false'");
        assertRejected("huge.npy", npy(1, dict("<f4", "False", "(4611686018427387904, 4)"), new byte[0]), "too large");
    }

    @Test
    void rankCheckNamesTheExpectationAndTheActualShape() {
        Path f = file("x.npy", npy(1, dict("<f4", "False", "(2, 3)"), new byte[24]));
        assertThatThrownBy(() -> Npy.read(f, 4, "input"))
                .isInstanceOf(VitrimException.class)
                .hasMessage(f + ": expected a 4-D float32 array [B,3,H,W] for input, got shape [2, 3]");
        assertThatThrownBy(() -> Npy.read(f, 1, "labels"))
                .isInstanceOf(VitrimException.class)
                .hasMessage(f + ": expected a 1-D float32 array for labels, got shape [2, 3]");
        assertThat(Npy.read(f, 2, "matrix").shape()).containsExactly(2, 3);
    }

    @Test
    void missingFileAndFolder() throws Exception {
        Path missing = dir.resolve("missing.npy");
        assertThatThrownBy(() -> Npy.read(missing)).isInstanceOf(VitrimException.class).hasMessage(missing + ": no such file");
        Path folder = Files.createDirectory(dir.resolve("folder.npy"));
        assertThatThrownBy(() -> Npy.read(folder)).isInstanceOf(VitrimException.class).hasMessageStartingWith(folder + ": ");
    }
}
