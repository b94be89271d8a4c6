package dev.vitrim.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.api.Vitrim;
import dev.vitrim.api.VitrimModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Each example run on the shipped MNIST model with two digits of the MNIST test set, whose labels (7 and 2, in the
 * file names) are the reference.
 */
class ExamplesTest {
    static final Path MODEL = Path.of("../models/mnist-vit.safetensors");
    static final Path SEVEN = Path.of("src/test/resources/mnist-test-0-label-7.png");
    static final Path TWO = Path.of("src/test/resources/mnist-test-1-label-2.png");

    static List<String> run(ThrowingMain main, String... args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            main.run(args);
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8).lines().toList();
    }

    interface ThrowingMain {
        void run(String[] args) throws Exception;
    }

    @Test
    void classifyPhotoPrintsTheDigitFirst() throws Exception {
        for (Path digit : List.of(SEVEN, TWO)) {
            List<String> out = run(ClassifyPhoto::main, MODEL.toString(), digit.toString());
            assertThat(out).hasSize(3);
            String expected = digit == SEVEN ? "7" : "2";
            assertThat(out.get(0)).startsWith(expected + " ");
            double p0 = Double.parseDouble(out.get(0).split(" ")[1]);
            double p1 = Double.parseDouble(out.get(1).split(" ")[1]);
            assertThat(p0).isGreaterThan(0.5).isGreaterThanOrEqualTo(p1);
        }
    }

    @Test
    void djlPredictGivesTheSameDigit() throws Exception {
        List<String> out = run(DjlPredict::main, MODEL.toString(), SEVEN.toString());
        assertThat(out).hasSize(3);
        assertThat(out.get(0)).startsWith("7 ");
        try (VitrimModel vit = Vitrim.load(MODEL)) {
            double p = vit.reduce("tome:r=13").classify(SEVEN).probability("7");
            assertThat(out.get(0)).isEqualTo(String.format("7 %.4f", p));
        }
    }

    @Test
    void theServiceClassifiesUploadsAndRefusesACorruptImage() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        ObjectMapper json = new ObjectMapper();
        try (VitrimModel vit = Vitrim.load(MODEL);
             ClassifyService service = new ClassifyService(vit.reduce("attn:keep=0.8..0.4,start=3"), 0)) {
            URI uri = URI.create("http://127.0.0.1:" + service.port() + "/classify");
            HttpResponse<String> ok = http.send(HttpRequest.newBuilder(uri)
                    .POST(HttpRequest.BodyPublishers.ofByteArray(Files.readAllBytes(TWO))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.headers().firstValue("Content-Type")).hasValue("application/json");
            JsonNode a = json.readTree(ok.body());
            assertThat(a.get("top").get(0).get("label").asText()).isEqualTo("2");
            assertThat(a.get("top").get(0).get("prob").asDouble()).isGreaterThan(0.5);
            assertThat(a.get("top")).hasSize(3);
            assertThat(a.get("reduce").asText()).startsWith("attn:keep=0.8..0.4,start=3");
            assertThat(a.get("latency_ms").asDouble()).isPositive();
            assertThat(a.get("gmacs").asDouble()).isLessThan(vit.gmacs());

            byte[] corrupt = Files.readAllBytes(SEVEN);
            corrupt = java.util.Arrays.copyOf(corrupt, corrupt.length / 2); // a PNG cut in half
            HttpResponse<String> bad = http.send(HttpRequest.newBuilder(uri)
                    .POST(HttpRequest.BodyPublishers.ofByteArray(corrupt)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(bad.statusCode()).isEqualTo(400);
            assertThat(json.readTree(bad.body()).get("error").asText()).contains("PNG");

            HttpResponse<String> get = http.send(HttpRequest.newBuilder(uri).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(get.statusCode()).isEqualTo(405);
            assertThat(json.readTree(get.body()).has("error")).isTrue();
        }
    }
}
