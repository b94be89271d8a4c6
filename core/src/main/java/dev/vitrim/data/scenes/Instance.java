package dev.vitrim.data.scenes;

/**
 * One visible clothing item of a {@link Scene}.
 *
 * @param category its Fashion-MNIST class, 0..9 (0 = T-shirt/top ... 9 = Ankle boot)
 * @param bbox     {x, y, w, h} of its visible pixels in pixel units, COCO convention: x, y = the smallest column
 *                 and row, w, h = the extent (max - min + 1)
 * @param area     the number of its visible pixels
 */
public record Instance(int category, double[] bbox, long area) {
}
