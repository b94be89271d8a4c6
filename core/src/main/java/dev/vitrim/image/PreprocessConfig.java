package dev.vitrim.image;

import dev.vitrim.VitrimException;
import java.util.Arrays;

/**
 * timm's evaluation transform ({@code create_transform(..., is_training=False)}, centre-crop mode):
 * resize the shorter side to {@link #scaleSize()} with {@code interpolation}, centre-crop {@code size x size},
 * scale to [0, 1], then normalise per channel with {@code (x - mean) / std}.
 *
 * @param size          side of the square model input, in pixels
 * @param cropPct       timm's crop_pct: the crop covers this fraction of the resized shorter side
 * @param mean          per-channel mean (R, G, B) in [0, 1] units
 * @param std           per-channel standard deviation (R, G, B)
 * @param interpolation resampling filter of the resize
 */
public record PreprocessConfig(int size, double cropPct, float[] mean, float[] std, Interpolation interpolation) {

    /** timm's IMAGENET_DEFAULT_MEAN. */
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    /** timm's IMAGENET_DEFAULT_STD. */
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};
    /** timm's IMAGENET_INCEPTION_MEAN (= std). */
    public static final float[] INCEPTION_MEAN = {0.5f, 0.5f, 0.5f};

    public PreprocessConfig {
        if (size < 1 || size > 16384) {
            throw new VitrimException("size: must be between 1 and 16384, got " + size);
        }
        if (!(cropPct > 0.0) || Double.isInfinite(cropPct)) {
            throw new VitrimException("crop_pct: must be a positive number, got " + cropPct);
        }
        long scale = (long) Math.floor(size / cropPct);
        if (scale < 1 || scale > 65536) {
            throw new VitrimException("crop_pct: " + cropPct + " gives a resize target of " + scale
                    + " pixels for size " + size + " (must be 1..65536)");
        }
        mean = checkTriple("mean", mean, false);
        std = checkTriple("std", std, true);
        if (interpolation == null) {
            throw new VitrimException("interpolation: missing (allowed: bicubic, bilinear)");
        }
    }

    private static float[] checkTriple(String what, float[] v, boolean nonZero) {
        if (v == null || v.length != 3) {
            throw new VitrimException(what + ": needs 3 values (R, G, B), got "
                    + (v == null ? "none" : Arrays.toString(v)));
        }
        for (float f : v) {
            if (!Float.isFinite(f) || (nonZero && f == 0f)) {
                throw new VitrimException(what + ": invalid value " + f + " in " + Arrays.toString(v));
            }
        }
        return v.clone();
    }

    /** ImageNet mean/std, crop_pct 0.875, bicubic: timm's default for most ViTs. */
    public static PreprocessConfig imagenetDefault(int size) {
        return new PreprocessConfig(size, 0.875, IMAGENET_MEAN, IMAGENET_STD, Interpolation.BICUBIC);
    }

    /** Inception-style normalisation mean = std = 0.5, crop_pct 0.9, bicubic (e.g. the original ViT weights). */
    public static PreprocessConfig inception(int size) {
        return new PreprocessConfig(size, 0.9, INCEPTION_MEAN, INCEPTION_MEAN, Interpolation.BICUBIC);
    }

    /** Target of the shorter side before the crop: {@code math.floor(size / crop_pct)} as timm computes it. */
    public int scaleSize() {
        return (int) Math.floor(size / cropPct);
    }

    @Override
    public float[] mean() {
        return mean.clone();
    }

    @Override
    public float[] std() {
        return std.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PreprocessConfig p && p.size == size && Double.compare(p.cropPct, cropPct) == 0
                && Arrays.equals(p.mean, mean) && Arrays.equals(p.std, std) && p.interpolation == interpolation;
    }

    @Override
    public int hashCode() {
        return ((Integer.hashCode(size) * 31 + Double.hashCode(cropPct)) * 31 + Arrays.hashCode(mean)) * 31
                + Arrays.hashCode(std) * 7 + interpolation.hashCode();
    }

    @Override
    public String toString() {
        return "PreprocessConfig[size=" + size + ", cropPct=" + cropPct + ", mean=" + Arrays.toString(mean)
                + ", std=" + Arrays.toString(std) + ", interpolation=" + interpolation.timmName() + "]";
    }
}
