/**
 * vitrim models in DJL: {@link dev.vitrim.djl.VitrimBlock} (a model as a DJL {@code Block}) and
 * {@link dev.vitrim.djl.VitrimTranslators} (a DJL {@code Model} holding it, and translators from DJL's
 * {@code Image} to {@code Classifications}, {@code DetectedObjects} and {@code CategoryMask}), so a vitrim model
 * with its token reducer runs behind DJL's {@code Predictor} and answers as {@link dev.vitrim.api.VitrimModel} does.
 */
package dev.vitrim.djl;
