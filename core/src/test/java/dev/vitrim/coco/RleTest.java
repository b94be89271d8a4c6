package dev.vitrim.coco;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** RLE against plain pixel loops and against the fixtures of tools/coco_reference.py. */
class RleTest {
    static final Path DIR = Path.of("src/test/resources/coco");

    static JsonNode fixture() throws IOException {
        return new ObjectMapper().readTree(DIR.resolve("rle.json").toFile());
    }

    static boolean[] randomMask(Random rnd, int h, int w) {
        double density = rnd.nextDouble();
        boolean[] m = new boolean[h * w];
        // mix of scattered pixels and solid blocks, so that runs cross column boundaries
        for (int i = 0; i < m.length; i++) {
            m[i] = rnd.nextDouble() < density * 0.3;
        }
        if (h > 0 && w > 0) {
            int x0 = rnd.nextInt(w);
            int y0 = rnd.nextInt(h);
            int x1 = x0 + rnd.nextInt(w - x0);
            int y1 = y0 + rnd.nextInt(h - y0);
            for (int y = y0; y <= y1; y++) {
                for (int x = x0; x <= x1; x++) {
                    m[y * w + x] = rnd.nextBoolean() || density > .5;
                }
            }
        }
        return m;
    }

    /** Column-major runs, first a run of zeros, written out directly. */
    static int[] plainRuns(boolean[] m, int h, int w) {
        List<Integer> runs = new ArrayList<>();
        boolean cur = false;
        int len = 0;
        for (int x = 0; x < w; x++) {
            for (int y = 0; y < h; y++) {
                if (m[y * w + x] == cur) {
                    len++;
                } else {
                    runs.add(len);
                    cur = !cur;
                    len = 1;
                }
            }
        }
        runs.add(len);
        return runs.stream().mapToInt(Integer::intValue).toArray();
    }

    static double[] plainBox(boolean[] m, int h, int w) {
        int x0 = Integer.MAX_VALUE;
        int y0 = Integer.MAX_VALUE;
        int x1 = -1;
        int y1 = -1;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (m[y * w + x]) {
                    x0 = Math.min(x0, x);
                    y0 = Math.min(y0, y);
                    x1 = Math.max(x1, x);
                    y1 = Math.max(y1, y);
                }
            }
        }
        return x1 < 0 ? new double[4] : new double[] {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
    }

    @Test
    void encodeDecodeAreaBoxAndStringAgreeWithPlainLoops() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 500; trial++) {
            int h = rnd.nextInt(25);
            int w = rnd.nextInt(25);
            boolean[] m = randomMask(rnd, h, w);
            Rle r = Rle.encode(m, h, w);
            assertThat(r.counts()).as("trial %d", trial).containsExactly(plainRuns(m, h, w));
            assertThat(r.decode()).isEqualTo(m);
            long area = 0;
            for (boolean b : m) {
                area += b ? 1 : 0;
            }
            assertThat(r.area()).isEqualTo(area);
            assertThat(r.bbox()).containsExactly(plainBox(m, h, w));
            String s = r.toCompressedString();
            assertThat(s).matches("[0-o]*");
            assertThat(Rle.fromCompressedString(s, h, w)).isEqualTo(r);
            assertThat(Rle.of(h, w, r.counts())).isEqualTo(r);
        }
    }

    @Test
    void largeCountsAndNegativeDeltasRoundTrip() {
        int[] counts = {0, 5_000_000, 40, 1, 3_000_000, 2, 1_999_957};
        Rle r = Rle.of(10_000, 1000, counts);
        Rle back = Rle.fromCompressedString(r.toCompressedString(), 10_000, 1000);
        assertThat(back.counts()).containsExactly(counts);
        assertThat(back.area()).isEqualTo(5_000_000 + 1 + 2);
    }

    @Test
    void matchesTheReferenceMasks() throws IOException {
        for (JsonNode c : fixture().get("masks")) {
            int h = c.get("height").asInt();
            int w = c.get("width").asInt();
            int[] counts = ints(c.get("counts"));
            Rle r = Rle.fromCompressedString(c.get("string").asText(), h, w);
            assertThat(r.counts()).containsExactly(counts);
            assertThat(Rle.of(h, w, counts).toCompressedString()).isEqualTo(c.get("string").asText());
            assertThat(r.area()).isEqualTo(c.get("area").asLong());
            assertThat(r.bbox()).containsExactly(doubles(c.get("bbox")));
            if (!c.get("rows").isNull()) {
                boolean[] m = new boolean[h * w];
                for (int y = 0; y < h; y++) {
                    String row = c.get("rows").get(y).asText();
                    for (int x = 0; x < w; x++) {
                        m[y * w + x] = row.charAt(x) == '1';
                    }
                }
                assertThat(Rle.encode(m, h, w).counts()).containsExactly(counts);
                assertThat(r.decode()).isEqualTo(m);
            }
        }
    }

    @Test
    void rasterisesPolygonsLikeTheReference() throws IOException {
        int cases = 0;
        for (JsonNode c : fixture().get("polygons")) {
            int h = c.get("height").asInt();
            int w = c.get("width").asInt();
            List<double[]> polys = new ArrayList<>();
            for (JsonNode p : c.get("polygons")) {
                polys.add(doubles(p));
            }
            for (int i = 0; i < polys.size(); i++) {
                assertThat(Rle.fromPolygons(List.of(polys.get(i)), h, w).counts()).as("case %d part %d", cases, i)
                        .containsExactly(ints(c.get("part_counts").get(i)));
            }
            Rle union = Rle.fromPolygons(polys, h, w);
            assertThat(union.counts()).as("case %d", cases).containsExactly(ints(c.get("counts")));
            assertThat(union.area()).isEqualTo(c.get("area").asLong());
            assertThat(union.bbox()).containsExactly(doubles(c.get("bbox")));
            cases++;
        }
        assertThat(cases).isEqualTo(25);
    }

    @Test
    void integerRectangleCoversExactlyItsPixels() {
        Rle r = Rle.fromPolygons(List.of(new double[] {3, 4, 3, 6, 10, 6, 10, 4}), 20, 20);
        boolean[] m = r.decode();
        for (int y = 0; y < 20; y++) {
            for (int x = 0; x < 20; x++) {
                assertThat(m[y * 20 + x]).as("(%d,%d)", x, y).isEqualTo(x >= 3 && x < 10 && y >= 4 && y < 6);
            }
        }
        assertThat(r.bbox()).containsExactly(3, 4, 7, 2);
    }

    @Test
    void mergeAndIouAgreeWithPixelLoops() {
        Random rnd = new Random(3);
        for (int trial = 0; trial < 200; trial++) {
            int h = 1 + rnd.nextInt(20);
            int w = 1 + rnd.nextInt(20);
            int n = 1 + rnd.nextInt(4);
            List<boolean[]> masks = new ArrayList<>();
            List<Rle> rles = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                masks.add(randomMask(rnd, h, w));
                rles.add(Rle.encode(masks.get(i), h, w));
            }
            boolean[] or = new boolean[h * w];
            boolean[] and = new boolean[h * w];
            for (int p = 0; p < h * w; p++) {
                boolean o = false;
                boolean a = true;
                for (boolean[] m : masks) {
                    o |= m[p];
                    a &= m[p];
                }
                or[p] = o;
                and[p] = a;
            }
            assertThat(Rle.merge(rles, false)).isEqualTo(Rle.encode(or, h, w));
            assertThat(Rle.merge(rles, true)).isEqualTo(Rle.encode(and, h, w));

            boolean[] crowd = new boolean[n];
            for (int g = 0; g < n; g++) {
                crowd[g] = rnd.nextBoolean();
            }
            List<Rle> dts = List.of(Rle.encode(randomMask(rnd, h, w), h, w), rles.get(0));
            double[][] iou = Rle.iou(dts, rles, crowd);
            assertThat(iou.length).isEqualTo(2);
            for (int d = 0; d < 2; d++) {
                boolean[] dm = dts.get(d).decode();
                for (int g = 0; g < n; g++) {
                    long inter = 0;
                    long union = 0;
                    long dArea = 0;
                    for (int p = 0; p < h * w; p++) {
                        inter += dm[p] && masks.get(g)[p] ? 1 : 0;
                        union += dm[p] || masks.get(g)[p] ? 1 : 0;
                        dArea += dm[p] ? 1 : 0;
                    }
                    double want = inter == 0 ? 0 : (double) inter / (crowd[g] ? dArea : union);
                    assertThat(iou[d][g]).as("trial %d d %d g %d", trial, d, g).isEqualTo(want);
                }
            }
        }
    }

    @Test
    void boxIou() {
        double[][] dt = {{0, 0, 10, 10}, {5, 5, 10, 10}, {20, 20, 2, 2}, {10, 0, 5, 5}};
        double[][] gt = {{0, 0, 10, 10}, {5, 0, 10, 10}};
        double[][] o = Rle.iouBoxes(dt, gt, new boolean[] {false, true});
        assertThat(o[0][0]).isEqualTo(1.0);
        assertThat(o[1][0]).isEqualTo(25.0 / 175);
        assertThat(o[2][0]).isZero();
        assertThat(o[3][0]).as("touching edges: no overlap, no +1").isZero();
        assertThat(o[0][1]).as("crowd: intersection over the detection's area").isEqualTo(50.0 / 100);
        assertThat(o[3][1]).isEqualTo(25.0 / 25);
        assertThat(Rle.iouBoxes(new double[0][], gt, null)).isEmpty();
    }

    @Test
    void emptyMasks() {
        Rle empty = Rle.encode(new boolean[12], 3, 4);
        assertThat(empty.counts()).containsExactly(12);
        assertThat(empty.bbox()).containsExactly(0, 0, 0, 0);
        assertThat(empty.toCompressedString()).isEqualTo("<");
        assertThat(Rle.iou(List.of(empty), List.of(empty), null)[0][0]).isZero();
        Rle none = Rle.merge(List.of(), false);
        assertThat(none.height()).isZero();
        assertThat(none.counts()).isEmpty();
    }

    @Test
    void rejectsMalformedInput() {
        assertThatThrownBy(() -> Rle.of(2, 2, new int[] {1, 2})).hasMessageContaining("sum to 3");
        assertThatThrownBy(() -> Rle.of(2, 2, new int[] {5, -1})).hasMessageContaining("negative");
        assertThatThrownBy(() -> Rle.fromCompressedString("1~", 2, 2)).hasMessageContaining("character '~'");
        assertThatThrownBy(() -> Rle.fromCompressedString("1P", 2, 2)).hasMessageContaining("ends inside");
        assertThatThrownBy(() -> Rle.fromCompressedString("3", 2, 2)).hasMessageContaining("sum to 3");
        assertThatThrownBy(() -> Rle.encode(new boolean[5], 2, 2)).hasMessageContaining("5 pixels");
        assertThatThrownBy(() -> Rle.fromPolygons(List.of(new double[] {1, 2, 3}), 5, 5))
                .hasMessageContaining("3 values");
        assertThatThrownBy(() -> Rle.fromPolygons(List.of(new double[] {0, 0, 1e12, 0, 0, 1}), 5, 5))
                .hasMessageContaining("too large");
        Rle a = Rle.encode(new boolean[4], 2, 2);
        Rle b = Rle.encode(new boolean[6], 2, 3);
        assertThatThrownBy(() -> Rle.merge(List.of(a, b), false)).hasMessageContaining("2x2 and 2x3");
        assertThatThrownBy(() -> Rle.iou(List.of(a), List.of(b), null)).hasMessageContaining("2x3");
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asInt();
        }
        return r;
    }

    static double[] doubles(JsonNode a) {
        double[] r = new double[a.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.get(i).asDouble();
        }
        return r;
    }
}
