package dev.vitrim.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.vitrim.VitrimException;
import dev.vitrim.eval.OpProfile;
import dev.vitrim.io.FloatTensor;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An ONNX graph on ONNX Runtime's CPU provider: images [B,3,H,W] in, the first output (logits) out. Intra-op threads
 * as vitrim's engine takes them (0: ONNX Runtime's default, one per physical core), one inter-op thread, every graph
 * optimisation on.
 */
public final class OnnxModel implements AutoCloseable {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final String input;
    private final String output;
    private final long[] inputShape;
    private final String what;

    private OnnxModel(OrtSession session, String what) throws OrtException {
        this.env = OrtEnvironment.getEnvironment();
        this.session = session;
        this.what = what;
        if (session.getInputNames().size() != 1) {
            throw new VitrimException(what + ": expected one input (images [B,3,H,W]), the graph has "
                    + session.getInputNames());
        }
        this.input = session.getInputNames().iterator().next();
        this.output = session.getOutputNames().iterator().next();
        var info = session.getInputInfo().get(input).getInfo();
        if (!(info instanceof TensorInfo ti) || ti.getShape().length != 4) {
            throw new VitrimException(what + ": input '" + input + "' is not a 4-d tensor [B,3,H,W]");
        }
        this.inputShape = ti.getShape();
    }

    private static OrtSession.SessionOptions options(int threads, boolean spinning) throws OrtException {
        OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
        o.setInterOpNumThreads(1);
        if (!spinning) {
            o.addConfigEntry("session.intra_op.allow_spinning", "0");
        }
        if (threads > 0) {
            o.setIntraOpNumThreads(threads);
        }
        return o;
    }

    /** Opens an {@code .onnx} file with {@code threads} intra-op threads (0: ONNX Runtime's default). */
    public static OnnxModel open(Path file, int threads) {
        if (!Files.isRegularFile(file)) {
            throw new VitrimException(file + ": no such ONNX file");
        }
        try (OrtSession.SessionOptions o = options(threads, true)) {
            return new OnnxModel(OrtEnvironment.getEnvironment().createSession(file.toString(), o), file.toString());
        } catch (OrtException e) {
            throw new VitrimException(file + ": ONNX Runtime cannot load it (" + e.getMessage() + ")");
        }
    }

    /** A serialised model held in memory (an export made on the fly). */
    public static OnnxModel of(byte[] model, int threads, String what) {
        return of(model, threads, what, true);
    }

    /**
     * {@link #of(byte[], int, String)}, with ONNX Runtime's intra-op worker threads spin-waiting for work between
     * runs ({@code spinning}, its default) or sleeping. Spinning workers keep the cores busy after a run returns, so a
     * second runtime that runs next in the same process finds them taken: side by side, turn it off.
     */
    public static OnnxModel of(byte[] model, int threads, String what, boolean spinning) {
        try (OrtSession.SessionOptions o = options(threads, spinning)) {
            return new OnnxModel(OrtEnvironment.getEnvironment().createSession(model, o), what);
        } catch (OrtException e) {
            throw new VitrimException(what + ": ONNX Runtime cannot load it (" + e.getMessage() + ")");
        }
    }

    /**
     * Where a forward's time goes on ONNX Runtime: the graph {@code model} run {@code warmup} times and then
     * {@code forwards} times on {@code images} under ONNX Runtime's own profiler, each kernel's time summed by operator
     * and grouped by the kinds of {@link OpProfile} ({@link OrtProfile}); the wall time is that of the profiled
     * forwards. The session is opened for this alone (intra-op threads as {@link #of}, workers spin-waiting, its
     * default) and its trace file deleted.
     */
    public static OpProfile profile(byte[] model, int threads, String what, FloatTensor images, int warmup,
            int forwards) {
        if (forwards < 1 || warmup < 0) {
            throw new IllegalArgumentException("forwards must be >= 1 and warmup >= 0, got " + forwards + ", " + warmup);
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("vitrim-ort-profile");
        } catch (java.io.IOException e) {
            throw new VitrimException("cannot create a temporary folder for ONNX Runtime's profile: " + e.getMessage(),
                    e);
        }
        String trace = null;
        try (OrtSession.SessionOptions o = options(threads, true)) {
            o.enableProfiling(dir.resolve("ort").toString());
            try (OnnxModel m = new OnnxModel(OrtEnvironment.getEnvironment().createSession(model, o), what)) {
                for (int i = 0; i < warmup; i++) {
                    m.forward(images);
                }
                long t0 = System.nanoTime();
                for (int i = 0; i < forwards; i++) {
                    m.forward(images);
                }
                double wall = (System.nanoTime() - t0) / 1e6;
                trace = m.session.endProfiling();
                return OrtProfile.parse(new com.fasterxml.jackson.databind.ObjectMapper().readTree(new java.io.File(
                        trace)), wall, forwards);
            }
        } catch (OrtException e) {
            throw new VitrimException(what + ": ONNX Runtime cannot load or profile it (" + e.getMessage() + ")");
        } catch (java.io.IOException e) {
            throw new VitrimException("cannot read ONNX Runtime's profile " + trace + ": " + e.getMessage(), e);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.deleteIfExists(f);
                }
                Files.deleteIfExists(dir);
            } catch (java.io.IOException ignored) {
                // a temporary file left behind is not worth failing the measurement for
            }
        }
    }

    /** The input shape the graph declares (-1: symbolic), [B,3,H,W]. */
    public long[] inputShape() {
        return inputShape.clone();
    }

    /** The model's metadata (the export writes its reducer spec, preprocessing and class names there). */
    public Map<String, String> metadata() {
        try {
            return session.getMetadata().getCustomMetadata();
        } catch (OrtException e) {
            throw new VitrimException(what + ": cannot read the metadata (" + e.getMessage() + ")");
        }
    }

    /**
     * The evaluation transform vitrim's export recorded in the model, or null for a graph from elsewhere (the caller
     * then has to say how to preprocess).
     */
    public dev.vitrim.image.PreprocessConfig preprocess() {
        String v = metadata().get(OnnxExport.META_PREPROCESS);
        if (v == null) {
            return null;
        }
        Map<String, String> kv = new LinkedHashMap<>();
        for (String part : v.split(";")) {
            int eq = part.indexOf('=');
            if (eq > 0) {
                kv.put(part.substring(0, eq), part.substring(eq + 1));
            }
        }
        try {
            return new dev.vitrim.image.PreprocessConfig(Integer.parseInt(kv.get("size")),
                    Double.parseDouble(kv.get("crop_pct")), triple(kv.get("mean")), triple(kv.get("std")),
                    dev.vitrim.image.Interpolation.valueOf(kv.get("interpolation")));
        } catch (RuntimeException e) {
            throw new VitrimException(what + ": unreadable metadata " + OnnxExport.META_PREPROCESS + " '" + v + "'");
        }
    }

    private static float[] triple(String v) {
        String[] p = v.split(",");
        return new float[] {Float.parseFloat(p[0]), Float.parseFloat(p[1]), Float.parseFloat(p[2])};
    }

    /** The class names vitrim's export recorded (empty when none: classes are then named by index). */
    public java.util.List<String> labels() {
        String v = metadata().get(OnnxExport.META_LABELS);
        return v == null ? java.util.List.of() : java.util.List.of(v.split("\n", -1));
    }

    /** The reducer spec the graph was exported with ({@code none}), or null for a graph from elsewhere. */
    public String reduceSpec() {
        return metadata().get(OnnxExport.META_SPEC);
    }

    /** Checks images [B,3,H,W] against the graph's input; throws naming the mismatch. */
    public void checkInput(long[] s, String from) {
        if (s.length != 4) {
            throw new VitrimException(from + ": expected images [B,3,H,W], got shape " + java.util.Arrays.toString(s));
        }
        for (int i = 0; i < 4; i++) {
            if (inputShape[i] >= 0 && inputShape[i] != s[i]) {
                throw new VitrimException(from + ": shape " + java.util.Arrays.toString(s) + " does not fit the graph's "
                        + "input " + java.util.Arrays.toString(inputShape) + " of " + what + " (-1: any)");
            }
        }
    }

    /** Logits (the first output) for images [B,3,H,W]. */
    public FloatTensor forward(FloatTensor images) {
        return (FloatTensor) run(images, false).get(output);
    }

    /**
     * Every output for images [B,3,H,W], by name: float outputs as {@link FloatTensor}, int64 ones (token positions)
     * as {@code long[][]} per image.
     */
    public Map<String, Object> run(FloatTensor images, boolean all) {
        checkInput(images.shape(), "input");
        try (OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(images.data()), images.shape());
             OrtSession.Result r = all ? session.run(Map.of(input, x))
                     : session.run(Map.of(input, x), java.util.Set.of(output))) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<String, OnnxValue> e : r) {
                OnnxTensor t = (OnnxTensor) e.getValue();
                long[] shape = t.getInfo().getShape();
                if (t.getInfo().type == ai.onnxruntime.OnnxJavaType.FLOAT) {
                    FloatBuffer fb = t.getFloatBuffer();
                    float[] v = new float[fb.remaining()];
                    fb.get(v);
                    out.put(e.getKey(), new FloatTensor(shape, v));
                } else if (t.getInfo().type == ai.onnxruntime.OnnxJavaType.INT64) {
                    LongBuffer lb = t.getLongBuffer();
                    int b = (int) shape[0];
                    int n = (int) (shape.length > 1 ? shape[1] : 1);
                    long[][] v = new long[b][n];
                    for (int i = 0; i < b; i++) {
                        lb.get(v[i]);
                    }
                    out.put(e.getKey(), v);
                }
            }
            return out;
        } catch (OrtException e) {
            throw new VitrimException(what + ": ONNX Runtime failed (" + e.getMessage() + ")");
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new VitrimException(what + ": " + e.getMessage());
        }
    }
}
