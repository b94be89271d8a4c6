package dev.vitrim.data;

import dev.vitrim.image.PreprocessConfig;
import dev.vitrim.image.Preprocessor;
import dev.vitrim.image.RgbImage;
import java.util.SplittableRandom;

/**
 * Turns stored 8-bit images into the model's input: timm's evaluation resize and centre crop to the model's size
 * (skipped when it would change nothing), then — for training only — a random translation and an optional
 * horizontal flip, then normalisation {@code (v / 255 - mean) / std}. Grey images feed all three channels.
 * Thread-safe; randomness comes from the caller's generator.
 *
 * @param pre       the model's preprocessing (size, crop_pct, interpolation, mean, std)
 * @param translate maximum shift in pixels (both axes) for training; the uncovered border is 0 (black)
 * @param flip      whether training images are mirrored left-right with probability 1/2
 */
public record ImageTransform(PreprocessConfig pre, int translate, boolean flip) {
    public ImageTransform {
        if (translate < 0) {
            throw new IllegalArgumentException("translate must be >= 0");
        }
    }

    /** Whether stored images of this size go through the resize/crop (false: they are used as they are). */
    public boolean resizes(int height, int width) {
        return !(height == pre.size() && width == pre.size() && pre.scaleSize() == pre.size());
    }

    /** timm's eval resize + centre crop of an RGB image to {@code size x size}, as 8-bit RGB (HWC). */
    public static RgbImage resize(RgbImage img, PreprocessConfig pre) {
        // Preprocessor with mean 0 and std 1 yields v / 255f exactly; * 255 and rounding recovers the byte v
        PreprocessConfig unit = new PreprocessConfig(pre.size(), pre.cropPct(), new float[] {0f, 0f, 0f},
                new float[] {1f, 1f, 1f}, pre.interpolation());
        float[] chw = new Preprocessor(unit).apply(img);
        int s = pre.size();
        int n = s * s;
        byte[] rgb = new byte[3 * n];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < 3; c++) {
                rgb[3 * i + c] = (byte) Math.round(chw[c * n + i] * 255f);
            }
        }
        return new RgbImage(s, s, rgb);
    }

    /**
     * Writes image {@code i} of {@code data} as normalised CHW float32 {@code [3, S, S]} into {@code out} at
     * {@code offset}; {@code rng} null means evaluation (no augmentation).
     */
    public void apply(LabeledImages data, int i, float[] out, int offset, SplittableRandom rng) {
        int c = data.channels();
        int h = data.height();
        int w = data.width();
        byte[] px = data.pixels();
        int base = i * data.imageBytes();
        byte[] img; // CHW, c channels, s x s
        int s = pre.size();
        if (resizes(h, w)) {
            byte[] rgb = new byte[3 * h * w];
            for (int p = 0; p < h * w; p++) {
                for (int k = 0; k < 3; k++) {
                    rgb[3 * p + k] = px[base + (c == 1 ? 0 : k) * h * w + p];
                }
            }
            RgbImage r = resize(new RgbImage(w, h, rgb), pre);
            int n = s * s;
            img = new byte[c * n];
            for (int p = 0; p < n; p++) {
                for (int k = 0; k < c; k++) {
                    img[k * n + p] = r.rgb()[3 * p + k];
                }
            }
            base = 0;
        } else {
            img = px;
        }
        int dx = 0;
        int dy = 0;
        boolean mirror = false;
        if (rng != null) {
            if (translate > 0) {
                dx = rng.nextInt(2 * translate + 1) - translate;
                dy = rng.nextInt(2 * translate + 1) - translate;
            }
            mirror = flip && rng.nextBoolean();
        }
        float[] mean = pre.mean();
        float[] std = pre.std();
        int n = s * s;
        for (int k = 0; k < 3; k++) {
            int src = base + (c == 1 ? 0 : k) * n;
            int dst = offset + k * n;
            float m = mean[k];
            float sd = std[k];
            float zero = (0f - m) / sd;
            for (int y = 0; y < s; y++) {
                int sy = y - dy;
                for (int x = 0; x < s; x++) {
                    int xx = mirror ? s - 1 - x : x;
                    int sx = xx - dx;
                    float v;
                    if (sy < 0 || sy >= s || sx < 0 || sx >= s) {
                        v = zero;
                    } else {
                        v = ((img[src + sy * s + sx] & 0xFF) / 255f - m) / sd;
                    }
                    out[dst + y * s + x] = v;
                }
            }
        }
    }
}
