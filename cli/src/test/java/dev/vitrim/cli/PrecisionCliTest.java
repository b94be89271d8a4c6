package dev.vitrim.cli;

import static dev.vitrim.cli.CliTest.GOLDEN;
import static dev.vitrim.cli.CliTest.VIT;
import static dev.vitrim.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vitrim.engine.Precision;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.Npy;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --precision} on the commands: what runs is said, results stay within the format's error, bench compares
 * each format with fp32. The CPU is simulated as an AVX2 machine ({@link Precision#FLAGS_PROPERTY}) so that
 * {@code auto} means fp32 wherever the test runs.
 */
class PrecisionCliTest {
    @TempDir
    Path tmp;

    private String old;

    @BeforeEach
    void avx2() {
        old = System.getProperty(Precision.FLAGS_PROPERTY);
        System.setProperty(Precision.FLAGS_PROPERTY, "sse4_2 avx avx2 fma");
    }

    @AfterEach
    void restore() {
        if (old == null) {
            System.clearProperty(Precision.FLAGS_PROPERTY);
        } else {
            System.setProperty(Precision.FLAGS_PROPERTY, old);
        }
    }

    @Test
    void forwardInInt8SaysSoAndStaysWithinInt8sError() {
        Path out = tmp.resolve("y.npy");
        CliTest.Run r = run("forward", "--model", VIT.toString(), "--heads", "4", "--precision", "int8", "--input",
                GOLDEN.resolve("input_b2.npy").toString(), "--output", out.toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.err()).contains("precision int8").contains("fbgemm");
        FloatTensor y = Npy.read(out);
        FloatTensor want = Npy.read(GOLDEN.resolve("vit_timm.logits.npy"));
        double d = 0;
        double scale = 0;
        for (int i = 0; i < y.data().length; i++) {
            d = Math.max(d, Math.abs(y.data()[i] - want.data()[i]));
            scale = Math.max(scale, Math.abs(want.data()[i]));
        }
        // 3 blocks · 4 quantized products · 2^-7 (see PrecisionGoldenTest), and not the fp32 result
        assertThat(d).isLessThanOrEqualTo(3 * 4 * Math.pow(2, -7) * scale).isGreaterThan(1e-4);
    }

    @Test
    void autoOnACpuWithoutBf16IsFp32AndSaysWhy() {
        Path out = tmp.resolve("y.npy");
        CliTest.Run r = run("forward", "--model", VIT.toString(), "--heads", "4", "--precision", "auto", "--input",
                GOLDEN.resolve("input_b2.npy").toString(), "--output", out.toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.err()).contains("fp32: this CPU has no AVX512_BF16/AMX");
        FloatTensor y = Npy.read(out);
        FloatTensor want = Npy.read(GOLDEN.resolve("vit_timm.logits.npy"));
        for (int i = 0; i < y.data().length; i++) {
            assertThat((double) y.data()[i]).isCloseTo(want.data()[i], org.assertj.core.data.Offset.offset(1e-4));
        }
    }

    @Test
    void infoSaysWhatRunsAndWhy() throws Exception {
        CliTest.Run r = run("info", "--model", VIT.toString(), "--heads", "4", "--precision", "bf16");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("precision     bf16: as requested, but this CPU has no AVX512_BF16/AMX")
                .contains("auto would run fp32: this CPU has no AVX512_BF16/AMX");
        CliTest.Run j = run("info", "--model", VIT.toString(), "--heads", "4", "--precision", "auto", "--json");
        JsonNode p = new ObjectMapper().readTree(j.out()).get("precision");
        assertThat(p.get("requested").asText()).isEqualTo("auto");
        assertThat(p.get("chosen").asText()).isEqualTo("fp32");
        assertThat(p.get("reason").asText()).isEqualTo("fp32: this CPU has no AVX512_BF16/AMX");
    }

    @Test
    void benchComparesEachFormatWithFp32InOneRun() throws Exception {
        CliTest.Run r = run("bench", "--model", CliTest.DEEP.toString(), "--heads", "4", "--batch", "2",
                "--precision", "int8,auto", "--reduce", "evit:keep=0.5", "--warmup", "0", "--runs", "2",
                "--seconds", "0", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("reduce").asText()).startsWith("evit");
        assertThat(o.get("precisions")).hasSize(3);
        assertThat(o.get("precisions").get(2).get("reason").asText())
                .startsWith("fp32: this CPU has no AVX512_BF16/AMX (linear layers: ");
        assertThat(o.get("precisions").get(0).get("reason").asText()).as("the baseline names its route")
                .matches("fp32: as requested \\(linear layers: (onednn-packed|onednn|aten)\\)");
        JsonNode rows = o.get("results");
        assertThat(rows).hasSize(3);
        double fp32 = rows.get(0).get("images_per_s").asDouble();
        for (JsonNode row : rows) {
            assertThat(row.get("batch").asInt()).isEqualTo(2);
            assertThat(row.get("speedup_vs_fp32").asDouble()).isCloseTo(row.get("images_per_s").asDouble() / fp32,
                    org.assertj.core.data.Offset.offset(1e-9));
        }
        assertThat(rows.get(0).get("max_abs_logit_diff").asDouble()).isZero();
        assertThat(rows.get(1).get("precision").asText()).isEqualTo("int8");
        assertThat(rows.get(1).get("max_abs_logit_diff").asDouble()).isGreaterThan(0);
        assertThat(rows.get(2).get("runs_as").asText()).isEqualTo("fp32");
        assertThat(rows.get(2).get("max_abs_logit_diff").asDouble()).as("auto here is fp32 exactly").isZero();
        // each row against the ceiling of the arithmetic it runs in: fp32's for fp32 rows, none for int8, and no
        // bf16 ceiling measured where nothing runs bf16
        double fp32Ceiling = o.get("fp32_gemm_ceiling_gflops").asDouble();
        assertThat(fp32Ceiling).isPositive();
        assertThat(o.has("bf16_gemm_ceiling_gflops")).isFalse();
        for (int k : new int[] {0, 2}) {
            assertThat(rows.get(k).get("fraction_of_ceiling").asDouble()).isCloseTo(
                    rows.get(k).get("gflops").asDouble() / fp32Ceiling, org.assertj.core.data.Offset.offset(1e-9));
        }
        assertThat(rows.get(1).has("fraction_of_ceiling")).as("int8 has no float ceiling").isFalse();

        CliTest.Run bf16 = run("bench", "--model", CliTest.DEEP.toString(), "--heads", "4", "--batch", "1",
                "--precision", "bf16", "--warmup", "0", "--runs", "1", "--seconds", "0", "--json");
        assertThat(bf16.status()).as(bf16.err()).isZero();
        JsonNode b = new ObjectMapper().readTree(bf16.out());
        double bf16Ceiling = b.get("bf16_gemm_ceiling_gflops").asDouble();
        assertThat(bf16Ceiling).isPositive();
        JsonNode bf16Row = b.get("results").get(1);
        assertThat(bf16Row.get("runs_as").asText()).isEqualTo("bf16");
        assertThat(bf16Row.get("fraction_of_ceiling").asDouble()).isCloseTo(
                bf16Row.get("gflops").asDouble() / bf16Ceiling, org.assertj.core.data.Offset.offset(1e-9));

        CliTest.Run text = run("bench", "--model", CliTest.DEEP.toString(), "--heads", "4", "--batch", "1",
                "--precision", "bf16", "--warmup", "0", "--runs", "1", "--seconds", "0");
        assertThat(text.status()).as(text.err()).isZero();
        assertThat(text.out()).contains("bf16: as requested").contains("vs fp32").contains("max|dlogit|")
                .contains("% ceiling").containsPattern("fp32 matmul ceiling [0-9.]+ GFLOP/s, bf16 [0-9.]+ GFLOP/s");
    }

    @Test
    void trainInBf16SaysItIsEmulatedHereAndInt8IsRefused() throws Exception {
        Path data = tmp.resolve("colours");
        new TrainCliTest().folder(data, 10);
        Path model = tmp.resolve("m.safetensors");
        CliTest.Run r = run("train", "--data", "folder:" + data, "--config", TrainCliTest.TINY, "--epochs", "1",
                "--batch", "8", "--val-fraction", "0.2", "--precision", "bf16", "-o", model.toString(), "--no-progress");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.err()).contains("training precision bf16").contains("mixed precision")
                .contains("warning: bf16 training on this CPU is slower than fp32");
        assertThat(model).exists();
        CliTest.assertBadInput(run("train", "--data", "folder:" + data, "--config", TrainCliTest.TINY, "--precision",
                "int8", "-o", tmp.resolve("n.safetensors").toString()), "int8 is for inference");
    }

    @Test
    void badValuesAndCombinationsAreOneLineErrors() {
        CliTest.assertBadInput(run("forward", "--model", VIT.toString(), "--precision", "fp16", "--input",
                GOLDEN.resolve("input_b2.npy").toString(), "--output", tmp.resolve("y.npy").toString()),
                "precision", "fp16", "fp32, bf16, int8 or auto");
        CliTest.assertBadInput(run("bench", "--model", CliTest.DEEP.toString(), "--heads", "4", "--precision", "int8",
                "--reduce", "evit:keep=0.5", "--baseline", "random:keep=0.5"), "--precision", "--baseline");
    }
}
