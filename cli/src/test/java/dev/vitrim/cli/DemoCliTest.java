package dev.vitrim.cli;

import static dev.vitrim.cli.CliTest.assertBadInput;
import static dev.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.data.DataHome;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo command: help, one-line errors with exit 2, and a quick end-to-end run on a folder of images. */
class DemoCliTest {
    /** A random 224-px ViT with the MNIST model's token schedule: depth 6, 196 patches + CLS, 10 classes. */
    static final Path DEEP = CliTest.GOLDEN.resolve("deep197.safetensors");

    @TempDir
    Path tmp;

    @BeforeEach
    void dataFolder() {
        System.setProperty(DataHome.PROPERTY, tmp.resolve("data").toString());
    }

    @AfterEach
    void restore() {
        System.clearProperty(DataHome.PROPERTY);
    }

    /** Ten classes "0".."9", one 16x16 PNG each: a vertical bar as wide as the digit plus one. */
    Path digitsFolder() throws IOException {
        Path root = tmp.resolve("digits");
        for (int d = 0; d < 10; d++) {
            Files.createDirectories(root.resolve(Integer.toString(d)));
            BufferedImage img = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
            for (int y = 2; y < 14; y++) {
                for (int x = 3; x < 3 + 1 + d; x++) {
                    img.setRGB(x, y, 0xFFFFFF);
                }
            }
            ImageIO.write(img, "png", root.resolve(Integer.toString(d)).resolve("a.png").toFile());
        }
        return root;
    }

    @Test
    void helpTeachesEveryMethod() {
        CliTest.Run r = run("demo", "--help");
        assertThat(r.status()).isZero();
        assertThat(r.out()).contains("Usage: vitrim demo", "none", "attn mass=0.9", "EViT", "ToMe", "random",
                "--limit", "--markdown", "--json", "vitrim eval --reduce SPEC");
    }

    @Test
    void aMissingModelIsOneLineAndExitTwo() {
        Path missing = tmp.resolve("no-such-model.safetensors");
        assertBadInput(run("demo", "--model", missing.toString()), "no-such-model.safetensors", "--model");
    }

    @Test
    void badOptionsAreOneLineAndExitTwo() {
        assertBadInput(run("demo", "--model", DEEP.toString(), "--data", "mnist:validation"), "mnist:validation");
        assertBadInput(run("demo", "--model", DEEP.toString(), "--data", "imagenet"), "imagenet");
        assertBadInput(run("demo", "--model", DEEP.toString(), "--limit", "-1"), "--limit");
        assertBadInput(run("demo", "--model", DEEP.toString(), "--batch", "0"), "--batch");
        assertBadInput(run("demo", "--model", CliTest.VIT.toString()), "vit_timm.safetensors", "at least 5 blocks");
        assertBadInput(run("demo", "--model", DEEP.toString(), "--data", "folder:" + tmp.resolve("nothing")),
                "no such folder");
        assertBadInput(run("demo", "--model", DEEP.toString(), "--out", tmp.toString()), tmp.toString(), "--out");
    }

    @Test
    void jsonRunOnAFolderReportsEveryMethodAndWritesThePicture() throws Exception {
        Path folder = digitsFolder();
        Path png = tmp.resolve("out/kept.png");
        CliTest.Run r = run("demo", "--model", DEEP.toString(), "--data", "folder:" + folder, "--limit", "0",
                "--batch", "2", "--warmup", "0", "--runs", "1", "--seconds", "0", "--out", png.toString(), "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertThat(doc.get("images").asInt()).isEqualTo(10);
        assertThat(doc.get("batch").asInt()).isEqualTo(2);
        JsonNode methods = doc.get("methods");
        assertThat(methods).hasSize(6);
        assertThat(methods.get(0).get("name").asText()).isEqualTo("none");
        assertThat(methods.get(0).get("speedup").asDouble()).isEqualTo(1.0);
        assertThat(methods.get(5).get("spec").asText()).startsWith("random:keep=");
        double attn = doc.get("attn_gmacs").asDouble();
        assertThat(methods.get(5).get("gmacs").asDouble()).isCloseTo(attn, org.assertj.core.data.Percentage
                .withPercentage(0.1));
        JsonNode ex = doc.get("examples");
        assertThat(ex).hasSize(4);
        assertThat(ex.get(0).get("role").asText()).isEqualTo("thinnest 1");
        assertThat(ex.get(1).get("role").asText()).isEqualTo("busiest 8");
        assertThat(ex.get(0).get("tokens").get("none").asInt()).isEqualTo(197);
        assertThat(doc.get("picture").asText()).isEqualTo(png.toString());
        BufferedImage img = ImageIO.read(png.toFile());
        int panel = 224; // ceil(160 / 224) = 1
        assertThat(img.getWidth()).isEqualTo(8 + 7 * (panel + 8));
        assertThat(img.getHeight()).isEqualTo(8 + 18 + 4 * (18 + panel + 18 + 8) + 18);
    }

    @Test
    void markdownPrintsTheTableOnly() throws Exception {
        Path folder = digitsFolder();
        CliTest.Run r = run("demo", "--model", DEEP.toString(), "--data", "folder:" + folder, "--limit", "4",
                "--batch", "2", "--warmup", "0", "--runs", "1", "--seconds", "0", "--no-png", "--markdown");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out().lines()).hasSize(8);
        assertThat(r.out()).startsWith("| model | method | spec | top-1 | GMACs | speedup batch 2 |")
                .contains("| deep197 | attn | `attn:keep=0.8..0.4");
    }

    /** The Token Cropr golden model: deep197's architecture with queries for its pruning modules. */
    static final Path DEEP_CROPR = CliTest.GOLDEN.resolve("reduce/deep197_cropr.safetensors");

    @Test
    void aCroprModelNextToTheModelAddsItsRowAndItsColumn() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("models"));
        Path model = Files.copy(DEEP, dir.resolve("deep-vit.safetensors"));
        Files.copy(DEEP_CROPR, dir.resolve("deep-cropr.safetensors"));
        Path png = tmp.resolve("kept.png");
        CliTest.Run r = run("demo", "--model", model.toString(), "--data", "folder:" + digitsFolder(), "--limit", "0",
                "--batch", "2", "--warmup", "0", "--runs", "1", "--seconds", "0", "--out", png.toString(), "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertThat(doc.get("cropr_model").asText()).isEqualTo(dir.resolve("deep-cropr.safetensors").toString());
        JsonNode methods = doc.get("methods");
        assertThat(methods).hasSize(7);
        JsonNode cropr = methods.get(6);
        assertThat(cropr.get("name").asText()).isEqualTo("cropr (deep-cropr)");
        assertThat(cropr.get("spec").asText()).startsWith("cropr:R=");
        assertThat(cropr.get("gmacs").asDouble()).isLessThan(doc.get("baseline_gmacs").asDouble());
        assertThat(cropr.get("speedup").asDouble()).isPositive();
        // with LLF the last block sees every token again; the count is the leanest block's
        int kept = doc.get("examples").get(0).get("tokens").get("cropr (deep-cropr)").asInt();
        assertThat(kept).isGreaterThan(1).isLessThan(197);
        BufferedImage img = ImageIO.read(png.toFile());
        assertThat(img.getWidth()).isEqualTo(8 + 8 * (224 + 8));
        // and the text report says which file the row ran and how to re-run it
        CliTest.Run text = run("demo", "--model", model.toString(), "--data", "folder:" + digitsFolder(),
                "--limit", "3", "--batch", "2", "--warmup", "0", "--runs", "1", "--seconds", "0", "--no-png");
        assertThat(text.status()).as(text.err()).isZero();
        assertThat(text.out()).contains("cropr (deep-cropr)", "--reduce cropr", "deep-cropr.safetensors");
        CliTest.Run none = run("demo", "--model", model.toString(), "--data", "folder:" + digitsFolder(),
                "--limit", "3", "--batch", "2", "--warmup", "0", "--runs", "1", "--seconds", "0", "--no-png",
                "--cropr", "none", "--markdown");
        assertThat(none.status()).as(none.err()).isZero();
        assertThat(none.out()).doesNotContain("cropr");
    }

    @Test
    void aBadCroprModelIsOneLineAndExitTwo() {
        assertBadInput(run("demo", "--model", DEEP.toString(), "--cropr", tmp.resolve("nope.safetensors").toString()),
                "nope.safetensors", "--cropr");
        assertBadInput(run("demo", "--model", DEEP.toString(), "--cropr", CliTest.VIT.toString()),
                "vit_timm.safetensors", "not the compared model's architecture", "--cropr");
        assertBadInput(run("demo", "--model", DEEP.toString(), "--cropr", DEEP.toString()), "deep197.safetensors",
                "no Cropr queries", "--cropr");
    }
}
