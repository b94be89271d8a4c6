package dev.vitrim.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Writes safetensors files: tensors sorted by name and stored contiguously in that order, header JSON padded with
 * spaces to a multiple of 8 bytes (so the data section is 8-byte aligned), {@code __metadata__} first when present.
 * The file is written atomically: to a temporary file in the same folder, then renamed over the target.
 */
public final class SafeTensorsWriter {
    private SafeTensorsWriter() {}

    private static final int BUFFER_BYTES = 1 << 20;

    /** Writes F32 tensors. */
    public static void write(Path file, Map<String, String> metadata, Map<String, FloatTensor> tensors) {
        write(file, metadata, tensors, DType.F32);
    }

    /**
     * Writes the tensors in the given float dtype: F32 as is, F16 or BF16 rounded to nearest even (F16 overflows to
     * infinity). {@code metadata} may be null or empty (no {@code __metadata__} is written then).
     *
     * @throws IllegalArgumentException for a non-float-32/16 dtype, or a tensor named {@code __metadata__}
     * @throws VitrimException if the file cannot be written
     */
    public static void write(Path file, Map<String, String> metadata, Map<String, FloatTensor> tensors, DType dtype) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(tensors, "tensors");
        Objects.requireNonNull(dtype, "dtype");
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("SafeTensorsWriter writes F32, F16 or BF16, not " + dtype);
        }
        TreeMap<String, FloatTensor> sorted = new TreeMap<>(tensors);
        if (sorted.containsKey(SafeTensorsFile.METADATA_KEY)) {
            throw new IllegalArgumentException("a tensor cannot be named " + SafeTensorsFile.METADATA_KEY);
        }
        byte[] header = header(metadata, sorted, dtype);
        IoSupport.writeAtomically(file, ch -> {
            ByteBuffer buf = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            buf.putLong(header.length);
            IoSupport.writeFully(ch, buf.flip());
            IoSupport.writeFully(ch, ByteBuffer.wrap(header));
            for (FloatTensor t : sorted.values()) {
                writeData(ch, buf, t.data(), dtype);
            }
        });
    }

    /** The header JSON bytes, padded with spaces to a multiple of 8. */
    static byte[] header(Map<String, String> metadata, TreeMap<String, FloatTensor> sorted, DType dtype) {
        ObjectNode root = IoSupport.JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafeTensorsFile.METADATA_KEY);
            new TreeMap<>(metadata).forEach((k, v) -> meta.put(k, Objects.requireNonNull(v, "metadata value of " + k)));
        }
        long offset = 0;
        for (Map.Entry<String, FloatTensor> e : sorted.entrySet()) {
            FloatTensor t = e.getValue();
            long bytes = (long) t.data().length * dtype.byteSize();
            ObjectNode entry = root.putObject(e.getKey());
            entry.put("dtype", dtype.name());
            ArrayNode shape = entry.putArray("shape");
            Arrays.stream(t.shape()).forEach(shape::add);
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json;
        try {
            json = IoSupport.JSON.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeData(FileChannel ch, ByteBuffer buf, float[] data, DType dtype) throws IOException {
        buf.clear();
        for (float v : data) {
            if (buf.remaining() < 4) {
                IoSupport.writeFully(ch, buf.flip());
                buf.clear();
            }
            switch (dtype) {
                case F32 -> buf.putFloat(v);
                case F16 -> buf.putShort(HalfFloats.floatToF16(v));
                case BF16 -> buf.putShort(HalfFloats.floatToBf16(v));
                default -> throw new IllegalStateException(dtype.name());
            }
        }
        IoSupport.writeFully(ch, buf.flip());
    }
}
