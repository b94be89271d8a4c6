package dev.vitrim.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Precision;
import dev.vitrim.model.Checkpoint;
import dev.vitrim.reduce.Macs;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show a checkpoint's architecture, parameter count, storage dtype, preprocessing and "
                + "MACs per image, read from the file without running it, and the arithmetic format --precision "
                + "chooses on this CPU (and why), with what auto would choose.",
        footer = {"", "Example:", "  vitrim info --model vit224/"})
public final class InfoCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    CommonOptions common;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Precision.Choice chosen = modelOptions.precision.requested().resolve();
        Precision.Choice auto = Precision.AUTO.resolve();
        try (Checkpoint ck = Checkpoint.open(modelOptions.model, modelOptions.heads)) {
            VitConfig c = ck.config();
            long macs = Macs.unreduced(c);
            if (json) {
                ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ObjectNode o = om.createObjectNode();
                o.put("file", ck.path().toString());
                o.put("format", ck.isHuggingFace() ? "huggingface" : "timm");
                o.put("name", c.name());
                o.put("width", c.width()).put("depth", c.depth()).put("heads", c.heads())
                        .put("patch_size", c.patchSize()).put("image_size", c.imageSize()).put("tokens", c.tokens())
                        .put("mlp_hidden", c.mlpHidden()).put("classes", c.numClasses())
                        .put("distilled", c.distilled()).put("layer_scale", c.layerScale())
                        .put("no_embed_class", c.noEmbedClass()).put("global_pool", c.globalPool())
                        .put("fc_norm", c.fcNorm()).put("eps", c.eps());
                o.put("parameters", c.parameterCount());
                o.put("dtype", ck.dtypes());
                o.put("macs", macs);
                ObjectNode p = o.putObject("precision");
                p.put("requested", chosen.requested().label()).put("chosen", chosen.chosen().label())
                        .put("reason", chosen.reason()).put("auto", auto.chosen().label())
                        .put("auto_reason", auto.reason()).put("cpu", dev.vitrim.eval.Benchmark.cpu());
                o.put("preprocess", PreprocessOptions.describe(c.preprocess()));
                String dense = ck.source().metadata().get(dev.vitrim.dense.DenseModel.METADATA_KEY);
                if (dense != null) {
                    o.set("dense", om.readTree(dense));
                }
                out.println(om.writeValueAsString(o));
                return 0;
            }
            out.println("file          " + ck.path() + " (" + (ck.isHuggingFace() ? "Hugging Face" : "timm")
                    + " names)");
            out.println("architecture  " + c.describe());
            out.printf(Locale.ROOT, "parameters    %,d%n", c.parameterCount());
            out.println("dtype         " + ck.dtypes());
            out.println("tokens        " + c.tokens() + " (" + c.numPatches() + " patches + " + c.prefixTokens()
                    + " prefix)");
            out.printf(Locale.ROOT, "MACs/image    %.3f G (unreduced, %d px)%n", macs / 1e9, c.imageSize());
            out.println("preprocess    " + PreprocessOptions.describe(c.preprocess()));
            out.println("precision     " + chosen.reason() + (chosen.requested() == Precision.AUTO ? ""
                    : "; auto would run " + auto.reason()) + " (" + dev.vitrim.eval.Benchmark.cpu() + ")");
            long cropr = ck.source().names().stream().filter(n -> n.matches("cropr\\.\\d+\\.cross_attn\\.queries")).count();
            out.println("cropr queries " + (cropr == 0 ? "none (--reduce cropr needs a Cropr checkpoint)"
                    : cropr + " modules (--reduce cropr)"));
            if (!c.labels().isEmpty()) {
                out.println("labels        " + c.labels().size() + " names, e.g. " + c.labels().get(0));
            }
            String dense = ck.source().metadata().get(dev.vitrim.dense.DenseModel.METADATA_KEY);
            if (dense != null) {
                com.fasterxml.jackson.databind.JsonNode d = new ObjectMapper().readTree(dense);
                java.util.List<String> names = new java.util.ArrayList<>();
                d.path("classes").forEach(n -> names.add(n.asText()));
                out.println("dense heads   segmentation, detection, instances over " + names.size() + " classes ("
                        + String.join(", ", names) + "); vitrim segment|detect, vitrim eval --task");
            }
        }
        return 0;
    }
}
