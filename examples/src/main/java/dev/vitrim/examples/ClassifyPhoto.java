package dev.vitrim.examples;

import dev.vitrim.api.ClassProbabilities;
import dev.vitrim.api.Vitrim;
import dev.vitrim.api.VitrimModel;
import dev.vitrim.reduce.Reducers;
import java.nio.file.Path;

/**
 * Classifies a photo with attention-guided pruning and prints the three most probable classes.
 *
 * <pre>java dev.vitrim.examples.ClassifyPhoto MODEL.safetensors IMAGE</pre>
 */
public final class ClassifyPhoto {
    private ClassifyPhoto() {}

    public static void main(String[] args) {
        try (VitrimModel vit = Vitrim.load(Path.of(args[0]))) {
            VitrimModel fast = vit.reduce(Reducers.attn().keep(0.8, 0.4).start(3));
            ClassProbabilities p = fast.classify(Path.of(args[1]));
            p.top(3).forEach(t -> System.out.printf("%s %.4f%n", t.label(), t.prob()));
        }
    }
}
