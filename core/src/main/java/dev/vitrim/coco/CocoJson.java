package dev.vitrim.coco;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * COCO object-detection files: a ground-truth {@code instances.json} and a results file.
 *
 * <p>Ground truth: {@code {"images":[{id, file_name, height, width}], "categories":[{id, name}],
 * "annotations":[{id, image_id, category_id, bbox:[x,y,w,h], area, iscrowd, segmentation}]}}; other fields are
 * ignored. {@code iscrowd} defaults to 0, {@code file_name} and {@code name} are optional, a missing or empty
 * {@code segmentation} is allowed (segm evaluation then refuses the annotation). A segmentation is a list of
 * polygons {@code [[x0,y0,x1,y1,...],...]} (at least 3 points each), an uncompressed RLE
 * {@code {"size":[h,w],"counts":[...]}} or a compressed RLE {@code {"size":[h,w],"counts":"..."}}; an RLE's size
 * must be its image's height and width.
 *
 * <p>Results: {@code [{image_id, category_id, bbox:[x,y,w,h], score[, segmentation]}, ...]}; a result may give a
 * segmentation instead of a bbox. As in the COCO API, the first entry decides: if it has a bbox, every entry needs
 * one (and its area is w*h), otherwise every entry needs a segmentation (and its area is the mask's).
 *
 * <p>Every problem is a {@link VitrimException} with one line naming the file and the entry: annotations,
 * images and categories by id, results by their position in the array, counting from 0.
 */
public final class CocoJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private CocoJson() {}

    /** An image: id, file name (null if absent), height and width in pixels. */
    public record Image(long id, String fileName, int height, int width) implements java.io.Serializable {}

    /** A category: id and name (null if absent). */
    public record Category(long id, String name) {}

    /** A segmentation as written in the file: {@link Polygons} or {@link Mask}. */
    public sealed interface Segmentation extends java.io.Serializable permits Polygons, Mask {}

    /** Polygons {@code [x0, y0, x1, y1, ...]} of one object; their union is the mask. */
    public record Polygons(List<double[]> polygons) implements Segmentation {}

    /** An RLE mask; {@code compressed} says whether it is written as COCO's string form. */
    public record Mask(Rle rle, boolean compressed) implements Segmentation {}

    /**
     * A ground-truth object. {@code bbox} is {@code [x, y, w, h]}; {@code area} is the file's (COCO's evaluation
     * uses it for the area ranges); {@code segmentation} may be null.
     */
    public record Annotation(long id, long imageId, long categoryId, double[] bbox, double area, boolean crowd,
            Segmentation segmentation) implements java.io.Serializable {}

    /** A ground-truth file; {@code source} names it in messages. */
    public record Dataset(String source, List<Image> images, List<Category> categories,
            List<Annotation> annotations) {}

    /** A detection; {@code bbox} ({@code [x, y, w, h]}) or {@code segmentation} may be null, not both. */
    public record Detection(long imageId, long categoryId, double[] bbox, double score, Segmentation segmentation)
            implements java.io.Serializable {}

    /** The mask of a segmentation in an image of the given size. */
    public static Rle toRle(Segmentation s, int height, int width) {
        if (s instanceof Mask m) {
            if (m.rle().height() != height || m.rle().width() != width) {
                throw new IllegalArgumentException("mask is " + m.rle().height() + "x" + m.rle().width()
                        + ", image is " + height + "x" + width);
            }
            return m.rle();
        }
        return Rle.fromPolygons(((Polygons) s).polygons(), height, width);
    }

    // ------------------------------------------------------------------------------------------------ reading

    /** Reads a ground-truth file. */
    public static Dataset readInstances(Path file) {
        return parseInstances(readTree(file), file.toString());
    }

    /** Reads a results file and checks it against the ground truth (images, categories, sizes). */
    public static List<Detection> readResults(Path file, Dataset gt) {
        return parseResults(readTree(file), file.toString(), gt);
    }

    private static JsonNode readTree(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            throw new VitrimException(file + ": not valid JSON" + (loc == null ? "" : " (line " + loc.getLineNr()
                    + ", column " + loc.getColumnNr() + ")") + ": " + e.getOriginalMessage().lines().findFirst()
                    .orElse(""));
        } catch (IOException e) {
            if (!Files.exists(file)) {
                throw new VitrimException(file + ": no such file");
            }
            throw new VitrimException(file + ": cannot read: " + e.getMessage());
        }
    }

    /** Parses a ground-truth tree; {@code source} names it in messages. */
    public static Dataset parseInstances(JsonNode root, String source) {
        if (root == null || !root.isObject()) {
            throw new VitrimException(source + ": expected a JSON object with images, annotations and categories");
        }
        JsonNode imagesNode = array(root, "images", source);
        JsonNode catsNode = array(root, "categories", source);
        JsonNode annsNode = array(root, "annotations", source);
        List<Image> images = new ArrayList<>(imagesNode.size());
        Map<Long, Image> byId = new HashMap<>();
        for (int i = 0; i < imagesNode.size(); i++) {
            JsonNode n = imagesNode.get(i);
            String where = source + ": images entry " + i;
            requireObject(n, where);
            long id = integer(n, "id", where);
            where = source + ": image id " + id;
            int h = (int) positive(n, "height", where);
            int w = (int) positive(n, "width", where);
            if ((long) h * w > Integer.MAX_VALUE) {
                throw new VitrimException(where + ": " + h + "x" + w + " is too large");
            }
            JsonNode fn = n.get("file_name");
            Image im = new Image(id, fn == null || fn.isNull() ? null : fn.asText(), h, w);
            if (byId.put(id, im) != null) {
                throw new VitrimException(where + ": id appears twice in images");
            }
            images.add(im);
        }
        List<Category> cats = new ArrayList<>(catsNode.size());
        Set<Long> catIds = new HashSet<>();
        for (int i = 0; i < catsNode.size(); i++) {
            JsonNode n = catsNode.get(i);
            String where = source + ": categories entry " + i;
            requireObject(n, where);
            long id = integer(n, "id", where);
            if (!catIds.add(id)) {
                throw new VitrimException(source + ": category id " + id + ": id appears twice in categories");
            }
            JsonNode name = n.get("name");
            cats.add(new Category(id, name == null || name.isNull() ? null : name.asText()));
        }
        List<Annotation> anns = new ArrayList<>(annsNode.size());
        Set<Long> annIds = new HashSet<>();
        for (int i = 0; i < annsNode.size(); i++) {
            JsonNode n = annsNode.get(i);
            String where = source + ": annotations entry " + i;
            requireObject(n, where);
            long id = integer(n, "id", where);
            where = source + ": annotation id " + id;
            if (!annIds.add(id)) {
                throw new VitrimException(where + ": id appears twice in annotations");
            }
            long imageId = integer(n, "image_id", where);
            Image im = byId.get(imageId);
            if (im == null) {
                throw new VitrimException(where + ": image_id " + imageId + " is not in images");
            }
            long catId = integer(n, "category_id", where);
            if (!catIds.contains(catId)) {
                throw new VitrimException(where + ": category_id " + catId + " is not in categories");
            }
            double[] bbox = box(n.get("bbox"), where);
            if (bbox == null) {
                throw new VitrimException(where + ": bbox missing");
            }
            JsonNode areaNode = n.get("area");
            if (areaNode == null || !areaNode.isNumber() || !Double.isFinite(areaNode.asDouble())
                    || areaNode.asDouble() < 0) {
                throw new VitrimException(where + ": area " + (areaNode == null ? "missing"
                        : "must be a number >= 0, got " + areaNode));
            }
            boolean crowd = flag(n.get("iscrowd"), where);
            Segmentation seg = segmentation(n.get("segmentation"), where, im);
            anns.add(new Annotation(id, imageId, catId, bbox, areaNode.asDouble(), crowd, seg));
        }
        return new Dataset(source, List.copyOf(images), List.copyOf(cats), List.copyOf(anns));
    }

    /** Parses a results tree against the ground truth; {@code source} names it in messages. */
    public static List<Detection> parseResults(JsonNode root, String source, Dataset gt) {
        if (root == null || !root.isArray()) {
            throw new VitrimException(source + ": expected a JSON array of results {image_id, category_id, bbox, "
                    + "score[, segmentation]}");
        }
        Map<Long, Image> images = imagesById(gt);
        List<Detection> out = new ArrayList<>(root.size());
        for (int i = 0; i < root.size(); i++) {
            JsonNode n = root.get(i);
            String where = source + ": entry " + i;
            requireObject(n, where);
            long imageId = integer(n, "image_id", where);
            Image im = images.get(imageId);
            if (im == null) {
                throw new VitrimException(where + ": image_id " + imageId + " is not in " + gt.source());
            }
            long catId = integer(n, "category_id", where);
            JsonNode s = n.get("score");
            if (s == null || !s.isNumber() || !Double.isFinite(s.asDouble())) {
                throw new VitrimException(where + ": score " + (s == null ? "missing" : "must be a finite number, got "
                        + s));
            }
            out.add(new Detection(imageId, catId, box(n.get("bbox"), where), s.asDouble(),
                    segmentation(n.get("segmentation"), where, im)));
        }
        checkResults(out, gt, source);
        return List.copyOf(out);
    }

    /**
     * Checks detections against the ground truth: known image and category, finite score, a bbox or a
     * segmentation as the first entry requires, masks of the image's size.
     *
     * @throws VitrimException naming {@code source} and the entry
     */
    public static void checkResults(List<Detection> results, Dataset gt, String source) {
        Map<Long, Image> images = imagesById(gt);
        Set<Long> cats = new HashSet<>();
        for (Category c : gt.categories()) {
            cats.add(c.id());
        }
        boolean byBox = !results.isEmpty() && results.get(0).bbox() != null;
        for (int i = 0; i < results.size(); i++) {
            Detection d = results.get(i);
            String where = source + ": entry " + i;
            Image im = images.get(d.imageId());
            if (im == null) {
                throw new VitrimException(where + ": image_id " + d.imageId() + " is not in " + gt.source());
            }
            if (!cats.contains(d.categoryId())) {
                throw new VitrimException(where + ": category_id " + d.categoryId() + " is not a category in "
                        + gt.source());
            }
            if (!Double.isFinite(d.score())) {
                throw new VitrimException(where + ": score must be a finite number, got " + d.score());
            }
            if (d.bbox() != null) {
                checkBox(d.bbox(), where);
            }
            if (byBox && d.bbox() == null) {
                throw new VitrimException(where + ": bbox missing (entry 0 has one, so every entry needs one)");
            }
            if (!byBox && d.segmentation() == null) {
                throw new VitrimException(where + ": " + (i == 0 ? "neither bbox nor segmentation"
                        : "segmentation missing (entry 0 has no bbox, so every entry needs a segmentation)"));
            }
            if (d.segmentation() instanceof Mask m && (m.rle().height() != im.height()
                    || m.rle().width() != im.width())) {
                throw new VitrimException(where + ": segmentation size [" + m.rle().height() + "," + m.rle().width()
                        + "] is not image " + im.id() + "'s [height,width] [" + im.height() + "," + im.width() + "]");
            }
        }
    }

    static Map<Long, Image> imagesById(Dataset gt) {
        Map<Long, Image> m = new HashMap<>();
        for (Image im : gt.images()) {
            m.put(im.id(), im);
        }
        return m;
    }

    private static JsonNode array(JsonNode root, String field, String source) {
        JsonNode n = root.get(field);
        if (n == null || !n.isArray()) {
            throw new VitrimException(source + ": '" + field + "' " + (n == null ? "missing" : "must be an array"));
        }
        return n;
    }

    private static void requireObject(JsonNode n, String where) {
        if (!n.isObject()) {
            throw new VitrimException(where + ": expected an object, got " + abbreviate(n));
        }
    }

    private static long integer(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            throw new VitrimException(where + ": " + field + " missing");
        }
        if (!v.isNumber() || !v.canConvertToExactIntegral() || !v.canConvertToLong()) {
            throw new VitrimException(where + ": " + field + " must be an integer, got " + abbreviate(v));
        }
        return v.asLong();
    }

    private static long positive(JsonNode n, String field, String where) {
        long v = integer(n, field, where);
        if (v < 1 || v > Integer.MAX_VALUE) {
            throw new VitrimException(where + ": " + field + " must be a positive integer, got " + v);
        }
        return v;
    }

    private static boolean flag(JsonNode v, String where) {
        if (v == null || v.isNull()) {
            return false;
        }
        if (v.isBoolean()) {
            return v.asBoolean();
        }
        if (v.isNumber() && v.canConvertToExactIntegral() && (v.asLong() == 0 || v.asLong() == 1)) {
            return v.asLong() == 1;
        }
        throw new VitrimException(where + ": iscrowd must be 0 or 1, got " + abbreviate(v));
    }

    /** A bbox [x,y,w,h], or null if absent or empty (as the COCO API treats {@code []}). */
    private static double[] box(JsonNode v, String where) {
        if (v == null || v.isNull() || (v.isArray() && v.isEmpty())) {
            return null;
        }
        if (!v.isArray() || v.size() != 4) {
            throw new VitrimException(where + ": bbox must be [x, y, width, height], got " + abbreviate(v));
        }
        double[] b = new double[4];
        for (int i = 0; i < 4; i++) {
            if (!v.get(i).isNumber()) {
                throw new VitrimException(where + ": bbox must be [x, y, width, height], got " + abbreviate(v));
            }
            b[i] = v.get(i).asDouble();
        }
        checkBox(b, where);
        return b;
    }

    private static void checkBox(double[] b, String where) {
        if (b.length != 4 || !Double.isFinite(b[0]) || !Double.isFinite(b[1]) || !Double.isFinite(b[2])
                || !Double.isFinite(b[3]) || b[2] < 0 || b[3] < 0) {
            throw new VitrimException(where + ": bbox must be 4 finite numbers [x, y, width, height] with width and "
                    + "height >= 0, got " + java.util.Arrays.toString(b));
        }
    }

    private static Segmentation segmentation(JsonNode v, String where, Image im) {
        if (v == null || v.isNull() || (v.isArray() && v.isEmpty())) {
            return null;
        }
        if (v.isArray()) {
            List<double[]> polys = new ArrayList<>(v.size());
            for (int p = 0; p < v.size(); p++) {
                JsonNode poly = v.get(p);
                if (!poly.isArray()) {
                    throw new VitrimException(where + ": segmentation must be a list of polygons [[x0,y0,x1,y1,...],"
                            + "...], got " + abbreviate(v));
                }
                if (poly.size() < 6 || poly.size() % 2 != 0) {
                    throw new VitrimException(where + ": segmentation polygon " + p + " has " + poly.size()
                            + " numbers; a polygon needs at least 3 x,y pairs");
                }
                double[] xy = new double[poly.size()];
                for (int k = 0; k < xy.length; k++) {
                    JsonNode c = poly.get(k);
                    if (!c.isNumber() || !Double.isFinite(c.asDouble())) {
                        throw new VitrimException(where + ": segmentation polygon " + p + " has a value that is not "
                                + "a finite number: " + abbreviate(c));
                    }
                    xy[k] = c.asDouble();
                }
                polys.add(xy);
            }
            return new Polygons(List.copyOf(polys));
        }
        if (!v.isObject()) {
            throw new VitrimException(where + ": segmentation must be polygons or an RLE {size, counts}, got "
                    + abbreviate(v));
        }
        JsonNode size = v.get("size");
        if (size == null || !size.isArray() || size.size() != 2 || !size.get(0).canConvertToExactIntegral()
                || !size.get(1).canConvertToExactIntegral() || !size.get(0).isNumber() || !size.get(1).isNumber()) {
            throw new VitrimException(where + ": malformed RLE size (want [height, width]), got " + abbreviate(size));
        }
        long h = size.get(0).asLong();
        long w = size.get(1).asLong();
        if (h != im.height() || w != im.width()) {
            throw new VitrimException(where + ": RLE size [" + h + "," + w + "] is not image " + im.id()
                    + "'s [height,width] [" + im.height() + "," + im.width() + "]");
        }
        JsonNode counts = v.get("counts");
        try {
            if (counts != null && counts.isTextual()) {
                return new Mask(Rle.fromCompressedString(counts.asText(), (int) h, (int) w), true);
            }
            if (counts != null && counts.isArray()) {
                int[] c = new int[counts.size()];
                for (int k = 0; k < c.length; k++) {
                    JsonNode x = counts.get(k);
                    if (!x.isNumber() || !x.canConvertToExactIntegral() || x.asLong() < 0
                            || x.asLong() > Integer.MAX_VALUE) {
                        throw new IllegalArgumentException("count " + k + " is not a non-negative integer: "
                                + abbreviate(x));
                    }
                    c[k] = (int) x.asLong();
                }
                return new Mask(Rle.of((int) h, (int) w, c), false);
            }
        } catch (IllegalArgumentException e) {
            throw new VitrimException(where + ": malformed RLE counts: " + e.getMessage());
        }
        throw new VitrimException(where + ": malformed RLE counts: want a list of run lengths or a compressed string, "
                + "got " + abbreviate(counts));
    }

    private static String abbreviate(JsonNode n) {
        if (n == null) {
            return "nothing";
        }
        String s = n.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    // ------------------------------------------------------------------------------------------------ writing

    /** Writes a ground-truth file (images, categories, annotations; masks in the form they were read). */
    public static void writeInstances(Dataset d, Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode images = root.putArray("images");
        for (Image im : d.images()) {
            ObjectNode o = images.addObject().put("id", im.id());
            if (im.fileName() != null) {
                o.put("file_name", im.fileName());
            }
            o.put("height", im.height()).put("width", im.width());
        }
        ArrayNode cats = root.putArray("categories");
        for (Category c : d.categories()) {
            ObjectNode o = cats.addObject().put("id", c.id());
            if (c.name() != null) {
                o.put("name", c.name());
            }
        }
        ArrayNode anns = root.putArray("annotations");
        for (Annotation a : d.annotations()) {
            ObjectNode o = anns.addObject().put("id", a.id()).put("image_id", a.imageId())
                    .put("category_id", a.categoryId());
            putBox(o, a.bbox());
            o.put("area", a.area()).put("iscrowd", a.crowd() ? 1 : 0);
            putSegmentation(o, a.segmentation());
        }
        write(root, file);
    }

    /** Writes a results file. */
    public static void writeResults(List<Detection> results, Path file) throws IOException {
        ArrayNode root = JSON.createArrayNode();
        for (Detection r : results) {
            ObjectNode o = root.addObject().put("image_id", r.imageId()).put("category_id", r.categoryId());
            putBox(o, r.bbox());
            o.put("score", r.score());
            putSegmentation(o, r.segmentation());
        }
        write(root, file);
    }

    private static void putBox(ObjectNode o, double[] b) {
        if (b != null) {
            ArrayNode a = o.putArray("bbox");
            for (double v : b) {
                a.add(v);
            }
        }
    }

    private static void putSegmentation(ObjectNode o, Segmentation s) {
        if (s instanceof Polygons p) {
            ArrayNode a = o.putArray("segmentation");
            for (double[] xy : p.polygons()) {
                ArrayNode q = a.addArray();
                for (double v : xy) {
                    q.add(v);
                }
            }
        } else if (s instanceof Mask m) {
            ObjectNode r = o.putObject("segmentation");
            r.putArray("size").add(m.rle().height()).add(m.rle().width());
            if (m.compressed()) {
                r.put("counts", m.rle().toCompressedString());
            } else {
                ArrayNode c = r.putArray("counts");
                for (int v : m.rle().counts()) {
                    c.add(v);
                }
            }
        }
    }

    private static void write(JsonNode root, Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        JSON.writeValue(file.toFile(), root);
    }
}
