package dev.vitrim.image;

/**
 * An 8-bit RGB raster: {@code rgb[3 * (y * width + x) + c]} for channel c (0 = R, 1 = G, 2 = B), row-major,
 * interleaved, unsigned values stored in bytes.
 */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
        if (rgb == null || rgb.length != 3L * width * height) {
            throw new IllegalArgumentException("an RGB image of " + width + "x" + height + " needs "
                    + 3L * width * height + " bytes, got " + (rgb == null ? "null" : rgb.length));
        }
    }

    /** Channel c (0..2) of the pixel at (x, y), 0..255. */
    public int get(int x, int y, int c) {
        return rgb[3 * (y * width + x) + c] & 0xFF;
    }

    @Override
    public String toString() {
        return "RgbImage[" + width + "x" + height + "]";
    }
}
