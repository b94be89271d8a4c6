package dev.vitrim.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.eval.Benchmark;
import dev.vitrim.model.Macs;
import dev.vitrim.model.Presets;
import dev.vitrim.model.Torch;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.model.VitConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure forward speed: images/s and ms/image (median of repeated runs after warm-up), "
                + "MACs, achieved GFLOP/s, and the machine's fp32 matrix-multiply ceiling measured in the same run.",
                "", "With --arch the weights are random (speed does not depend on them)."},
        footer = {"", "Examples:", "  vitrim bench --arch vit_small_patch16_224 --batch 1,8,32",
                "  vitrim bench --model vit224/ --batch 8 --json"})
public final class BenchCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    static final class Source {
        @Option(names = "--arch", paramLabel = "NAME", description = "A preset: vit_tiny|small|base|large_patch16_224, "
                + "deit_tiny|small|base_patch16_224 and deit_*_distilled_patch16_224.")
        String arch;

        @Option(names = {"-m", "--model"}, paramLabel = "PATH", description = "A checkpoint file or folder.")
        Path model;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--heads", paramLabel = "N", description = "Heads for --model (default: from the file or width/64).")
    int heads;

    @Mixin
    CommonOptions common;

    @Option(names = "--batch", split = ",", paramLabel = "B", defaultValue = "1,8,32",
            description = "Batch sizes, comma separated (default: ${DEFAULT-VALUE}).")
    List<Integer> batches;

    @Option(names = "--warmup", defaultValue = "3", description = "Unmeasured runs per batch size (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--runs", defaultValue = "10", description = "Minimum measured runs (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--seconds", defaultValue = "3", description = "Minimum measuring time per batch size (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        for (int b : batches) {
            if (b < 1) {
                throw new VitrimException("--batch sizes must be positive, got " + b);
            }
        }
        if (runs < 1 || warmup < 0) {
            throw new VitrimException("--runs must be >= 1 and --warmup >= 0");
        }
        Torch.engine(common.threads);
        PrintWriter out = spec.commandLine().getOut();
        VisionTransformer vit = source.arch != null ? VisionTransformer.random(Presets.get(source.arch), 0)
                : VisionTransformer.load(source.model, heads);
        try (vit) {
            VitConfig c = vit.config();
            long macs = Macs.unreduced(c);
            double ceiling = Benchmark.gemmCeilingGflops(vit.manager());
            ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode doc = om.createObjectNode();
            doc.put("model", source.arch != null ? source.arch : source.model.toString());
            doc.put("gmacs", macs / 1e9);
            doc.put("gemm_ceiling_gflops", ceiling);
            doc.put("threads", ai.djl.pytorch.jni.JniUtils.getNumThreads());
            ArrayNode rows = doc.putArray("results");
            if (!json) {
                out.printf(Locale.ROOT, "%s: %.3f GMACs/image, fp32 matmul ceiling %.1f GFLOP/s, %d threads%n",
                        doc.get("model").asText(), macs / 1e9, ceiling, doc.get("threads").asInt());
                out.printf(Locale.ROOT, "%6s %10s %10s %10s %9s %6s%n", "batch", "images/s", "ms/image", "GFLOP/s",
                        "% ceiling", "runs");
            }
            for (int b : batches) {
                Benchmark.Timing t;
                try (NDManager m = vit.manager().newSubManager()) {
                    Torch.inference();
                    NDArray x = m.randomNormal(0, 1, new Shape(b, 3, c.imageSize(), c.imageSize()), DataType.FLOAT32);
                    t = Benchmark.time(() -> {
                        try (NDManager s = m.newSubManager()) {
                            s.tempAttachAll(x);
                            NDArray y = vit.forward(x);
                            y.toFloatArray();
                        }
                    }, warmup, runs, 1000, seconds);
                }
                double ips = b / (t.medianMs() / 1e3);
                double gflops = 2.0 * macs * ips / 1e9;
                ObjectNode r = rows.addObject();
                r.put("batch", b).put("images_per_s", ips).put("ms_per_image", t.medianMs() / b)
                        .put("gflops", gflops).put("fraction_of_ceiling", gflops / ceiling).put("runs", t.runs());
                if (!json) {
                    out.printf(Locale.ROOT, "%6d %10.2f %10.2f %10.1f %8.0f%% %6d%n", b, ips, t.medianMs() / b, gflops,
                            100 * gflops / ceiling, t.runs());
                    out.flush();
                }
            }
            if (json) {
                out.println(om.writeValueAsString(doc));
            }
        }
        return 0;
    }
}
