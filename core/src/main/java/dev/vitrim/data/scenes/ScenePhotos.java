package dev.vitrim.data.scenes;

import dev.vitrim.VitrimException;
import dev.vitrim.data.DataSource;
import dev.vitrim.image.ImageDecoder;
import dev.vitrim.image.RgbImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The background photos of the scenes data set and their division into training photos (backgrounds of training
 * and validation scenes) and test photos, as listed in the resource {@value #RESOURCE}: one photo per line,
 * {@code <split> <data set>/<file>}, where the data set is one of {@link #SOURCES} fetched by
 * {@code vitrim data fetch scenes}.
 */
public final class ScenePhotos {
    /** The list, a resource of this library. */
    public static final String RESOURCE = "/dev/vitrim/data/scene-photos.txt";
    /** The data sets the photos come from. */
    public static final List<DataSource> SOURCES = List.of(DataSource.PHOTOS, DataSource.SKIMAGE_PHOTOS,
            DataSource.OPENCV_PHOTOS);
    /** Photos whose shorter side is longer are shrunk to it when loaded (crops of 30% are then still over 112 px). */
    static final int MAX_SHORT_SIDE = 384;

    private ScenePhotos() {}

    /** One listed photo: {@code test} for a test photo, else a training photo. */
    public record Entry(boolean test, DataSource source, String file) {
        /** "skimage-photos/coffee.png" */
        public String name() {
            return source.id() + "/" + file;
        }

        public Path path(Path dataRoot) {
            return dataRoot.resolve(source.id()).resolve(file);
        }
    }

    /** A decoded photo, interleaved RGB, shrunk to {@link #MAX_SHORT_SIDE} on its shorter side if larger. */
    record Photo(String name, int width, int height, byte[] rgb) {
        int shortSide() {
            return Math.min(width, height);
        }
    }

    /** Every listed photo, in list order. */
    public static List<Entry> listed() {
        try (InputStream in = ScenePhotos.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource " + RESOURCE + " is missing from the vitrim library");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), RESOURCE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<Entry> parse(String text, String name) {
        List<Entry> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        int lineNo = 0;
        for (String raw : text.split("\n", -1)) {
            lineNo++;
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\\s+");
            int slash = f.length == 2 ? f[1].indexOf('/') : -1;
            if (f.length != 2 || !(f[0].equals("train") || f[0].equals("test")) || slash <= 0) {
                throw new IllegalStateException(name + " line " + lineNo + ": expected '<train|test> <data set>/<file>'"
                        + ", got '" + line + "'");
            }
            DataSource src = DataSource.byId(f[1].substring(0, slash));
            String file = f[1].substring(slash + 1);
            if (!SOURCES.contains(src) || !src.files().contains(file)) {
                throw new IllegalStateException(name + " line " + lineNo + ": " + f[1] + " is not a file that "
                        + "'vitrim data fetch " + src.id() + "' keeps");
            }
            if (!seen.add(f[1])) {
                throw new IllegalStateException(name + " line " + lineNo + ": " + f[1] + " is listed twice");
            }
            out.add(new Entry(f[0].equals("test"), src, file));
        }
        return out;
    }

    /** Decodes the listed photos of one side (test or training) from the data folder, in list order. */
    static List<Photo> load(Path dataRoot, List<Entry> entries, boolean test) {
        List<Entry> mine = entries.stream().filter(e -> e.test() == test).toList();
        if (mine.isEmpty()) {
            throw new IllegalStateException("no " + (test ? "test" : "training") + " photos are listed");
        }
        for (Entry e : mine) {
            Path p = e.path(dataRoot);
            if (!Files.isRegularFile(p)) {
                throw new VitrimException(p + " not found (a background photo of the scenes data set); run "
                        + "'vitrim data fetch scenes' (data folder: " + dataRoot + ", set VITRIM_DATA to use another)");
            }
        }
        return mine.parallelStream().map(e -> shrink(e.name(), ImageDecoder.read(e.path(dataRoot)))).toList();
    }

    static Photo shrink(String name, RgbImage img) {
        int s = Math.min(img.width(), img.height());
        if (s <= MAX_SHORT_SIDE) {
            return new Photo(name, img.width(), img.height(), img.rgb());
        }
        double f = (double) MAX_SHORT_SIDE / s;
        int w = Math.max(1, (int) Math.round(img.width() * f));
        int h = Math.max(1, (int) Math.round(img.height() * f));
        byte[] rgb = Resize.region(img.rgb(), img.width(), 0, 0, img.width(), img.height(), w, h, false, false);
        return new Photo(name, w, h, rgb);
    }
}
