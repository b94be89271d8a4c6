package dev.vitrim.coco;

import dev.vitrim.VitrimException;
import dev.vitrim.coco.CocoJson.Annotation;
import dev.vitrim.coco.CocoJson.Dataset;
import dev.vitrim.coco.CocoJson.Detection;
import dev.vitrim.coco.CocoJson.Image;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * COCO detection and instance-segmentation evaluation with the semantics of pycocotools' {@code COCOeval}
 * (evaluate, accumulate, summarize) for {@code bbox} and {@code segm}.
 *
 * <p>IoU thresholds are numpy's {@code linspace(.5, .95, 10)}, recall points {@code linspace(0, 1, 101)}, maxDets
 * 1, 10, 100, area ranges all [0, 1e10], small [0, 32²], medium [32², 96²], large [96², 1e10] (both ends
 * inclusive). Ground-truth areas are the file's {@code area}; detection areas follow the COCO API's result loading
 * (bbox w*h when the first result has a bbox, else mask area). Crowd ground truth is ignored, may match several
 * detections and its IoU divides by the detection's area. A match is kept as the ground-truth id, so, as in
 * {@code COCOeval}, a ground truth with id 0 never counts as matched.
 */
public final class CocoEval {
    /** What the IoU is computed on. */
    public enum IouType {
        BBOX, SEGM;

        /** {@code "bbox"} or {@code "segm"}. */
        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Names of the twelve summary numbers, in pycocotools' order. */
    public static final List<String> STAT_NAMES = List.of("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10",
            "AR100", "ARs", "ARm", "ARl");

    /** Area range labels, in the order of the area dimension of the precision and recall arrays. */
    public static final List<String> AREA_LABELS = List.of("all", "small", "medium", "large");

    private static final double[] IOU_THRS = linspace(.5, .95, 10);
    private static final double[] REC_THRS = linspace(0, 1, 101);
    private static final int[] MAX_DETS = {1, 10, 100};
    private static final double[][] AREA_RNG = {{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}};
    private static final double EPS = Math.ulp(1.0); // numpy.spacing(1)

    private CocoEval() {}

    /** numpy's {@code linspace(start, stop, num)}: {@code i * step + start}, the last value exactly {@code stop}. */
    static double[] linspace(double start, double stop, int num) {
        double step = (stop - start) / (num - 1);
        double[] y = new double[num];
        for (int i = 0; i < num; i++) {
            y[i] = i * step + start;
        }
        y[num - 1] = stop;
        return y;
    }

    /** The ten IoU thresholds. */
    public static double[] iouThresholds() {
        return IOU_THRS.clone();
    }

    /** The 101 recall points. */
    public static double[] recallThresholds() {
        return REC_THRS.clone();
    }

    /** maxDets: 1, 10, 100. */
    public static int[] maxDets() {
        return MAX_DETS.clone();
    }

    /**
     * The outcome: the twelve stats, AP per category (all areas, 100 detections; -1 without ground truth), and
     * precision {@code [T][R][K][A][M]} and recall {@code [T][K][A][M]} (T IoU thresholds, R recall points, K
     * categories by ascending id, A area ranges, M maxDets; -1 where undefined). Arrays are not copied.
     */
    public record Result(IouType iouType, double[] stats, Map<Long, Double> perCategoryAp,
            double[][][][][] precision, double[][][][] recall) {
        /** One of the twelve numbers by its name in {@link #STAT_NAMES}. */
        public double stat(String name) {
            int i = STAT_NAMES.indexOf(name);
            if (i < 0) {
                throw new IllegalArgumentException("no stat " + name + "; one of " + STAT_NAMES);
            }
            return stats[i];
        }

        /** The twelve lines pycocotools' {@code summarize()} prints. */
        public String summary() {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 12; i++) {
                boolean ap = i < 6;
                String iou = i == 1 ? "0.50" : i == 2 ? "0.75" : "0.50:0.95";
                String area = AREA_LABELS.get(i < 6 ? Math.max(0, i - 2) : Math.max(0, i - 8));
                int maxDet = i == 6 ? 1 : i == 7 ? 10 : 100;
                sb.append(String.format(Locale.ROOT, " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %s\n",
                        ap ? "Average Precision" : "Average Recall", ap ? "(AP)" : "(AR)", iou, area, maxDet,
                        fixed3(stats[i])));
            }
            return sb.toString();
        }
    }

    /** Python's {@code '{:0.3f}'}: the exact binary value, rounded half to even. */
    static String fixed3(double v) {
        return new BigDecimal(v).setScale(3, RoundingMode.HALF_EVEN).toPlainString();
    }

    private record Key(long image, long category) {}

    private record Det(long id, long imageId, long categoryId, double score, double area, double[] bbox,
            CocoJson.Segmentation segmentation) {}

    /** Per image, category and area range (for maxDet 100): what accumulate needs. */
    private record ImageEval(double[] scores, long[][] dtMatch, boolean[][] dtIgnore, boolean[] gtIgnore) {}

    /**
     * Evaluates detections against the ground truth.
     *
     * @throws VitrimException if a result names an unknown image or category, or (segm) a ground truth has no
     *     segmentation or a polygon cannot be rasterised
     */
    public static Result evaluate(Dataset gt, List<Detection> results, IouType iouType) {
        CocoJson.checkResults(results, gt, "results");
        Map<Long, Image> images = CocoJson.imagesById(gt);
        long[] imgIds = gt.images().stream().mapToLong(Image::id).sorted().toArray();
        long[] catIds = gt.categories().stream().mapToLong(CocoJson.Category::id).sorted().toArray();

        // results as the COCO API loads them: ids 1.., area from the box or the mask
        boolean byBox = !results.isEmpty() && results.get(0).bbox() != null;
        Map<Key, List<Annotation>> gts = new HashMap<>();
        Map<Key, List<Det>> dts = new HashMap<>();
        for (Annotation a : gt.annotations()) {
            gts.computeIfAbsent(new Key(a.imageId(), a.categoryId()), k -> new ArrayList<>()).add(a);
        }
        for (int i = 0; i < results.size(); i++) {
            Detection r = results.get(i);
            double[] box = r.bbox();
            double area;
            if (byBox) {
                area = box[2] * box[3];
            } else {
                Image im = images.get(r.imageId());
                Rle mask = rasterise(r.segmentation(), im, "results: entry " + i);
                area = mask.area();
                if (box == null) {
                    box = mask.bbox();
                }
            }
            dts.computeIfAbsent(new Key(r.imageId(), r.categoryId()), k -> new ArrayList<>())
                    .add(new Det(i + 1L, r.imageId(), r.categoryId(), r.score(), area, box, r.segmentation()));
        }

        // per image and category: detections by descending score (stable), at most 100, and their IoUs
        Map<Key, List<Det>> sortedDts = new HashMap<>();
        Map<Key, double[][]> ious = new HashMap<>();
        int maxDet = MAX_DETS[MAX_DETS.length - 1];
        for (Map.Entry<Key, List<Det>> e : dts.entrySet()) {
            List<Det> d = new ArrayList<>(e.getValue());
            d.sort((p, q) -> byScoreDescending(p.score(), q.score()));
            sortedDts.put(e.getKey(), d.size() > maxDet ? d.subList(0, maxDet) : d);
        }
        for (long img : imgIds) {
            for (long cat : catIds) {
                Key key = new Key(img, cat);
                List<Annotation> g = gts.getOrDefault(key, List.of());
                List<Det> d = sortedDts.getOrDefault(key, List.of());
                if (!g.isEmpty() && !d.isEmpty()) {
                    ious.put(key, computeIou(g, d, images.get(img), iouType, gt.source()));
                }
            }
        }

        // evaluate: [category][area][image]
        int nT = IOU_THRS.length;
        int nR = REC_THRS.length;
        int nK = catIds.length;
        int nA = AREA_RNG.length;
        int nM = MAX_DETS.length;
        ImageEval[][][] evals = new ImageEval[nK][nA][imgIds.length];
        for (int k = 0; k < nK; k++) {
            for (int a = 0; a < nA; a++) {
                for (int i = 0; i < imgIds.length; i++) {
                    Key key = new Key(imgIds[i], catIds[k]);
                    evals[k][a][i] = evaluateImage(gts.getOrDefault(key, List.of()),
                            sortedDts.getOrDefault(key, List.of()), ious.get(key), AREA_RNG[a]);
                }
            }
        }

        // accumulate
        double[][][][][] precision = new double[nT][nR][nK][nA][nM];
        double[][][][] recall = new double[nT][nK][nA][nM];
        for (double[][][][] p : precision) {
            for (double[][][] q : p) {
                for (double[][] r : q) {
                    for (double[] s : r) {
                        Arrays.fill(s, -1);
                    }
                }
            }
        }
        for (double[][][] p : recall) {
            for (double[][] q : p) {
                for (double[] r : q) {
                    Arrays.fill(r, -1);
                }
            }
        }
        for (int k = 0; k < nK; k++) {
            for (int a = 0; a < nA; a++) {
                for (int m = 0; m < nM; m++) {
                    accumulate(evals[k][a], MAX_DETS[m], precision, recall, k, a, m);
                }
            }
        }

        // summarize
        double[] stats = {
            meanAp(precision, -1, 0, 2), meanAp(precision, .5, 0, 2), meanAp(precision, .75, 0, 2),
            meanAp(precision, -1, 1, 2), meanAp(precision, -1, 2, 2), meanAp(precision, -1, 3, 2),
            meanAr(recall, 0, 0), meanAr(recall, 0, 1), meanAr(recall, 0, 2),
            meanAr(recall, 1, 2), meanAr(recall, 2, 2), meanAr(recall, 3, 2)};
        Map<Long, Double> perCat = new LinkedHashMap<>();
        for (int k = 0; k < nK; k++) {
            double sum = 0;
            long n = 0;
            for (int t = 0; t < nT; t++) {
                for (int r = 0; r < nR; r++) {
                    double v = precision[t][r][k][0][2];
                    if (v > -1) {
                        sum += v;
                        n++;
                    }
                }
            }
            perCat.put(catIds[k], n == 0 ? -1 : sum / n);
        }
        return new Result(iouType, stats, Collections.unmodifiableMap(perCat), precision, recall);
    }

    /** numpy's argsort of -score (stable): higher first, ties in their order; IEEE comparison, so -0.0 == 0.0. */
    private static int byScoreDescending(double p, double q) {
        return p > q ? -1 : p < q ? 1 : 0;
    }

    private static Rle rasterise(CocoJson.Segmentation s, Image im, String where) {
        try {
            return CocoJson.toRle(s, im.height(), im.width());
        } catch (IllegalArgumentException e) {
            throw new VitrimException(where + ": segmentation: " + e.getMessage());
        }
    }

    private static double[][] computeIou(List<Annotation> g, List<Det> d, Image im, IouType type, String source) {
        boolean[] crowd = new boolean[g.size()];
        for (int j = 0; j < crowd.length; j++) {
            crowd[j] = g.get(j).crowd();
        }
        if (type == IouType.BBOX) {
            double[][] db = new double[d.size()][];
            double[][] gb = new double[g.size()][];
            for (int i = 0; i < db.length; i++) {
                db[i] = d.get(i).bbox();
            }
            for (int j = 0; j < gb.length; j++) {
                gb[j] = g.get(j).bbox();
            }
            return Rle.iouBoxes(db, gb, crowd);
        }
        List<Rle> dm = new ArrayList<>(d.size());
        List<Rle> gm = new ArrayList<>(g.size());
        for (Det det : d) {
            CocoJson.Segmentation s = det.segmentation();
            if (s == null) { // as the COCO API: a box-only result is its box as a polygon
                double[] b = det.bbox();
                double x1 = b[0];
                double y1 = b[1];
                double x2 = b[0] + b[2];
                double y2 = b[1] + b[3];
                s = new CocoJson.Polygons(List.of(new double[] {x1, y1, x1, y2, x2, y2, x2, y1}));
            }
            dm.add(rasterise(s, im, "results: entry " + (det.id() - 1)));
        }
        for (Annotation a : g) {
            if (a.segmentation() == null) {
                throw new VitrimException(source + ": annotation id " + a.id()
                        + ": no segmentation (needed for segm evaluation)");
            }
            gm.add(rasterise(a.segmentation(), im, source + ": annotation id " + a.id()));
        }
        return Rle.iou(dm, gm, crowd);
    }

    private static ImageEval evaluateImage(List<Annotation> g0, List<Det> d, double[][] iou0, double[] range) {
        if (g0.isEmpty() && d.isEmpty()) {
            return null;
        }
        int nG = g0.size();
        int nD = d.size();
        // ground truth: not ignored first (stable)
        boolean[] ignore0 = new boolean[nG];
        for (int j = 0; j < nG; j++) {
            Annotation a = g0.get(j);
            ignore0[j] = a.crowd() || a.area() < range[0] || a.area() > range[1];
        }
        int[] order = new int[nG];
        int n = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int j = 0; j < nG; j++) {
                if (ignore0[j] == (pass == 1)) {
                    order[n++] = j;
                }
            }
        }
        long[] gtId = new long[nG];
        boolean[] gtIg = new boolean[nG];
        boolean[] crowd = new boolean[nG];
        for (int j = 0; j < nG; j++) {
            Annotation a = g0.get(order[j]);
            gtId[j] = a.id();
            gtIg[j] = ignore0[order[j]];
            crowd[j] = a.crowd();
        }
        int nT = IOU_THRS.length;
        long[][] gtm = new long[nT][nG];
        long[][] dtm = new long[nT][nD];
        boolean[][] dtIg = new boolean[nT][nD];
        if (iou0 != null) {
            for (int t = 0; t < nT; t++) {
                for (int i = 0; i < nD; i++) {
                    double best = Math.min(IOU_THRS[t], 1 - 1e-10);
                    int m = -1;
                    for (int j = 0; j < nG; j++) {
                        if (gtm[t][j] > 0 && !crowd[j]) {
                            continue; // taken, and not a crowd
                        }
                        if (m > -1 && !gtIg[m] && gtIg[j]) {
                            break; // holds a regular match; only ignored ground truth is left
                        }
                        double v = iou0[i][order[j]];
                        if (v < best) {
                            continue;
                        }
                        best = v;
                        m = j;
                    }
                    if (m == -1) {
                        continue;
                    }
                    dtIg[t][i] = gtIg[m];
                    dtm[t][i] = gtId[m];
                    gtm[t][m] = d.get(i).id();
                }
            }
        }
        double[] scores = new double[nD];
        for (int i = 0; i < nD; i++) {
            Det det = d.get(i);
            scores[i] = det.score();
            boolean outside = det.area() < range[0] || det.area() > range[1];
            for (int t = 0; t < nT; t++) {
                dtIg[t][i] |= dtm[t][i] == 0 && outside;
            }
        }
        return new ImageEval(scores, dtm, dtIg, gtIg);
    }

    private static void accumulate(ImageEval[] perImage, int maxDet, double[][][][][] precision,
            double[][][][] recall, int k, int a, int m) {
        List<ImageEval> es = new ArrayList<>();
        for (ImageEval e : perImage) {
            if (e != null) {
                es.add(e);
            }
        }
        if (es.isEmpty()) {
            return;
        }
        int total = 0;
        int npig = 0;
        for (ImageEval e : es) {
            total += Math.min(maxDet, e.scores().length);
            for (boolean ig : e.gtIgnore()) {
                npig += ig ? 0 : 1;
            }
        }
        if (npig == 0) {
            return;
        }
        // concatenate the first maxDet of every image, then a stable sort by descending score
        double[] scores = new double[total];
        int[] src = new int[total];
        int[] col = new int[total];
        int p = 0;
        for (int e = 0; e < es.size(); e++) {
            double[] s = es.get(e).scores();
            for (int i = 0; i < Math.min(maxDet, s.length); i++) {
                scores[p] = s[i];
                src[p] = e;
                col[p] = i;
                p++;
            }
        }
        Integer[] idx = new Integer[total];
        for (int i = 0; i < total; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (x, y) -> byScoreDescending(scores[x], scores[y]));
        double[] rc = new double[total];
        double[] pr = new double[total];
        for (int t = 0; t < IOU_THRS.length; t++) {
            double tp = 0;
            double fp = 0;
            for (int i = 0; i < total; i++) {
                ImageEval e = es.get(src[idx[i]]);
                int c = col[idx[i]];
                if (!e.dtIgnore()[t][c]) {
                    if (e.dtMatch()[t][c] != 0) {
                        tp++;
                    } else {
                        fp++;
                    }
                }
                rc[i] = tp / npig;
                pr[i] = tp / (fp + tp + EPS);
            }
            recall[t][k][a][m] = total > 0 ? rc[total - 1] : 0;
            for (int i = total - 1; i > 0; i--) { // non-increasing from the right
                if (pr[i] > pr[i - 1]) {
                    pr[i - 1] = pr[i];
                }
            }
            int i = 0;
            for (int r = 0; r < REC_THRS.length; r++) {
                while (i < total && rc[i] < REC_THRS[r]) {
                    i++; // first index with recall >= the recall point
                }
                precision[t][r][k][a][m] = i < total ? pr[i] : 0;
            }
        }
    }

    private static double meanAp(double[][][][][] precision, double iouThr, int a, int m) {
        double sum = 0;
        long n = 0;
        for (int t = 0; t < IOU_THRS.length; t++) {
            if (iouThr >= 0 && IOU_THRS[t] != iouThr) {
                continue;
            }
            for (double[][][] byK : precision[t]) {
                for (double[][] byA : byK) {
                    double v = byA[a][m];
                    if (v > -1) {
                        sum += v;
                        n++;
                    }
                }
            }
        }
        return n == 0 ? -1 : sum / n;
    }

    private static double meanAr(double[][][][] recall, int a, int m) {
        double sum = 0;
        long n = 0;
        for (double[][][] byK : recall) {
            for (double[][] byA : byK) {
                double v = byA[a][m];
                if (v > -1) {
                    sum += v;
                    n++;
                }
            }
        }
        return n == 0 ? -1 : sum / n;
    }
}
