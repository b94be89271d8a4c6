/**
 * Dense prediction on the patch grid: semantic segmentation, CenterNet detection and instance masks from one
 * linear layer per token ({@link dev.vitrim.dense.DenseModel}), for images of any size
 * ({@link dev.vitrim.dense.DensePredictor}); results are {@link dev.vitrim.dense.DensePrediction}s in the image's
 * own pixels. The facade's {@code VitrimModel.segment} and {@code VitrimModel.detect} are the simple way in; a dense
 * model file carries {@code vitrim.dense} metadata.
 */
package dev.vitrim.dense;
