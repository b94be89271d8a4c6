/** Images in: decoding (PNG, JPEG incl. CMYK), resizing and normalising as timm and Hugging Face preprocess. */
package dev.vitrim.image;
