package dev.vitrim.api;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.dense.DenseModel;
import dev.vitrim.dense.DensePrediction;
import dev.vitrim.dense.DensePredictor;
import dev.vitrim.dense.Detection;
import dev.vitrim.image.ImageDecoder;
import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.image.Preprocessor;
import dev.vitrim.image.RgbImage;
import dev.vitrim.infer.Classifier;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.ReducerBuilder;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A loaded model with its token reducer and preprocessing: a classifier, or a dense model (segmentation, detection,
 * instances) when the file carries dense heads. Made by {@link Vitrim#load}.
 *
 * <p>The configuration is immutable: {@link #reduce(String)}, {@link #reduce(TokenReducer)} and
 * {@link #preprocess(PreprocessConfig)} return a configured copy that shares the weights, so one loaded model can
 * serve several reducers side by side:
 *
 * <pre>{@code
 * try (VitrimModel vit = Vitrim.load(Path.of("models/mnist-vit.safetensors"))) {
 *     VitrimModel fast = vit.reduce(Reducers.attn().keep(0.8, 0.4).start(3));
 *     ClassProbabilities p = fast.classify(Path.of("digit.png"));
 *     System.out.println(p.best().label() + " " + p.best().prob());
 * }
 * }</pre>
 *
 * <p>Closing the model returned by {@link Vitrim#load} releases the weights of it and of every copy; closing a copy
 * does nothing. Any use after the weights were released throws {@link IllegalStateException}. Images that cannot be
 * read throw {@link VitrimException} naming the input; the batch methods give an error entry for them instead.
 *
 * <p>Several threads may classify with one model (and its copies) at once; each call runs its own forward.
 */
public final class VitrimModel implements AutoCloseable {
    /** The weights and what was read with them: shared by a model and its configured copies. */
    private static final class Weights {
        final VisionTransformer vit;
        final DenseModel dense; // null for a classifier
        final Path path;
        final LoadOptions options;
        final AtomicBoolean closed = new AtomicBoolean();

        Weights(VisionTransformer vit, DenseModel dense, Path path, LoadOptions options) {
            this.vit = vit;
            this.dense = dense;
            this.path = path;
            this.options = options;
        }
    }

    private final Weights weights;
    private final boolean owner;
    private final TokenReducer reducer;
    private final PreprocessConfig preprocess;
    private final Preprocessor preprocessor;

    private VitrimModel(Weights weights, boolean owner, TokenReducer reducer, PreprocessConfig preprocess) {
        this.weights = weights;
        this.owner = owner;
        this.reducer = reducer;
        this.preprocess = preprocess;
        this.preprocessor = new Preprocessor(preprocess);
        int p = weights.vit.config().patchSize();
        if (preprocess.size() % p != 0) {
            throw new VitrimException("preprocess size " + preprocess.size() + " is not a multiple of the patch size "
                    + p);
        }
    }

    static VitrimModel classifier(VisionTransformer vit, Path path, LoadOptions o, PreprocessConfig preprocess) {
        configure(vit, o);
        return new VitrimModel(new Weights(vit, null, path, o), true, Reducers.NONE, preprocess);
    }

    static VitrimModel dense(DenseModel dense, Path path, LoadOptions o) {
        configure(dense.backbone(), o);
        return new VitrimModel(new Weights(dense.backbone(), dense, path, o), true, Reducers.NONE,
                dense.config().preprocess());
    }

    private static void configure(VisionTransformer vit, LoadOptions o) {
        vit.useEagerBlocks(o.kernels() == LoadOptions.Kernels.EAGER);
        vit.useMicroBatch(o.microBatch());
        vit.usePrecision(o.precision());
    }

    /** The arithmetic the blocks run in and why ({@link LoadOptions#withPrecision}; e.g. auto → fp32 on AVX2). */
    public dev.vitrim.engine.Precision.Choice precision() {
        return weights.vit.precision();
    }

    // ------------------------------------------------------------------------------------------- configuration

    /**
     * A copy that runs with {@code spec} ({@code attn:keep=0.8..0.4,start=3}, {@code tome:r=13}, … see
     * {@link Reducers#HELP}; {@code none} for the unreduced model), checked against this model; a bare {@code cropr}
     * runs the schedule the model was trained with.
     */
    public VitrimModel reduce(String spec) {
        return reduce(Reducers.parse(spec, vit()));
    }

    /** A copy that runs with the reducer a builder describes ({@link Reducers#attn()}, …), checked against it. */
    public VitrimModel reduce(ReducerBuilder reducer) {
        return reduce(reducer.build(vit()));
    }

    /** A copy that runs with {@code reducer}, checked against this model's architecture. */
    public VitrimModel reduce(TokenReducer reducer) {
        if (reducer == null) {
            throw new VitrimException("reducer: must not be null (use Reducers.NONE for the unreduced model)");
        }
        reducer.validate(vit().config());
        return new VitrimModel(weights, false, reducer, preprocess);
    }

    /**
     * A copy that classifies images preprocessed with {@code p} instead of the checkpoint's own evaluation transform
     * (a dense model resizes images to its input without cropping and takes no other transform).
     */
    public VitrimModel preprocess(PreprocessConfig p) {
        if (p == null) {
            throw new VitrimException("preprocess: must not be null");
        }
        if (isDense()) {
            throw new VitrimException(where() + "a dense model resizes images to its input; it takes no preprocess");
        }
        return new VitrimModel(weights, false, reducer, p);
    }

    /** The reducer this model runs with ({@link Reducers#NONE}: none). */
    public TokenReducer reducer() {
        return reducer;
    }

    /** The evaluation transform applied to classified images. */
    public PreprocessConfig preprocessConfig() {
        return preprocess;
    }

    /** The architecture, preprocessing and class names read from the file. */
    public VitConfig config() {
        return vit().config();
    }

    /** The options the model was loaded with. */
    public LoadOptions options() {
        return weights.options;
    }

    /** The file or folder the model was loaded from (null for a model made in memory). */
    public Path path() {
        return weights.path;
    }

    /** Whether this is a dense model ({@link #segment}, {@link #detect}) rather than a classifier. */
    public boolean isDense() {
        return weights.dense != null;
    }

    /**
     * The class names: of a classifier, index by index (the index itself where the file names none); of a dense
     * model, the object classes (segmentation class {@code k + 1} is object class {@code k}, 0 is background).
     */
    public List<String> labels() {
        if (weights.dense != null) {
            return weights.dense.classes();
        }
        VitConfig c = vit().config();
        List<String> out = new ArrayList<>(c.numClasses());
        for (int i = 0; i < c.numClasses(); i++) {
            out.add(c.label(i));
        }
        return out;
    }

    /** The multiply-accumulates of one image at the model's input size with this model's reducer, in billions. */
    public double gmacs() {
        return Macs.plan(vit().config(), reducer).gmacs();
    }

    /** The underlying transformer, for the lower-level API ({@code dev.vitrim.model}). */
    public VisionTransformer backbone() {
        return vit();
    }

    /** The underlying dense model, or null for a classifier. */
    public DenseModel denseModel() {
        vit();
        return weights.dense;
    }

    // ------------------------------------------------------------------------------------------- classification

    /** The class probabilities of an image file (JPEG, PNG, BMP or GIF). */
    public ClassProbabilities classify(Path file) {
        return classifyInputs(List.of(preprocessor.apply(file))).get(0);
    }

    /** The class probabilities of an encoded image in memory (JPEG, PNG, BMP or GIF bytes). */
    public ClassProbabilities classify(byte[] encoded) {
        return classifyInputs(List.of(preprocessor.apply(ImageDecoder.decode(encoded, "image")))).get(0);
    }

    /** The class probabilities of a decoded image (its RGB samples; alpha is ignored). */
    public ClassProbabilities classify(BufferedImage image) {
        return classifyInputs(List.of(preprocessor.apply(ImageDecoder.fromBufferedImage(image, "image")))).get(0);
    }

    /**
     * Classifies files in batches of {@link LoadOptions#batch()}; a file that cannot be read gets an error entry and
     * the others are still classified. Results are in the order of {@code files}.
     */
    public List<Outcome<ClassProbabilities>> classifyFiles(List<Path> files) {
        return classifyAll(files.size(), i -> files.get(i).toString(), i -> preprocessor.apply(files.get(i)));
    }

    /** {@link #classifyFiles} for encoded images in memory; entry {@code i} is named {@code "image i"}. */
    public List<Outcome<ClassProbabilities>> classifyEncoded(List<byte[]> images) {
        return classifyAll(images.size(), i -> "image " + i,
                i -> preprocessor.apply(ImageDecoder.decode(images.get(i), "image " + i)));
    }

    /** {@link #classifyFiles} for decoded images; entry {@code i} is named {@code "image i"}. */
    public List<Outcome<ClassProbabilities>> classifyImages(List<BufferedImage> images) {
        return classifyAll(images.size(), i -> "image " + i,
                i -> preprocessor.apply(ImageDecoder.fromBufferedImage(images.get(i), "image " + i)));
    }

    private List<Outcome<ClassProbabilities>> classifyAll(int n, java.util.function.IntFunction<String> name,
                                                          java.util.function.IntFunction<float[]> input) {
        requireClassifier();
        int batch = weights.options.batch();
        List<Outcome<ClassProbabilities>> out = new ArrayList<>(n);
        for (int from = 0; from < n; from += batch) {
            int to = Math.min(n, from + batch);
            List<float[]> inputs = new ArrayList<>();
            List<Integer> where = new ArrayList<>();
            List<Outcome<ClassProbabilities>> part = new ArrayList<>();
            for (int i = from; i < to; i++) {
                try {
                    inputs.add(input.apply(i));
                    where.add(i - from);
                    part.add(null);
                } catch (VitrimException e) {
                    part.add(new Outcome<>(name.apply(i), null, e.getMessage()));
                }
            }
            if (!inputs.isEmpty()) {
                List<ClassProbabilities> results = classifyInputs(inputs);
                for (int j = 0; j < results.size(); j++) {
                    int at = where.get(j);
                    part.set(at, new Outcome<>(name.apply(from + at), results.get(j), null));
                }
            }
            out.addAll(part);
        }
        return out;
    }

    /** One forward over preprocessed images [3·S·S] each. */
    private List<ClassProbabilities> classifyInputs(List<float[]> inputs) {
        requireClassifier();
        int s = preprocess.size();
        int plane = 3 * s * s;
        float[] data = new float[inputs.size() * plane];
        for (int i = 0; i < inputs.size(); i++) {
            System.arraycopy(inputs.get(i), 0, data, i * plane, plane);
        }
        FloatTensor logits = vit().forward(new FloatTensor(new long[] {inputs.size(), 3, s, s}, data), reducer, null);
        int classes = (int) logits.shape()[1];
        List<String> labels = List.copyOf(labels());
        List<ClassProbabilities> out = new ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) {
            float[] row = new float[classes];
            System.arraycopy(logits.data(), i * classes, row, 0, classes);
            out.add(new ClassProbabilities(labels, Classifier.softmax(row), row));
        }
        return out;
    }

    private void requireClassifier() {
        vit();
        if (weights.dense != null) {
            throw new VitrimException(where() + "is a dense model: use segment or detect, not classify");
        }
        if (vit().config().numClasses() == 0) {
            throw new VitrimException(where() + "has no classifier head (no 'head.weight')");
        }
    }

    // ------------------------------------------------------------------------------------------- dense prediction

    /**
     * A dense model's prediction for an image file at the image's own size: the class of every pixel, the detected
     * objects and the instance masks ({@link DensePrediction}).
     */
    public DensePrediction segment(Path file) {
        return denseOne(ImageDecoder.read(file));
    }

    /** {@link #segment(Path)} for an encoded image in memory. */
    public DensePrediction segment(byte[] encoded) {
        return denseOne(ImageDecoder.decode(encoded, "image"));
    }

    /** {@link #segment(Path)} for a decoded image. */
    public DensePrediction segment(BufferedImage image) {
        return denseOne(ImageDecoder.fromBufferedImage(image, "image"));
    }

    /** A dense model's detections in an image file, best first, in the image's pixels. */
    public List<Detection> detect(Path file) {
        return segment(file).detections();
    }

    /** {@link #detect(Path)} for an encoded image in memory. */
    public List<Detection> detect(byte[] encoded) {
        return segment(encoded).detections();
    }

    /** {@link #detect(Path)} for a decoded image. */
    public List<Detection> detect(BufferedImage image) {
        return segment(image).detections();
    }

    /** {@link #segment(Path)} for many files in batches; a file that cannot be read gets an error entry. */
    public List<Outcome<DensePrediction>> segmentFiles(List<Path> files) {
        requireDense();
        List<Outcome<DensePrediction>> out = new ArrayList<>(files.size());
        for (DensePredictor.Result r : DensePredictor.predict(weights.dense, files, reducer, weights.options.batch(),
                null)) {
            out.add(new Outcome<>(r.file().toString(), r.prediction(), r.error()));
        }
        return out;
    }

    private DensePrediction denseOne(RgbImage img) {
        requireDense();
        return DensePredictor.predictImages(weights.dense, List.of(img), reducer).get(0);
    }

    private void requireDense() {
        vit();
        if (weights.dense == null) {
            throw new VitrimException(where() + "is a classifier: segment and detect need a dense model (one with '"
                    + DenseModel.METADATA_KEY + "' metadata)");
        }
    }

    private String where() {
        return weights.path == null ? "the model " : weights.path + ": ";
    }

    private VisionTransformer vit() {
        if (weights.closed.get()) {
            throw new IllegalStateException(where() + "closed (the model returned by Vitrim.load was closed)");
        }
        return weights.vit;
    }

    /** Releases the weights when this is the model {@link Vitrim#load} returned; a configured copy does nothing. */
    @Override
    public void close() {
        if (owner && weights.closed.compareAndSet(false, true)) {
            if (weights.dense != null) {
                weights.dense.close();
            } else {
                weights.vit.close();
            }
        }
    }

    @Override
    public String toString() {
        return (weights.path == null ? "model" : weights.path.toString()) + " (" + (isDense() ? "dense" : "classifier")
                + ", reduce " + reducer.spec() + ")";
    }
}
