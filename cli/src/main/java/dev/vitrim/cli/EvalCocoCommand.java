package dev.vitrim.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.coco.CocoEval;
import dev.vitrim.coco.CocoJson;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "eval-coco", mixinStandardHelpOptions = true,
        description = {"COCO object-detection or instance-segmentation scores of a results file against COCO ground "
                + "truth: the twelve numbers and the printout of pycocotools' COCOeval.", "",
                "The numbers, all in [0, 1] (-1: no ground truth in that size range):",
                "  AP              precision averaged over 101 recall points, the IoU thresholds 0.50, 0.55 ... 0.95",
                "                  and the categories: the headline COCO number",
                "  AP50, AP75      the same at IoU 0.50 only (PASCAL VOC style), at IoU 0.75 only",
                "  APs, APm, APl   AP on small (area <= 32*32 pixels), medium (32*32 to 96*96), large (>= 96*96) objects",
                "  AR1, AR10, AR100  recall averaged over the IoU thresholds and categories, with at most 1, 10 or 100",
                "                  detections per image",
                "  ARs, ARm, ARl   AR100 by object size", "",
                "Ground truth: instances.json as COCO publishes it ({images, categories, annotations}; segmentation "
                        + "as polygons or RLE). Results: a JSON array of {image_id, category_id, bbox:[x,y,w,h], "
                        + "score}, plus segmentation (RLE or polygons) for --iou-type segm. Boxes are in pixels, "
                        + "[x, y] the top-left corner. Crowd regions (iscrowd 1) neither count as misses nor make "
                        + "the detections on them false positives. Per image and category only the 100 "
                        + "highest-scoring detections count. Object size is the ground truth's area field; for "
                        + "results it is the box's w*h when the results have boxes, else the mask's area.", "",
                "Errors name the file and the entry: ground truth by id, results by position in the array, "
                        + "counting from 0."},
        footer = {"", "Examples:", "  vitrim eval-coco --gt annotations/instances_val2017.json --results boxes.json",
                "  vitrim eval-coco --gt annotations/instances_val2017.json --results masks.json --iou-type segm --json"})
public final class EvalCocoCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;

    @Option(names = "--gt", required = true, paramLabel = "FILE", description = "Ground truth (instances.json).")
    Path gt;

    @Option(names = "--results", required = true, paramLabel = "FILE",
            description = "Detections to score (results.json).")
    Path results;

    @Option(names = "--iou-type", paramLabel = "TYPE", defaultValue = "bbox",
            description = "bbox (box overlap) or segm (mask overlap) (default: ${DEFAULT-VALUE}).")
    String iouType;

    @Option(names = "--json", description = "Print {iou_type, AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, "
            + "ARm, ARl, per_category:[{id, name, AP}]}.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        CocoEval.IouType type = switch (iouType.toLowerCase(Locale.ROOT)) {
            case "bbox" -> CocoEval.IouType.BBOX;
            case "segm" -> CocoEval.IouType.SEGM;
            default -> throw new VitrimException("--iou-type must be bbox or segm, got '" + iouType + "'");
        };
        CocoJson.Dataset truth = CocoJson.readInstances(gt);
        List<CocoJson.Detection> dets = CocoJson.readResults(results, truth);
        CocoEval.Result r = CocoEval.evaluate(truth, dets, type);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode o = om.createObjectNode().put("iou_type", type.key());
            for (String name : CocoEval.STAT_NAMES) {
                o.put(name, r.stat(name));
            }
            ArrayNode pc = o.putArray("per_category");
            for (CocoJson.Category c : truth.categories()) {
                pc.addObject().put("id", c.id()).put("name", c.name()).put("AP", r.perCategoryAp().get(c.id()));
            }
            out.println(om.writeValueAsString(o));
            return 0;
        }
        out.printf(Locale.ROOT, "%s: %d images, %d categories, %d annotations; %s: %d results; iou type %s%n", gt,
                truth.images().size(), truth.categories().size(), truth.annotations().size(), results, dets.size(),
                type.key());
        out.print(r.summary());
        out.println("AP per category (all areas, 100 detections; -1: no ground truth):");
        for (CocoJson.Category c : truth.categories()) {
            Map<Long, Double> ap = r.perCategoryAp();
            out.printf(Locale.ROOT, "  %6d %-24s %s%n", c.id(), c.name() == null ? "" : c.name(),
                    ap.get(c.id()) < 0 ? "-1" : String.format(Locale.ROOT, "%.3f", ap.get(c.id())));
        }
        return 0;
    }
}
