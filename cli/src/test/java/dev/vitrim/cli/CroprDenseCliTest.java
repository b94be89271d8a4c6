package dev.vitrim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vitrim train --reduce cropr} on dense data, and the trained schedule in segment and eval. */
class CroprDenseCliTest {
    @TempDir
    Path dir;

    @Test
    void trainsCroprOnADenseTaskAndSegmentAndEvalRunItsSchedule() throws Exception {
        Path coco = DenseCliTest.writeCoco(dir.resolve("coco"));
        Path out = dir.resolve("cropr.safetensors");
        CliTest.Run t = CliTest.run("train", "--data", "coco:" + coco, "--val", "coco:" + coco, "--config",
                "width=16,depth=3,heads=2,patch=4,image=32", "--epochs", "1", "--batch", "4", "--eval-batch", "4",
                "--reduce", "cropr:R=4,llf=true", "--cropr-task", "segment", "--patch-labels", "majority", "-o",
                out.toString());
        assertThat(t.status()).as(t.err()).isZero();
        assertThat(t.out()).contains("reduce: cropr:R=4,llf=true (Cropr heads: segment, majority patch labels)")
                .contains("Cropr auxiliary loss");
        JsonNode log = new ObjectMapper().readTree(Files.readAllLines(dir.resolve("cropr.log.jsonl")).get(0));
        assertThat(log.get("aux_loss").asDouble()).isPositive();
        CliTest.Run e = CliTest.run("eval", "--model", out.toString(), "--data", "coco:" + coco, "--task", "segment",
                "--reduce", "cropr", "--json");
        assertThat(e.status()).as(e.err()).isZero();
        assertThat(new ObjectMapper().readTree(e.out()).get("reduce").asText()).isEqualTo("cropr:R=4,llf=true");
        CliTest.Run s = CliTest.run("segment", "--model", out.toString(), "--reduce", "cropr", "--json",
                coco.resolve("images/img0.png").toString());
        assertThat(s.status()).as(s.err()).isZero();
    }

    @Test
    void croprOptionsOutsideDenseCroprTrainingAreRefusedClearly() throws Exception {
        Path coco = DenseCliTest.writeCoco(dir.resolve("coco"));
        String[] base = {"train", "--data", "coco:" + coco, "--val", "coco:" + coco, "--config",
            "width=16,depth=3,heads=2,patch=4,image=32", "--epochs", "1", "-o", dir.resolve("x.safetensors").toString()};
        CliTest.assertBadInput(CliTest.run(concat(base, "--patch-labels", "majority")), "--patch-labels",
                "--reduce cropr");
        CliTest.assertBadInput(CliTest.run(concat(base, "--reduce", "cropr:R=4,llf=true", "--cropr-task", "boxes")),
                "boxes", "segment or presence");
        CliTest.assertBadInput(CliTest.run(concat(base, "--reduce", "cropr:R=4,llf=true", "--patch-labels", "mode")),
                "mode", "nearest or majority");
        CliTest.Run help = CliTest.run("train", "--help");
        assertThat(help.out()).contains("--cropr-task", "--patch-labels", "top-left", "presence");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
