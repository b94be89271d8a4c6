/**
 * Classification of image files with the lower-level API: {@link dev.vitrim.infer.Classifier} (decoding, timm's
 * evaluation transform, batched forward, softmax) and its per-file {@link dev.vitrim.infer.Classification}s.
 * The facade's {@code VitrimModel.classify} is the simple way in.
 */
package dev.vitrim.infer;
