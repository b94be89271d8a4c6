package dev.vitrim.spark;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.image.ImageDecoder;
import dev.vitrim.image.Preprocessor;
import dev.vitrim.image.RgbImage;
import dev.vitrim.infer.Classification;
import dev.vitrim.infer.Classifier;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Classifies one partition in batches: each image decoded and preprocessed exactly as {@link Classifier} does, the
 * good ones of a batch forwarded together, one output row per input row in input order. An image that cannot be
 * decoded becomes a row with only {@code file} and {@code error}.
 */
final class ClassifyPartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    static final StructType TOP = new StructType(new StructField[] {
            DataTypes.createStructField("label", DataTypes.StringType, false),
            DataTypes.createStructField("index", DataTypes.IntegerType, false),
            DataTypes.createStructField("prob", DataTypes.DoubleType, false)});

    static final StructType SCHEMA = new StructType(new StructField[] {
            DataTypes.createStructField("file", DataTypes.StringType, false),
            DataTypes.createStructField("top1", DataTypes.StringType, true),
            DataTypes.createStructField("prob", DataTypes.DoubleType, true),
            DataTypes.createStructField("topk", DataTypes.createArrayType(TOP, false), true),
            DataTypes.createStructField("tokens_kept", DataTypes.IntegerType, true),
            DataTypes.createStructField("error", DataTypes.StringType, true)});

    private final ModelSpec spec;
    private final int pathColumn;
    private final int contentColumn; // -1: read the file at the path

    ClassifyPartition(ModelSpec spec, int pathColumn, int contentColumn) {
        this.spec = spec;
        this.pathColumn = pathColumn;
        this.contentColumn = contentColumn;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> input) {
        VisionTransformer vit = ModelCache.model(spec);
        TokenReducer reducer = ModelCache.reducer(spec);
        Preprocessor pre = new Preprocessor(vit.config().preprocess());
        int[] after = reducer.perImageCounts() ? null : Macs.plan(vit.config(), reducer).afterBlock();
        int fixedTokens = after == null ? -1 : after[after.length - 1];
        return Batches.map(input, spec.batch(), rows -> classify(vit, reducer, pre, fixedTokens, rows));
    }

    private List<Row> classify(VisionTransformer vit, TokenReducer reducer, Preprocessor pre, int fixedTokens,
                               List<Row> rows) {
        VitConfig c = vit.config();
        int size = pre.config().size();
        int plane = 3 * size * size;
        Row[] out = new Row[rows.size()];
        String[] names = new String[rows.size()];
        List<float[]> inputs = new ArrayList<>();
        List<Integer> where = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            String name = r.isNullAt(pathColumn) ? "(row without a path)" : displayName(r.getString(pathColumn));
            names[i] = name;
            try {
                inputs.add(pre.apply(read(r, name, contentColumn)));
                where.add(i);
            } catch (RuntimeException e) { // a bad image costs only its own row
                out[i] = RowFactory.create(name, null, null, null, null, error(name, e));
            }
        }
        if (!inputs.isEmpty()) {
            float[] data = new float[inputs.size() * plane];
            for (int i = 0; i < inputs.size(); i++) {
                System.arraycopy(inputs.get(i), 0, data, i * plane, plane);
            }
            Trace trace = fixedTokens < 0 ? new Trace() : null;
            FloatTensor logits = vit.forward(new FloatTensor(new long[] {inputs.size(), 3, size, size}, data),
                    reducer, trace);
            int classes = (int) logits.shape()[1];
            for (int i = 0; i < inputs.size(); i++) {
                float[] row = new float[classes];
                System.arraycopy(logits.data(), i * classes, row, 0, classes);
                List<Classification.Top> top = Classifier.top(row, spec.top(), c);
                List<Row> topk = new ArrayList<>(top.size());
                for (Classification.Top t : top) {
                    topk.add(RowFactory.create(t.label(), t.index(), t.prob()));
                }
                int tokens = trace == null ? fixedTokens : lastTokens(trace.images().get(i));
                int idx = where.get(i);
                out[idx] = RowFactory.create(names[idx], top.get(0).label(), top.get(0).prob(),
                        scala.jdk.javaapi.CollectionConverters.asScala(topk).toSeq(), tokens, null);
            }
        }
        return List.of(out);
    }

    /** The image of a row: its {@code content} bytes when the column is there ({@code content} ≥ 0), else the file. */
    static RgbImage read(Row r, String name, int content) {
        if (content < 0) {
            return ImageDecoder.read(Path.of(name));
        }
        if (r.isNullAt(content)) {
            throw new VitrimException(name + ": no content");
        }
        return ImageDecoder.decode((byte[]) r.get(content), name);
    }

    /** The error column's text for a row that failed: vitrim's message names the file; others get the name added. */
    static String error(String name, RuntimeException e) {
        String msg = e.getMessage() == null ? e.toString() : e.getMessage();
        return e instanceof VitrimException ? msg : name + ": " + msg;
    }

    private static int lastTokens(List<Trace.Block> blocks) {
        return blocks.get(blocks.size() - 1).tokens();
    }

    /** A local file as its path ({@code file:/a%20b.png} as {@code /a b.png}); any other URI as it is. */
    static String displayName(String path) {
        if (path.startsWith("file:")) {
            try {
                return Path.of(new URI(path)).toString();
            } catch (URISyntaxException | IllegalArgumentException e) {
                return path.substring("file:".length());
            }
        }
        return path;
    }
}
