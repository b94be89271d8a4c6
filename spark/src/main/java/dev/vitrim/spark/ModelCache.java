package dev.vitrim.spark;

import dev.vitrim.VitrimException;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.engine.Torch;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
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
 * The only place the Spark jobs load models: one {@link VisionTransformer} per checkpoint and head count per JVM,
 * shared by all the tasks the executor runs at once (the forward pass is safe to call from several threads), and
 * kept for the JVM's life, so a model is loaded once per executor, not per task or row. Reducers are parsed once per
 * model and spec. The PyTorch engine is started with {@link Threads#forThisExecutor()} intra-op threads per task
 * unless the spec names a count.
 */
final class ModelCache {
    private record Key(String model, int heads) {}

    private static final Map<Key, VisionTransformer> MODELS = new HashMap<>();
    private static final Map<String, DenseModel> DENSE = new HashMap<>();
    private static final Map<String, TokenReducer> REDUCERS = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();
    private static int engineThreads;

    private ModelCache() {}

    /** The model of {@code spec}, loaded on first use in this JVM. */
    static VisionTransformer model(ModelSpec spec) {
        Key key = new Key(spec.model(), spec.heads());
        synchronized (MODELS) {
            VisionTransformer vit = MODELS.get(key);
            if (vit == null) {
                startEngine(spec);
                vit = VisionTransformer.load(locate(spec.model()), spec.heads());
                LOADS.incrementAndGet();
                MODELS.put(key, vit);
            }
            return vit;
        }
    }

    /** The reducer of {@code spec} for its model (parsed and checked against it once). */
    static TokenReducer reducer(ModelSpec spec) {
        VisionTransformer vit = model(spec);
        return REDUCERS.computeIfAbsent(spec.model() + "\u0000" + spec.heads() + "\u0000" + spec.reduce(),
                k -> Reducers.parse(spec.reduce(), vit));
    }

    /** The dense model (segmentation, detection) of {@code spec}, loaded on first use in this JVM. */
    static DenseModel dense(ModelSpec spec) {
        synchronized (MODELS) {
            DenseModel m = DENSE.get(spec.model());
            if (m == null) {
                startEngine(spec);
                m = DenseModel.load(locate(spec.model()));
                LOADS.incrementAndGet();
                DENSE.put(spec.model(), m);
            }
            return m;
        }
    }

    /** The reducer of {@code spec} for its dense model's backbone (parsed and checked once). */
    static TokenReducer denseReducer(ModelSpec spec) {
        DenseModel m = dense(spec);
        return REDUCERS.computeIfAbsent("dense\u0000" + spec.model() + "\u0000" + spec.reduce(),
                k -> Reducers.parse(spec.reduce(), m.backbone()));
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
