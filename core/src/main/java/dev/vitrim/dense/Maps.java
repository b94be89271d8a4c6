package dev.vitrim.dense;

import dev.vitrim.VitrimException;

/**
 * A stack of 2-D float maps in CHW row-major order: value (c, y, x) is {@code data[(c * height + y) * width + x]}.
 * The array is shared, not copied; {@code equals} compares it by reference, as for every record holding an array.
 */
public record Maps(int channels, int height, int width, float[] data) {
    public Maps {
        if (channels <= 0 || height <= 0 || width <= 0) {
            throw new VitrimException("maps: channels, height and width must be positive, got "
                    + channels + "x" + height + "x" + width);
        }
        long n = (long) channels * height * width;
        if (data == null || data.length != n) {
            throw new VitrimException("maps: " + channels + "x" + height + "x" + width + " needs " + n
                    + " floats, got " + (data == null ? "none" : data.length));
        }
    }

    /** Zero-filled maps. */
    public static Maps zeros(int channels, int height, int width) {
        return new Maps(channels, height, width, new float[Math.multiplyExact(Math.multiplyExact(channels, height), width)]);
    }

    /**
     * Maps from per-token rows, as a linear layer per token produces them: {@code hwc[(y * width + x) * channels + c]}
     * (token-major, HWC) becomes CHW.
     */
    public static Maps fromTokens(float[] hwc, int height, int width, int channels) {
        if (hwc == null || hwc.length != (long) channels * height * width) {
            throw new VitrimException("tokens: " + height + "x" + width + " tokens of " + channels + " channels need "
                    + (long) channels * height * width + " floats, got " + (hwc == null ? "none" : hwc.length));
        }
        float[] out = new float[hwc.length];
        int hw = height * width;
        for (int t = 0; t < hw; t++) {
            for (int c = 0; c < channels; c++) {
                out[c * hw + t] = hwc[t * channels + c];
            }
        }
        return new Maps(channels, height, width, out);
    }

    /** Number of values in one channel. */
    public int plane() {
        return height * width;
    }

    public float get(int c, int y, int x) {
        return data[(c * height + y) * width + x];
    }

    public void set(int c, int y, int x, float v) {
        data[(c * height + y) * width + x] = v;
    }

    /** A copy of channels {@code [from, from + count)}. */
    public Maps slice(int from, int count) {
        if (from < 0 || count <= 0 || from + count > channels) {
            throw new VitrimException("slice: channels " + from + ".." + (from + count - 1) + " are not within 0.."
                    + (channels - 1));
        }
        float[] out = new float[count * plane()];
        System.arraycopy(data, from * plane(), out, 0, out.length);
        return new Maps(count, height, width, out);
    }

    /** Fails with a message naming {@code what} unless these maps are {@code channels x height x width}. */
    Maps require(String what, int channels, int height, int width) {
        if (this.channels != channels || this.height != height || this.width != width) {
            throw new VitrimException(what + ": expected " + channels + "x" + height + "x" + width + " maps, got "
                    + this.channels + "x" + this.height + "x" + this.width);
        }
        return this;
    }

    @Override
    public String toString() {
        return "Maps[" + channels + "x" + height + "x" + width + "]";
    }
}
