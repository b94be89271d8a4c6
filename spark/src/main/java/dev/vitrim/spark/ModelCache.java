package dev.vitrim.spark;

import dev.vitrim.VitrimException;
import dev.vitrim.api.LoadOptions;
import dev.vitrim.api.Vitrim;
import dev.vitrim.api.VitrimModel;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.engine.Torch;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.TokenReducer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkEnv;
import org.apache.spark.SparkFiles;

/**
 * The only place the Spark jobs load models, through the public API ({@link Vitrim#load}: a classifier or a dense
 * model, by the file's metadata): one {@link VitrimModel} per checkpoint and head count per JVM, shared by all the tasks the executor runs at once (the forward pass is safe to call from several threads), and
 * kept for the JVM's life, so a model is loaded once per executor, not per task or row. Reducers are parsed once per
 * model and spec. The PyTorch engine is started with {@link Threads#forThisExecutor()} intra-op threads per task
 * unless the spec names a count.
 */
final class ModelCache {
    private record Key(String model, int heads) {}

    private static final Map<Key, VitrimModel> MODELS = new HashMap<>();
    private static final Map<String, TokenReducer> REDUCERS = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();
    private static int engineThreads;

    private ModelCache() {}

    /** The model file of {@code spec} through the public API ({@link Vitrim#load}), loaded on first use here. */
    private static VitrimModel load(ModelSpec spec) {
        Key key = new Key(spec.model(), spec.heads());
        synchronized (MODELS) {
            VitrimModel m = MODELS.get(key);
            if (m == null) {
                startEngine(spec);
                m = Vitrim.load(locate(spec.model()), LoadOptions.defaults().withHeads(spec.heads()));
                LOADS.incrementAndGet();
                MODELS.put(key, m);
            }
            return m;
        }
    }

    /** The classifier of {@code spec}, loaded on first use in this JVM. */
    static VisionTransformer model(ModelSpec spec) {
        VitrimModel m = load(spec);
        if (m.isDense()) {
            throw new VitrimException(spec.model() + " is a dense model (segmentation, detection): classify and the "
                    + "top-1 evaluation need a classifier; segment, detect or evaluate it on a dense data set");
        }
        return m.backbone();
    }

    /** The dense model (segmentation, detection) of {@code spec}, loaded on first use in this JVM. */
    static DenseModel dense(ModelSpec spec) {
        VitrimModel m = load(spec);
        if (!m.isDense()) {
            throw new VitrimException(spec.model() + " is a classifier: segment, detect and the dense evaluation need a "
                    + "dense model (trained with vitrim train --data scenes:train)");
        }
        return m.denseModel();
    }

    /** The reducer of {@code spec} for its model (parsed and checked against it once). */
    static TokenReducer reducer(ModelSpec spec) {
        VitrimModel m = load(spec);
        return REDUCERS.computeIfAbsent(spec.model() + "\u0000" + spec.heads() + "\u0000" + spec.reduce(),
                k -> m.reduce(spec.reduce()).reducer());
    }

    /** The reducer of {@code spec} for its dense model's backbone. */
    static TokenReducer denseReducer(ModelSpec spec) {
        dense(spec);
        return reducer(spec);
    }

    /** Models loaded in this JVM so far. */
    static int loads() {
        return LOADS.get();
    }

    /** The intra-op threads per task the engine was started with in this JVM (0: not started here). */
    static int threads() {
        synchronized (MODELS) {
            return engineThreads;
        }
    }

    private static void startEngine(ModelSpec spec) {
        if (engineThreads == 0) {
            engineThreads = spec.threads() > 0 ? spec.threads() : Threads.forThisExecutor();
            Torch.engine(engineThreads);
        }
    }

    /** The path as given when it exists here, else a file shipped with {@code --files} under its name. */
    static Path locate(String model) {
        Path p = Path.of(model);
        if (Files.exists(p)) {
            return p;
        }
        if (SparkEnv.get() != null && p.getFileName() != null) {
            Path shipped = Path.of(SparkFiles.get(p.getFileName().toString()));
            if (Files.exists(shipped)) {
                return shipped;
            }
        }
        throw new VitrimException(model + ": no such model file on this executor (put it on a file system every "
                + "executor reads, or ship it with spark-submit --files)");
    }
}
