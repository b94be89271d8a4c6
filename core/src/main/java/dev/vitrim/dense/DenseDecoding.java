package dev.vitrim.dense;

import java.util.List;

/**
 * From one image's decoder maps [C, gh, gw] (as {@link DenseModel#maps} gives them) to a {@link DensePrediction} at
 * the model's input size: segmentation logits upsampled bilinearly and soft-maxed per pixel, CenterNet peaks decoded
 * into boxes, and every foreground pixel grouped to its nearest detected centre ({@link InstanceGrouping}).
 */
public final class DenseDecoding {
    private DenseDecoding() {}

    /** Decodes {@code maps} of a model with {@code layout}, patch {@code stride}, keeping up to {@code topK} boxes. */
    public static DensePrediction decode(Maps maps, DenseModel.Layout layout, int stride, int topK) {
        int h = maps.height() * stride;
        int w = maps.width() * stride;
        Maps seg = Bilinear.upsample(maps.slice(layout.segment(), layout.segmentChannels()), h, w);
        Maps probs = Semantic.softmax(seg);
        byte[] labels = Semantic.argmax(probs);
        List<Detection> dets = CenterNetDecoder.decode(maps.slice(layout.heat(), layout.classes()),
                maps.slice(layout.size(), 2), maps.slice(layout.offset(), 2), stride, topK, 0f);
        Maps cells = Bilinear.upsample(maps.slice(layout.center(), 2), h, w);
        float[] px = cells.data().clone();
        for (int i = 0; i < px.length; i++) {
            px[i] *= stride; // the head predicts centre offsets in cells
        }
        List<InstanceMask> inst = InstanceGrouping.group(probs, new Maps(2, h, w, px), dets);
        return new DensePrediction(h, w, labels, dets, inst);
    }
}
