/** Architectures: {@link dev.vitrim.arch.VitConfig} (the geometry of a ViT) and {@link dev.vitrim.arch.Presets} (timm names). */
package dev.vitrim.arch;
