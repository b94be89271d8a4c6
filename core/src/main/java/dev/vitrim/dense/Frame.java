package dev.vitrim.dense;

import dev.vitrim.VitrimException;
import java.util.ArrayList;
import java.util.List;

/**
 * The relation between an image of any size ({@code width x height}) and the model's frame
 * ({@code modelWidth x modelHeight}, 112 x 112 by default) into which it is resized directly, without keeping the
 * aspect ratio and without cropping. A model-frame x maps to {@code x * scaleX()} in the image, y to
 * {@code y * scaleY()}; the outputs of the dense heads (detections, masks, label maps) are mapped back with the
 * methods here.
 */
public record Frame(int width, int height, int modelWidth, int modelHeight) {
    /** Side of the default model input. */
    public static final int MODEL_SIZE = 112;

    public Frame {
        if (width <= 0 || height <= 0 || modelWidth <= 0 || modelHeight <= 0) {
            throw new VitrimException("frame: sizes must be positive, got image " + width + "x" + height + ", model "
                    + modelWidth + "x" + modelHeight);
        }
    }

    /** An image of {@code width x height} seen by a 112 x 112 model. */
    public static Frame of(int width, int height) {
        return new Frame(width, height, MODEL_SIZE, MODEL_SIZE);
    }

    /** Image pixels per model pixel, horizontally. */
    public double scaleX() {
        return (double) width / modelWidth;
    }

    /** Image pixels per model pixel, vertically. */
    public double scaleY() {
        return (double) height / modelHeight;
    }

    /** A detection in the model frame moved to the image frame (box and centre scaled; score unchanged). */
    public Detection toImage(Detection d) {
        double sx = scaleX();
        double sy = scaleY();
        return new Detection(d.category(), d.score(), (float) (d.x() * sx), (float) (d.y() * sy),
                (float) (d.w() * sx), (float) (d.h() * sy), (float) (d.cx() * sx), (float) (d.cy() * sy));
    }

    public List<Detection> detectionsToImage(List<Detection> ds) {
        List<Detection> out = new ArrayList<>(ds.size());
        for (Detection d : ds) {
            out.add(toImage(d));
        }
        return out;
    }

    /**
     * An instance in the model frame moved to the image frame: the mask resized by nearest neighbour (see
     * {@link Resize}), its detection scaled. A mask may come out empty when the image is smaller than the model frame.
     */
    public InstanceMask toImage(InstanceMask m) {
        return new InstanceMask(m.category(), m.score(),
                Resize.resizeMask(m.mask(), modelHeight, modelWidth, height, width), toImage(m.from()));
    }

    public List<InstanceMask> masksToImage(List<InstanceMask> ms) {
        List<InstanceMask> out = new ArrayList<>(ms.size());
        for (InstanceMask m : ms) {
            out.add(toImage(m));
        }
        return out;
    }

    /** Labels in the model frame resized (nearest) to the image frame. */
    public byte[] labelsToImage(byte[] labels) {
        return Resize.resizeLabels(labels, modelHeight, modelWidth, height, width);
    }

    /**
     * Maps in the model frame (e.g. segmentation logits) resized bilinearly to the image frame: take the argmax
     * after this for labels that follow class boundaries more closely than {@link #labelsToImage}.
     */
    public Maps toImage(Maps m) {
        m.require("maps", m.channels(), modelHeight, modelWidth);
        return Bilinear.upsample(m, height, width);
    }

    /** A ground-truth box in the image frame moved to the model frame, e.g. for training targets. */
    public Box toModel(Box b) {
        double sx = scaleX();
        double sy = scaleY();
        return new Box(b.category(), (float) (b.x() / sx), (float) (b.y() / sy), (float) (b.w() / sx),
                (float) (b.h() / sy));
    }

    public List<Box> boxesToModel(List<Box> bs) {
        List<Box> out = new ArrayList<>(bs.size());
        for (Box b : bs) {
            out.add(toModel(b));
        }
        return out;
    }
}
