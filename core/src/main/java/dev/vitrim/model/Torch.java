package dev.vitrim.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;

/** One place that starts DJL's PyTorch engine the way vitrim needs it: offline, with a chosen thread count. */
public final class Torch {
    private static volatile Engine engine;

    private Torch() {}

    /** Starts the engine (once). Threads &lt;= 0 keeps PyTorch's default (one per physical core). */
    public static synchronized Engine engine(int threads) {
        if (engine == null) {
            if (System.getProperty("ai.djl.offline") == null) {
                System.setProperty("ai.djl.offline", "true");
            }
            System.setProperty("ai.djl.pytorch.graph_optimizer", "false");
            if (System.getProperty("ai.djl.pytorch.num_interop_threads") == null) {
                System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
            }
            if (threads > 0) {
                System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
            }
            engine = Engine.getEngine("PyTorch");
        } else if (threads > 0) {
            JniUtils.setNumThreads(threads);
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
        JniUtils.setGradMode(false);
    }

    public static void grad(boolean on) {
        JniUtils.setGradMode(on);
    }
}
