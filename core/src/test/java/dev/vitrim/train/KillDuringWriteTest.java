package dev.vitrim.train;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.io.FloatTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A process killed (SIGKILL) while it rewrites its training state leaves the previous state file complete and
 * readable: the new content goes to a temporary file that is renamed over the old one only when fully written.
 */
class KillDuringWriteTest {
    @TempDir
    Path tmp;

    /**
     * Child process: rewrites a ~48 MB training state forever, the values of round r all equal to r. It says when a
     * write is complete, and a watcher thread says when a write's temporary file exists, so that the parent can kill
     * it inside a write.
     */
    public static void main(String[] args) {
        Path file = Path.of(args[0]);
        Thread watcher = new Thread(() -> {
            while (true) {
                try (var files = Files.list(file.getParent())) {
                    if (files.anyMatch(f -> f.getFileName().toString().endsWith(".tmp"))) {
                        System.out.println("inside a write");
                        System.out.flush();
                    }
                } catch (java.io.IOException | java.io.UncheckedIOException e) {
                    // the file vanished while listed: look again
                }
                Thread.onSpinWait();
            }
        });
        watcher.setDaemon(true);
        watcher.start();
        for (int round = 1; ; round++) {
            Map<String, FloatTensor> model = new LinkedHashMap<>();
            Map<String, FloatTensor> optim = new LinkedHashMap<>();
            for (int t = 0; t < 4; t++) {
                float[] v = new float[3_000_000];
                java.util.Arrays.fill(v, round);
                model.put("w" + t, new FloatTensor(new long[] {v.length}, v));
                optim.put("m.w" + t, new FloatTensor(new long[] {v.length}, v.clone()));
            }
            ObjectNode info = TrainState.newInfo();
            info.put("epochs_done", round);
            new TrainState(info, model, optim).write(file);
            System.out.println("wrote " + round);
            System.out.flush();
        }
    }

    @Test
    void killMidWriteLeavesTheOldStateLoadable() throws Exception {
        Path state = tmp.resolve("run.state.safetensors");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (int attempt = 0; attempt < 3; attempt++) {
            List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                    KillDuringWriteTest.class.getName(), state.toString()));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            try {
                var in = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
                // wait until the first round is complete and a later write has its temporary file, then kill
                boolean complete = false;
                while (true) {
                    String line = in.readLine();
                    assertThat(line).as("child output").isNotNull();
                    complete |= line.startsWith("wrote");
                    if (complete && line.equals("inside a write")) {
                        break;
                    }
                }
            } finally {
                p.destroyForcibly(); // SIGKILL
                p.waitFor(10, TimeUnit.SECONDS);
            }
            TrainState st = TrainState.read(state);
            int round = st.epochsDone();
            assertThat(round).isPositive();
            for (FloatTensor t : st.model().values()) {
                assertThat(t.data()[0]).isEqualTo((float) round);
                assertThat(t.data()[t.data().length - 1]).isEqualTo((float) round);
            }
            assertThat(st.optim()).hasSize(4);
        }
        // leftovers of killed writes are hidden temporary files, never the state itself
        List<String> names;
        try (var files = Files.list(tmp)) {
            names = files.map(p -> p.getFileName().toString()).toList();
        }
        assertThat(names.stream().filter(n -> !n.startsWith("."))).containsExactly("run.state.safetensors");
        // evidence that the kills landed inside writes: their temporary files (which the trainer removes on start)
        assertThat(names.stream().filter(n -> n.startsWith(".run.state.safetensors.") && n.endsWith(".tmp")))
                .as("temporary files of interrupted writes").isNotEmpty();
    }

}
