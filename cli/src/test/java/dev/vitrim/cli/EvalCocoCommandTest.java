package dev.vitrim.cli;

import static dev.vitrim.cli.CliTest.assertBadInput;
import static dev.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** vitrim eval-coco: the printout, --json, and one-line errors. */
class EvalCocoCommandTest {
    static final Path COCO = Path.of("../core/src/test/resources/coco");
    static final List<String> STATS = List.of("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100",
            "ARs", "ARm", "ARl");

    @TempDir
    Path tmp;

    static String[] args(String caseName, String... more) {
        String[] base = {"eval-coco", "--gt", COCO.resolve(caseName).resolve("instances.json").toString(), "--results",
            COCO.resolve(caseName).resolve("results.json").toString()};
        String[] all = new String[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    @Test
    void printsPycocotoolsSummaryOfTheGoldenCase() {
        CliTest.Run r = run(args("golden"));
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains(
                " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.504\n",
                " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.958\n",
                " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.517\n",
                " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000\n",
                "3 images, 2 categories, 5 annotations", "iou type bbox");
        assertThat(r.out()).containsPattern("\\s1 one\\s+0\\.\\d{3}");
    }

    @Test
    void jsonNamesTheTwelveNumbers() throws IOException {
        for (String type : List.of("bbox", "segm")) {
            CliTest.Run r = run(args("mixed", "--iou-type", type, "--json"));
            assertThat(r.status()).as(r.err()).isZero();
            JsonNode got = new ObjectMapper().readTree(r.out());
            JsonNode want = new ObjectMapper().readTree(COCO.resolve("mixed/expected.json").toFile()).get(type);
            assertThat(got.get("iou_type").asText()).isEqualTo(type);
            for (String s : STATS) {
                assertThat(got.get(s).asDouble()).as("%s %s", type, s)
                        .isCloseTo(want.get("stats").get(s).asDouble(), within(1e-12));
            }
            JsonNode pc = got.get("per_category");
            assertThat(pc).hasSize(want.get("per_category").size());
            for (JsonNode c : pc) {
                assertThat(c.get("AP").asDouble()).isCloseTo(
                        want.get("per_category").get(c.get("id").asText()).asDouble(), within(1e-12));
                assertThat(c.get("name").asText()).isNotEmpty();
            }
        }
    }

    @Test
    void helpExplainsTheNumbers() {
        CliTest.Run r = run("eval-coco", "--help");
        assertThat(r.status()).isZero();
        assertThat(r.out()).contains("AP50", "APs", "AR100", "32*32", "--iou-type", "Examples:", "iscrowd");
        assertThat(run("--help").out()).contains("eval-coco");
    }

    @Test
    void badInputIsOneLine() throws IOException {
        Path results = tmp.resolve("results.json");
        Files.writeString(results, "[{\"image_id\":1,\"category_id\":1,\"bbox\":[1,1,5,5],\"score\":0.5},"
                + "{\"image_id\":99,\"category_id\":1,\"bbox\":[1,1,5,5],\"score\":0.5}]");
        Path gt = COCO.resolve("golden/instances.json");
        assertBadInput(run("eval-coco", "--gt", gt.toString(), "--results", results.toString()), "results.json",
                "entry 1", "image_id 99");
        Files.writeString(results, "[{\"image_id\":1,\"category_id\":5,\"bbox\":[1,1,5,5],\"score\":0.5}]");
        assertBadInput(run("eval-coco", "--gt", gt.toString(), "--results", results.toString()), "results.json",
                "entry 0", "category_id 5");
        Path bad = tmp.resolve("instances.json");
        Files.writeString(bad, Files.readString(gt).replace("\"area\":25.0", "\"area\":\"big\""));
        assertBadInput(run("eval-coco", "--gt", bad.toString(), "--results", results.toString()), "instances.json",
                "annotation id 1", "area");
        // the golden ground truth has boxes only: mask evaluation needs segmentations
        assertBadInput(run(args("golden", "--iou-type", "segm")), "instances.json", "no segmentation");
        assertBadInput(run(args("golden", "--iou-type", "mask")), "--iou-type", "bbox or segm");
        assertBadInput(run("eval-coco", "--gt", tmp.resolve("none.json").toString(), "--results",
                results.toString()), "none.json", "no such file");
    }
}
