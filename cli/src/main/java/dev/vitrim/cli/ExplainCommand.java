package dev.vitrim.cli;

import dev.vitrim.VitrimException;
import dev.vitrim.eval.Explainer;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.image.Preprocessor;
import dev.vitrim.infer.Classification;
import dev.vitrim.infer.Classifier;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "explain", mixinStandardHelpOptions = true,
        description = {"Draw which patches a token reducer kept: each image (as the model sees it) beside its patches "
                + "after every block where the token count changed. Pruned patches are greyed out and hatched; patches "
                + "merged into one token (ToMe) or fused (EViT) share a colour and are outlined as a group.", "",
                "Several images become several rows. Unreadable images are reported and left out."},
        footer = {"", "Example:", "  vitrim explain --model vit224/ --reduce attn:mass=0.9 dog.jpg -o dog-attn.png"})
public final class ExplainCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    PreprocessOptions preprocess;

    @Mixin
    ReduceOptions reduce;

    @Mixin
    CommonOptions common;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.png", description = "The picture to write.")
    Path output;

    @Parameters(paramLabel = "IMAGE", arity = "1..*", description = "Image files.")
    List<Path> images;

    @Override
    public Integer call() throws IOException {
        boolean failed = false;
        try (VisionTransformer vit = modelOptions.load(common)) {
            PreprocessConfig pre = preprocess.apply(vit.config().preprocess());
            TokenReducer r = reduce.reducer(vit);
            Preprocessor prep = new Preprocessor(pre);
            List<float[]> inputs = new ArrayList<>();
            List<Path> good = new ArrayList<>();
            for (Path p : images) {
                try {
                    inputs.add(prep.apply(p));
                    good.add(p);
                } catch (VitrimException e) {
                    spec.commandLine().getErr().println("vitrim: " + e.getMessage());
                    failed = true;
                }
            }
            if (inputs.isEmpty()) {
                throw new VitrimException("no readable image to explain");
            }
            int s = pre.size();
            int plane = 3 * s * s;
            float[] data = new float[inputs.size() * plane];
            for (int i = 0; i < inputs.size(); i++) {
                System.arraycopy(inputs.get(i), 0, data, i * plane, plane);
            }
            Trace trace = new Trace(true);
            FloatTensor logits = vit.forward(new FloatTensor(new long[] {inputs.size(), 3, s, s}, data), r, trace);
            int classes = (int) logits.shape()[1];
            List<String> captions = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                float[] row = java.util.Arrays.copyOfRange(logits.data(), i * classes, (i + 1) * classes);
                Classification.Top top = Classifier.top(row, 1, vit.config()).get(0);
                captions.add(String.format(Locale.ROOT, "%s: %s (%.0f%%) with %s", good.get(i).getFileName(),
                        top.label(), 100 * top.prob(), r.spec()));
            }
            BufferedImage picture = Explainer.render(inputs, captions, pre, vit.config(), trace);
            if (!ImageIO.write(picture, "png", output.toFile())) {
                throw new VitrimException(output + ": could not write a PNG");
            }
            spec.commandLine().getOut().println("wrote " + output);
        }
        return failed ? 2 : 0;
    }
}
