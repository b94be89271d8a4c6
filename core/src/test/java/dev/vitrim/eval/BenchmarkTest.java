package dev.vitrim.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.vitrim.engine.Torch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BenchmarkTest {
    private static Runnable sleeping(AtomicInteger calls, long ms) {
        return () -> {
            calls.incrementAndGet();
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }

    @Test
    void warmUpLastsTheAskedRunsAndAtLeastTheMinimumTimeSoTheJitHasCompiledTheBody() {
        AtomicInteger calls = new AtomicInteger();
        long t0 = System.nanoTime();
        Benchmark.Timing t = Benchmark.time(sleeping(calls, 100), 2, 3, 3, 0, () -> 0); // a JIT that is quiet
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertThat(t.runs()).isEqualTo(3);
        int warm = calls.get() - 3;
        assertThat(warm).isGreaterThan(2); // 2 runs would take 0.2 s, less than the minimum
        assertThat(seconds).isGreaterThanOrEqualTo(Benchmark.WARMUP_SECONDS);
        assertThat(t.medianMs()).isGreaterThanOrEqualTo(100);
    }

    @Test
    void noWarmUpMeansNoUnmeasuredRunsAndInterleavingAlternates() {
        AtomicInteger a = new AtomicInteger();
        AtomicInteger b = new AtomicInteger();
        Benchmark.Timing[] t = Benchmark.interleaved(sleeping(a, 1), sleeping(b, 20), 0, 4, 4, 0);
        assertThat(a.get()).isEqualTo(4);
        assertThat(b.get()).isEqualTo(4);
        assertThat(t[1].medianMs()).isGreaterThan(t[0].medianMs());
    }

    @Test
    void warmUpGoesOnWhileTheJitCompilesAndStopsWhenItIsQuiet() {
        AtomicInteger rounds = new AtomicInteger();
        // the JIT compiles during the first 30 rounds of 100 ms (3 s), then nothing
        int n = Benchmark.warmUp(1, sleeping(rounds, 100), () -> Math.min(rounds.get(), 30), 60);
        assertThat(n).isEqualTo(rounds.get());
        // quiet from round 30 on: at least JIT_QUIET_SECONDS (20 rounds) and 2 rounds more
        int quiet = (int) (Benchmark.JIT_QUIET_SECONDS * 10);
        assertThat(n).isBetween(30 + quiet, 30 + quiet + 3);
    }

    @Test
    void warmUpEndsAtItsLimitWhenTheJitNeverGoesQuietAndNotAtAllWhenNoneIsAsked() {
        AtomicInteger rounds = new AtomicInteger();
        long t0 = System.nanoTime();
        int n = Benchmark.warmUp(1, sleeping(rounds, 100), rounds::get, 4);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertThat(seconds).isBetween(4.0, 5.0);
        assertThat(n).isBetween(35, 41);
        assertThat(Benchmark.warmUp(0, sleeping(rounds, 100), rounds::get, 4)).isZero();
        assertThat(rounds.get()).isEqualTo(n);
    }

    @Test
    void theMatrixMultiplyProbeTimesFloat32AndBfloat16ProductsAndRefusesOtherTypes() {
        try (NDManager m = Torch.newManager()) {
            for (DataType type : new DataType[] {DataType.FLOAT32, DataType.BFLOAT16}) {
                double gflops = Benchmark.gemmGflops(m, 64, 96, 128, type);
                // 2·64·96·128 flops per product: a finite, positive rate below anything a CPU core reaches
                assertThat(gflops).as(type.toString()).isPositive().isFinite().isLessThan(1e5);
            }
            assertThatThrownBy(() -> Benchmark.gemmGflops(m, 8, 8, 8, DataType.FLOAT16))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("float32 or bfloat16");
        }
    }
}
