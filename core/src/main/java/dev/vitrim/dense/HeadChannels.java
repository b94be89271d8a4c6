package dev.vitrim.dense;

/**
 * The channels the dense head predicts per token, in this order: 11 segmentation logits (0 = background,
 * 1..10 = object categories 0..9), 10 CenterNet heatmap logits, box size (w, h) and sub-cell centre offset (x, y)
 * in cells, and the pixel-to-centre offset (dx, dy) in pixels. Each constant is the first channel of its group.
 */
public final class HeadChannels {
    public static final int SEGMENTATION = 0;
    public static final int SEGMENTATION_COUNT = CenterNetTargets.CLASSES + 1;
    public static final int HEATMAP = SEGMENTATION + SEGMENTATION_COUNT;
    public static final int SIZE = HEATMAP + CenterNetTargets.CLASSES;
    public static final int OFFSET = SIZE + 2;
    public static final int CENTER_OFFSET = OFFSET + 2;
    /** Channels per token: 27. */
    public static final int COUNT = CENTER_OFFSET + 2;

    private HeadChannels() {}
}
