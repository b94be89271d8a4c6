package dev.vitrim.dense;

/**
 * A detected object: category (0-based object class), score in [0, 1], the box {@code [x, y, w, h]} in pixels
 * (top-left corner, clipped to the image) and the predicted centre {@code (cx, cy)} before clipping, which
 * {@link InstanceGrouping} uses.
 */
public record Detection(int category, float score, float x, float y, float w, float h, float cx, float cy) {}
