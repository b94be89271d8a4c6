package dev.vitrim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.Npy;
import dev.vitrim.io.SafeTensorsFile;
import dev.vitrim.io.SafeTensorsWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The command-line contract: outputs, exit statuses and one-line errors that name the file. */
class CliTest {
    static final Path GOLDEN = Path.of("../core/src/test/resources/golden");
    static final Path VIT = GOLDEN.resolve("vit_timm.safetensors");

    @TempDir
    Path tmp;

    record Run(int status, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(status, out.toString(), err.toString());
    }

    /** Bad input: exit 2, exactly one line on stderr naming the culprit, no stack trace. */
    static void assertBadInput(Run r, String... mentions) {
        assertThat(r.status()).as("exit status; stderr: %s", r.err()).isEqualTo(2);
        String err = r.err().strip();
        assertThat(err.lines().count()).as("one line: %s", err).isEqualTo(1);
        assertThat(err).doesNotContain("Exception").doesNotContain("\tat ");
        for (String m : mentions) {
            assertThat(err).contains(m);
        }
    }

    @Test
    void versionComesFromTheBuild() {
        Run r = run("--version");
        assertThat(r.status()).isZero();
        assertThat(r.out()).startsWith("vitrim ").doesNotContain("unknown").doesNotContain("${");
    }

    @Test
    void forwardWritesTheReferenceLogits() {
        Path out = tmp.resolve("y.npy");
        Run r = run("forward", "--model", VIT.toString(), "--heads", "4", "--input",
                GOLDEN.resolve("input_b2.npy").toString(), "--output", out.toString());
        assertThat(r.status()).as(r.err()).isZero();
        FloatTensor y = Npy.read(out);
        FloatTensor want = Npy.read(GOLDEN.resolve("vit_timm.logits.npy"));
        assertThat(y.shape()).containsExactly(2, 10);
        for (int i = 0; i < y.data().length; i++) {
            assertThat((double) y.data()[i]).isCloseTo(want.data()[i], org.assertj.core.data.Offset.offset(1e-4));
        }
    }

    @Test
    void classifyKeepsGoodImagesWhenOthersFail() throws Exception {
        Path text = tmp.resolve("notes.jpg");
        Files.writeString(text, "this is not a picture\n");
        Path empty = tmp.resolve("empty.png");
        Files.write(empty, new byte[0]);
        Path dog = GOLDEN.resolve("images/dog.jpg");
        Run r = run("classify", "--model", GOLDEN.resolve("vit224").toString(), "--json", "--logits", "--top", "3",
                text.toString(), dog.toString(), empty.toString());
        assertThat(r.status()).isEqualTo(2);
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertThat(doc.isArray()).isTrue();
        assertThat(doc).hasSize(3);
        assertThat(doc.get(0).get("file").asText()).isEqualTo(text.toString());
        assertThat(doc.get(0).get("error").asText()).contains("notes.jpg");
        assertThat(doc.get(2).get("error").asText()).contains("empty.png");
        JsonNode good = doc.get(1);
        assertThat(good.has("error")).isFalse();
        assertThat(good.get("top")).hasSize(3);
        assertThat(good.get("logits")).hasSize(5);
        // the top class is the reference's argmax for the photo
        FloatTensor ref = Npy.read(GOLDEN.resolve("dog.vit224.logits.npy"));
        int argmax = 0;
        for (int i = 1; i < 5; i++) {
            if (ref.data()[i] > ref.data()[argmax]) {
                argmax = i;
            }
        }
        assertThat(good.get("top").get(0).get("index").asInt()).isEqualTo(argmax);
        double p = 0;
        for (JsonNode t : good.get("top")) {
            p += t.get("prob").asDouble();
        }
        assertThat(p).isLessThanOrEqualTo(1.0 + 1e-9).isGreaterThan(good.get("top").get(0).get("prob").asDouble());
    }

    @Test
    void classifyTextOutputNamesLabels() {
        Run r = run("classify", "--model", GOLDEN.resolve("vit224").toString(), "--top", "2",
                GOLDEN.resolve("images/dog.jpg").toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("dog.jpg").containsPattern("%  (alpha|bravo|charlie|delta|echo) \\(\\d\\)");
    }

    @Test
    void infoDescribesTheCheckpoint() {
        Run r = run("info", "--model", GOLDEN.resolve("deit_distilled.safetensors").toString(), "--heads", "4");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("width 64").contains("depth 3").contains("heads 4").contains("distilled")
                .contains("parameters").contains("MACs/image").contains("F32");
    }

    @ParameterizedTest
    @ValueSource(strings = {"forward", "classify", "info", "flops", "explain", "bench"})
    void everyCommandHasHelp(String cmd) {
        Run r = run(cmd, "--help");
        assertThat(r.status()).isZero();
        assertThat(r.out()).contains("Usage: vitrim " + cmd);
    }

    @Test
    void everyHelpTextFormatsCleanly() {
        // picocli reads descriptions as format strings: a bare '%' garbles the text and prints a warning
        java.io.PrintStream saved = System.err;
        java.io.ByteArrayOutputStream warnings = new java.io.ByteArrayOutputStream();
        java.util.List<String> seen = new java.util.ArrayList<>();
        try {
            System.setErr(new java.io.PrintStream(warnings, true, java.nio.charset.StandardCharsets.UTF_8));
            java.util.ArrayDeque<picocli.CommandLine> todo = new java.util.ArrayDeque<>();
            todo.add(new picocli.CommandLine(new Main()));
            while (!todo.isEmpty()) {
                picocli.CommandLine c = todo.poll();
                String usage = c.getUsageMessage();
                assertThat(usage).as(c.getCommandName()).doesNotContain("%n").doesNotContain("%%");
                seen.add(c.getCommandName());
                todo.addAll(c.getSubcommands().values());
            }
        } finally {
            System.setErr(saved);
        }
        assertThat(seen).contains("eval", "bench", "train", "segment");
        assertThat(warnings.toString(java.nio.charset.StandardCharsets.UTF_8)).isEmpty();
    }

    @Test
    void unknownOptionIsAUsageError() {
        Run r = run("forward", "--model", VIT.toString(), "--input", "x.npy", "--output", "y.npy", "--colour");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("--colour");
        Run missing = run("forward", "--input", "x.npy");
        assertThat(missing.status()).isEqualTo(2);
        assertThat(missing.err()).contains("--model");
    }

    // ------------------------------------------------------------------ bad checkpoints

    Path copyWithHeader(String name, Consumer<ObjectNode> edit) throws IOException {
        byte[] all = Files.readAllBytes(VIT);
        long n = ByteBuffer.wrap(all, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ObjectMapper om = new ObjectMapper();
        ObjectNode header = (ObjectNode) om.readTree(new String(all, 8, (int) n, StandardCharsets.UTF_8));
        edit.accept(header);
        byte[] h = om.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        byte[] hp = Arrays.copyOf(h, padded);
        Arrays.fill(hp, h.length, padded, (byte) ' ');
        byte[] data = Arrays.copyOfRange(all, 8 + (int) n, all.length);
        ByteBuffer out = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(hp).put(data);
        Path p = tmp.resolve(name);
        Files.write(p, out.array());
        return p;
    }

    Path rewrite(String name, Consumer<Map<String, FloatTensor>> edit) {
        Map<String, FloatTensor> t = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(VIT)) {
            for (String n : f.names()) {
                t.put(n, new FloatTensor(f.info(n).shape(), f.floats(n)));
            }
        }
        edit.accept(t);
        Path p = tmp.resolve(name);
        SafeTensorsWriter.write(p, Map.of(), t);
        return p;
    }

    Run forward(Path model) {
        return run("forward", "--model", model.toString(), "--heads", "4", "--input",
                GOLDEN.resolve("input_b2.npy").toString(), "--output", tmp.resolve("y.npy").toString());
    }

    @Test
    void truncatedCheckpoint() throws IOException {
        Path p = tmp.resolve("truncated.safetensors");
        Files.write(p, Arrays.copyOf(Files.readAllBytes(VIT), 5000));
        assertBadInput(forward(p), "truncated.safetensors");
    }

    @Test
    void headerLongerThanFile() throws IOException {
        byte[] all = Files.readAllBytes(VIT);
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 10_000_000L);
        Path p = tmp.resolve("hugeheader.safetensors");
        Files.write(p, all);
        assertBadInput(forward(p), "hugeheader.safetensors");
    }

    @Test
    void malformedHeader() throws IOException {
        byte[] all = Files.readAllBytes(VIT);
        byte[] junk = "{\"cls_token\": {\"dtype\": ".getBytes(StandardCharsets.UTF_8);
        System.arraycopy(junk, 0, all, 8, junk.length);
        Path p = tmp.resolve("badjson.safetensors");
        Files.write(p, all);
        assertBadInput(forward(p), "badjson.safetensors");
    }

    @Test
    void overlappingOffsets() throws IOException {
        Path p = copyWithHeader("overlap.safetensors", h -> {
            ObjectNode a = (ObjectNode) h.get("blocks.0.norm1.bias");
            ObjectNode b = (ObjectNode) h.get("blocks.0.norm1.weight");
            b.set("data_offsets", a.get("data_offsets").deepCopy());
        });
        assertBadInput(forward(p), "overlap.safetensors");
    }

    @Test
    void offsetsOutOfRange() throws IOException {
        Path p = copyWithHeader("range.safetensors", h -> {
            ObjectNode a = (ObjectNode) h.get("head.bias");
            a.putArray("data_offsets").add(10_000_000L).add(10_000_040L);
        });
        assertBadInput(forward(p), "range.safetensors");
    }

    @Test
    void unknownDtype() throws IOException {
        Path p = copyWithHeader("dtype.safetensors", h -> ((ObjectNode) h.get("head.bias")).put("dtype", "Q7"));
        assertBadInput(forward(p), "dtype.safetensors", "Q7");
    }

    @Test
    void missingTensor() {
        Path p = rewrite("missing.safetensors", t -> t.remove("blocks.1.mlp.fc2.bias"));
        assertBadInput(forward(p), "missing.safetensors", "blocks.1.mlp.fc2.bias");
    }

    @Test
    void wrongShape() {
        Path p = rewrite("shape.safetensors", t -> {
            FloatTensor w = t.get("blocks.0.mlp.fc2.weight");
            t.put("blocks.0.mlp.fc2.weight", new FloatTensor(new long[] {128, 128}, w.data()));
        });
        assertBadInput(forward(p), "shape.safetensors", "blocks.0.mlp.fc2.weight");
    }

    @Test
    void unsupportedArchitecture() {
        Path p = rewrite("resnet.safetensors", t -> {
            t.clear();
            t.put("conv1.weight", new FloatTensor(new long[] {8, 3, 7, 7}, new float[8 * 3 * 49]));
        });
        assertBadInput(forward(p), "resnet.safetensors", "unsupported architecture");
        Path q = rewrite("registers.safetensors",
                t -> t.put("reg_token", new FloatTensor(new long[] {1, 4, 64}, new float[256])));
        assertBadInput(forward(q), "registers.safetensors", "reg_token");
    }

    @Test
    void missingFile() {
        assertBadInput(forward(tmp.resolve("nope.safetensors")), "nope.safetensors");
    }

    // ------------------------------------------------------------------ bad arrays

    @Test
    void npyOfWrongDtypeOrRank() throws IOException {
        Path f8 = tmp.resolve("f8.npy");
        String hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3, 32, 32), }";
        Files.write(f8, npyBytes(hdr, 3 * 32 * 32 * 8));
        Run r = run("forward", "--model", VIT.toString(), "--heads", "4", "--input", f8.toString(), "--output",
                tmp.resolve("y.npy").toString());
        assertBadInput(r, "f8.npy", "<f8");
        Path rank2 = tmp.resolve("rank2.npy");
        Npy.write(rank2, new FloatTensor(new long[] {2, 3}, new float[6]));
        r = run("forward", "--model", VIT.toString(), "--heads", "4", "--input", rank2.toString(), "--output",
                tmp.resolve("y.npy").toString());
        assertBadInput(r, "rank2.npy");
        Path odd = tmp.resolve("odd.npy");
        Npy.write(odd, new FloatTensor(new long[] {1, 3, 30, 30}, new float[2700]));
        r = run("forward", "--model", VIT.toString(), "--heads", "4", "--input", odd.toString(), "--output",
                tmp.resolve("y.npy").toString());
        assertBadInput(r, "odd.npy", "patch size");
    }

    static byte[] npyBytes(String header, int dataBytes) {
        int total = 10 + header.length() + 1;
        int pad = (64 - total % 64) % 64;
        String h = header + " ".repeat(pad) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + h.length() + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        b.putShort((short) h.length()).put(h.getBytes(StandardCharsets.US_ASCII));
        return b.array();
    }

    @Test
    void corruptImagesFailOneByOne() throws IOException {
        Path junk = tmp.resolve("junk.png");
        byte[] bytes = new byte[300];
        new java.util.Random(1).nextBytes(bytes);
        Files.write(junk, bytes);
        Path truncated = tmp.resolve("half.jpg");
        byte[] dog = Files.readAllBytes(GOLDEN.resolve("images/dog.jpg"));
        Files.write(truncated, Arrays.copyOf(dog, dog.length / 2));
        Run r = run("classify", "--model", GOLDEN.resolve("vit224").toString(), junk.toString(),
                truncated.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines()).hasSize(2);
        assertThat(r.err()).contains("junk.png").contains("half.jpg").doesNotContain("Exception");
    }

    // ------------------------------------------------------------------ token reduction

    static final Path DEEP = GOLDEN.resolve("deep197.safetensors");

    @Test
    void forwardWithReductionWritesTheReferenceLogitsAndATrace() throws Exception {
        Path out = tmp.resolve("y.npy");
        Path trace = tmp.resolve("trace.json");
        Run r = run("forward", "--model", DEEP.toString(), "--heads", "4", "--input",
                GOLDEN.resolve("input224_b2.npy").toString(), "--output", out.toString(), "--reduce",
                "tome:r=8,prop=true", "--trace", trace.toString());
        assertThat(r.status()).as(r.err()).isZero();
        FloatTensor y = Npy.read(out);
        FloatTensor want = Npy.read(GOLDEN.resolve("reduce/tome_r8.logits.npy"));
        for (int i = 0; i < y.data().length; i++) {
            assertThat((double) y.data()[i]).isCloseTo(want.data()[i], org.assertj.core.data.Offset.offset(1e-4));
        }
        JsonNode doc = new ObjectMapper().readTree(trace.toFile());
        assertThat(doc.get("images")).hasSize(2);
        JsonNode b0 = doc.get("images").get(0).get("blocks").get(0);
        assertThat(b0.get("block").asInt()).isZero();
        assertThat(b0.get("tokens").asInt()).isEqualTo(189);
        assertThat(b0.get("positions")).hasSize(189);
        assertThat(b0.get("positions").get(0).asInt()).isZero();
    }

    @Test
    void flopsReportsPublishedFigures() throws Exception {
        Run r = run("flops", "--arch", "deit_small_patch16_224", "--reduce", "tome:r=13", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("gmacs").asDouble()).isCloseTo(2.7, org.assertj.core.data.Offset.offset(0.05));
        assertThat(o.get("baseline_gmacs").asDouble()).isCloseTo(4.6, org.assertj.core.data.Offset.offset(0.05));
        Run text = run("flops", "--arch", "vit_base_patch16_224", "--reduce", "attn");
        assertThat(text.out()).contains("10.1");
    }

    @Test
    void benchComparesReducedAndUnreducedInOneRun() throws Exception {
        Run r = run("bench", "--model", DEEP.toString(), "--heads", "4", "--batch", "2", "--reduce", "evit:keep=0.5",
                "--warmup", "1", "--runs", "2", "--seconds", "0", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        for (String k : new String[] {"reduce", "gmacs", "baseline_gmacs", "images_per_s", "baseline_images_per_s",
            "speedup"}) {
            assertThat(o.has(k)).as(k).isTrue();
        }
        assertThat(o.get("gmacs").asDouble()).isLessThan(o.get("baseline_gmacs").asDouble());
        assertThat(o.get("speedup").asDouble()).isCloseTo(
                o.get("images_per_s").asDouble() / o.get("baseline_images_per_s").asDouble(),
                org.assertj.core.data.Offset.offset(1e-9));
    }

    /**
     * One profile row of {@code bench --profile --json}: ms per image by kind, after checking that the kinds and the
     * time outside the operators make up the profiled wall time.
     */
    static java.util.Map<String, Double> profileKinds(JsonNode profile) {
        double sum = profile.get("outside_ms_per_image").asDouble();
        java.util.Map<String, Double> kinds = new java.util.HashMap<>();
        for (JsonNode k : profile.get("kinds")) {
            kinds.put(k.get("kind").asText(), k.get("ms_per_image").asDouble());
            sum += k.get("ms_per_image").asDouble();
        }
        assertThat(sum).isCloseTo(profile.get("wall_ms_per_image").asDouble(),
                org.assertj.core.data.Offset.offset(1e-6));
        return kinds;
    }

    @Test
    void benchProfileSplitsTheForwardByOperatorKind() throws Exception {
        Run r = run("bench", "--model", DEEP.toString(), "--heads", "4", "--batch", "1,2", "--reduce", "tome:r=10",
                "--profile", "--warmup", "0", "--runs", "2", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("reduce").asText()).startsWith("tome:r=10");
        assertThat(o.get("precision").asText()).isEqualTo("fp32");
        assertThat(o.get("profiles")).hasSize(2);
        for (JsonNode p : o.get("profiles")) {
            java.util.Map<String, Double> kinds = profileKinds(p);
            assertThat(kinds.get("linear")).isPositive();
            assertThat(kinds.get("selection")).isPositive(); // ToMe merges with an embedding bag
            assertThat(p.get("top").size()).isBetween(1, ProfileBench.TOP);
        }
        Run text = run("bench", "--model", DEEP.toString(), "--heads", "4", "--batch", "1", "--profile", "--warmup",
                "0", "--runs", "1");
        assertThat(text.status()).as(text.err()).isZero();
        assertThat(text.out()).contains("linear layers", "outside libtorch's operators", "longest operators");
        Run bad = run("bench", "--model", DEEP.toString(), "--heads", "4", "--profile", "--same-counts", "--reduce",
                "tome:r=10");
        assertThat(bad.status()).isEqualTo(2);
        assertThat(bad.err()).contains("--profile");
        Run two = run("bench", "--model", DEEP.toString(), "--heads", "4", "--profile", "--precision", "int8,bf16");
        assertThat(two.status()).isEqualTo(2);
        assertThat(two.err()).contains("one --precision");
    }

    @Test
    void benchTimesAReducerAgainstAnotherBaseline() throws Exception {
        Run r = run("bench", "--model", DEEP.toString(), "--heads", "4", "--batch", "2", "--reduce", "random:R=20,llf=false",
                "--baseline", "random:keep=0.5,at=1", "--warmup", "1", "--runs", "2", "--seconds", "0", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("baseline").asText()).isEqualTo("random:keep=0.5,at=1,seed=0");
        // the baseline's own MACs, not the unreduced model's
        Run flops = run("flops", "--model", DEEP.toString(), "--heads", "4", "--reduce", "random:keep=0.5,at=1", "--json");
        JsonNode f = new ObjectMapper().readTree(flops.out());
        assertThat(o.get("baseline_gmacs").asDouble()).isEqualTo(f.get("gmacs").asDouble())
                .isLessThan(f.get("baseline_gmacs").asDouble());
        Run bad = run("bench", "--model", DEEP.toString(), "--heads", "4", "--baseline", "random:keep=0.5");
        assertThat(bad.status()).isEqualTo(2);
        assertThat(bad.err()).contains("--baseline needs --reduce");
    }

    @Test
    void benchSameCountsTimesTheCountsWithoutTheReducer() throws Exception {
        Run r = run("bench", "--model", DEEP.toString(), "--heads", "4", "--batch", "2", "--reduce", "tome:r=10",
                "--same-counts", "--warmup", "1", "--runs", "2", "--seconds", "0", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        double counts = o.get("same_counts_images_per_s").asDouble();
        assertThat(o.get("same_counts_speedup").asDouble()).isCloseTo(counts / o.get("baseline_images_per_s").asDouble(),
                org.assertj.core.data.Offset.offset(1e-9));
        assertThat(o.get("reducer_cost").asDouble()).isCloseTo(counts / o.get("images_per_s").asDouble() - 1,
                org.assertj.core.data.Offset.offset(1e-9));
        Run text = run("bench", "--model", DEEP.toString(), "--heads", "4", "--batch", "1", "--reduce", "tome:r=10",
                "--same-counts", "--warmup", "0", "--runs", "1", "--seconds", "0");
        assertThat(text.out()).contains("same counts").contains("reducer cost");
        Run perImage = run("bench", "--model", DEEP.toString(), "--heads", "4", "--reduce", "attn:mass=0.9",
                "--same-counts");
        assertThat(perImage.status()).isEqualTo(2);
        assertThat(perImage.err()).contains("same-counts").contains("per image");
        Run alone = run("bench", "--model", DEEP.toString(), "--heads", "4", "--same-counts");
        assertThat(alone.status()).isEqualTo(2);
        assertThat(alone.err()).contains("--same-counts needs --reduce");
    }

    @Test
    void explainDrawsAPicture() throws Exception {
        Path png = tmp.resolve("explain.png");
        Run r = run("explain", "--model", DEEP.toString(), "--heads", "4", "--reduce", "tome:r=16",
                GOLDEN.resolve("images/dog.jpg").toString(), "-o", png.toString());
        assertThat(r.status()).as(r.err()).isZero();
        java.awt.image.BufferedImage img = javax.imageio.ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isGreaterThan(6 * 224);
    }

    @ParameterizedTest
    @ValueSource(strings = {"magic", "tome:r=500", "evit:keep=1.5", "evit:at=3/6/9", "cropr:R=8", "attn:colour=red"})
    void badReductionSpecs(String spec) {
        Run r = run("forward", "--model", DEEP.toString(), "--heads", "4", "--input",
                GOLDEN.resolve("input224_b2.npy").toString(), "--output", tmp.resolve("y.npy").toString(), "--reduce",
                spec);
        assertBadInput(r, spec);
    }
}
