package dev.vitrim.coco;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.VitrimException;
import dev.vitrim.coco.CocoEval.IouType;
import dev.vitrim.coco.CocoJson.Dataset;
import dev.vitrim.coco.CocoJson.Detection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading COCO files: what is accepted, and one-line errors naming the file and the entry. */
class CocoJsonTest {
    static final String IMAGES = "\"images\":[{\"id\":1,\"file_name\":\"a.jpg\",\"height\":4,\"width\":5},"
            + "{\"id\":2,\"height\":3,\"width\":3}]";
    static final String CATS = "\"categories\":[{\"id\":7,\"name\":\"cat\"},{\"id\":9,\"name\":\"dog\"}]";

    @TempDir
    Path tmp;

    Path write(String name, String json) throws IOException {
        Path p = tmp.resolve(name);
        Files.writeString(p, json);
        return p;
    }

    Path instances(String annotations) throws IOException {
        return write("instances.json", "{" + IMAGES + "," + CATS + ",\"annotations\":[" + annotations + "]}");
    }

    static String ann(int id, String extra) {
        return "{\"id\":" + id + ",\"image_id\":1,\"category_id\":7,\"bbox\":[0,0,2,2],\"area\":4" + extra + "}";
    }

    /** One line, naming the file and the parts given. */
    static void assertOneLine(Throwable t, String... parts) {
        assertThat(t).isInstanceOf(VitrimException.class);
        assertThat(t.getMessage().lines()).hasSize(1);
        assertThat(t.getMessage()).contains(parts);
    }

    Throwable readGt(String annotations) throws IOException {
        Path p = instances(annotations);
        return org.assertj.core.api.Assertions.catchThrowable(() -> CocoJson.readInstances(p));
    }

    @Test
    void readsAllThreeSegmentationForms() throws IOException {
        Dataset d = CocoJson.readInstances(instances(
                ann(1, ",\"segmentation\":[[0,0,0,2,2,2,2,0]]") + ","
                + ann(2, ",\"iscrowd\":1,\"segmentation\":{\"size\":[4,5],\"counts\":[0,2,2,2,14]}") + ","
                + ann(3, ",\"segmentation\":{\"size\":[4,5],\"counts\":\"0220<\"}") + ","
                + ann(4, ",\"segmentation\":[]")));
        assertThat(d.images()).hasSize(2);
        assertThat(d.images().get(0).fileName()).isEqualTo("a.jpg");
        assertThat(d.images().get(1).fileName()).isNull();
        assertThat(d.categories().get(1).name()).isEqualTo("dog");
        List<CocoJson.Annotation> a = d.annotations();
        assertThat(a.get(0).segmentation()).isInstanceOf(CocoJson.Polygons.class);
        assertThat(a.get(0).crowd()).isFalse();
        assertThat(a.get(1).crowd()).isTrue();
        CocoJson.Mask m = (CocoJson.Mask) a.get(1).segmentation();
        assertThat(m.compressed()).isFalse();
        assertThat(m.rle().counts()).containsExactly(0, 2, 2, 2, 14);
        assertThat(m.rle().toCompressedString()).isEqualTo("0220<");
        assertThat(((CocoJson.Mask) a.get(2).segmentation()).rle()).isEqualTo(m.rle());
        assertThat(a.get(3).segmentation()).isNull();
        // the polygon and the RLE are the same 2x2 square in the top-left corner
        assertThat(CocoJson.toRle(a.get(0).segmentation(), 4, 5)).isEqualTo(m.rle());
    }

    @Test
    void groundTruthErrors() throws IOException {
        assertOneLine(readGt(ann(5, ",\"segmentation\":{\"size\":[4,5],\"counts\":[3,2]}")), "instances.json",
                "annotation id 5", "malformed RLE counts", "sum to 5");
        assertOneLine(readGt(ann(5, ",\"segmentation\":{\"size\":[4,5],\"counts\":\"0a~\"}")), "instances.json",
                "annotation id 5", "malformed RLE counts");
        assertOneLine(readGt(ann(5, ",\"segmentation\":{\"size\":[4,5],\"counts\":{}}")), "annotation id 5",
                "malformed RLE counts");
        assertOneLine(readGt(ann(5, ",\"segmentation\":{\"size\":[8,8],\"counts\":[64]}")), "annotation id 5",
                "RLE size [8,8]", "image 1");
        assertOneLine(readGt(ann(5, ",\"segmentation\":[1,2,3,4,5,6]")), "annotation id 5", "list of polygons");
        assertOneLine(readGt(ann(5, ",\"segmentation\":[[1,2,3,4]]")), "annotation id 5", "polygon 0",
                "at least 3");
        assertOneLine(readGt("{\"id\":5,\"image_id\":3,\"category_id\":7,\"bbox\":[0,0,1,1],\"area\":1}"),
                "instances.json", "annotation id 5", "image_id 3 is not in images");
        assertOneLine(readGt("{\"id\":5,\"image_id\":1,\"category_id\":8,\"bbox\":[0,0,1,1],\"area\":1}"),
                "annotation id 5", "category_id 8 is not in categories");
        assertOneLine(readGt("{\"id\":5,\"image_id\":1,\"category_id\":7,\"area\":1}"), "annotation id 5",
                "bbox missing");
        assertOneLine(readGt("{\"id\":5,\"image_id\":1,\"category_id\":7,\"bbox\":[0,0,1,1]}"), "annotation id 5",
                "area missing");
        assertOneLine(readGt("{\"image_id\":1}"), "annotations entry 0", "id missing");
        assertOneLine(readGt(ann(5, "") + "," + ann(5, "")), "annotation id 5", "twice");
        assertOneLine(readGt(ann(5, ",\"iscrowd\":2")), "annotation id 5", "iscrowd");
        assertOneLine(readGt(ann(5, "").replace("[0,0,2,2]", "[0,0,-2,2]")), "annotation id 5", "bbox");
        assertOneLine(readGt("{\"id\":\"x\"}"), "annotations entry 0", "id must be an integer");
        Path noImages = write("instances.json", "{" + CATS + ",\"annotations\":[]}");
        assertOneLine(org.assertj.core.api.Assertions.catchThrowable(() -> CocoJson.readInstances(noImages)),
                "instances.json", "'images' missing");
        Path broken = write("instances.json", "{\"images\": [");
        assertOneLine(org.assertj.core.api.Assertions.catchThrowable(() -> CocoJson.readInstances(broken)),
                "instances.json", "not valid JSON");
        Path missing = tmp.resolve("nope.json");
        assertOneLine(org.assertj.core.api.Assertions.catchThrowable(() -> CocoJson.readInstances(missing)),
                "nope.json", "no such file");
        Path noSize = write("instances.json", "{\"images\":[{\"id\":1}]," + CATS + ",\"annotations\":[]}");
        assertOneLine(org.assertj.core.api.Assertions.catchThrowable(() -> CocoJson.readInstances(noSize)),
                "image id 1", "height missing");
    }

    Throwable readDt(String results) throws IOException {
        Dataset gt = CocoJson.readInstances(instances(ann(1, "")));
        Path p = write("results.json", results);
        return org.assertj.core.api.Assertions.catchThrowable(() -> CocoJson.readResults(p, gt));
    }

    static String det(int image, int cat) {
        return "{\"image_id\":" + image + ",\"category_id\":" + cat + ",\"bbox\":[0,0,2,2],\"score\":0.5}";
    }

    @Test
    void resultErrors() throws IOException {
        assertOneLine(readDt("[" + det(1, 7) + "," + det(99, 7) + "]"), "results.json", "entry 1",
                "image_id 99 is not in", "instances.json");
        assertOneLine(readDt("[" + det(1, 7) + "," + det(1, 8) + "]"), "results.json", "entry 1",
                "category_id 8 is not a category");
        assertOneLine(readDt("[{\"image_id\":1,\"category_id\":7,\"bbox\":[0,0,2,2]}]"), "entry 0", "score missing");
        assertOneLine(readDt("[" + det(1, 7) + ",{\"image_id\":1,\"category_id\":7,\"score\":1,\"segmentation\":"
                + "{\"size\":[4,5],\"counts\":\"0220<\"}}]"), "entry 1", "bbox missing", "entry 0 has one");
        assertOneLine(readDt("[{\"image_id\":1,\"category_id\":7,\"score\":1}]"), "entry 0",
                "neither bbox nor segmentation");
        assertOneLine(readDt("[{\"image_id\":1,\"category_id\":7,\"score\":1,\"bbox\":[1,2,3]}]"), "entry 0",
                "bbox must be");
        assertOneLine(readDt("[{\"image_id\":1,\"category_id\":7,\"score\":1,\"segmentation\":"
                + "{\"size\":[4,5],\"counts\":\"0\"}}]"), "results.json", "entry 0", "malformed RLE counts");
        assertOneLine(readDt("{\"annotations\":[]}"), "results.json", "expected a JSON array");
    }

    @Test
    void resultsWithoutBoxesTakeMaskAreasAndBoxes() throws IOException {
        Dataset gt = CocoJson.readInstances(instances(ann(1, ",\"segmentation\":[[0,0,0,2,2,2,2,0]]")));
        Path p = write("results.json", "[{\"image_id\":1,\"category_id\":7,\"score\":0.9,\"segmentation\":"
                + "{\"size\":[4,5],\"counts\":\"0220<\"}}]");
        List<Detection> dt = CocoJson.readResults(p, gt);
        assertThat(dt.get(0).bbox()).isNull();
        for (IouType type : IouType.values()) {
            assertThat(CocoEval.evaluate(gt, dt, type).stat("AP")).as(type.key()).isEqualTo(1.0, within());
        }
        // the same detection offset by one column overlaps 2 of 6 pixels
        Path q = write("results2.json", "[{\"image_id\":1,\"category_id\":7,\"score\":0.9,\"segmentation\":"
                + "{\"size\":[4,5],\"counts\":\"42208\"}}]");
        List<Detection> shifted = CocoJson.readResults(q, gt);
        assertThat(CocoJson.toRle(shifted.get(0).segmentation(), 4, 5).bbox()).containsExactly(1, 0, 2, 2);
        assertThat(CocoEval.evaluate(gt, shifted, IouType.SEGM).stat("AP")).isZero();
    }

    static org.assertj.core.data.Offset<Double> within() {
        return org.assertj.core.data.Offset.offset(1e-12);
    }

    @Test
    void segmEvaluationNeedsGroundTruthMasks() throws IOException {
        Dataset gt = CocoJson.readInstances(instances(ann(3, "")));
        List<Detection> dt = List.of(new Detection(1, 7, new double[] {0, 0, 2, 2}, 1, null));
        assertThat(CocoEval.evaluate(gt, dt, IouType.BBOX).stat("AP")).isEqualTo(1.0, within());
        assertOneLine(org.assertj.core.api.Assertions.catchThrowable(() -> CocoEval.evaluate(gt, dt, IouType.SEGM)),
                "instances.json", "annotation id 3", "no segmentation");
        List<Detection> unknown = List.of(new Detection(4, 7, new double[] {0, 0, 2, 2}, 1, null));
        assertOneLine(org.assertj.core.api.Assertions.catchThrowable(() -> CocoEval.evaluate(gt, unknown,
                IouType.BBOX)), "results: entry 0", "image_id 4");
    }

    @Test
    void boxOnlyResultsAreTheirBoxesInSegmEvaluation() throws IOException {
        // as the COCO API: a result without segmentation is rasterised as its box
        Dataset gt = CocoJson.readInstances(instances(ann(1, ",\"segmentation\":{\"size\":[4,5],"
                + "\"counts\":[0,2,2,2,14]}")));
        List<Detection> dt = List.of(new Detection(1, 7, new double[] {0, 0, 2, 2}, 1, null));
        assertThat(CocoEval.evaluate(gt, dt, IouType.SEGM).stat("AP")).isEqualTo(1.0, within());
    }
}
