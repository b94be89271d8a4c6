package dev.vitrim.coco;

import java.util.Arrays;
import java.util.List;

/**
 * Semantic-segmentation mIoU as mmsegmentation computes it: per image, pixels whose label is the ignore index are
 * dropped; intersection, prediction and label areas per class are summed over the whole set; then
 * {@code IoU_c = I_c / (P_c + L_c - I_c)} and mIoU is the mean over classes with a non-zero union.
 *
 * <p>Unlike mmsegmentation, which silently drops them, a predicted class outside {@code [0, classes)} on a counted
 * pixel, or a label that is neither a class nor the ignore index, is an error. Not thread-safe: use one accumulator
 * per thread or partition and {@link #merge} them.
 */
public final class SegmentationMetrics implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    /** mmsegmentation's default ignore index. */
    public static final int DEFAULT_IGNORE_INDEX = 255;

    private final List<String> classNames;
    private final int ignoreIndex;
    private final long[] intersection;
    private final long[] predicted;
    private final long[] labelled;
    private long images;

    /** An empty accumulator for these classes (class c is index c), ignoring label 255. */
    public SegmentationMetrics(List<String> classNames) {
        this(classNames, DEFAULT_IGNORE_INDEX);
    }

    /**
     * An empty accumulator for these classes (class c is index c), ignoring pixels labelled {@code ignoreIndex}.
     *
     * @throws IllegalArgumentException if there are no classes or the ignore index is a class
     */
    public SegmentationMetrics(List<String> classNames, int ignoreIndex) {
        if (classNames.isEmpty()) {
            throw new IllegalArgumentException("no classes");
        }
        if (ignoreIndex >= 0 && ignoreIndex < classNames.size()) {
            throw new IllegalArgumentException("ignore index " + ignoreIndex + " is class '"
                    + classNames.get(ignoreIndex) + "'");
        }
        this.classNames = List.copyOf(classNames);
        this.ignoreIndex = ignoreIndex;
        int n = classNames.size();
        this.intersection = new long[n];
        this.predicted = new long[n];
        this.labelled = new long[n];
    }

    /**
     * Adds one image: predicted and true class per pixel, both in the same pixel order. Nothing is added if the
     * image is rejected.
     *
     * @throws IllegalArgumentException if the maps differ in size, or a value is out of range (see the class note)
     */
    public void add(int[] prediction, int[] label) {
        if (prediction.length != label.length) {
            throw new IllegalArgumentException("label map has " + label.length + " pixels but the prediction has "
                    + prediction.length);
        }
        int n = classNames.size();
        long[] in = new long[n];
        long[] pr = new long[n];
        long[] lb = new long[n];
        for (int i = 0; i < label.length; i++) {
            int l = label[i];
            if (l == ignoreIndex) {
                continue;
            }
            if (l < 0 || l >= n) {
                throw new IllegalArgumentException("label map pixel " + i + " has class " + l + ", not in [0, " + n
                        + ") nor the ignore index " + ignoreIndex);
            }
            int p = prediction[i];
            if (p < 0 || p >= n) {
                throw new IllegalArgumentException("prediction pixel " + i + " has class " + p + ", not in [0, " + n
                        + ")");
            }
            lb[l]++;
            pr[p]++;
            if (p == l) {
                in[l]++;
            }
        }
        for (int c = 0; c < n; c++) {
            intersection[c] += in[c];
            predicted[c] += pr[c];
            labelled[c] += lb[c];
        }
        images++;
    }

    /**
     * Adds one image given as {@code [height][width]} maps.
     *
     * @throws IllegalArgumentException if the maps differ in shape or a row is ragged, or a value is out of range
     */
    public void add(int[][] prediction, int[][] label) {
        if (prediction.length != label.length) {
            throw new IllegalArgumentException("label map has " + label.length + " rows but the prediction has "
                    + prediction.length);
        }
        int w = label.length == 0 ? 0 : label[0].length;
        int[] p = new int[label.length * w];
        int[] l = new int[label.length * w];
        for (int y = 0; y < label.length; y++) {
            if (label[y].length != w || prediction[y].length != w) {
                throw new IllegalArgumentException("row " + y + ": label map has " + label[y].length
                        + " columns and the prediction " + prediction[y].length + ", expected " + w);
            }
            System.arraycopy(prediction[y], 0, p, y * w, w);
            System.arraycopy(label[y], 0, l, y * w, w);
        }
        add(p, l);
    }

    /**
     * A new accumulator holding the sums of this one and {@code other} (equal to one accumulator that saw both
     * sets of images); neither input changes.
     *
     * @throws IllegalArgumentException if the classes or the ignore index differ
     */
    public SegmentationMetrics merge(SegmentationMetrics other) {
        if (!classNames.equals(other.classNames) || ignoreIndex != other.ignoreIndex) {
            throw new IllegalArgumentException("cannot merge: classes " + classNames + " ignoring " + ignoreIndex
                    + " vs " + other.classNames + " ignoring " + other.ignoreIndex);
        }
        SegmentationMetrics m = new SegmentationMetrics(classNames, ignoreIndex);
        for (int c = 0; c < classNames.size(); c++) {
            m.intersection[c] = intersection[c] + other.intersection[c];
            m.predicted[c] = predicted[c] + other.predicted[c];
            m.labelled[c] = labelled[c] + other.labelled[c];
        }
        m.images = images + other.images;
        return m;
    }

    public List<String> classNames() {
        return classNames;
    }

    public int ignoreIndex() {
        return ignoreIndex;
    }

    /** Images added. */
    public long images() {
        return images;
    }

    /** Pixels per class predicted and labelled that class. */
    public long[] intersection() {
        return intersection.clone();
    }

    /** Pixels per class predicted that class (ignored pixels excluded). */
    public long[] predictionArea() {
        return predicted.clone();
    }

    /** Pixels per class labelled that class. */
    public long[] labelArea() {
        return labelled.clone();
    }

    /** Prediction area + label area - intersection, per class. */
    public long[] union() {
        long[] u = new long[classNames.size()];
        for (int c = 0; c < u.length; c++) {
            u[c] = predicted[c] + labelled[c] - intersection[c];
        }
        return u;
    }

    /** IoU per class; NaN where the union is empty. */
    public double[] iou() {
        long[] u = union();
        double[] r = new double[u.length];
        for (int c = 0; c < r.length; c++) {
            r[c] = u[c] == 0 ? Double.NaN : (double) intersection[c] / u[c];
        }
        return r;
    }

    /** Mean IoU over classes with a non-empty union; NaN if there is none. */
    public double meanIou() {
        double sum = 0;
        int n = 0;
        for (double v : iou()) {
            if (!Double.isNaN(v)) {
                sum += v;
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /** Accuracy per class (intersection / label area, mmseg's "Acc"); NaN where no pixel has the label. */
    public double[] accuracy() {
        double[] r = new double[labelled.length];
        for (int c = 0; c < r.length; c++) {
            r[c] = labelled[c] == 0 ? Double.NaN : (double) intersection[c] / labelled[c];
        }
        return r;
    }

    /** Correct pixels / counted pixels (mmseg's "aAcc"); NaN if no pixel was counted. */
    public double pixelAccuracy() {
        long i = Arrays.stream(intersection).sum();
        long l = Arrays.stream(labelled).sum();
        return l == 0 ? Double.NaN : (double) i / l;
    }
}
