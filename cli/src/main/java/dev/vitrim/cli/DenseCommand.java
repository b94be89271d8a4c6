package dev.vitrim.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.coco.CocoJson;
import dev.vitrim.coco.Rle;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.DensePrediction;
import dev.vitrim.dense.DensePredictor;
import dev.vitrim.dense.Detection;
import dev.vitrim.dense.InstanceMask;
import dev.vitrim.dense.Overlay;
import dev.vitrim.engine.Torch;
import dev.vitrim.reduce.Reducers;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code vitrim segment} and {@code vitrim detect}: one dense model gives both; the two commands differ in what they
 * print. Each image gets {@code DIR/<name>.overlay.png} and {@code DIR/<name>.labels.png}; {@code --coco} writes the
 * detections with their masks in COCO results format.
 */
abstract class DenseCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = {"-m", "--model"}, paramLabel = "PATH", required = true,
            description = "A dense model (.safetensors trained with `vitrim train --task dense`), e.g. "
                    + "models/scenes-vit.safetensors.")
    Path model;

    @Mixin
    ReduceOptions reduce;

    @Mixin
    PrecisionOption precision;

    @Mixin
    CommonOptions common;

    @Option(names = {"-o", "--out"}, paramLabel = "DIR",
            description = "Write <name>.overlay.png (class colours, boxes with labels and scores, instance outlines) and "
                    + "<name>.labels.png (8-bit class index per pixel, 0 = background) for every image here.")
    Path out;

    @Option(names = "--montage", paramLabel = "PNG", description = "Also write the overlays of all the images, side "
            + "by side with their file names, into one picture.")
    Path montage;

    @Option(names = "--columns", paramLabel = "N", defaultValue = "3",
            description = "Overlays per row of --montage (default: ${DEFAULT-VALUE}).")
    int columns;

    @Option(names = "--json", description = "Print one JSON array with an entry per image: {file, width, height, "
            + "detections:[{label, category_id, score, bbox:[x,y,w,h]}], instances, pixels:{class: fraction}} or "
            + "{file, error}.")
    boolean json;

    @Option(names = "--coco", paramLabel = "FILE", description = "Write the detections in COCO results format (bbox, "
            + "score, category_id = class + 1, RLE segmentation of the instance mask when there is one).")
    Path coco;

    @Option(names = "--gt", paramLabel = "FILE", description = "A COCO instances.json whose images' file_name give "
            + "the image_id of each result (default: images numbered 1, 2, … in argument order).")
    Path gt;

    @Option(names = "--min-score", paramLabel = "S", defaultValue = "0.3",
            description = "Boxes scoring below this are not drawn or printed (all go to --coco; default: ${DEFAULT-VALUE}).")
    float minScore;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "8", description = "Images per forward (default: ${DEFAULT-VALUE}).")
    int batch;

    @Parameters(paramLabel = "IMAGE", arity = "1..*", description = "Image files of any size (resized to the model's "
            + "input; outputs come back at the image's size).")
    List<Path> images;

    /** Prints one image's text summary. */
    abstract void print(PrintWriter out, DensePredictor.Result r, List<String> classes);

    @Override
    public Integer call() throws IOException {
        if (batch < 1 || columns < 1) {
            throw new VitrimException("--batch and --columns must be at least 1, got " + batch + " and " + columns);
        }
        Map<String, Long> ids = gt == null ? null : imageIds(gt);
        List<DensePredictor.Result> results;
        List<String> classes;
        Torch.engine(common.threads);
        precision.requested();
        try (DenseModel m = DenseModel.load(model)) {
            precision.apply(m.backbone(), spec.commandLine().getErr());
            classes = m.classes();
            results = DensePredictor.predict(m, images, Reducers.parse(reduce.reduce, m.backbone()), batch, null);
        }
        if (out != null) {
            Files.createDirectories(out);
        }
        PrintWriter pw = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ArrayNode arr = om.createArrayNode();
        ArrayNode cocoOut = om.createArrayNode();
        boolean failed = false;
        Map<String, Integer> names = new HashMap<>();
        List<java.awt.image.BufferedImage> tiles = new ArrayList<>();
        List<String> captions = new ArrayList<>();
        for (int i = 0; i < results.size(); i++) {
            DensePredictor.Result r = results.get(i);
            if (!r.ok()) {
                failed = true;
                if (json) {
                    arr.addObject().put("file", r.file().toString()).put("error", r.error());
                } else {
                    err.println("vitrim: " + r.error());
                }
                continue;
            }
            var p = r.prediction();
            if (out != null || montage != null) {
                java.awt.image.BufferedImage pic = Overlay.render(DensePredictor.toBufferedImage(r.image()),
                        p.labels(), p.detections(), p.instances(), classes, minScore);
                if (out != null) {
                    String stem = uniqueStem(r.file(), names);
                    javax.imageio.ImageIO.write(pic, "png", out.resolve(stem + ".overlay.png").toFile());
                    Overlay.writeLabelPng(p.labels(), p.height(), p.width(), out.resolve(stem + ".labels.png"));
                }
                if (montage != null) {
                    tiles.add(pic);
                    captions.add(r.file().getFileName().toString());
                }
            }
            if (coco != null) {
                long id = imageId(r.file(), i, ids);
                addCoco(cocoOut, id, p);
            }
            if (json) {
                arr.add(toJson(om, r, classes));
            } else {
                print(pw, r, classes);
            }
        }
        if (montage != null && !tiles.isEmpty()) {
            javax.imageio.ImageIO.write(Overlay.grid(tiles, columns, captions), "png", montage.toFile());
        }
        if (json) {
            pw.println(om.writeValueAsString(arr));
        }
        if (coco != null) {
            Files.writeString(coco, om.writeValueAsString(cocoOut));
            if (!json) {
                pw.println("wrote " + cocoOut.size() + " detections to " + coco);
            }
        }
        pw.flush();
        return failed ? 2 : 0;
    }

    private ObjectNode toJson(ObjectMapper om, DensePredictor.Result r, List<String> classes) {
        var p = r.prediction();
        ObjectNode o = om.createObjectNode();
        o.put("file", r.file().toString()).put("width", p.width()).put("height", p.height());
        ArrayNode d = o.putArray("detections");
        for (Detection x : p.detections()) {
            if (x.score() < minScore) {
                continue;
            }
            ObjectNode e = d.addObject();
            e.put("label", classes.get(x.category())).put("category_id", x.category() + 1).put("score", x.score());
            e.putArray("bbox").add(x.x()).add(x.y()).add(x.w()).add(x.h());
        }
        o.put("instances", (int) p.instances().stream().filter(m -> m.score() >= minScore).count());
        ObjectNode px = o.putObject("pixels");
        double[] frac = p.classFractions(classes.size() + 1);
        px.put("background", frac[0]);
        for (int k = 0; k < classes.size(); k++) {
            if (frac[k + 1] > 0) {
                px.put(classes.get(k), frac[k + 1]);
            }
        }
        return o;
    }

    private static void addCoco(ArrayNode out, long imageId, DensePrediction p) {
        Map<Detection, InstanceMask> byDet = p.masksByDetection();
        for (Detection d : p.detections()) {
            ObjectNode o = out.addObject();
            o.put("image_id", imageId).put("category_id", d.category() + 1);
            o.putArray("bbox").add(round(d.x())).add(round(d.y())).add(round(d.w())).add(round(d.h()));
            InstanceMask m = byDet.get(d);
            o.put("score", m == null ? d.score() : m.score());
            if (m != null) {
                ObjectNode seg = o.putObject("segmentation");
                seg.putArray("size").add(p.height()).add(p.width());
                seg.put("counts", Rle.encode(m.mask(), p.height(), p.width()).toCompressedString());
            }
        }
    }

    private static double round(float v) {
        return Math.round(v * 100) / 100.0;
    }

    private static Map<String, Long> imageIds(Path gt) {
        CocoJson.Dataset d = CocoJson.readInstances(gt);
        Map<String, Long> out = new HashMap<>();
        for (CocoJson.Image im : d.images()) {
            if (im.fileName() != null) {
                out.put(Path.of(im.fileName()).getFileName().toString(), im.id());
            }
        }
        return out;
    }

    private long imageId(Path file, int index, Map<String, Long> ids) {
        if (ids == null) {
            return index + 1L;
        }
        Long id = ids.get(file.getFileName().toString());
        if (id == null) {
            throw new VitrimException(gt + ": no image with file_name '" + file.getFileName() + "' (for " + file + ")");
        }
        return id;
    }

    private static String uniqueStem(Path file, Map<String, Integer> seen) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        String stem = dot > 0 ? n.substring(0, dot) : n;
        int k = seen.merge(stem, 1, Integer::sum);
        return k == 1 ? stem : stem + "-" + k;
    }

    @Command(name = "segment", mixinStandardHelpOptions = true,
            description = {"Semantic and instance segmentation of image files with a dense model.", "",
                    "Prints, per image, the classes present and the fraction of pixels each covers; -o writes a picture "
                            + "and an 8-bit label map per image. Images that cannot be read are reported one by one; "
                            + "the others are still segmented (exit status 2 when any failed)."},
            footer = {"", "Examples:", "  vitrim segment --model models/scenes-vit.safetensors -o out/ scene.png",
                    "  vitrim segment --model models/scenes-vit.safetensors --reduce attn --json *.png",
                    "  vitrim segment --model M --coco results.json --gt instances.json images/*.png"})
    static final class Segment extends DenseCommand {
        @Override
        void print(PrintWriter out, DensePredictor.Result r, List<String> classes) {
            var p = r.prediction();
            double[] f = p.classFractions(classes.size() + 1);
            out.printf(Locale.ROOT, "%s (%dx%d)%n", r.file(), p.width(), p.height());
            out.printf(Locale.ROOT, "  %6.2f%%  background%n", 100 * f[0]);
            for (int k = 0; k < classes.size(); k++) {
                if (f[k + 1] > 0) {
                    out.printf(Locale.ROOT, "  %6.2f%%  %s%n", 100 * f[k + 1], classes.get(k));
                }
            }
            long n = p.instances().stream().filter(m -> m.score() >= minScore).count();
            out.printf(Locale.ROOT, "  %d instance%s scoring at least %.2f%n", n, n == 1 ? "" : "s", minScore);
        }
    }

    @Command(name = "detect", mixinStandardHelpOptions = true,
            description = {"Object detection (boxes, and instance masks with --coco) in image files with a dense model.",
                    "",
                    "Prints, per image, the boxes scoring at least --min-score: label, score and [x, y, w, h] in the "
                            + "image's pixels; -o writes a picture and an 8-bit label map per image. Images that cannot be "
                            + "read are reported one by one; the others are still processed (exit status 2 when any "
                            + "failed)."},
            footer = {"", "Examples:", "  vitrim detect --model models/scenes-vit.safetensors -o out/ scene.png",
                    "  vitrim detect --model M --coco results.json --gt instances.json images/*.png",
                    "  vitrim eval-coco --gt instances.json --results results.json"})
    static final class Detect extends DenseCommand {
        @Override
        void print(PrintWriter out, DensePredictor.Result r, List<String> classes) {
            var p = r.prediction();
            out.printf(Locale.ROOT, "%s (%dx%d)%n", r.file(), p.width(), p.height());
            int shown = 0;
            for (Detection d : p.detections()) {
                if (d.score() < minScore) {
                    continue;
                }
                shown++;
                out.printf(Locale.ROOT, "  %5.3f  %-12s [%.1f, %.1f, %.1f, %.1f]%n", d.score(), classes.get(d.category()),
                        d.x(), d.y(), d.w(), d.h());
            }
            if (shown == 0) {
                out.printf(Locale.ROOT, "  no box scoring at least %.2f%n", minScore);
            }
        }
    }

}
