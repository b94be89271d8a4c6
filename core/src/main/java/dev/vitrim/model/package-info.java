/**
 * The Vision Transformer forward: {@link dev.vitrim.model.VisionTransformer} (exact timm / Hugging Face numerics,
 * with a token reducer between blocks) and {@link dev.vitrim.model.Checkpoint} (loading weights and inferring the
 * architecture from them).
 */
package dev.vitrim.model;
