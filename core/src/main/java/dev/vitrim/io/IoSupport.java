package dev.vitrim.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.VitrimException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Helpers shared by the readers and writers of this package. */
final class IoSupport {
    private IoSupport() {}

    /** Jackson mapper that rejects duplicate keys and anything after the top-level value. */
    static final ObjectMapper STRICT_JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** Plain mapper for writing headers (key order is insertion order). */
    static final ObjectMapper JSON = new ObjectMapper();

    static VitrimException error(Path file, String problem) {
        return new VitrimException(file + ": " + problem);
    }

    static VitrimException error(Path file, String problem, Throwable cause) {
        return new VitrimException(file + ": " + problem, cause);
    }

    /** Describes an I/O failure in one line. */
    static String describe(IOException e) {
        String m = e.getMessage();
        String kind = e.getClass().getSimpleName();
        return oneLine(m == null ? kind : kind + " " + m);
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
    }

    /** Decodes strict UTF-8 (malformed input is an error, not replaced). */
    static String decodeUtf8(Path file, byte[] bytes, String what) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw error(file, what + " is not valid UTF-8");
        }
    }

    /** Parses JSON strictly; duplicate keys, syntax errors and trailing content give a one-line error. */
    static JsonNode parseJson(Path file, String json, String what) {
        try {
            JsonNode node = STRICT_JSON.readTree(json);
            if (node == null || node.isMissingNode()) {
                throw error(file, what + " is empty, expected a JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            String orig = oneLine(e.getOriginalMessage());
            if (orig.startsWith("Duplicate field")) {
                throw error(file, what + " has a duplicate key: " + orig.substring("Duplicate field".length()).strip(), e);
            }
            String loc = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() + ")";
            throw error(file, what + " is not valid JSON: " + orig + loc, e);
        }
    }

    /** A short, quoted rendering of a JSON node for error messages. */
    static String show(JsonNode n) {
        String s = n == null ? "nothing" : n.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    /** Writes content produced by {@code body}. */
    interface Body {
        void writeTo(FileChannel channel) throws IOException;
    }

    /**
     * Writes a file atomically: the content goes to a temporary file in the same folder, which is flushed to disk
     * and then renamed over {@code file} (ATOMIC_MOVE). Readers never see a partial file; on failure no temporary
     * file is left behind. Missing parent folders are created.
     */
    static void writeAtomically(Path file, Body body) {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = null;
        try {
            if (dir != null) {
                Files.createDirectories(dir);
            }
            tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
            try { // createTempFile makes it owner-only; a model or data file should be readable like any other
                Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                body.writeTo(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
        } catch (IOException e) {
            throw error(file, "cannot write: " + describe(e), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort: the write already failed and that is what gets reported
                }
            }
        }
    }

    /** Writes all remaining bytes of {@code buf}. */
    static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

}
