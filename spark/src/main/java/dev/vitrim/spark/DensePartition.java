package dev.vitrim.spark;

import dev.vitrim.coco.Rle;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.DensePrediction;
import dev.vitrim.dense.DensePredictor;
import dev.vitrim.dense.Detection;
import dev.vitrim.dense.InstanceMask;
import dev.vitrim.dense.Overlay;
import dev.vitrim.image.RgbImage;
import dev.vitrim.reduce.TokenReducer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Segments or detects in one partition, in batches, as {@code vitrim segment|detect} does: each image resized to the
 * model's input, predicted, and the prediction mapped back to the image's own pixels. One output row per input row,
 * in input order; an image that cannot be decoded becomes a row with only {@code file} and {@code error}.
 */
final class DensePartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    static final StructType DETECTION = new StructType(new StructField[] {
            DataTypes.createStructField("label", DataTypes.StringType, false),
            DataTypes.createStructField("category_id", DataTypes.IntegerType, false),
            DataTypes.createStructField("score", DataTypes.DoubleType, false),
            DataTypes.createStructField("bbox", DataTypes.createArrayType(DataTypes.DoubleType, false), false),
            DataTypes.createStructField("segmentation", DataTypes.StringType, true)});

    static final StructType SEGMENT_SCHEMA = new StructType(new StructField[] {
            DataTypes.createStructField("file", DataTypes.StringType, false),
            DataTypes.createStructField("width", DataTypes.IntegerType, true),
            DataTypes.createStructField("height", DataTypes.IntegerType, true),
            DataTypes.createStructField("labels", DataTypes.BinaryType, true),
            DataTypes.createStructField("pixels",
                    DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false), true),
            DataTypes.createStructField("error", DataTypes.StringType, true)});

    static final StructType DETECT_SCHEMA = new StructType(new StructField[] {
            DataTypes.createStructField("file", DataTypes.StringType, false),
            DataTypes.createStructField("width", DataTypes.IntegerType, true),
            DataTypes.createStructField("height", DataTypes.IntegerType, true),
            DataTypes.createStructField("detections", DataTypes.createArrayType(DETECTION, false), true),
            DataTypes.createStructField("error", DataTypes.StringType, true)});

    private final ModelSpec spec;
    private final int pathColumn;
    private final int contentColumn; // -1: read the file at the path
    private final boolean segment;

    DensePartition(ModelSpec spec, int pathColumn, int contentColumn, boolean segment) {
        this.spec = spec;
        this.pathColumn = pathColumn;
        this.contentColumn = contentColumn;
        this.segment = segment;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
        DenseModel model = ModelCache.dense(spec);
        TokenReducer reducer = ModelCache.denseReducer(spec);
        return Batches.map(input, spec.batch(), rows -> predict(model, reducer, rows));
    }

    private List<Row> predict(DenseModel model, TokenReducer reducer, List<Row> rows) {
        Row[] out = new Row[rows.size()];
        String[] names = new String[rows.size()];
        List<RgbImage> images = new ArrayList<>();
        List<Integer> where = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            String name = r.isNullAt(pathColumn) ? "(row without a path)"
                    : ClassifyPartition.displayName(r.getString(pathColumn));
            names[i] = name;
            try {
                images.add(ClassifyPartition.read(r, name, contentColumn));
                where.add(i);
            } catch (RuntimeException e) { // a bad image costs only its own row
                out[i] = segment ? RowFactory.create(name, null, null, null, null, ClassifyPartition.error(name, e))
                        : RowFactory.create(name, null, null, null, ClassifyPartition.error(name, e));
            }
        }
        if (!images.isEmpty()) {
            List<DensePrediction> preds = DensePredictor.predictImages(model, images, reducer);
            for (int j = 0; j < preds.size(); j++) {
                int i = where.get(j);
                out[i] = segment ? segmentRow(names[i], preds.get(j), model.classes())
                        : detectRow(names[i], preds.get(j), model.classes());
            }
        }
        return List.of(out);
    }

    /** The label map as an 8-bit greyscale PNG (class index per pixel, 0 = background) and the class fractions. */
    static Row segmentRow(String name, DensePrediction p, List<String> classes) {
        double[] f = p.classFractions(classes.size() + 1);
        Map<String, Double> pixels = new LinkedHashMap<>();
        for (int c = 0; c < f.length; c++) {
            if (c == 0 || f[c] > 0) {
                pixels.put(c == 0 ? "background" : classes.get(c - 1), f[c]);
            }
        }
        return RowFactory.create(name, p.width(), p.height(), Overlay.labelPng(p.labels(), p.height(), p.width(), name),
                CollectionConverters.asScala(pixels), null);
    }

    /**
     * Every detection (best first, up to the model's 100), with its instance mask as a COCO compressed RLE string
     * at the image's size when instance grouping gave it one.
     */
    static Row detectRow(String name, DensePrediction p, List<String> classes) {
        Map<Detection, InstanceMask> masks = p.masksByDetection();
        List<Row> dets = new ArrayList<>(p.detections().size());
        for (Detection d : p.detections()) {
            InstanceMask m = masks.get(d);
            List<Object> bbox = List.of((double) d.x(), (double) d.y(), (double) d.w(), (double) d.h());
            dets.add(RowFactory.create(classes.get(d.category()), d.category() + 1,
                    (double) (m == null ? d.score() : m.score()), CollectionConverters.asScala(bbox).toSeq(),
                    m == null ? null : Rle.encode(m.mask(), p.height(), p.width()).toCompressedString()));
        }
        return RowFactory.create(name, p.width(), p.height(), CollectionConverters.asScala(dets).toSeq(), null);
    }
}
