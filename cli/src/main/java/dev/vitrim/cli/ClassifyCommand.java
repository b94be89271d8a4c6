package dev.vitrim.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.infer.Classification;
import dev.vitrim.infer.Classifier;
import dev.vitrim.model.VisionTransformer;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "classify", mixinStandardHelpOptions = true,
        description = {"Classify image files (JPEG, PNG, BMP, GIF) with timm's evaluation transform.", "",
                "Images that cannot be read are reported one by one; the others are still classified. "
                        + "The exit status is 2 when any image failed."},
        footer = {"", "Examples:", "  vitrim classify --model vit224/ dog.jpg cat.png",
                "  vitrim classify --model vit.safetensors --top 3 --json --logits *.jpg",
                "  vitrim classify --model vit.onnx --runtime onnxruntime dog.jpg"})
public final class ClassifyCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    PreprocessOptions preprocess;

    @Mixin
    ReduceOptions reduce;

    @Mixin
    TraceOption traceOption;

    @Mixin
    CommonOptions common;

    @Mixin
    RuntimeOption runtime;

    @Option(names = "--top", paramLabel = "K", defaultValue = "5", description = "Classes to show (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--json", description = "Print one JSON array with an entry per image: {file, top:[{label,index,prob}], logits} or {file, error}.")
    boolean json;

    @Option(names = "--logits", description = "Include the raw logits (with --json, or after the ranking).")
    boolean logits;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "8", description = "Images per forward (default: ${DEFAULT-VALUE}).")
    int batch;

    @Parameters(paramLabel = "IMAGE", arity = "1..*", description = "Image files.")
    List<Path> images;

    @Override
    public Integer call() throws Exception {
        if (top < 1) {
            throw new dev.vitrim.VitrimException("--top must be at least 1, got " + top);
        }
        if (batch < 1) {
            throw new dev.vitrim.VitrimException("--batch must be at least 1, got " + batch);
        }
        List<Classification> results;
        if (runtime.onnx(modelOptions.model)) {
            if (traceOption.trace != null) {
                throw new dev.vitrim.VitrimException("--trace needs --runtime vitrim");
            }
            try (RuntimeOption.Loaded g = RuntimeOption.load(modelOptions, reduce, common)) {
                results = new dev.vitrim.onnx.OnnxClassifier(g.model(), preprocess.apply(g.preprocess()), g.labels())
                        .classify(images, top, logits, batch, null);
            }
            return print(results);
        }
        try (VisionTransformer vit = modelOptions.load(common)) {
            PreprocessConfig pre = preprocess.apply(vit.config().preprocess());
            Classifier classifier = new Classifier(vit, pre, reduce.reducer(vit));
            dev.vitrim.reduce.Trace trace = traceOption.start();
            // a progress bar on long runs, only on a terminal (logs and pipes stay clean)
            boolean bar = images.size() > batch && System.console() != null;
            try (me.tongfei.progressbar.ProgressBar pb = bar ? new me.tongfei.progressbar.ProgressBarBuilder()
                    .setTaskName("classify").setInitialMax(images.size()).setConsumer(
                            new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build() : null) {
                results = classifier.classify(images, top, logits, batch, trace, done -> {
                    if (pb != null) {
                        pb.stepTo(done);
                    }
                });
            }
            traceOption.finish(trace);
        }
        return print(results);
    }

    private int print(List<Classification> results) throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        boolean failed = false;
        if (json) {
            ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ArrayNode arr = om.createArrayNode(); // one entry per image, in argument order
            for (Classification r : results) {
                ObjectNode o = arr.addObject();
                o.put("file", r.file());
                if (!r.ok()) {
                    o.put("error", r.error());
                    failed = true;
                    continue;
                }
                ArrayNode t = o.putArray("top");
                for (Classification.Top c : r.top()) {
                    t.addObject().put("label", c.label()).put("index", c.index()).put("prob", c.prob());
                }
                if (r.logits() != null) {
                    ArrayNode l = o.putArray("logits");
                    for (float v : r.logits()) {
                        l.add(v);
                    }
                }
            }
            out.println(om.writeValueAsString(arr));
        } else {
            for (Classification r : results) {
                if (!r.ok()) {
                    err.println("vitrim: " + r.error());
                    failed = true;
                    continue;
                }
                out.println(r.file());
                for (Classification.Top c : r.top()) {
                    out.printf(Locale.ROOT, "  %6.2f%%  %s (%d)%n", 100 * c.prob(), c.label(), c.index());
                }
                if (r.logits() != null) {
                    out.println("  logits " + java.util.Arrays.toString(r.logits()));
                }
            }
        }
        out.flush();
        return failed ? 2 : 0;
    }
}
