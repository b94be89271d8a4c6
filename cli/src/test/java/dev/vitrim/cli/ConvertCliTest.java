package dev.vitrim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.Npy;
import dev.vitrim.io.SafeTensorsFile;
import dev.vitrim.io.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vitrim convert}: the golden model rewritten in F16 / BF16 holds exactly the values the reference rounded
 * with numpy (vit_f16 / vit_bf16 fixtures, made from the same weights), and forwards to the reference's logits.
 */
class ConvertCliTest {
    @TempDir
    Path tmp;

    @Test
    void halfPrecisionFilesHoldTheReferenceRoundingAndForwardToItsLogits() throws Exception {
        for (String dtype : new String[] {"f16", "bf16"}) {
            Path out = tmp.resolve("vit_" + dtype + ".safetensors");
            CliTest.Run r = CliTest.run("convert", "--dtype", dtype, CliTest.VIT.toString(), "-o", out.toString());
            assertThat(r.status()).as(r.err()).isZero();
            assertThat(r.out()).contains(dtype.toUpperCase());
            assertThat(Files.size(out)).isLessThan(Files.size(CliTest.VIT) * 6 / 10);
            try (SafeTensorsFile got = SafeTensorsFile.open(out);
                 SafeTensorsFile want = SafeTensorsFile.open(CliTest.GOLDEN.resolve("vit_" + dtype + ".safetensors"));
                 SafeTensorsFile orig = SafeTensorsFile.open(CliTest.VIT)) {
                assertThat(got.names()).isEqualTo(orig.names());
                assertThat(got.metadata()).isEqualTo(orig.metadata());
                for (TensorInfo t : got.infos()) {
                    assertThat(t.dtype().name()).isEqualTo(dtype.toUpperCase());
                    assertThat(got.floats(t.name())).as(t.name()).containsExactly(want.floats(t.name()));
                }
            }
            Path y = tmp.resolve("y_" + dtype + ".npy");
            CliTest.Run f = CliTest.run("forward", "--model", out.toString(), "--heads", "4", "--input",
                    CliTest.GOLDEN.resolve("input_b2.npy").toString(), "--output", y.toString());
            assertThat(f.status()).as(f.err()).isZero();
            FloatTensor logits = Npy.read(y);
            FloatTensor ref = Npy.read(CliTest.GOLDEN.resolve("vit_" + dtype + ".logits.npy"));
            for (int i = 0; i < ref.data().length; i++) {
                assertThat((double) logits.data()[i]).isCloseTo(ref.data()[i], org.assertj.core.data.Offset.offset(1e-4));
            }
        }
    }

    @Test
    void refusesToOverwriteAndUnknownPrecisions() throws Exception {
        Path out = tmp.resolve("x.safetensors");
        Files.writeString(out, "keep me");
        CliTest.assertBadInput(CliTest.run("convert", "--dtype", "f16", CliTest.VIT.toString(), "-o", out.toString()),
                "x.safetensors", "--overwrite");
        assertThat(Files.readString(out)).isEqualTo("keep me");
        CliTest.assertBadInput(CliTest.run("convert", "--dtype", "int4", CliTest.VIT.toString(), "-o",
                tmp.resolve("y.safetensors").toString()), "int4", "f16");
        CliTest.assertBadInput(CliTest.run("convert", "--dtype", "f16", tmp.resolve("missing.safetensors").toString(),
                "-o", tmp.resolve("z.safetensors").toString()), "missing.safetensors");
    }
}
