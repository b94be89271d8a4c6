package dev.vitrim.io;

import static dev.vitrim.io.IoSupport.error;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * NumPy {@code .npy} files holding little-endian float32 ({@code '<f4'}) arrays in C order, of any rank.
 *
 * <p>Format: magic {@code \x93NUMPY}, major and minor version bytes, header length (uint16 for version 1.0,
 * uint32 for 2.0), a Python dict literal such as
 * {@code {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }} padded with spaces and ending in a newline,
 * then the raw data.
 */
public final class Npy {
    private Npy() {}

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final int ALIGN = 64;

    /** Reads a float32 array of any rank. */
    public static FloatTensor read(Path file) {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw error(file, "no such file");
        } catch (IOException e) {
            throw error(file, "cannot open: " + IoSupport.describe(e), e);
        }
        try (ch) {
            if (Files.isDirectory(file)) {
                throw error(file, "is a folder, not a .npy file");
            }
            return read(file, ch);
        } catch (IOException e) {
            throw error(file, "cannot read: " + IoSupport.describe(e), e);
        }
    }

    /**
     * Reads a float32 array and checks its rank; {@code what} says what the array is for, in the message
     * ({@code "X.npy: expected a 4-D float32 array [B,3,H,W] for input, got shape [2, 3]"}).
     */
    public static FloatTensor read(Path file, int expectedRank, String what) {
        FloatTensor t = read(file);
        if (t.rank() != expectedRank) {
            String layout = expectedRank == 4 ? " [B,3,H,W]" : "";
            throw error(file, "expected a " + expectedRank + "-D float32 array" + layout + " for " + what
                    + ", got shape " + Arrays.toString(t.shape()));
        }
        return t;
    }

    private static FloatTensor read(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < MAGIC.length + 2) {
            throw error(file, "file is only " + size + " bytes, too short to be a .npy file");
        }
        ByteBuffer pre = ByteBuffer.allocate(MAGIC.length + 2);
        readFully(ch, pre, 0);
        byte[] p = pre.array();
        if (!Arrays.equals(p, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw error(file, "not a .npy file (bad magic, expected \\x93NUMPY)");
        }
        int major = p[6] & 0xFF;
        int minor = p[7] & 0xFF;
        if ((major != 1 && major != 2) || minor != 0) {
            throw error(file, "unsupported .npy format version " + major + "." + minor + " (supported: 1.0, 2.0)");
        }
        int lenBytes = major == 1 ? 2 : 4;
        long headerStart = MAGIC.length + 2 + lenBytes;
        if (size < headerStart) {
            throw error(file, "truncated .npy header");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(lenBytes).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, MAGIC.length + 2);
        long headerLen = major == 1 ? lenBuf.getShort(0) & 0xFFFFL : lenBuf.getInt(0) & 0xFFFFFFFFL;
        if (headerLen > size - headerStart) {
            throw error(file, "truncated .npy header (header length " + headerLen + ", file size " + size + ")");
        }
        if (headerLen > SafeTensorsFile.MAX_HEADER_BYTES) {
            throw error(file, ".npy header length " + headerLen + " is too large");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
        readFully(ch, headerBuf, headerStart);
        // version 1.0 and 2.0 headers are latin-1; a header with other bytes is not one numpy wrote
        String header = new String(headerBuf.array(), StandardCharsets.ISO_8859_1);
        long[] shape = parseHeader(file, header);

        long numel;
        try {
            numel = FloatTensor.numel(shape);
        } catch (ArithmeticException e) {
            throw error(file, "shape " + Arrays.toString(shape) + " is too large");
        }
        if (numel > Integer.MAX_VALUE - 8) {
            throw error(file, "shape " + Arrays.toString(shape) + " has " + numel + " values, too many for one Java array");
        }
        long dataStart = headerStart + headerLen;
        long expected = numel * 4;
        long actual = size - dataStart;
        if (actual < expected) {
            throw error(file, "truncated data: shape " + Arrays.toString(shape) + " needs " + expected
                    + " bytes of float32 data, file has " + actual);
        }
        if (actual > expected) {
            throw error(file, (actual - expected) + " trailing bytes after the data of shape " + Arrays.toString(shape));
        }
        float[] data = new float[(int) numel];
        int done = 0;
        long pos = dataStart;
        while (done < data.length) {
            int count = Math.min(data.length - done, SafeTensorsFile.CHUNK_BYTES / 4);
            ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, pos, (long) count * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().get(data, done, count);
            done += count;
            pos += (long) count * 4;
        }
        return new FloatTensor(shape, data);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos);
            if (r < 0) {
                throw new IOException("unexpected end of file");
            }
            pos += r;
        }
    }

    /** Validates the header dict and returns the shape. */
    static long[] parseHeader(Path file, String header) {
        Object parsed;
        try {
            PyLiteral p = new PyLiteral(header);
            parsed = p.value();
            p.end();
        } catch (IllegalArgumentException e) {
            throw error(file, "malformed .npy header " + quote(header) + ": " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> dict)) {
            throw error(file, "malformed .npy header " + quote(header) + ": not a dict");
        }
        for (String key : List.of("descr", "fortran_order", "shape")) {
            if (!dict.containsKey(key)) {
                throw error(file, "malformed .npy header " + quote(header) + ": missing '" + key + "'");
            }
        }
        if (dict.size() != 3) {
            throw error(file, "malformed .npy header " + quote(header) + ": unexpected keys besides descr, fortran_order, shape");
        }
        Object descr = dict.get("descr");
        if (!"<f4".equals(descr)) {
            String shown = descr instanceof String s ? "'" + s + "'" : String.valueOf(descr);
            throw error(file, "unsupported dtype " + shown + ": expected '<f4' (little-endian float32);"
                    + " convert with array.astype('<f4')");
        }
        Object fortran = dict.get("fortran_order");
        if (!(fortran instanceof Boolean)) {
            throw error(file, "malformed .npy header " + quote(header) + ": fortran_order must be True or False");
        }
        if ((Boolean) fortran) {
            throw error(file, "fortran_order is True: only C-order arrays are supported;"
                    + " save with np.save(f, np.ascontiguousarray(a))");
        }
        Object shapeObj = dict.get("shape");
        if (!(shapeObj instanceof PyTuple tuple)) {
            throw error(file, "malformed .npy header " + quote(header) + ": shape must be a tuple");
        }
        long[] shape = new long[tuple.items().size()];
        for (int i = 0; i < shape.length; i++) {
            if (!(tuple.items().get(i) instanceof Long d) || d < 0) {
                throw error(file, "malformed .npy header " + quote(header) + ": shape must be a tuple of non-negative integers");
            }
            shape[i] = d;
        }
        return shape;
    }

    private static String quote(String header) {
        String s = IoSupport.oneLine(header);
        return s.length() > 100 ? s.substring(0, 97) + "..." : s;
    }

    /** Writes a version 1.0 file: {@code '<f4'}, C order, data starting at a multiple of 64 bytes. */
    public static void write(Path file, FloatTensor t) {
        byte[] header = header(t.shape());
        IoSupport.writeAtomically(file, ch -> {
            IoSupport.writeFully(ch, ByteBuffer.wrap(header));
            ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            float[] data = t.data();
            int done = 0;
            while (done < data.length) {
                int count = Math.min(data.length - done, buf.capacity() / 4);
                buf.clear();
                buf.asFloatBuffer().put(data, done, count);
                buf.limit(count * 4);
                IoSupport.writeFully(ch, buf);
                done += count;
            }
        });
    }

    /** Magic, version, length and the padded dict, exactly as numpy writes them (without its growth padding). */
    static byte[] header(long[] shape) {
        StringBuilder dict = new StringBuilder("{'descr': '<f4', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                dict.append(", ");
            }
            dict.append(shape[i]);
        }
        if (shape.length == 1) {
            dict.append(',');
        }
        dict.append("), }");
        int prefix = MAGIC.length + 2 + 2;
        int total = (prefix + dict.length() + 1 + ALIGN - 1) / ALIGN * ALIGN; // +1 for the newline
        int headerLen = total - prefix;
        if (headerLen > 0xFFFF) {
            throw new IllegalArgumentException("shape too long for a version 1.0 .npy header: " + Arrays.toString(shape));
        }
        while (dict.length() < headerLen - 1) {
            dict.append(' ');
        }
        dict.append('\n');
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) headerLen);
        b.put(dict.toString().getBytes(StandardCharsets.ISO_8859_1));
        return b.array();
    }

    /** A Python tuple, to tell {@code (2, 3)} from {@code [2, 3]}. */
    record PyTuple(List<Object> items) {}

    /**
     * Parses the subset of Python literals that .npy headers use: dicts, tuples, lists, strings, integers (with
     * Python 2's {@code L} suffix), True, False and None.
     */
    static final class PyLiteral {
        private final String s;
        private int i;

        PyLiteral(String s) {
            this.s = s;
        }

        void end() {
            skipSpace();
            if (i != s.length()) {
                throw new IllegalArgumentException("unexpected " + found() + " after the dict");
            }
        }

        Object value() {
            skipSpace();
            if (i >= s.length()) {
                throw new IllegalArgumentException("unexpected end of header");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{':
                    return dict();
                case '(':
                    return new PyTuple(sequence('(', ')'));
                case '[':
                    return sequence('[', ']');
                case '\'':
                case '"':
                    return string();
                default:
                    if (c == '-' || c == '+' || Character.isDigit(c)) {
                        return integer();
                    }
                    if (Character.isLetter(c)) {
                        return word();
                    }
                    throw new IllegalArgumentException("unexpected " + found());
            }
        }

        private Map<Object, Object> dict() {
            i++; // {
            Map<Object, Object> out = new LinkedHashMap<>();
            while (true) {
                skipSpace();
                if (peek() == '}') {
                    i++;
                    return out;
                }
                Object key = value();
                skipSpace();
                expect(':');
                Object v = value();
                if (out.put(key, v) != null) {
                    throw new IllegalArgumentException("duplicate key " + key);
                }
                skipSpace();
                if (peek() == ',') {
                    i++;
                } else if (peek() != '}') {
                    throw new IllegalArgumentException("expected ',' or '}' but found " + found());
                }
            }
        }

        private List<Object> sequence(char open, char close) {
            i++; // open
            List<Object> out = new ArrayList<>();
            while (true) {
                skipSpace();
                if (peek() == close) {
                    i++;
                    return out;
                }
                out.add(value());
                skipSpace();
                if (peek() == ',') {
                    i++;
                } else if (peek() != close) {
                    throw new IllegalArgumentException("expected ',' or '" + close + "' but found " + found());
                }
            }
        }

        private String string() {
            char q = s.charAt(i++);
            StringBuilder b = new StringBuilder();
            while (i < s.length() && s.charAt(i) != q) {
                char c = s.charAt(i++);
                if (c == '\\' && i < s.length()) {
                    c = s.charAt(i++);
                }
                b.append(c);
            }
            if (i >= s.length()) {
                throw new IllegalArgumentException("unterminated string");
            }
            i++; // closing quote
            return b.toString();
        }

        private Long integer() {
            int start = i;
            if (s.charAt(i) == '-' || s.charAt(i) == '+') {
                i++;
            }
            while (i < s.length() && Character.isDigit(s.charAt(i))) {
                i++;
            }
            String digits = s.substring(start, i);
            if (i < s.length() && (s.charAt(i) == 'L' || s.charAt(i) == 'l')) {
                i++;
            }
            try {
                return Long.parseLong(digits);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad integer '" + digits + "'");
            }
        }

        private Object word() {
            int start = i;
            while (i < s.length() && Character.isLetterOrDigit(s.charAt(i))) {
                i++;
            }
            String w = s.substring(start, i);
            switch (w) {
                case "True":
                    return Boolean.TRUE;
                case "False":
                    return Boolean.FALSE;
                case "None":
                    return PyNone.NONE;
                default:
                    throw new IllegalArgumentException("unexpected name '" + w + "'");
            }
        }

        private void expect(char c) {
            if (peek() != c) {
                throw new IllegalArgumentException("expected '" + c + "' but found " + found());
            }
            i++;
        }

        private char peek() {
            if (i >= s.length()) {
                throw new IllegalArgumentException("unexpected end of header");
            }
            return s.charAt(i);
        }

        private String found() {
            return i >= s.length() ? "end of header" : "'" + s.charAt(i) + "' at position " + i;
        }

        private void skipSpace() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }
    }

    /** Python's None (so that a map value can be told from an absent key). */
    enum PyNone { NONE }
}
