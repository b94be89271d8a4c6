package dev.vitrim.image;

import dev.vitrim.VitrimException;
import java.util.Locale;

/**
 * Resampling filters of PIL's {@code Image.resize} that timm's eval transform uses. The kernels are those of
 * Pillow's libImaging/Resample.c, evaluated in double precision exactly as there.
 */
public enum Interpolation {
    /** Cubic convolution with a = -0.5 (PIL {@code Image.BICUBIC}), support 2. */
    BICUBIC(2.0),
    /** Triangle filter (PIL {@code Image.BILINEAR}), support 1. */
    BILINEAR(1.0);

    private final double support;

    Interpolation(double support) {
        this.support = support;
    }

    /** Half-width of the filter in source pixels before antialias scaling. */
    double support() {
        return support;
    }

    /** The filter kernel, identical to bicubic_filter / bilinear_filter in Pillow's Resample.c. */
    double filter(double x) {
        if (x < 0.0) {
            x = -x;
        }
        if (this == BILINEAR) {
            return x < 1.0 ? 1.0 - x : 0.0;
        }
        final double a = -0.5;
        if (x < 1.0) {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        }
        if (x < 2.0) {
            return (((x - 5) * x + 8) * x - 4) * a;
        }
        return 0.0;
    }

    /** The name timm uses ("bicubic", "bilinear"). */
    public String timmName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses a timm interpolation name, case-insensitively.
     *
     * @throws VitrimException "interpolation: unsupported value 'x' (allowed: bicubic, bilinear)"
     */
    public static Interpolation parse(String s) {
        if (s != null) {
            String t = s.trim().toLowerCase(Locale.ROOT);
            for (Interpolation i : values()) {
                if (i.timmName().equals(t)) {
                    return i;
                }
            }
        }
        throw new VitrimException("interpolation: unsupported value '" + s + "' (allowed: bicubic, bilinear)");
    }
}
