package dev.vitrim.spark;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ThreadsTest {
    @Test
    void slotsTimesThreadsNeverExceedTheCores() {
        assertThat(Threads.perTask("local[2]", null, 1, 2)).isEqualTo(1);
        assertThat(Threads.perTask("local[1]", null, 1, 2)).isEqualTo(1);
        assertThat(Threads.perTask("local", null, 1, 8)).isEqualTo(1);
        assertThat(Threads.perTask("local[*]", null, 1, 8)).isEqualTo(1);
        assertThat(Threads.perTask("local[*]", null, 4, 8)).isEqualTo(4); // 2 slots of 4 cores
        assertThat(Threads.perTask("local[4,3]", null, 2, 8)).isEqualTo(2);
        assertThat(Threads.perTask("local-cluster[2, 4, 1024]", null, 2, 16)).isEqualTo(2);
        // a cluster executor: spark.executor.cores wins over the master URL
        assertThat(Threads.perTask("yarn", 8, 2, 32)).isEqualTo(2);
        assertThat(Threads.perTask("spark://h:7077", null, 1, 16)).isEqualTo(1);
        // task.cpus larger than the machine's processors per slot: capped by the processors
        assertThat(Threads.perTask("yarn", 4, 4, 2)).isEqualTo(2);
        for (String master : new String[] {"local[1]", "local[2]", "local[3]", "local[*]", "yarn"}) {
            for (int cpus = 1; cpus <= 4; cpus++) {
                for (int avail = 1; avail <= 16; avail++) {
                    int cores = Threads.coresOf(master, avail);
                    int slots = Math.max(1, cores / cpus);
                    int t = Threads.perTask(master, null, cpus, avail);
                    assertThat(t).isBetween(1, cpus);
                    if (slots <= avail) {
                        assertThat(slots * t).as("%s cpus=%d avail=%d", master, cpus, avail).isLessThanOrEqualTo(avail);
                    }
                }
            }
        }
    }

    @Test
    void coresFromTheMasterUrl() {
        assertThat(Threads.coresOf("local", 8)).isEqualTo(1);
        assertThat(Threads.coresOf("local[3]", 8)).isEqualTo(3);
        assertThat(Threads.coresOf("local[*]", 8)).isEqualTo(8);
        assertThat(Threads.coresOf("LOCAL[2,4]", 8)).isEqualTo(2);
        assertThat(Threads.coresOf("k8s://x", 6)).isEqualTo(6);
        assertThat(Threads.coresOf(null, 6)).isEqualTo(6);
    }
}
