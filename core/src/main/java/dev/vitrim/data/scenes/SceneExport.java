package dev.vitrim.data.scenes;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.vitrim.VitrimException;
import dev.vitrim.coco.Rle;
import dev.vitrim.data.Datasets;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import javax.imageio.ImageIO;

/**
 * Writes scenes to a folder in COCO form: {@code images/<name>.png} (RGB), {@code labels/<name>.png} (8-bit grey:
 * 0 background, 1..10 the Fashion-MNIST class + 1, 255 ignore) and {@code instances.json} with images,
 * categories (ids 1..10) and annotations whose {@code segmentation} is an compressed RLE
 * ({@code {"size": [h, w], "counts": [...]}}: run lengths in column-major order, starting with a run of zeros).
 * Scene {@code i} is named {@code %06d.png} and has image id {@code i + 1}.
 */
public final class SceneExport {
    private SceneExport() {}

    /** What to export: scenes {@code 0..count-1} of a split with a seed. */
    public record Request(SceneSplit split, long seed, boolean single, int count) {}

    /** Writes the scenes into {@code dir} (which must be new or empty); {@code progress} gets occasional lines. */
    public static void write(SceneGenerator gen, Request req, Path dir, Consumer<String> progress) {
        if (req.count() < 1) {
            throw new VitrimException("scene count: must be positive, got " + req.count());
        }
        Path images = dir.resolve("images");
        Path labels = dir.resolve("labels");
        Path json = dir.resolve("instances.json");
        try {
            if (Files.isDirectory(dir)) {
                try (var s = Files.list(dir)) {
                    if (s.findAny().isPresent()) {
                        throw new VitrimException(dir + ": the folder is not empty; export into a new folder");
                    }
                }
            } else if (Files.exists(dir)) {
                throw new VitrimException(dir + ": exists and is not a folder");
            }
            Files.createDirectories(images);
            Files.createDirectories(labels);
        } catch (IOException e) {
            throw new VitrimException(dir + ": cannot create the folder (" + e.getMessage() + ")", e);
        }
        int step = Math.max(1, req.count() / 10);
        try (JsonGenerator g = new JsonFactory().createGenerator(json.toFile(), JsonEncoding.UTF8)) {
            g.writeStartObject();
            g.writeObjectFieldStart("info");
            g.writeStringField("description", "vitrim scenes" + (req.single() ? "-1" : "") + ":" + req.split().id()
                    + ": Fashion-MNIST items pasted on photos");
            g.writeStringField("split", req.split().id());
            g.writeNumberField("seed", req.seed());
            g.writeBooleanField("single", req.single());
            g.writeEndObject();
            g.writeArrayFieldStart("categories");
            for (int c = 0; c < Datasets.FASHION.size(); c++) {
                g.writeStartObject();
                g.writeNumberField("id", c + 1);
                g.writeStringField("name", Datasets.FASHION.get(c));
                g.writeStringField("supercategory", "fashion");
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("images");
            List<Ann> anns = new ArrayList<>();
            for (int i = 0; i < req.count(); i++) {
                Scene s = gen.generate(req.split(), i, req.seed(), req.single());
                String name = name(i);
                writeRgb(s, images.resolve(name));
                writeGrey(s.labels(), s.width(), s.height(), labels.resolve(name));
                g.writeStartObject();
                g.writeNumberField("id", i + 1);
                g.writeStringField("file_name", name);
                g.writeNumberField("height", s.height());
                g.writeNumberField("width", s.width());
                g.writeStringField("photo", s.photo());
                g.writeEndObject();
                for (int k = 0; k < s.instances().size(); k++) {
                    anns.add(new Ann(i + 1, s.height(), s.width(), s.instances().get(k),
                            Rle.encode(s.mask(k), s.height(), s.width()).toCompressedString()));
                }
                if ((i + 1) % step == 0 || i + 1 == req.count()) {
                    progress.accept(String.format(Locale.ROOT, "%,d / %,d scenes", i + 1, req.count()));
                }
            }
            g.writeEndArray();
            g.writeArrayFieldStart("annotations");
            long annId = 1;
            for (Ann a : anns) {
                Instance in = a.instance();
                g.writeStartObject();
                g.writeNumberField("id", annId++);
                g.writeNumberField("image_id", a.imageId());
                g.writeNumberField("category_id", in.category() + 1);
                g.writeArrayFieldStart("bbox");
                for (double v : in.bbox()) {
                    g.writeNumber(v);
                }
                g.writeEndArray();
                g.writeNumberField("area", in.area());
                g.writeNumberField("iscrowd", 0);
                g.writeObjectFieldStart("segmentation");
                g.writeArrayFieldStart("size");
                g.writeNumber(a.height());
                g.writeNumber(a.width());
                g.writeEndArray();
                g.writeStringField("counts", a.counts());
                g.writeEndObject();
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new VitrimException(json + ": cannot write (" + e.getMessage() + ")", e);
        }
    }

    private record Ann(int imageId, int height, int width, Instance instance, String counts) {}

    /** "000042.png" */
    public static String name(int index) {
        return String.format(Locale.ROOT, "%06d.png", index);
    }

    private static void writeRgb(Scene s, Path file) throws IOException {
        int w = s.width();
        int h = s.height();
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        byte[] dst = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        int plane = w * h;
        byte[] rgb = s.rgb();
        for (int i = 0; i < plane; i++) {
            dst[3 * i] = rgb[2 * plane + i];
            dst[3 * i + 1] = rgb[plane + i];
            dst[3 * i + 2] = rgb[i];
        }
        write(img, file);
    }

    private static void writeGrey(byte[] grey, int w, int h, Path file) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        byte[] dst = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        System.arraycopy(grey, 0, dst, 0, w * h);
        write(img, file);
    }

    private static void write(BufferedImage img, Path file) throws IOException {
        if (!ImageIO.write(img, "png", file.toFile())) {
            throw new VitrimException(file + ": no PNG writer available");
        }
    }
}
