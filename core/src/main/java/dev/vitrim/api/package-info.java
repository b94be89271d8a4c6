/**
 * The Java API: load a model file, choose a token reducer, classify or segment images.
 *
 * <pre>{@code
 * try (VitrimModel vit = Vitrim.load(Path.of("models/mnist-vit.safetensors"))) {
 *     VitrimModel fast = vit.reduce(Reducers.attn().keep(0.8, 0.4).start(3));
 *     ClassProbabilities p = fast.classify(Path.of("digit.png"));
 *     System.out.println(p.best().label() + " " + p.best().prob());
 * }
 * }</pre>
 *
 * <ul>
 *   <li>{@link dev.vitrim.api.Vitrim}: the entry point, {@code load(path)} and {@code load(preset, weights)};</li>
 *   <li>{@link dev.vitrim.api.VitrimModel}: a loaded classifier or dense model; {@code reduce(…)} returns a
 *       configured copy sharing the weights; {@code classify}, {@code segment}, {@code detect} and their batch
 *       forms;</li>
 *   <li>{@link dev.vitrim.api.ClassProbabilities}: every class's probability, with {@code top(k)};</li>
 *   <li>{@link dev.vitrim.api.Outcome}: one entry of a batch, a result or an error;</li>
 *   <li>{@link dev.vitrim.api.LoadOptions}: how a model runs (kernels, matrix-product library, micro-batches,
 *       batch size), with the {@code vitrim.*} system properties as defaults.</li>
 * </ul>
 *
 * Reducers come from {@link dev.vitrim.reduce.Reducers}: typed builders ({@code Reducers.tome(13)}) or spec strings
 * ({@code "tome:r=13"}). A model in DJL's {@code Predictor}: {@link dev.vitrim.djl}.
 */
package dev.vitrim.api;
