package dev.vitrim.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.vitrim.Golden;
import dev.vitrim.VitrimException;
import dev.vitrim.image.Preprocessor;
import dev.vitrim.infer.Classification;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.reduce.Reducers;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The facade against the independent references: timm's logits for a photo, and the lower-level API. */
class VitrimModelTest {
    static final Path DOG = Golden.path("images/dog.jpg");
    static final Path PNG = Golden.path("images/palette.png");
    static VitrimModel vit;

    @BeforeAll
    static void load() {
        vit = Vitrim.load(Golden.path("vit224"));
    }

    @AfterAll
    static void close() {
        vit.close();
    }

    @Test
    void aPhotoGetsTimmsLogitsAndTheirSoftmax() {
        ClassProbabilities p = vit.classify(DOG);
        FloatTensor ref = Golden.npy("dog.vit224.logits.npy"); // timm on timm's own preprocessing of the file
        float[] logits = p.logits();
        assertThat(logits).hasSize(ref.data().length);
        double max = Double.NEGATIVE_INFINITY;
        for (float v : ref.data()) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : ref.data()) {
            sum += Math.exp(v - max);
        }
        for (int i = 0; i < logits.length; i++) {
            assertThat((double) logits[i]).as("logit %d", i).isCloseTo(ref.data()[i], within(1e-4));
            assertThat(p.probability(i)).isCloseTo(Math.exp(ref.data()[i] - max) / sum, within(1e-5));
        }
        assertThat(p.size()).isEqualTo(5);
        assertThat(java.util.Arrays.stream(p.probabilities()).sum()).isCloseTo(1.0, within(1e-12));
        List<Classification.Top> top = p.top(3);
        assertThat(top).hasSize(3);
        assertThat(top.get(0).prob()).isGreaterThanOrEqualTo(top.get(1).prob());
        assertThat(top.get(1).prob()).isGreaterThanOrEqualTo(top.get(2).prob());
        int argmax = 0;
        for (int i = 1; i < ref.data().length; i++) {
            argmax = ref.data()[i] > ref.data()[argmax] ? i : argmax;
        }
        assertThat(p.best().index()).isEqualTo(argmax);
        assertThat(p.probability(p.best().label())).isEqualTo(p.best().prob());
    }

    @Test
    void bytesBufferedImagesAndFilesGiveTheSameAnswer() throws Exception {
        ClassProbabilities file = vit.classify(PNG);
        ClassProbabilities bytes = vit.classify(Files.readAllBytes(PNG));
        BufferedImage img = ImageIO.read(PNG.toFile());
        ClassProbabilities buffered = vit.classify(img);
        assertThat(bytes.logits()).containsExactly(file.logits());
        assertThat(buffered.logits()).containsExactly(file.logits());
        // the same pixels in other raster layouts: packed ARGB (alpha ignored) and interleaved BGR bytes
        for (int type : new int[] {BufferedImage.TYPE_INT_ARGB, BufferedImage.TYPE_3BYTE_BGR}) {
            BufferedImage copy = new BufferedImage(img.getWidth(), img.getHeight(), type);
            java.awt.Graphics2D g = copy.createGraphics();
            g.drawImage(img, 0, 0, null);
            g.dispose();
            assertThat(vit.classify(copy).logits()).as("type %d", type).containsExactly(file.logits());
        }
        assertThatThrownBy(() -> vit.classify((BufferedImage) null)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("null");
    }

    @Test
    void aReducedCopyRunsItsReducerAndSharesTheWeights() {
        VitrimModel fast = vit.reduce(Reducers.attn().keep(0.5, 0.3).start(0).avg(1));
        assertThat(vit.reducer()).isSameAs(Reducers.NONE);
        assertThat(fast.reducer().spec()).isEqualTo(Reducers.parse("attn:keep=0.5..0.3,start=0,avg=1").spec());
        assertThat(fast.backbone()).isSameAs(vit.backbone());
        assertThat(fast.gmacs()).isLessThan(vit.gmacs());
        // the lower-level API with the same reducer on the same preprocessed input
        float[] in = new Preprocessor(vit.config().preprocess()).apply(DOG);
        FloatTensor y = vit.backbone().forward(new FloatTensor(new long[] {1, 3, 224, 224}, in), fast.reducer(), null);
        assertThat(fast.classify(DOG).logits()).containsExactly(y.data());
        assertThat(vit.reduce("attn:keep=0.5..0.3,start=0,avg=1").classify(DOG).logits()).containsExactly(y.data());
        assertThat(y.data()).isNotEqualTo(vit.classify(DOG).logits());
        fast.close(); // a copy's close leaves the weights alone
        assertThat(vit.classify(DOG).size()).isEqualTo(5);
    }

    @Test
    void aReducerThatDoesNotFitTheModelIsRefusedWhenConfigured() {
        assertThatThrownBy(() -> vit.reduce("attn:start=5")).isInstanceOf(VitrimException.class)
                .hasMessageContaining("start=5");
        assertThatThrownBy(() -> vit.reduce("bogus")).isInstanceOf(VitrimException.class)
                .hasMessageContaining("unknown method 'bogus'");
    }

    @Test
    void inABatchABadImageGetsAnErrorAndTheOthersTheirResults(@TempDir Path tmp) throws Exception {
        Path bad = tmp.resolve("bad.png");
        Files.write(bad, new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0});
        List<Outcome<ClassProbabilities>> out = vit.reduce("tome:r=20").classifyFiles(List.of(DOG, bad, PNG,
                tmp.resolve("missing.jpg")));
        assertThat(out).hasSize(4);
        assertThat(out.get(0).ok()).isTrue();
        assertThat(out.get(1).ok()).isFalse();
        assertThat(out.get(1).error()).contains("bad.png");
        assertThat(out.get(2).ok()).isTrue();
        assertThat(out.get(3).error()).contains("missing.jpg").contains("no such file");
        VitrimModel tome = vit.reduce("tome:r=20");
        assertThat(out.get(0).result().logits()).usingComparatorWithPrecision(1e-5f)
                .containsExactly(tome.classify(DOG).logits());
        assertThat(out.get(2).result().logits()).usingComparatorWithPrecision(1e-5f)
                .containsExactly(tome.classify(PNG).logits());
        List<Outcome<ClassProbabilities>> mem = vit.classifyEncoded(List.of(new byte[] {1, 2, 3},
                Files.readAllBytes(PNG)));
        assertThat(mem.get(0).error()).startsWith("image 0: not a supported image");
        assertThat(mem.get(1).result().logits()).usingComparatorWithPrecision(1e-5f)
                .containsExactly(vit.classify(PNG).logits());
        assertThatThrownBy(() -> vit.classify(new byte[0])).isInstanceOf(VitrimException.class)
                .hasMessageContaining("empty");
    }

    @Test
    void optionsChangeHowItRunsNotWhatItComputes() {
        ClassProbabilities ref = vit.classify(DOG);
        LoadOptions o = LoadOptions.defaults().withKernels(LoadOptions.Kernels.EAGER)
                .withLinear(LoadOptions.Linear.ATEN).withMicroBatch(1).withBatch(2);
        try (VitrimModel eager = Vitrim.load(Golden.path("vit224"), o)) {
            assertThat(eager.options()).isEqualTo(o);
            assertThat(eager.classify(DOG).logits()).usingComparatorWithPrecision(1e-4f).containsExactly(ref.logits());
            List<Outcome<ClassProbabilities>> three = eager.classifyFiles(List.of(DOG, PNG, DOG));
            assertThat(three.get(2).result().logits()).usingComparatorWithPrecision(1e-4f)
                    .containsExactly(ref.logits());
        }
        assertThatThrownBy(() -> LoadOptions.defaults().withBatch(0)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("batch");
    }

    @Test
    void precisionIsALoadOptionAndSaysWhatRuns() {
        ClassProbabilities ref = vit.classify(DOG);
        assertThat(vit.precision().chosen()).isEqualTo(dev.vitrim.engine.Precision.FP32);
        dev.vitrim.engine.Precision.Choice auto = dev.vitrim.engine.Precision.AUTO.resolve();
        try (VitrimModel a = Vitrim.load(Golden.path("vit224"),
                LoadOptions.defaults().withPrecision(dev.vitrim.engine.Precision.AUTO))) {
            assertThat(a.precision().chosen()).isEqualTo(auto.chosen());
            if (auto.chosen() == dev.vitrim.engine.Precision.FP32) { // a CPU without bf16: fp32, bit for bit
                assertThat(a.classify(DOG).logits()).containsExactly(ref.logits());
            }
        }
        try (VitrimModel q = Vitrim.load(Golden.path("vit224"),
                LoadOptions.defaults().withPrecision(dev.vitrim.engine.Precision.INT8))) {
            assertThat(q.precision().chosen()).isEqualTo(dev.vitrim.engine.Precision.INT8);
            float[] got = q.classify(DOG).logits();
            float max = 0;
            for (float v : ref.logits()) {
                max = Math.max(max, Math.abs(v));
            }
            // int8 weights (2^-7 relative steps per channel) through the blocks: a few percent of the largest logit
            assertThat(got).usingComparatorWithPrecision(0.1f * max).containsExactly(ref.logits());
            assertThat(q.classify(DOG).best().index()).isEqualTo(ref.best().index());
        }
    }

    @Test
    void threadsCanShareOneModel() throws Exception {
        VitrimModel tome = vit.reduce("tome:r=10");
        float[] dog = tome.classify(DOG).logits();
        float[] png = tome.classify(PNG).logits();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            List<java.util.concurrent.Future<Boolean>> jobs = new java.util.ArrayList<>();
            for (int i = 0; i < 24; i++) {
                boolean isDog = i % 2 == 0;
                jobs.add(pool.submit(() -> java.util.Arrays.equals(tome.classify(isDog ? DOG : PNG).logits(),
                        isDog ? dog : png)));
            }
            for (java.util.concurrent.Future<Boolean> j : jobs) {
                assertThat(j.get()).isTrue();
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void theSystemPropertiesAreOnlyDefaults() {
        String k = System.getProperty("vitrim.kernels");
        String l = System.getProperty("vitrim.linear");
        String mb = System.getProperty("vitrim.microBatch");
        try {
            System.setProperty("vitrim.kernels", "eager");
            System.setProperty("vitrim.linear", "aten");
            System.setProperty("vitrim.microBatch", "4");
            LoadOptions d = LoadOptions.defaults();
            assertThat(d.kernels()).isEqualTo(LoadOptions.Kernels.EAGER);
            assertThat(d.linear()).isEqualTo(LoadOptions.Linear.ATEN);
            assertThat(d.microBatch()).isEqualTo(4);
            assertThat(d.withKernels(LoadOptions.Kernels.TORCHSCRIPT).kernels())
                    .isEqualTo(LoadOptions.Kernels.TORCHSCRIPT);
            System.setProperty("vitrim.microBatch", "four");
            assertThatThrownBy(LoadOptions::defaults).isInstanceOf(VitrimException.class)
                    .hasMessageContaining("vitrim.microBatch=four");
        } finally {
            restore("vitrim.kernels", k);
            restore("vitrim.linear", l);
            restore("vitrim.microBatch", mb);
        }
        System.clearProperty("vitrim.kernels");
        try {
            assertThat(LoadOptions.defaults().kernels()).isEqualTo(LoadOptions.Kernels.TORCHSCRIPT);
        } finally {
            restore("vitrim.kernels", k);
        }
    }

    static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }

    @Test
    void aClosedModelAndItsCopiesRefuseWork() {
        VitrimModel m = Vitrim.load(Golden.path("vit224"));
        VitrimModel copy = m.reduce("tome:r=4");
        m.close();
        m.close();
        assertThatThrownBy(() -> copy.classify(DOG)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void aClassifierRefusesDensePredictionNamingTheFile() {
        assertThat(vit.isDense()).isFalse();
        assertThatThrownBy(() -> vit.segment(DOG)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("vit224").hasMessageContaining("dense model");
    }

    @Test
    void aPresetGivesTheHeadsAndPreprocessingThatPlainWeightsLack(@TempDir Path tmp) {
        Path file = tmp.resolve("tiny.safetensors");
        dev.vitrim.arch.VitConfig c = dev.vitrim.arch.Presets.get("vit_tiny_patch16_224");
        float[] in = new Preprocessor(c.preprocess()).apply(DOG);
        FloatTensor expected;
        try (dev.vitrim.model.VisionTransformer random = dev.vitrim.model.VisionTransformer.random(c, 3)) {
            dev.vitrim.io.SafeTensorsWriter.write(file, java.util.Map.of(), random.exportTensors());
            expected = random.forward(new FloatTensor(new long[] {1, 3, 224, 224}, in));
        }
        try (VitrimModel tiny = Vitrim.load("vit_tiny_patch16_224", file)) {
            assertThat(tiny.config().heads()).isEqualTo(3);
            assertThat(tiny.preprocessConfig()).isEqualTo(c.preprocess());
            assertThat(tiny.classify(DOG).logits()).usingComparatorWithPrecision(1e-4f)
                    .containsExactly(expected.data());
        }
    }

    @Test
    void aPresetChecksTheWeightsAgainstItsArchitecture() {
        assertThatThrownBy(() -> Vitrim.load("vit_tiny_patch16_224", Golden.path("vit224")))
                .isInstanceOf(VitrimException.class).hasMessageContaining("vit224")
                .hasMessageContaining("not vit_tiny_patch16_224").hasMessageContaining("width 192");
        assertThatThrownBy(() -> Vitrim.load("vit_nonexistent", Golden.path("vit224")))
                .isInstanceOf(VitrimException.class).hasMessageContaining("vit_nonexistent");
    }
}
