package dev.vitrim.examples;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import dev.vitrim.api.Vitrim;
import dev.vitrim.api.VitrimModel;
import dev.vitrim.djl.VitrimTranslators;
import java.nio.file.Path;

/**
 * The same through DJL's {@link Predictor}: a vitrim model with ToMe as a DJL model, an image in, DJL's
 * {@link Classifications} out.
 *
 * <pre>java dev.vitrim.examples.DjlPredict MODEL.safetensors IMAGE</pre>
 */
public final class DjlPredict {
    private DjlPredict() {}

    public static void main(String[] args) throws Exception {
        try (VitrimModel vit = Vitrim.load(Path.of(args[0]))) {
            VitrimModel tome = vit.reduce("tome:r=13");
            try (Model model = VitrimTranslators.newModel(tome);
                 Predictor<Image, Classifications> predictor =
                         model.newPredictor(VitrimTranslators.classifications(tome))) {
                Image image = ImageFactory.getInstance().fromFile(Path.of(args[1]));
                Classifications c = predictor.predict(image);
                for (Classifications.Classification t : c.topK(3)) {
                    System.out.printf("%s %.4f%n", t.getClassName(), t.getProbability());
                }
            }
        }
    }
}
