package dev.vitrim.engine;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;

/** One place that starts DJL's PyTorch engine the way vitrim needs it: offline, with a chosen thread count. */
public final class Torch {
    private static volatile Engine engine;
    private static volatile int threads;
    /** OpenMP keeps the thread count per calling thread: every thread that runs ops must set it itself. */
    private static final ThreadLocal<Boolean> THREAD_READY = ThreadLocal.withInitial(() -> false);

    private Torch() {}

    /**
     * The DJL settings the vitrim command line runs with, for an application that wants the same: no downloads
     * ({@code ai.djl.offline}), one inter-op thread, and DJL's TorchScript graph optimiser off for the models DJL
     * itself runs (vitrim's own kernels are called directly and are not affected). Each is set only where the
     * application has not set it. System properties are global to the JVM and read when the engine starts, so call
     * this first, before anything starts the engine; the library never calls it by itself.
     */
    public static void useApplicationDefaults() {
        for (String[] kv : new String[][] {{"ai.djl.offline", "true"}, {"ai.djl.pytorch.graph_optimizer", "false"},
            {"ai.djl.pytorch.num_interop_threads", "1"}}) {
            if (System.getProperty(kv[0]) == null) {
                System.setProperty(kv[0], kv[1]);
            }
        }
    }

    /**
     * Starts the engine (once) with DJL's settings as the application left them. Threads &gt; 0 sets PyTorch's
     * intra-op thread count (for the whole process: PyTorch keeps one); &lt;= 0 keeps its default (one per physical
     * core).
     */
    public static synchronized Engine engine(int requested) {
        if (engine == null) {
            engine = Engine.getEngine("PyTorch");
            if (requested > 0) {
                JniUtils.setNumThreads(requested);
            }
            threads = JniUtils.getNumThreads();
            THREAD_READY.set(true);
        } else if (requested > 0) {
            threads = requested;
            JniUtils.setNumThreads(requested);
            THREAD_READY.set(true);
        }
        return engine;
    }

    public static Engine engine() {
        return engine(0);
    }

    public static NDManager newManager() {
        return engine().newBaseManager();
    }

    /** Autograd is per thread in PyTorch: inference threads must switch it off themselves. */
    public static void inference() {
        onThisThread();
        JniUtils.setGradMode(false);
    }

    public static void grad(boolean on) {
        onThisThread();
        JniUtils.setGradMode(on);
    }

    /**
     * Prepares the calling thread: without this a thread other than the one that started the engine runs
     * PyTorch's CPU kernels with a different OpenMP team (measured: ViT-S batch 1 at 105 instead of 59 ms).
     */
    public static void onThisThread() {
        engine();
        if (!THREAD_READY.get()) {
            JniUtils.setNumThreads(threads);
            THREAD_READY.set(true);
        }
    }

    /**
     * A scalar for arithmetic in a forward pass that will be differentiated, owned by {@code m} (the forward's
     * manager) so that it lives until the backward pass is over. DJL's {@code Number} overloads ({@code mul(2f)},
     * {@code div(n)}, …) must not be used there: they wrap the number in a tensor over a Java buffer (libtorch's
     * {@code from_blob}, no copy) and close it as soon as the operator returns, but autograd keeps that tensor for
     * the backward pass, which then reads memory the JVM may already have freed and reused — gradients of
     * 1e17 or NaN on a random step, different from run to run.
     */
    public static NDArray scalar(NDManager m, float v) {
        return m.create(v);
    }
}
