package dev.vitrim.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.data.DataHome;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.eval.Evaluation;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.TokenReducer;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Measure a model on labelled images, reduced or not: top-1, top-5, per-class accuracy, "
                + "images/s, mean tokens after each block and GMACs per image.", "",
                "Data sets: " + Datasets.USAGE + " (fetch them first with `vitrim data fetch`). Use the test "
                        + "split for final numbers only."},
        footer = {"", "Examples:", "  vitrim eval --model models/mnist-vit.safetensors --data mnist:test",
                "  vitrim eval --model models/mnist-vit.safetensors --data mnist:test --reduce attn --json"})
public final class EvalCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ReduceOptions reduce;

    @Mixin
    CommonOptions common;

    @Option(names = "--data", required = true, paramLabel = "DATASET", description = "e.g. mnist:test")
    String data;

    @Option(names = "--limit", paramLabel = "N", description = "Only the first N images.")
    Integer limit;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "64", description = "Images per forward (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--json", description = "Print {top1, top5, images, images_per_s, gmacs, per_class, tokens_per_block, per_class_tokens, reduce}.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (batch < 1 || (limit != null && limit < 1)) {
            throw new VitrimException("--batch and --limit must be at least 1");
        }
        try (VisionTransformer vit = modelOptions.load(common)) {
            TokenReducer r = reduce.reducer(vit);
            LabeledImages images = Datasets.load(Datasets.parse(data), DataHome.root(), vit.config().preprocess());
            if (limit != null && limit < images.size()) {
                int[] first = new int[limit];
                for (int i = 0; i < limit; i++) {
                    first[i] = i;
                }
                images = images.subset(first, images.name());
            }
            ImageTransform t = new ImageTransform(vit.config().preprocess(), 0, false);
            Evaluation.Result res = Evaluation.run(vit, images, t, r, batch, null);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ObjectNode o = om.createObjectNode();
                o.put("data", data).put("reduce", r.spec()).put("top1", res.top1()).put("top5", res.top5())
                        .put("images", res.images()).put("images_per_s", res.imagesPerS()).put("gmacs", res.gmacs());
                o.set("per_class", om.valueToTree(res.perClass()));
                o.set("tokens_per_block", om.valueToTree(res.meanTokens()));
                o.set("per_class_tokens", om.valueToTree(res.perClassTokens()));
                out.println(om.writeValueAsString(o));
                return 0;
            }
            out.printf(Locale.ROOT, "%s on %s (%d images), %s%n", modelOptions.model, data, res.images(), r.spec());
            out.printf(Locale.ROOT, "top-1 %.2f%%  top-5 %.2f%%  %.1f images/s  %.4f GMACs/image%n", 100 * res.top1(),
                    100 * res.top5(), res.imagesPerS(), res.gmacs());
            StringBuilder pc = new StringBuilder("per class:");
            for (int j = 0; j < res.perClass().length; j++) {
                pc.append(String.format(Locale.ROOT, " %s %.1f%%", vit.config().label(j), 100 * res.perClass()[j]));
            }
            out.println(pc);
            StringBuilder tk = new StringBuilder("mean tokens after each block:");
            for (double v : res.meanTokens()) {
                tk.append(String.format(Locale.ROOT, " %.1f", v));
            }
            out.println(tk);
            if (r.perImageCounts()) { // counts differ per image: show where the reducer spends its tokens
                StringBuilder ct = new StringBuilder("mean tokens per class (fewest an image ran on):");
                for (int j = 0; j < res.perClassTokens().length; j++) {
                    ct.append(String.format(Locale.ROOT, " %s %.1f", vit.config().label(j), res.perClassTokens()[j]));
                }
                out.println(ct);
            }
        }
        return 0;
    }
}
