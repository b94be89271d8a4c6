package dev.vitrim.spark;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;

/**
 * How many intra-op threads a task's forward pass may use, so that an executor's task slots times the threads per
 * task never exceed its cores.
 *
 * <p>Spark runs {@code executorCores / spark.task.cpus} tasks at once in an executor, each promised
 * {@code spark.task.cpus} cores. A task therefore gets {@code spark.task.cpus} PyTorch threads (1 by default),
 * never more than the machine's processors divided by the slots. The executor's cores are
 * {@code spark.executor.cores} when set, N for {@code local[N]} (all processors for {@code local[*]}), c for
 * {@code local-cluster[n,c,m]}, and the JVM's available processors otherwise (a standalone worker's default). To
 * give each forward more threads and run fewer at once, raise {@code spark.task.cpus}.
 */
final class Threads {
    private static final Pattern LOCAL = Pattern.compile("local(?:\\[(\\*|\\d+)(?:\\s*,\\s*\\d+)?\\])?");
    private static final Pattern LOCAL_CLUSTER = Pattern.compile("local-cluster\\[\\s*\\d+\\s*,\\s*(\\d+)\\s*,.*\\]");

    private Threads() {}

    /**
     * @param master        {@code spark.master} (may be null)
     * @param executorCores {@code spark.executor.cores}, or null when not set
     * @param taskCpus      {@code spark.task.cpus}
     * @param available     the JVM's available processors
     */
    static int perTask(String master, Integer executorCores, int taskCpus, int available) {
        int cores = executorCores != null ? executorCores : coresOf(master, available);
        int cpus = Math.max(1, taskCpus);
        int slots = Math.max(1, cores / cpus);
        return Math.max(1, Math.min(cpus, available / slots));
    }

    /** The cores of one executor as the master URL implies them. */
    static int coresOf(String master, int available) {
        if (master != null) {
            String m = master.trim().toLowerCase(Locale.ROOT);
            Matcher l = LOCAL.matcher(m);
            if (l.matches()) {
                String n = l.group(1);
                return n == null ? 1 : n.equals("*") ? available : Math.max(1, Integer.parseInt(n));
            }
            Matcher lc = LOCAL_CLUSTER.matcher(m);
            if (lc.matches()) {
                return Math.max(1, Integer.parseInt(lc.group(1)));
            }
        }
        return available;
    }

    /** The threads for a task in this JVM, from the running Spark's configuration. */
    static int forThisExecutor() {
        SparkEnv env = SparkEnv.get();
        int available = Runtime.getRuntime().availableProcessors();
        if (env == null) {
            return available;
        }
        SparkConf conf = env.conf();
        Integer executorCores = conf.contains("spark.executor.cores") ? conf.getInt("spark.executor.cores", 1) : null;
        return perTask(conf.get("spark.master", null), executorCores, conf.getInt("spark.task.cpus", 1), available);
    }
}
