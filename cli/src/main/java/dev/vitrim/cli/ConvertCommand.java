package dev.vitrim.cli;

import dev.vitrim.VitrimException;
import dev.vitrim.io.DType;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.SafeTensorsFile;
import dev.vitrim.io.SafeTensorsWriter;
import dev.vitrim.io.TensorInfo;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Rewrite a safetensors model file with its floating-point tensors in another precision, "
                + "keeping every tensor name and the metadata (architecture, dense heads, reduction). Half precision "
                + "halves the file; every command reads F32, F16 and BF16 files alike and computes in fp32.", "",
                "F16 keeps 11 significant bits (relative rounding error at most 2^-11) and refuses values beyond "
                        + "its range (±65504), naming the tensor; BF16 keeps fp32's range with 8 significant bits."},
        footer = {"", "Examples:", "  vitrim convert --dtype f16 runs/scenes-vit.safetensors -o models/scenes-vit.safetensors",
                "  vitrim convert --dtype f32 models/scenes-vit.safetensors -o /tmp/scenes-fp32.safetensors"})
public final class ConvertCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "The safetensors file to read.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, description = "The file to write.")
    Path output;

    @Option(names = "--dtype", required = true, description = "f32, f16 or bf16.")
    String dtype;

    @Option(names = "--overwrite", description = "Replace the output file if it exists.")
    boolean overwrite;

    @Override
    public Integer call() throws java.io.IOException {
        String name = dtype.toUpperCase(Locale.ROOT);
        if (!name.equals("F32") && !name.equals("F16") && !name.equals("BF16")) {
            throw new VitrimException("--dtype " + dtype + ": choose f32, f16 or bf16");
        }
        DType to = DType.parse(name);
        Path in = Home.resolve(input);
        if (Files.exists(output) && !overwrite) {
            throw new VitrimException(output + " exists: pass --overwrite to replace it");
        }
        if (Files.exists(output) && Files.isSameFile(in, output)) {
            throw new VitrimException(output + " is the input file: write to another file");
        }
        Map<String, FloatTensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata;
        double worst = 0;
        String worstName = null;
        try (SafeTensorsFile f = SafeTensorsFile.open(in)) {
            metadata = f.metadata();
            for (TensorInfo t : f.infos()) {
                if (!t.dtype().isFloat()) {
                    throw new VitrimException(in + ": tensor '" + t.name() + "' is " + t.dtype()
                            + ", not floating point; convert rewrites float tensors only");
                }
                float[] v = f.floats(t.name());
                for (float x : v) {
                    if (to == DType.F16 && Math.abs(x) > 65504f && Float.isFinite(x)) {
                        throw new VitrimException(in + ": tensor '" + t.name() + "' holds " + x
                                + ", beyond F16's range (±65504): use --dtype bf16");
                    }
                }
                tensors.put(t.name(), new FloatTensor(t.shape(), v));
            }
        }
        SafeTensorsWriter.write(output, metadata, tensors, to);
        try (SafeTensorsFile back = SafeTensorsFile.open(output)) { // what was written, read back
            for (Map.Entry<String, FloatTensor> e : tensors.entrySet()) {
                float[] was = e.getValue().data();
                float[] now = back.floats(e.getKey());
                double scale = 0;
                for (float v : was) {
                    scale = Math.max(scale, Math.abs(v));
                }
                for (int i = 0; i < was.length && scale > 0; i++) {
                    double rel = Math.abs(now[i] - was[i]) / scale; // against the tensor's largest magnitude
                    if (rel > worst) {
                        worst = rel;
                        worstName = e.getKey();
                    }
                }
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf(Locale.ROOT, "%s: %d tensors in %s, %.1f MB (from %.1f MB); largest change %.2g of a tensor's "
                + "largest value%s%n",
                output, tensors.size(), to, size(output) / 1e6, size(in) / 1e6, worst,
                worstName == null ? "" : " (" + worstName + ")");
        return 0;
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (java.io.IOException e) {
            return -1;
        }
    }
}
