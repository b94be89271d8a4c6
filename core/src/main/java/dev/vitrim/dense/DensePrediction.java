package dev.vitrim.dense;

import java.util.List;

/**
 * What a dense model says about one image, in the pixels of the image it was given: the class of every pixel
 * ({@code labels}, row-major, 0 = background, k = class k − 1), the detections (best first) and the instance masks.
 */
public record DensePrediction(int height, int width, byte[] labels, List<Detection> detections,
                              List<InstanceMask> instances) {}
