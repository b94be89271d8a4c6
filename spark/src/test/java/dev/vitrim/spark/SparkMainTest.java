package dev.vitrim.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.engine.Torch;
import dev.vitrim.infer.Classification;
import dev.vitrim.infer.Classifier;
import dev.vitrim.model.VisionTransformer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vitrim spark ...} in process, on the tests' embedded local[2] Spark. */
class SparkMainTest {
    @TempDir
    Path tmp;

    private record Run(int rc, String out, String err) {}

    private static Run run(String... args) {
        SparkTestSupport.spark(); // the commands join the running session and leave it up
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = SparkMain.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Run(rc, out.toString(), err.toString());
    }

    @Test
    void classifyJsonHasTheEntriesOfVitrimClassifyInArgumentOrder() throws Exception {
        String model = SparkTestSupport.model("mnist-vit.safetensors");
        List<Path> files = SparkTestSupport.writePngs(SparkTestSupport.mnistTest(), 40, tmp.resolve("digits"));
        Path bad = Files.writeString(tmp.resolve("bad.png"), "not an image");
        // as a user types them: relative to the working directory
        Path cwd = Path.of("").toAbsolutePath();
        String folder = cwd.relativize(tmp.resolve("digits")).toString();
        String badArg = cwd.relativize(bad).toString();
        String single = files.get(7).toString();
        Run r = run("classify", "--master", "local[2]", "--model", model, "--top", "3", "--json", "--partitions", "4", "--verbose",
                badArg, folder, "missing.png", single);
        assertThat(r.rc()).as(r.err()).isEqualTo(2);
        JsonNode arr = new ObjectMapper().readTree(r.out());
        assertThat(arr.size()).as(r.err()).isEqualTo(files.size() + 3);
        assertThat(arr.get(0).get("file").asText()).isEqualTo(badArg);
        assertThat(arr.get(0).get("error").asText()).startsWith(badArg + ": not a supported image");
        assertThat(arr.get(0).has("top")).isFalse();

        List<Path> sorted = new ArrayList<>(files);
        sorted.sort(null);
        Torch.engine();
        List<Classification> ref;
        try (VisionTransformer vit = VisionTransformer.load(Path.of(model), 0)) {
            ref = new Classifier(vit, vit.config().preprocess()).classify(sorted, 3, false, 8, null, null);
        }
        for (int i = 0; i < sorted.size(); i++) {
            JsonNode e = arr.get(1 + i);
            assertThat(Path.of(e.get("file").asText()).toAbsolutePath().normalize()).isEqualTo(sorted.get(i));
            assertThat(e.get("file").asText()).startsWith(folder + "/");
            assertThat(e.get("top").size()).isEqualTo(3);
            for (int k = 0; k < 3; k++) {
                JsonNode t = e.get("top").get(k);
                Classification.Top want = ref.get(i).top().get(k);
                assertThat(t.get("label").asText()).isEqualTo(want.label());
                assertThat(t.get("index").asInt()).isEqualTo(want.index());
                assertThat(t.get("prob").asDouble()).isCloseTo(want.prob(), within(1e-5));
            }
        }
        JsonNode missing = arr.get(1 + files.size());
        assertThat(missing.get("file").asText()).isEqualTo("missing.png");
        assertThat(missing.get("error").asText()).isEqualTo("missing.png: no such file");
        assertThat(arr.get(2 + files.size()).get("file").asText()).isEqualTo(single);
    }

    @Test
    void evalAndSweepPrintTheirNumbers() throws Exception {
        SparkTestSupport.mnistTest();
        String model = SparkTestSupport.model("mnist-vit.safetensors");
        Run e = run("eval", "--model", model, "--data", "mnist:test", "--limit", "128", "--batch", "32", "--json");
        assertThat(e.rc()).as(e.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(e.out());
        assertThat(o.get("images").asInt()).isEqualTo(128);
        assertThat(o.get("top1").asDouble())
                .isEqualTo(EvaluateTest.single(model, "mnist:test", "none", 128).top1());
        Run s = run("sweep", "--model", model, "--data", "mnist:test", "--limit", "64", "--batch", "32",
                "-r", "none", "-r", "tome:r=8");
        assertThat(s.rc()).as(s.err()).isZero();
        assertThat(s.out()).contains("none").contains("tome:r=8").contains("images/s/slot");
    }

    @Test
    void badInputIsOneLineAndExitTwo() {
        Run r = run("eval", "--model", "no-such-model.safetensors", "--data", "mnist:test", "--limit", "8");
        assertThat(r.rc()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("vitrim: no-such-model.safetensors: no such model file");
        Run u = run("sweep", "--model", "m.safetensors", "--data", "mnist:test");
        assertThat(u.rc()).isEqualTo(2);
        assertThat(u.err()).contains("--reduce");
    }
}
