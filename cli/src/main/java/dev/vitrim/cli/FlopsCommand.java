package dev.vitrim.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.TokenReducer;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "flops", mixinStandardHelpOptions = true,
        description = {"Count multiply-accumulates per image (\"GFLOPs\" in ViT papers are GMACs) from the per-block "
                + "token counts of a reduction schedule: attention's quadratic term and the reducer's own scoring "
                + "and merging included.", "",
                "For attn with mass the counts depend on the image: the figure is the schedule's upper bound "
                        + "(eval reports the measured mean)."},
        footer = {"", "Examples:", "  vitrim flops --arch deit_small_patch16_224 --reduce tome:r=13",
                "  vitrim flops --arch vit_base_patch16_224 --reduce attn --json"})
public final class FlopsCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ArchOrModel model;

    @Mixin
    ReduceOptions reduce;

    @Mixin
    CommonOptions common;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        VitConfig c = model.config();
        TokenReducer r = reduce.reducer(c, model.recordedReduce());
        Macs.Plan plan = Macs.plan(c, r);
        long base = Macs.unreduced(c);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode o = om.createObjectNode();
            o.put("model", model.name()).put("reduce", r.spec()).put("gmacs", plan.gmacs())
                    .put("baseline_gmacs", base / 1e9).put("ratio", (double) base / plan.macs())
                    .put("overhead_gmacs", plan.overhead() / 1e9).put("upper_bound", r.perImageCounts());
            o.set("attention_tokens", om.valueToTree(plan.attnTokens()));
            o.set("mlp_tokens", om.valueToTree(plan.mlpTokens()));
            o.set("tokens_after_block", om.valueToTree(plan.afterBlock()));
            out.println(om.writeValueAsString(o));
            return 0;
        }
        out.printf(Locale.ROOT, "%s, %s%n", model.name(), r.spec());
        out.printf(Locale.ROOT, "GMACs/image     %.3f%s (unreduced %.3f, %.2fx fewer; reducer overhead %.4f)%n",
                plan.gmacs(), r.perImageCounts() ? " at most" : "", base / 1e9, (double) base / plan.macs(),
                plan.overhead() / 1e9);
        out.println("attention tokens " + Arrays.toString(plan.attnTokens()));
        out.println("MLP tokens       " + Arrays.toString(plan.mlpTokens()));
        return 0;
    }
}
