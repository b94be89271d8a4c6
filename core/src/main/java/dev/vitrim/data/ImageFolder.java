package dev.vitrim.data;

import dev.vitrim.VitrimException;
import dev.vitrim.image.ImageDecoder;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.image.RgbImage;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

/**
 * A folder with one sub-folder per class ({@code PATH/<class>/<image>}), as torchvision's ImageFolder: classes
 * are the sub-folder names in sorted order; images are the files with an image extension (.jpg, .jpeg, .png,
 * .bmp, .gif, any case) decoded by {@link ImageDecoder}; hidden files and folders are skipped. Every image goes
 * through timm's evaluation resize and centre crop to the model's input size when loaded (so memory is
 * {@code 3 x size x size} bytes per image).
 */
public final class ImageFolder {
    private static final Set<String> EXTENSIONS = Set.of("jpg", "jpeg", "png", "bmp", "gif");

    private ImageFolder() {}

    /** A listed folder: class names and the image files of each. */
    public record Listing(Path root, List<String> classes, List<Path> files, int[] labels) {}

    public static Listing list(Path root) {
        String where = "folder:" + root;
        if (!Files.isDirectory(root)) {
            throw new VitrimException(where + ": " + (Files.exists(root) ? "is not a folder" : "no such folder"));
        }
        List<Path> dirs = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path p : ds) {
                if (Files.isDirectory(p) && !p.getFileName().toString().startsWith(".")) {
                    dirs.add(p);
                }
            }
        } catch (IOException e) {
            throw new VitrimException(where + ": cannot list (" + e.getMessage() + ")", e);
        }
        dirs.sort(null);
        if (dirs.isEmpty()) {
            throw new VitrimException(where + ": has no class sub-folders (expected PATH/<class>/<image>)");
        }
        if (dirs.size() < 2) {
            throw new VitrimException(where + ": has only one class ('" + dirs.get(0).getFileName()
                    + "'); training a classifier needs at least two class sub-folders");
        }
        List<String> classes = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        for (int c = 0; c < dirs.size(); c++) {
            Path d = dirs.get(c);
            classes.add(d.getFileName().toString());
            List<Path> imgs = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) {
                for (Path p : ds) {
                    String n = p.getFileName().toString();
                    int dot = n.lastIndexOf('.');
                    if (n.startsWith(".") || dot < 0 || !Files.isRegularFile(p)) {
                        continue;
                    }
                    if (EXTENSIONS.contains(n.substring(dot + 1).toLowerCase(Locale.ROOT))) {
                        imgs.add(p);
                    }
                }
            } catch (IOException e) {
                throw new VitrimException(d + ": cannot list (" + e.getMessage() + ")", e);
            }
            if (imgs.isEmpty()) {
                throw new VitrimException(where + ": class folder '" + d.getFileName() + "' has no images (.jpg, "
                        + ".jpeg, .png, .bmp, .gif)");
            }
            imgs.sort(null);
            for (Path p : imgs) {
                files.add(p);
                labels.add(c);
            }
        }
        return new Listing(root, classes, files, labels.stream().mapToInt(Integer::intValue).toArray());
    }

    /** Decodes and resizes the listed images with the given indices to {@code pre.size()} square RGB. */
    public static LabeledImages load(Listing l, int[] indices, PreprocessConfig pre, String name) {
        int s = pre.size();
        int n = 3 * s * s;
        byte[] px = new byte[indices.length * n];
        int[] labels = new int[indices.length];
        AtomicReference<RuntimeException> failure = new AtomicReference<>();
        IntStream.range(0, indices.length).parallel().forEach(k -> {
            if (failure.get() != null) {
                return;
            }
            try {
                Path f = l.files().get(indices[k]);
                RgbImage img = ImageTransform.resize(ImageDecoder.read(f), pre);
                byte[] rgb = img.rgb();
                int base = k * n;
                for (int p = 0; p < s * s; p++) {
                    px[base + p] = rgb[3 * p];
                    px[base + s * s + p] = rgb[3 * p + 1];
                    px[base + 2 * s * s + p] = rgb[3 * p + 2];
                }
                labels[k] = l.labels()[indices[k]];
            } catch (RuntimeException e) {
                failure.compareAndSet(null, e);
            }
        });
        if (failure.get() != null) {
            throw failure.get();
        }
        return new LabeledImages(name, l.classes(), 3, s, s, px, labels);
    }
}
