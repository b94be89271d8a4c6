package dev.vitrim.image;

import java.awt.image.Raster;
import java.io.ByteArrayOutputStream;

/**
 * JPEG details that make vitrim decode exactly like PIL (libjpeg-turbo, which the JDK also uses):
 * <ul>
 *   <li>{@link #scan}: the header facts PIL's decode depends on (component count, Adobe APP14 transform) and the
 *       embedded ICC profile segments, which PIL ignores but TwelveMonkeys would apply (a colour conversion that
 *       moves values by up to tens of grey levels for e.g. Display P3 or Adobe RGB photos); {@link #withoutIcc}
 *       removes them before decoding;</li>
 *   <li>{@link #cmykToRgb}: 4-component JPEGs decoded as PIL does: the raw raster, YCCK converted to CMYK with
 *       libjpeg's fixed-point tables (jdcolor.c), inverted as PIL always assumes Adobe conventions
 *       ({@code rawmode "CMYK;I"}), then Pillow's {@code cmyk2rgb}: {@code nk = 255 - k},
 *       {@code r = nk - MULDIV255(c, nk)}.</li>
 * </ul>
 */
final class JpegSupport {
    private JpegSupport() {}

    /** What {@link #scan} found before the first SOS. */
    record Header(int components, int adobeTransform, boolean hasIcc) {
        /** libjpeg's guess (jdapimin.c default_decompress_parms) for 4 components: YCCK unless Adobe says CMYK. */
        boolean ycck() {
            return components == 4 && adobeTransform >= 0 && adobeTransform != 0;
        }
    }

    static Header scan(byte[] d) {
        int components = -1;
        int adobe = -1;
        boolean icc = false;
        int p = 2;
        while (p + 4 <= d.length) {
            if ((d[p] & 0xFF) != 0xFF) {
                break; // not a marker: leave it to the decoder to complain
            }
            int m = d[p + 1] & 0xFF;
            if (m == 0xFF) {
                p++;
                continue;
            }
            if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
                p += 2;
                continue;
            }
            if (m == 0xD9 || m == 0xDA) {
                break;
            }
            int len = (d[p + 2] & 0xFF) << 8 | (d[p + 3] & 0xFF);
            int data = p + 4;
            int dataLen = Math.min(len - 2, d.length - data);
            if (m == 0xE2 && isIcc(d, data, dataLen)) {
                icc = true;
            } else if (m == 0xEE && dataLen >= 12 && d[data] == 'A' && d[data + 1] == 'd' && d[data + 2] == 'o'
                    && d[data + 3] == 'b' && d[data + 4] == 'e') {
                adobe = d[data + 11] & 0xFF;
            } else if (isSof(m) && dataLen >= 6) {
                components = d[data + 5] & 0xFF;
            }
            if (len < 2) {
                break;
            }
            p += 2 + len;
        }
        return new Header(components, adobe, icc);
    }

    private static boolean isSof(int m) {
        return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    }

    private static boolean isIcc(byte[] d, int off, int len) {
        byte[] id = {'I', 'C', 'C', '_', 'P', 'R', 'O', 'F', 'I', 'L', 'E', 0};
        if (len < id.length) {
            return false;
        }
        for (int i = 0; i < id.length; i++) {
            if (d[off + i] != id[i]) {
                return false;
            }
        }
        return true;
    }

    /** The file with every APP2 ICC_PROFILE segment before the first SOS removed. */
    static byte[] withoutIcc(byte[] d) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(d.length);
        int copied = 0;
        int p = 2;
        while (p + 4 <= d.length) {
            if ((d[p] & 0xFF) != 0xFF) {
                break;
            }
            int m = d[p + 1] & 0xFF;
            if (m == 0xFF) {
                p++;
                continue;
            }
            if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
                p += 2;
                continue;
            }
            if (m == 0xD9 || m == 0xDA) {
                break;
            }
            int len = (d[p + 2] & 0xFF) << 8 | (d[p + 3] & 0xFF);
            if (len < 2 || p + 2 + len > d.length) {
                break;
            }
            if (m == 0xE2 && isIcc(d, p + 4, len - 2)) {
                out.write(d, copied, p - copied);
                copied = p + 2 + len;
            }
            p += 2 + len;
        }
        out.write(d, copied, d.length - copied);
        return out.toByteArray();
    }

    // libjpeg jdcolor.c build_ycc_rgb_table, SCALEBITS = 16
    private static final int SCALEBITS = 16;
    private static final int ONE_HALF = 1 << (SCALEBITS - 1);
    private static final int[] CR_R = new int[256];
    private static final int[] CB_B = new int[256];
    private static final int[] CR_G = new int[256];
    private static final int[] CB_G = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            int x = i - 128;
            CR_R[i] = (fix(1.40200) * x + ONE_HALF) >> SCALEBITS;
            CB_B[i] = (fix(1.77200) * x + ONE_HALF) >> SCALEBITS;
            CR_G[i] = -fix(0.71414) * x;
            CB_G[i] = -fix(0.34414) * x + ONE_HALF;
        }
    }

    private static int fix(double x) {
        return (int) (x * (1L << SCALEBITS) + 0.5);
    }

    private static int clamp255(int v) {
        return v < 0 ? 0 : (v > 255 ? 255 : v);
    }

    /** Pillow's MULDIV255: a * b / 255 rounded, in integer arithmetic. */
    private static int mulDiv255(int a, int b) {
        int t = a * b + 128;
        return ((t >> 8) + t) >> 8;
    }

    /**
     * PIL's {@code Image.open(jpeg).convert('RGB')} for a 4-component JPEG, from the raw (not colour-converted)
     * decoded raster.
     */
    static RgbImage cmykToRgb(Raster r, boolean ycck) {
        int w = r.getWidth();
        int h = r.getHeight();
        int n = w * h;
        int[] s0 = r.getSamples(r.getMinX(), r.getMinY(), w, h, 0, (int[]) null);
        int[] s1 = r.getSamples(r.getMinX(), r.getMinY(), w, h, 1, (int[]) null);
        int[] s2 = r.getSamples(r.getMinX(), r.getMinY(), w, h, 2, (int[]) null);
        int[] s3 = r.getSamples(r.getMinX(), r.getMinY(), w, h, 3, (int[]) null);
        byte[] rgb = new byte[3 * n];
        for (int i = 0; i < n; i++) {
            // PIL's CMYK values after the "CMYK;I" inversion of libjpeg's output
            int c;
            int m;
            int y;
            if (ycck) {
                // libjpeg ycck_cmyk_convert gives 255 - clamp(y + ...); the inversion undoes the "255 -"
                int yy = s0[i] & 0xFF;
                int cb = s1[i] & 0xFF;
                int cr = s2[i] & 0xFF;
                c = clamp255(yy + CR_R[cr]);
                m = clamp255(yy + ((CB_G[cb] + CR_G[cr]) >> SCALEBITS));
                y = clamp255(yy + CB_B[cb]);
            } else {
                c = 255 - (s0[i] & 0xFF);
                m = 255 - (s1[i] & 0xFF);
                y = 255 - (s2[i] & 0xFF);
            }
            int nk = s3[i] & 0xFF; // 255 - (255 - raw k)
            rgb[3 * i] = (byte) clamp255(nk - mulDiv255(c, nk));
            rgb[3 * i + 1] = (byte) clamp255(nk - mulDiv255(m, nk));
            rgb[3 * i + 2] = (byte) clamp255(nk - mulDiv255(y, nk));
        }
        return new RgbImage(w, h, rgb);
    }
}
