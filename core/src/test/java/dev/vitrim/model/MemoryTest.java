package dev.vitrim.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.Golden;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Nothing leaks: 2,800 forwards, unreduced and through every kind of reducer step (ToMe's merge, per-image counts
 * with a padding mask, Last Layer Fusion's stash), leave the model's native arrays and the resident memory flat.
 */
class MemoryTest {
    static long rssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS");
    }

    @Test
    void thousandsOfForwardsDoNotGrowMemory() throws IOException {
        FloatTensor x = Golden.npy("input_b2.npy");
        FloatTensor x48 = Golden.npy("input48_b2.npy");
        try (VisionTransformer vit = VisionTransformer.load(Golden.path("deit_distilled.safetensors"), 4)) {
            TokenReducer[] reducers = {Reducers.NONE, Reducers.parse("tome:r=2"),
                Reducers.parse("attn:start=0,keep=0.8..0.5,min=2,mass=0.8"), Reducers.parse("random:R=1,llf=true")};
            for (int i = 0; i < 200; i++) {
                vit.forward(x, reducers[i % reducers.length], null);
                vit.forward(x48); // resampled position embedding is cached, not re-created
            }
            int arrays = vit.manager().getManagedArrays().size();
            long[] rss = new long[8];
            for (int k = 0; k < rss.length; k++) {
                for (int i = 0; i < 300; i++) {
                    vit.forward(i % 2 == 0 ? x : x48, reducers[i / 2 % reducers.length], null);
                }
                System.gc();
                rss[k] = rssKb();
            }
            System.out.println("RSS (KB) after each 300 forwards: " + java.util.Arrays.toString(rss));
            assertThat(vit.manager().getManagedArrays().size()).as("native arrays held by the model")
                    .isEqualTo(arrays);
            // The heap and the native allocator settle early but keep jittering by ±25 MB (heap pages committed and
            // returned), upwards in single samples; a leak raises every later sample. So compare the lowest of three
            // late samples with the lowest of three early ones, ~1,200 forwards apart.
            long early = Math.min(rss[1], Math.min(rss[2], rss[3]));
            long late = Math.min(rss[5], Math.min(rss[6], rss[7]));
            assertThat(late - early).as("resident memory growth in KB over ~1,200 forwards, " + java.util.Arrays
                    .toString(rss)).isLessThan(16_000);
        }
    }
}
