package dev.vitrim.image;

import dev.vitrim.VitrimException;
import java.nio.file.Path;

/**
 * timm's evaluation transform on a decoded image, bit-exact to torchvision + PIL:
 * <pre>
 *   Resize(scale_size, interpolation)   shorter side -> scale_size, longer side int(scale_size * long / short);
 *                                        no resize at all when the shorter side already equals scale_size
 *   CenterCrop(size)                     top = int(round((h - size) / 2.0)) (round half to even), same for left;
 *                                        zero padding where the image is smaller than the crop (crop_pct > 1)
 *   ToTensor()                           v / 255f
 *   Normalize(mean, std)                 (x - mean[c]) / std[c] in float32
 * </pre>
 * Output is CHW float32 {@code [3 * size * size]}. Instances are immutable and thread-safe.
 */
public final class Preprocessor {
    private final PreprocessConfig cfg;
    /** lut[c * 256 + v] = (v / 255f - mean[c]) / std[c], computed in float exactly as torchvision does. */
    private final float[] lut = new float[3 * 256];

    public Preprocessor(PreprocessConfig cfg) {
        if (cfg == null) {
            throw new IllegalArgumentException("cfg");
        }
        this.cfg = cfg;
        float[] mean = cfg.mean();
        float[] std = cfg.std();
        for (int c = 0; c < 3; c++) {
            for (int v = 0; v < 256; v++) {
                float x = v / 255f;
                lut[c * 256 + v] = (x - mean[c]) / std[c];
            }
        }
    }

    public PreprocessConfig config() {
        return cfg;
    }

    /** Decodes {@code file} with {@link ImageDecoder#read} and applies the transform. */
    public float[] apply(Path file) {
        return apply(ImageDecoder.read(file));
    }

    /** The normalised CHW tensor {@code [3 * size * size]} of {@code img}. */
    public float[] apply(RgbImage img) {
        return normalise(resizeAndCrop(img, cfg.scaleSize(), cfg.size(), cfg.interpolation()));
    }

    /** {@code img} resized to exactly {@code width x height} (no crop), as PIL's {@code Image.resize}. */
    public static RgbImage resize(RgbImage img, int width, int height, Interpolation interp) {
        return img.width() == width && img.height() == height ? img : Resample.resize(img, width, height, interp);
    }

    /**
     * torchvision {@code CenterCrop(size)(Resize(scaleSize)(img))} as an 8-bit {@code size x size} RGB image
     * (zero where the crop falls outside the resized image).
     */
    static RgbImage resizeAndCrop(RgbImage img, int scaleSize, int size, Interpolation interp) {
        int w = img.width();
        int h = img.height();
        int newW = w;
        int newH = h;
        int shortSide = Math.min(w, h);
        if (shortSide != scaleSize) {
            int longSide = Math.max(w, h);
            // torchvision: new_long = int(requested_new_short * long / short), Python true division in double
            double exactLong = (double) scaleSize * longSide / shortSide;
            if (exactLong >= Integer.MAX_VALUE) {
                throw new VitrimException("image " + w + "x" + h + ": aspect ratio too extreme to resize the shorter side to "
                        + scaleSize);
            }
            int newLong = (int) exactLong;
            if (w <= h) {
                newW = scaleSize;
                newH = newLong;
            } else {
                newW = newLong;
                newH = scaleSize;
            }
        }
        // CenterCrop: crop origin in resized coordinates (negative where torchvision pads).
        int left = cropOrigin(newW, size);
        int top = cropOrigin(newH, size);
        int ix0 = Math.max(left, 0);
        int iy0 = Math.max(top, 0);
        int ix1 = Math.min(left + size, newW);
        int iy1 = Math.min(top + size, newH);
        RgbImage inner;
        if (newW == w && newH == h) {
            inner = crop(img, ix0, iy0, ix1 - ix0, iy1 - iy0);
        } else {
            inner = Resample.resizeRegion(img, newW, newH, interp, ix0, iy0, ix1 - ix0, iy1 - iy0);
        }
        if (inner.width() == size && inner.height() == size) {
            return inner;
        }
        byte[] out = new byte[3 * size * size];
        int dx = ix0 - left;
        int dy = iy0 - top;
        for (int y = 0; y < inner.height(); y++) {
            System.arraycopy(inner.rgb(), 3 * y * inner.width(), out, 3 * ((y + dy) * size + dx), 3 * inner.width());
        }
        return new RgbImage(size, size, out);
    }

    /** torchvision center_crop: pad (size - n) // 2 before when too small, else int(round((n - size) / 2.0)). */
    static int cropOrigin(int n, int size) {
        if (size > n) {
            return -((size - n) / 2);
        }
        return (int) Math.rint((n - size) / 2.0);
    }

    static RgbImage crop(RgbImage img, int x0, int y0, int w, int h) {
        if (x0 == 0 && y0 == 0 && w == img.width() && h == img.height()) {
            return img;
        }
        byte[] out = new byte[3 * w * h];
        for (int y = 0; y < h; y++) {
            System.arraycopy(img.rgb(), 3 * ((y0 + y) * img.width() + x0), out, 3 * y * w, 3 * w);
        }
        return new RgbImage(w, h, out);
    }

    private float[] normalise(RgbImage img) {
        int n = img.width() * img.height();
        byte[] rgb = img.rgb();
        float[] out = new float[3 * n];
        for (int i = 0; i < n; i++) {
            out[i] = lut[rgb[3 * i] & 0xFF];
            out[n + i] = lut[256 + (rgb[3 * i + 1] & 0xFF)];
            out[2 * n + i] = lut[512 + (rgb[3 * i + 2] & 0xFF)];
        }
        return out;
    }
}
