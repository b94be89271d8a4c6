package dev.vitrim.coco;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.coco.CocoEval.IouType;
import dev.vitrim.coco.CocoEval.Result;
import dev.vitrim.coco.CocoJson.Dataset;
import dev.vitrim.coco.CocoJson.Detection;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** COCOeval numbers: REFERENCE.md §5's golden case and the fixtures of tools/coco_reference.py. */
class CocoEvalTest {
    static final Path DIR = Path.of("src/test/resources/coco");

    @TempDir
    Path tmp;

    static Result run(String name, IouType type) {
        Dataset gt = CocoJson.readInstances(DIR.resolve(name).resolve("instances.json"));
        List<Detection> dt = CocoJson.readResults(DIR.resolve(name).resolve("results.json"), gt);
        return CocoEval.evaluate(gt, dt, type);
    }

    @Test
    void goldenCaseOfReferenceSection5() {
        Result r = run("golden", IouType.BBOX);
        double[] want = {.504208, .957921, .584158, .504208, -1, -1, .516667, .583333, .583333, .583333, -1, -1};
        for (int i = 0; i < 12; i++) {
            assertThat(r.stats()[i]).as(CocoEval.STAT_NAMES.get(i)).isCloseTo(want[i], within(1e-6));
        }
        assertThat(r.stat("AP50")).isEqualTo(r.stats()[1]);
        assertThat(r.summary()).startsWith(
                " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.504\n"
                + " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.958\n")
                .contains(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000\n")
                .endsWith(" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = -1.000\n");
        assertThat(r.summary().lines()).hasSize(12);
    }

    @ParameterizedTest
    @CsvSource({"mixed,bbox", "mixed,segm", "segm_results,bbox", "segm_results,segm", "box_results,bbox",
        "box_results,segm", "many,bbox", "many,segm", "edge,bbox", "edge,segm"})
    void matchesTheIndependentReference(String name, String type) throws IOException {
        JsonNode want = new ObjectMapper().readTree(DIR.resolve(name).resolve("expected.json").toFile()).get(type);
        Result r = run(name, IouType.valueOf(type.toUpperCase()));
        for (String stat : CocoEval.STAT_NAMES) {
            assertThat(r.stat(stat)).as("%s %s %s", name, type, stat).isCloseTo(want.get("stats").get(stat).asDouble(),
                    within(1e-12));
        }
        Map<Long, Double> perCat = r.perCategoryAp();
        assertThat(perCat).hasSize(want.get("per_category").size());
        want.get("per_category").fields().forEachRemaining(e -> assertThat(perCat.get(Long.parseLong(e.getKey())))
                .as("%s %s category %s", name, type, e.getKey()).isCloseTo(e.getValue().asDouble(), within(1e-12)));
        assertThat(r.summary()).isEqualTo(want.get("summary").asText());
    }

    @Test
    void fixturesExerciseWhatTheyClaim() {
        Dataset gt = CocoJson.readInstances(DIR.resolve("many/instances.json"));
        List<Detection> dt = CocoJson.readResults(DIR.resolve("many/results.json"), gt);
        Map<List<Long>, Integer> perImageCat = new java.util.HashMap<>();
        for (Detection d : dt) {
            perImageCat.merge(List.of(d.imageId(), d.categoryId()), 1, Integer::sum);
        }
        assertThat(perImageCat.values()).anyMatch(n -> n > 100);
        Result r = CocoEval.evaluate(gt, dt, IouType.BBOX);
        assertThat(r.stat("AR1")).isLessThan(r.stat("AR10"));
        assertThat(r.stat("AR10")).isLessThan(r.stat("AR100"));
        Dataset mixed = CocoJson.readInstances(DIR.resolve("mixed/instances.json"));
        assertThat(mixed.annotations()).anyMatch(CocoJson.Annotation::crowd);
        assertThat(mixed.annotations()).anyMatch(a -> a.area() > 96 * 96);
        assertThat(mixed.annotations()).anyMatch(a -> a.area() < 32 * 32);
        assertThat(mixed.annotations()).anyMatch(a -> a.segmentation() instanceof CocoJson.Polygons);
        assertThat(mixed.annotations()).anyMatch(a -> a.segmentation() instanceof CocoJson.Mask m && m.compressed());
        assertThat(mixed.annotations()).anyMatch(a -> a.segmentation() instanceof CocoJson.Mask m && !m.compressed());
    }

    @Test
    void thresholdsAreNumpysLinspace() throws IOException {
        JsonNode t = new ObjectMapper().readTree(DIR.resolve("thresholds.json").toFile());
        assertThat(CocoEval.iouThresholds()).containsExactly(RleTest.doubles(t.get("iou")));
        assertThat(CocoEval.recallThresholds()).containsExactly(RleTest.doubles(t.get("recall")));
        assertThat(CocoEval.iouThresholds()[5]).isEqualTo(0.75);
        // what the shortcuts would give instead
        assertThat(CocoEval.recallThresholds()[35]).isNotEqualTo(35 / 100.0);
        assertThat(CocoEval.iouThresholds()[7]).isNotEqualTo(0.5 + 0.05 * 7);
    }

    @Test
    void perfectDetectionsScoreOneAndNoDetectionsZero() {
        Dataset gt = CocoJson.readInstances(DIR.resolve("mixed/instances.json"));
        List<Detection> perfect = new ArrayList<>();
        for (CocoJson.Annotation a : gt.annotations()) {
            if (!a.crowd()) {
                perfect.add(new Detection(a.imageId(), a.categoryId(), a.bbox(), 1.0, a.segmentation()));
            }
        }
        for (IouType type : IouType.values()) {
            Result r = CocoEval.evaluate(gt, perfect, type);
            assertThat(r.stat("AP")).as(type.key()).isEqualTo(1.0, within(1e-12));
            assertThat(r.stat("AR100")).as(type.key()).isEqualTo(1.0);
            Result none = CocoEval.evaluate(gt, List.of(), type);
            assertThat(none.stat("AP")).isZero();
            assertThat(none.stat("AR100")).isZero();
        }
    }

    @Test
    void writtenFilesEvaluateTheSame() throws IOException {
        for (String name : List.of("mixed", "segm_results")) {
            Dataset gt = CocoJson.readInstances(DIR.resolve(name).resolve("instances.json"));
            List<Detection> dt = CocoJson.readResults(DIR.resolve(name).resolve("results.json"), gt);
            Path g = tmp.resolve(name + "-gt.json");
            Path d = tmp.resolve(name + "-dt.json");
            CocoJson.writeInstances(gt, g);
            CocoJson.writeResults(dt, d);
            Dataset gt2 = CocoJson.readInstances(g);
            List<Detection> dt2 = CocoJson.readResults(d, gt2);
            assertThat(gt2.annotations()).hasSameSizeAs(gt.annotations());
            for (IouType type : IouType.values()) {
                assertThat(CocoEval.evaluate(gt2, dt2, type).stats())
                        .containsExactly(CocoEval.evaluate(gt, dt, type).stats());
            }
        }
    }

    @Test
    void pythonStyleRounding() {
        assertThat(CocoEval.fixed3(-1)).isEqualTo("-1.000");
        assertThat(CocoEval.fixed3(0.0625)).isEqualTo("0.062"); // exact tie: half to even, as Python
        assertThat(CocoEval.fixed3(0.0005)).isEqualTo("0.001"); // 0.0005 is just above the tie in binary
        assertThat(CocoEval.fixed3(1.0)).isEqualTo("1.000");
    }
}
