package dev.vitrim.cli;

import static dev.vitrim.cli.CliTest.GOLDEN;
import static dev.vitrim.cli.CliTest.assertBadInput;
import static dev.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.Npy;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** export, and --runtime onnxruntime on forward, classify and bench: same answers as vitrim, clear refusals. */
class OnnxCliTest {
    static final Path VIT224 = GOLDEN.resolve("vit224");
    static final Path DOG = GOLDEN.resolve("images/dog.jpg");

    @TempDir
    Path tmp;

    @Test
    void exportedGraphGivesVitrimsAnswers() throws Exception {
        Path onnx = tmp.resolve("v.onnx");
        CliTest.Run e = run("export", "--model", VIT224.toString(), "--reduce", "tome:r=8", "--onnx", onnx.toString());
        assertThat(e.status()).as(e.err()).isZero();
        assertThat(e.out()).contains("tome:r=8,prop=true");
        assertThat(Files.size(onnx)).isPositive();

        // forward: the file, the checkpoint exported on the fly, and vitrim itself
        String x = GOLDEN.resolve("input224_b2.npy").toString();
        Path y1 = tmp.resolve("y1.npy");
        Path y2 = tmp.resolve("y2.npy");
        Path y3 = tmp.resolve("y3.npy");
        assertThat(run("forward", "--model", onnx.toString(), "--runtime", "onnxruntime", "-i", x, "-o", y1.toString())
                .status()).isZero();
        assertThat(run("forward", "--model", VIT224.toString(), "--reduce", "tome:r=8", "--runtime", "onnxruntime",
                "-i", x, "-o", y2.toString()).status()).isZero();
        assertThat(run("forward", "--model", VIT224.toString(), "--reduce", "tome:r=8", "-i", x, "-o", y3.toString())
                .status()).isZero();
        FloatTensor a = Npy.read(y1);
        FloatTensor b = Npy.read(y2);
        FloatTensor c = Npy.read(y3);
        for (int i = 0; i < a.data().length; i++) {
            assertThat((double) a.data()[i]).isCloseTo(c.data()[i], org.assertj.core.data.Offset.offset(1e-4));
            assertThat(b.data()[i]).isEqualTo(a.data()[i]);
        }

        // classify: the labels and the preprocessing travel in the graph's metadata
        CliTest.Run ort = run("classify", "--model", onnx.toString(), "--runtime", "onnxruntime", "--json", "--logits",
                DOG.toString());
        CliTest.Run vit = run("classify", "--model", VIT224.toString(), "--reduce", "tome:r=8", "--json", "--logits",
                DOG.toString());
        assertThat(ort.status()).as(ort.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(ort.out()).get(0);
        JsonNode v = new ObjectMapper().readTree(vit.out()).get(0);
        assertThat(o.get("top").get(0).get("label").asText()).isEqualTo(v.get("top").get(0).get("label").asText());
        for (int i = 0; i < v.get("logits").size(); i++) {
            assertThat(o.get("logits").get(i).asDouble()).isCloseTo(v.get("logits").get(i).asDouble(),
                    org.assertj.core.data.Offset.offset(1e-4));
        }
    }

    @Test
    void evalOnOnnxRuntimeAgreesWithVitrim() throws Exception {
        // five classes, as the model has, from the golden images
        Path data = tmp.resolve("five");
        String[] files = {"dog.jpg", "rgb_landscape.png", "icc_rgb.jpg", "palette.png", "rgb_portrait.png",
            "progressive.jpg", "rgba.png", "subsampling444.jpg", "rgb_wide.png", "baseline.jpg"};
        for (int i = 0; i < files.length; i++) {
            Path dir = data.resolve("c" + (i % 5));
            Files.createDirectories(dir);
            Files.copy(GOLDEN.resolve("images").resolve(files[i]), dir.resolve(files[i]));
        }
        CliTest.Run ort = run("eval", "--model", VIT224.toString(), "--data", "folder:" + data, "--reduce", "evit",
                "--runtime", "onnxruntime", "--json");
        CliTest.Run vit = run("eval", "--model", VIT224.toString(), "--data", "folder:" + data, "--reduce", "evit",
                "--json");
        assertThat(ort.status()).as(ort.err()).isZero();
        assertThat(vit.status()).as(vit.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(ort.out());
        JsonNode v = new ObjectMapper().readTree(vit.out());
        assertThat(o.get("images").asInt()).isEqualTo(10);
        assertThat(o.get("top1").asDouble()).isEqualTo(v.get("top1").asDouble());
        assertThat(o.get("per_class")).isEqualTo(v.get("per_class"));
        assertThat(o.get("gmacs").asDouble()).isEqualTo(v.get("gmacs").asDouble());
        assertThat(o.get("tokens_per_block")).isEqualTo(v.get("tokens_per_block"));
    }

    @Test
    void denseModelExportsItsMaps() throws Exception {
        // a fresh dense model on a random 3-block backbone
        Path model = tmp.resolve("dense.safetensors");
        dev.vitrim.image.PreprocessConfig pre = new dev.vitrim.image.PreprocessConfig(32, 1.0,
                dev.vitrim.image.PreprocessConfig.IMAGENET_MEAN, dev.vitrim.image.PreprocessConfig.IMAGENET_STD,
                dev.vitrim.image.Interpolation.BILINEAR);
        dev.vitrim.arch.VitConfig arch = dev.vitrim.train.ArchSpec.toConfig("width=32,depth=3,heads=2,patch=4", 32, 0,
                java.util.List.of(), x -> pre);
        dev.vitrim.engine.Torch.engine();
        try (dev.vitrim.dense.DenseModel m = dev.vitrim.dense.DenseModel.fresh(
                dev.vitrim.model.VisionTransformer.random(arch, 1), DenseCliTest.CLASSES, 1)) {
            dev.vitrim.train.ModelFiles.saveDense(m, null, model);
        }
        Path onnx = tmp.resolve("dense.onnx");
        CliTest.Run e = run("export", "--model", model.toString(), "--reduce", "tome:r=4", "--onnx", onnx.toString());
        assertThat(e.status()).as(e.err()).isZero();
        assertThat(e.out()).contains("dense", "maps");
        try (dev.vitrim.onnx.OnnxModel g = dev.vitrim.onnx.OnnxModel.open(onnx, 1)) {
            assertThat(g.labels()).isEqualTo(DenseCliTest.CLASSES);
        }
        assertBadInput(run("export", "--model", model.toString(), "--reduce", "evit", "--onnx", onnx.toString()),
                "drops patches for good");
    }

    @Test
    void benchComparesRuntimes() throws Exception {
        CliTest.Run r = run("bench", "--model", VIT224.toString(), "--runtime", "vitrim,onnxruntime", "--reduce", "evit",
                "--batch", "2", "--warmup", "0", "--runs", "2", "--seconds", "0", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertThat(doc.get("reduce").asText()).startsWith("evit:");
        JsonNode row = doc.get("results").get(0);
        assertThat(row.get("batch").asInt()).isEqualTo(2);
        assertThat(row.get("runtimes").get("vitrim").get("ms_per_image").asDouble()).isPositive();
        assertThat(row.get("runtimes").get("onnxruntime").get("runs").asInt()).isGreaterThanOrEqualTo(2);
        assertThat(row.get("ratio").asDouble()).isPositive();
        assertThat(doc.get("vitrim_precision").asText()).isEqualTo("fp32");
        // side by side, ONNX Runtime's workers must not spin-wait on the cores vitrim runs on next
        assertThat(doc.get("onnxruntime_spinning").asBoolean()).isFalse();
    }

    @Test
    void benchRunsVitrimInTheRequestedFormatAgainstOnnxRuntime() throws Exception {
        CliTest.Run r = run("bench", "--model", VIT224.toString(), "--runtime", "vitrim,onnxruntime", "--precision",
                "int8", "--batch", "1", "--warmup", "0", "--runs", "2", "--seconds", "0", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertThat(doc.get("vitrim_precision").asText()).isEqualTo("int8");
        assertThat(doc.get("vitrim_precision_reason").asText()).contains("int8");
        assertThat(doc.get("results").get(0).get("runtimes").get("onnxruntime").get("runs").asInt())
                .isGreaterThanOrEqualTo(2);
    }

    @Test
    void profileSplitsBothRuntimesIntoTheSameKinds() throws Exception {
        CliTest.Run r = run("bench", "--model", VIT224.toString(), "--runtime", "vitrim,onnxruntime", "--reduce",
                "tome:r=8", "--batch", "1", "--profile", "--warmup", "0", "--runs", "2", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertThat(doc.get("profiles")).hasSize(2);
        assertThat(doc.get("profiles").get(0).get("runtime").asText()).isEqualTo("vitrim");
        JsonNode ort = doc.get("profiles").get(1);
        assertThat(ort.get("runtime").asText()).isEqualTo("onnxruntime");
        java.util.Map<String, Double> kinds = CliTest.profileKinds(ort);
        assertThat(kinds.get("linear")).isPositive();
        assertThat(kinds.get("attention")).isPositive();
        assertThat(kinds.get("selection")).isPositive(); // ToMe's matching and merge
        Path onnx = tmp.resolve("p.onnx");
        assertThat(run("export", "--model", VIT224.toString(), "--batch", "1", "--onnx", onnx.toString()).status())
                .isZero();
        CliTest.Run file = run("bench", "--model", onnx.toString(), "--runtime", "onnxruntime", "--batch", "1",
                "--profile", "--warmup", "0", "--runs", "1");
        assertThat(file.status()).as(file.err()).isZero();
        assertThat(file.out()).contains("ONNX Runtime", "linear layers", "outside ONNX Runtime's kernels",
                "longest kernels", "per forward");
        assertBadInput(run("bench", "--model", onnx.toString(), "--runtime", "onnxruntime", "--batch", "2",
                "--profile", "--runs", "1"), "takes batch 1");
        assertBadInput(run("bench", "--model", VIT224.toString(), "--runtime", "onnxruntime", "--batch", "1",
                "--profile", "--precision", "bf16"), "--precision applies to vitrim");
    }

    @Test
    void refusalsNameTheProblem() throws Exception {
        Path onnx = tmp.resolve("m.onnx");
        assertBadInput(run("export", "--model", GOLDEN.resolve("deep197.safetensors").toString(), "--heads", "4",
                "--reduce", "attn:mass=0.9", "--onnx", onnx.toString()), "mass", "per-image");
        assertBadInput(run("export", "--model", VIT224.toString(), "--batch", "x", "--onnx", onnx.toString()),
                "--batch 'x'");
        assertBadInput(run("export", "--model", VIT224.toString(), "--opset", "13", "--onnx", onnx.toString()),
                "--opset 13");
        assertThat(run("export", "--model", VIT224.toString(), "--onnx", onnx.toString()).status()).isZero();
        assertBadInput(run("classify", "--model", onnx.toString(), DOG.toString()), "--runtime onnxruntime");
        assertBadInput(run("classify", "--model", onnx.toString(), "--runtime", "onnxruntime", "--reduce", "evit",
                DOG.toString()), "--reduce", "fixed at export");
        assertBadInput(run("bench", "--model", onnx.toString(), "--runtime", "vitrim,onnxruntime", "--batch", "1"),
                "onnxruntime only");
        assertBadInput(run("bench", "--arch", "vit_tiny_patch16_224", "--runtime", "tensorrt", "--batch", "1"),
                "--runtime 'tensorrt'");
        assertBadInput(run("bench", "--arch", "vit_tiny_patch16_224", "--runtime", "vitrim,onnxruntime", "--precision",
                "int8,bf16", "--batch", "1"), "one format");
        assertBadInput(run("bench", "--model", onnx.toString(), "--runtime", "onnxruntime", "--precision", "int8",
                "--batch", "1"), "one format");
    }
}
