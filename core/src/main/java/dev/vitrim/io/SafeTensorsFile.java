package dev.vitrim.io;

import static dev.vitrim.io.IoSupport.error;
import static dev.vitrim.io.IoSupport.show;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vitrim.VitrimException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One {@code .safetensors} file, read through memory mappings: the header is parsed and fully validated when the
 * file is opened, and each tensor's bytes are converted to floats only when asked for.
 *
 * <p>Format: 8 bytes little-endian unsigned header length N, N bytes of UTF-8 JSON header, then the data section.
 * The header maps tensor names to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to
 * the data section) and may hold {@code "__metadata__"}, a map of strings. Validation is strict: the tensors must
 * tile the data section exactly, with no overlaps, gaps or trailing bytes.
 *
 * <p>Instances are safe for concurrent reads.
 */
public final class SafeTensorsFile implements TensorSource {

    /** Largest header accepted, as in the reference implementation. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    /** Data sections up to this size are mapped once; larger ones are mapped per tensor, in chunks. */
    private static final long WHOLE_MAPPING_LIMIT = Integer.MAX_VALUE - 8;

    /** Chunk size for converting very large tensors (a multiple of 8 so no element straddles two chunks). */
    static final int CHUNK_BYTES = 1 << 30;

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final long dataLength;
    private final Map<String, Entry> entries; // sorted by name
    private final SortedSet<String> names;
    private final Map<String, String> metadata;
    private final MappedByteBuffer whole; // null when the data section is too big for one mapping
    private final int chunkBytes;
    private volatile boolean closed;

    /** A tensor's header entry: its info and its byte range in the data section. */
    private record Entry(TensorInfo info, long begin, long end) {}

    private SafeTensorsFile(Path file, FileChannel channel, long dataStart, long dataLength,
            Map<String, Entry> entries, Map<String, String> metadata, MappedByteBuffer whole, int chunkBytes) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.dataLength = dataLength;
        this.entries = entries;
        this.names = Collections.unmodifiableSortedSet(new TreeSet<>(entries.keySet()));
        this.metadata = metadata;
        this.whole = whole;
        this.chunkBytes = chunkBytes;
    }

    /** Opens and validates a safetensors file. */
    public static SafeTensorsFile open(Path file) {
        return open(file, WHOLE_MAPPING_LIMIT, CHUNK_BYTES);
    }

    /**
     * Opens with explicit mapping limits (for tests): data sections up to {@code wholeMappingLimit} bytes are mapped
     * once, larger ones per tensor; tensors are converted {@code chunkBytes} (a multiple of 8) at a time.
     */
    static SafeTensorsFile open(Path file, long wholeMappingLimit, int chunkBytes) {
        if (chunkBytes <= 0 || chunkBytes % 8 != 0 || wholeMappingLimit > WHOLE_MAPPING_LIMIT) {
            throw new IllegalArgumentException("bad mapping limits " + wholeMappingLimit + ", " + chunkBytes);
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw error(file, "no such file");
        } catch (IOException e) {
            throw error(file, "cannot open: " + IoSupport.describe(e), e);
        }
        try {
            if (Files.isDirectory(file)) {
                throw error(file, "is a folder, not a safetensors file");
            }
            return read(file, ch, wholeMappingLimit, chunkBytes);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        } catch (IOException e) {
            closeQuietly(ch);
            throw error(file, "cannot read: " + IoSupport.describe(e), e);
        }
    }

    private static SafeTensorsFile read(Path file, FileChannel ch, long wholeMappingLimit, int chunkBytes) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw error(file, "file is only " + size + " bytes, too short to be a safetensors file (needs an 8-byte header length)");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long n = lenBuf.getLong(0);
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw error(file, "header length " + Long.toUnsignedString(n) + " exceeds the limit of " + MAX_HEADER_BYTES
                    + " bytes (not a safetensors file?)");
        }
        if (n > size - 8) {
            throw error(file, "header length " + n + " exceeds the file size (" + size
                    + " bytes): not a safetensors file, or truncated");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) n);
        readFully(ch, headerBuf, 8);
        String json = IoSupport.decodeUtf8(file, headerBuf.array(), "header");
        JsonNode root = IoSupport.parseJson(file, json, "header");
        if (!root.isObject()) {
            throw error(file, "header is not a JSON object but " + show(root));
        }
        long dataStart = 8 + n;
        long dataLength = size - dataStart;

        Map<String, String> metadata = Map.of();
        Map<String, Entry> entries = new TreeMap<>();
        Iterator<Map.Entry<String, JsonNode>> fields = root.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> f = fields.next();
            if (f.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(file, f.getValue());
            } else {
                Entry e = parseEntry(file, f.getKey(), f.getValue(), dataLength);
                entries.put(e.info().name(), e);
            }
        }
        checkLayout(file, entries, dataLength);

        MappedByteBuffer whole = null;
        if (dataLength <= wholeMappingLimit) {
            whole = ch.map(FileChannel.MapMode.READ_ONLY, dataStart, dataLength);
        }
        return new SafeTensorsFile(file, ch, dataStart, dataLength, Collections.unmodifiableMap(entries), metadata, whole, chunkBytes);
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) {
        if (!node.isObject()) {
            throw error(file, "__metadata__ must be an object of strings, got " + show(node));
        }
        Map<String, String> out = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> m = it.next();
            if (!m.getValue().isTextual()) {
                throw error(file, "__metadata__ value for key '" + m.getKey() + "' must be a string, got " + show(m.getValue()));
            }
            out.put(m.getKey(), m.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static Entry parseEntry(Path file, String name, JsonNode node, long dataLength) {
        String t = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw error(file, t + ": header entry must be an object with dtype, shape and data_offsets, got " + show(node));
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null) {
            throw error(file, t + ": header entry is missing 'dtype'");
        }
        if (!dtypeNode.isTextual()) {
            throw error(file, t + ": 'dtype' must be a string, got " + show(dtypeNode));
        }
        DType dtype;
        try {
            dtype = DType.parse(dtypeNode.textValue());
        } catch (VitrimException e) {
            throw error(file, t + " has unknown dtype '" + dtypeNode.textValue() + "'");
        }

        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null) {
            throw error(file, t + ": header entry is missing 'shape'");
        }
        if (!shapeNode.isArray()) {
            throw error(file, t + ": 'shape' must be an array of integers, got " + show(shapeNode));
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong()) {
                throw error(file, t + ": 'shape' must be an array of integers, got " + show(shapeNode));
            }
            shape[i] = d.longValue();
            if (shape[i] < 0) {
                throw error(file, t + ": negative dimension in shape " + show(shapeNode));
            }
        }

        JsonNode offNode = node.get("data_offsets");
        if (offNode == null) {
            throw error(file, t + ": header entry is missing 'data_offsets'");
        }
        if (!offNode.isArray() || offNode.size() != 2) {
            throw error(file, t + ": 'data_offsets' must be [begin, end], got " + show(offNode));
        }
        for (JsonNode o : offNode) {
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.longValue() < 0) {
                throw error(file, t + ": 'data_offsets' must be two non-negative integers [begin, end], got " + show(offNode));
            }
        }
        long begin = offNode.get(0).longValue();
        long end = offNode.get(1).longValue();
        if (begin > end) {
            throw error(file, t + ": data_offsets " + show(offNode) + " have begin > end");
        }
        if (end > dataLength) {
            throw error(file, t + ": data_offsets " + show(offNode) + " extend beyond the data section (" + dataLength
                    + " bytes): file truncated?");
        }
        TensorInfo info = new TensorInfo(name, dtype, shape);
        long expected;
        try {
            expected = info.byteSize();
        } catch (ArithmeticException e) {
            throw error(file, t + ": shape " + info.shapeString() + " is too large");
        }
        if (expected != end - begin) {
            throw error(file, t + ": shape " + info.shapeString() + " of " + dtype + " needs " + expected
                    + " bytes but data_offsets " + show(offNode) + " span " + (end - begin));
        }
        return new Entry(info, begin, end);
    }

    /** The tensors must tile the data section: sorted by offset, each starts where the previous one ended. */
    private static void checkLayout(Path file, Map<String, Entry> entries, long dataLength) {
        List<Entry> byOffset = new ArrayList<>(entries.values());
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long cursor = 0;
        Entry previous = null;
        for (Entry e : byOffset) {
            if (e.begin() < cursor) {
                throw error(file, "tensors '" + previous.info().name() + "' and '" + e.info().name()
                        + "' overlap in the data section (bytes " + e.begin() + ".." + cursor + ")");
            }
            if (e.begin() > cursor) {
                throw error(file, "gap of " + (e.begin() - cursor) + " bytes in the data section before tensor '"
                        + e.info().name() + "' (at offset " + cursor + ")");
            }
            cursor = e.end();
            previous = e;
        }
        if (cursor != dataLength) {
            throw error(file, (dataLength - cursor) + " trailing bytes after the last tensor in the data section"
                    + " (data section is " + dataLength + " bytes, tensors cover " + cursor + ")");
        }
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

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing useful to report
        }
    }

    @Override
    public SortedSet<String> names() {
        return names;
    }

    @Override
    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        return entry(name).info();
    }

    /** All tensors' infos, sorted by name. */
    public List<TensorInfo> infos() {
        List<TensorInfo> out = new ArrayList<>(entries.size());
        for (Entry e : entries.values()) {
            out.add(e.info());
        }
        return Collections.unmodifiableList(out);
    }

    private Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw error(file, "no tensor named '" + name + "'");
        }
        return e;
    }

    @Override
    public float[] floats(String name) {
        Entry e = entry(name);
        TensorInfo info = e.info();
        DType dtype = info.dtype();
        if (!dtype.isFloat()) {
            throw error(file, "tensor '" + name + "' has dtype " + dtype + ", expected a float dtype (F32, F16, BF16 or F64)");
        }
        long numel = info.numel();
        if (numel > Integer.MAX_VALUE - 8) {
            throw error(file, "tensor '" + name + "' has " + numel + " values, too many for one Java array");
        }
        if (closed) {
            throw new IllegalStateException(file + ": already closed");
        }
        float[] out = new float[(int) numel];
        int elemSize = dtype.byteSize();
        int done = 0;
        long pos = e.begin();
        while (done < out.length) {
            int count = Math.min(out.length - done, chunkBytes / elemSize);
            ByteBuffer buf = region(pos, (long) count * elemSize);
            convert(dtype, buf, out, done, count);
            done += count;
            pos += (long) count * elemSize;
        }
        return out;
    }

    /** A little-endian view of {@code length} bytes at {@code offset} within the data section. */
    private ByteBuffer region(long offset, long length) {
        ByteBuffer b;
        if (whole != null) {
            b = whole.slice((int) offset, (int) length);
        } else {
            try {
                b = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + offset, length);
            } catch (IOException e) {
                throw error(file, "cannot map " + length + " bytes at offset " + (dataStart + offset) + ": "
                        + IoSupport.describe(e), e);
            }
        }
        return b.order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void convert(DType dtype, ByteBuffer buf, float[] out, int off, int count) {
        switch (dtype) {
            case F32 -> {
                FloatBuffer fb = buf.asFloatBuffer();
                fb.get(out, off, count);
            }
            case F64 -> {
                DoubleBuffer db = buf.asDoubleBuffer();
                for (int i = 0; i < count; i++) {
                    out[off + i] = (float) db.get(i);
                }
            }
            case F16 -> {
                ShortBuffer sb = buf.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    out[off + i] = HalfFloats.f16ToFloat(sb.get(i));
                }
            }
            case BF16 -> {
                ShortBuffer sb = buf.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    out[off + i] = HalfFloats.bf16ToFloat(sb.get(i));
                }
            }
            default -> throw new IllegalArgumentException("not a float dtype: " + dtype);
        }
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public Path path() {
        return file;
    }

    /** Size of the data section in bytes. */
    public long dataLength() {
        return dataLength;
    }

    /**
     * Closes the file. The JVM releases mappings only when they are garbage collected, so arrays already returned
     * stay valid and nothing else needs to happen; reading after close is an {@link IllegalStateException}.
     */
    @Override
    public void close() {
        closed = true;
        closeQuietly(channel);
    }

    @Override
    public String toString() {
        return "SafeTensorsFile[" + file + ", " + entries.size() + " tensors]";
    }
}
