package dev.vitrim.image;

import dev.vitrim.VitrimException;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Decodes JPEG (baseline, progressive, grey, CMYK/YCCK, Adobe), PNG (RGB, RGBA, grey, grey+alpha, palette,
 * 1..16 bits), BMP and GIF (first frame) files into 8-bit RGB, matching what PIL's
 * {@code Image.open(f).convert('RGB')} produces:
 * <ul>
 *   <li>the format is recognised by content (magic bytes), not by the file name;</li>
 *   <li>samples are taken from the raster as stored: no gamma (gAMA), ICC (iCCP / APP2) or EXIF-orientation
 *       handling, as PIL (and hence timm) does not apply them either;</li>
 *   <li>RGBA and grey+alpha: the alpha channel is dropped, colours are not composited; grey is replicated;
 *       palette images are looked up in their palette;</li>
 *   <li>16-bit samples become 8-bit by taking the high byte ({@code v >> 8}). This deliberately differs from
 *       PIL for 16-bit greyscale PNGs, which PIL opens as mode "I" and whose {@code convert('RGB')} clips every
 *       value above 255 to 255 (a lossy quirk); for 16-bit RGB(A) PIL already takes the high byte. The Python
 *       reference tools/timm_transform.py applies the same high-byte rule explicitly;</li>
 *   <li>JPEG: embedded ICC profiles are removed before decoding (TwelveMonkeys would otherwise colour-convert);
 *       CMYK/YCCK JPEGs are converted with PIL's own formulas (Adobe inversion, {@code cmyk2rgb}), not with ICC
 *       colour management: see {@link JpegSupport}. The JDK's JPEG decoder is libjpeg(-turbo), the same IDCT
 *       and upsampling as PIL's.</li>
 * </ul>
 * Every failure is a {@link VitrimException} "&lt;file&gt;: &lt;problem&gt;"; a truncated file is an error, never a
 * partially grey image.
 */
public final class ImageDecoder {
    /** PIL's decompression-bomb error limit (2 * Image.MAX_IMAGE_PIXELS). */
    static final long MAX_PIXELS = 2L * 89_478_485L;

    private ImageDecoder() {}

    enum Format {
        JPEG("jpeg"), PNG("png"), GIF("gif"), BMP("bmp");

        final String imageIoName;

        Format(String imageIoName) {
            this.imageIoName = imageIoName;
        }
    }

    /** Reads and decodes {@code file}. */
    public static RgbImage read(Path file) {
        byte[] data = readBytes(file);
        return decode(data, file.toString());
    }

    /** Decodes an in-memory file; {@code name} is used in error messages. */
    public static RgbImage decode(byte[] data, String name) {
        if (data.length == 0) {
            throw new VitrimException(name + ": empty file");
        }
        Format fmt = sniff(data);
        if (fmt == null) {
            throw new VitrimException(name + ": not a supported image (" + describeStart(data)
                    + "; expected JPEG, PNG, BMP or GIF)");
        }
        return readImage(data, name, fmt);
    }

    /**
     * The samples of an image already in memory as 8-bit RGB, without colour management (alpha dropped, grey
     * repeated, 16-bit samples to their high byte), as the decoder treats the rasters it reads.
     */
    public static RgbImage fromBufferedImage(BufferedImage image, String name) {
        if (image == null) {
            throw new VitrimException(name + ": no image (null)");
        }
        return toRgb(image, name, null);
    }

    private static byte[] readBytes(Path file) {
        String name = file.toString();
        try {
            if (Files.isDirectory(file)) {
                throw new VitrimException(name + ": is a directory, not an image file");
            }
            long size = Files.size(file);
            if (size > Integer.MAX_VALUE - 64) {
                throw new VitrimException(name + ": file too large (" + size + " bytes)");
            }
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new VitrimException(name + ": no such file", e);
        } catch (AccessDeniedException e) {
            throw new VitrimException(name + ": cannot read (permission denied)", e);
        } catch (IOException e) {
            throw new VitrimException(name + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    static Format sniff(byte[] d) {
        if (d.length >= 3 && (d[0] & 0xFF) == 0xFF && (d[1] & 0xFF) == 0xD8 && (d[2] & 0xFF) == 0xFF) {
            return Format.JPEG;
        }
        if (d.length >= 8 && (d[0] & 0xFF) == 0x89 && d[1] == 'P' && d[2] == 'N' && d[3] == 'G'
                && d[4] == 0x0D && d[5] == 0x0A && d[6] == 0x1A && d[7] == 0x0A) {
            return Format.PNG;
        }
        if (d.length >= 6 && d[0] == 'G' && d[1] == 'I' && d[2] == 'F' && d[3] == '8'
                && (d[4] == '7' || d[4] == '9') && d[5] == 'a') {
            return Format.GIF;
        }
        if (d.length >= 14 && d[0] == 'B' && d[1] == 'M') {
            return Format.BMP;
        }
        return null;
    }

    private static String describeStart(byte[] d) {
        int n = Math.min(d.length, 8);
        boolean text = true;
        for (int i = 0; i < n; i++) {
            int b = d[i] & 0xFF;
            if (b < 0x09 || (b > 0x0D && b < 0x20) || b > 0x7E) {
                text = false;
                break;
            }
        }
        if (text) {
            return "looks like text";
        }
        StringBuilder sb = new StringBuilder("starts with bytes");
        for (int i = 0; i < n; i++) {
            sb.append(String.format(Locale.ROOT, " %02x", d[i] & 0xFF));
        }
        return sb.toString();
    }

    private static ImageReader readerFor(Format fmt) {
        ImageReader chosen = null;
        for (Iterator<ImageReader> it = ImageIO.getImageReadersByFormatName(fmt.imageIoName); it.hasNext(); ) {
            ImageReader r = it.next();
            // TwelveMonkeys' JPEG reader handles CMYK/YCCK/Adobe JPEGs the JDK one rejects: prefer it.
            if (chosen == null || (fmt == Format.JPEG && r.getClass().getName().startsWith("com.twelvemonkeys"))) {
                if (chosen != null) {
                    chosen.dispose();
                }
                chosen = r;
            } else {
                r.dispose();
            }
        }
        return chosen;
    }

    private static RgbImage readImage(byte[] data, String name, Format fmt) {
        JpegSupport.Header jpeg = null;
        if (fmt == Format.JPEG) {
            jpeg = JpegSupport.scan(data);
            if (jpeg.hasIcc()) {
                data = JpegSupport.withoutIcc(data); // PIL ignores embedded profiles: see JpegSupport
            }
        }
        ImageReader reader = readerFor(fmt);
        if (reader == null) {
            throw new VitrimException(name + ": not a supported image (no " + fmt + " decoder available)");
        }
        List<String> warnings = new ArrayList<>();
        IIOReadWarningListener listener = (source, warning) -> warnings.add(String.valueOf(warning));
        reader.addIIOReadWarningListener(listener);
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(data))) {
            reader.setInput(in, true, true);
            int w = reader.getWidth(0);
            int h = reader.getHeight(0);
            if (w <= 0 || h <= 0) {
                throw new VitrimException(name + ": corrupt " + fmt + " (image size " + w + "x" + h + ")");
            }
            if ((long) w * h > MAX_PIXELS) {
                throw new VitrimException(name + ": image too large (" + w + "x" + h + " pixels, limit "
                        + MAX_PIXELS + " pixels)");
            }
            RgbImage img;
            if (jpeg != null && jpeg.components() == 4) {
                // CMYK / YCCK: raw samples, converted exactly as PIL does (no ICC colour management)
                img = JpegSupport.cmykToRgb(reader.readRaster(0, null), jpeg.ycck());
            } else {
                img = toRgb(reader.read(0), name, fmt);
            }
            for (String wm : warnings) {
                if (isTruncationWarning(wm)) {
                    throw new VitrimException(name + ": corrupt or truncated " + fmt + " (" + wm + ")");
                }
            }
            if (fmt != Format.JPEG) {
                checkComplete(data, name, fmt);
            }
            if (img.width() != w || img.height() != h) {
                throw new VitrimException(name + ": corrupt " + fmt + " (decoded " + img.width() + "x" + img.height()
                        + ", header says " + w + "x" + h + ")");
            }
            return img;
        } catch (VitrimException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new VitrimException(name + ": corrupt or truncated " + fmt + " (" + rootMessage(e) + ")", e);
        } finally {
            reader.removeIIOReadWarningListener(listener);
            reader.dispose();
        }
    }

    /**
     * Warnings from libjpeg (via the JDK) and TwelveMonkeys that mean image data is missing, so the decoder filled
     * the rest with grey. Warnings about harmless oddities (extraneous bytes before a marker, a bad ICC profile
     * or thumbnail) are not errors: PIL decodes those files too.
     */
    static boolean isTruncationWarning(String w) {
        String s = w.toLowerCase(Locale.ROOT);
        return s.contains("premature end") || s.contains("truncated") || s.contains("missing eoi")
                || s.contains("unexpected end") || s.contains("end of file");
    }

    /**
     * Decoders that silently tolerate truncation (the JDK's GIF and BMP readers return partially filled images):
     * check the file structure. PNG truncation inside the image data is detected by the decoder itself.
     */
    private static void checkComplete(byte[] d, String name, Format fmt) {
        if (fmt == Format.GIF && !gifComplete(d)) {
            throw new VitrimException(name + ": corrupt or truncated GIF (image data incomplete)");
        }
        if (fmt == Format.BMP) {
            long offBits = le32(d, 10);
            long headerSize = d.length >= 18 ? le32(d, 14) : 0;
            if (d.length >= 30 && headerSize >= 40) {
                long w = (int) le32(d, 18);
                long h = Math.abs((int) le32(d, 22));
                int bpp = (d[28] & 0xFF) | (d[29] & 0xFF) << 8;
                long compression = le32(d, 30);
                if ((compression == 0 || compression == 3) && bpp > 0 && w > 0) {
                    long rowBytes = ((w * bpp + 31) / 32) * 4;
                    if (offBits + rowBytes * h > d.length) {
                        throw new VitrimException(name + ": corrupt or truncated BMP (pixel data needs "
                                + (offBits + rowBytes * h) + " bytes, file has " + d.length + ")");
                    }
                }
            }
        }
    }

    private static long le32(byte[] d, int off) {
        if (off + 4 > d.length) {
            return 0;
        }
        return (d[off] & 0xFFL) | (d[off + 1] & 0xFFL) << 8 | (d[off + 2] & 0xFFL) << 16 | (d[off + 3] & 0xFFL) << 24;
    }

    /** Walks the GIF block structure up to the end of the first image's LZW data. */
    static boolean gifComplete(byte[] d) {
        int p = 13;
        if (d.length < p) {
            return false;
        }
        int flags = d[10] & 0xFF;
        if ((flags & 0x80) != 0) {
            p += 3 << ((flags & 7) + 1);
        }
        while (p < d.length) {
            int b = d[p] & 0xFF;
            if (b == 0x21) { // extension: label, then sub-blocks
                p = skipSubBlocks(d, p + 2);
                if (p < 0) {
                    return false;
                }
            } else if (b == 0x2C) { // image descriptor
                if (p + 10 > d.length) {
                    return false;
                }
                int lf = d[p + 9] & 0xFF;
                p += 10;
                if ((lf & 0x80) != 0) {
                    p += 3 << ((lf & 7) + 1);
                }
                p += 1; // LZW minimum code size
                return p <= d.length && skipSubBlocks(d, p) >= 0;
            } else {
                return false; // trailer or garbage before any image
            }
        }
        return false;
    }

    private static int skipSubBlocks(byte[] d, int p) {
        while (p < d.length) {
            int n = d[p] & 0xFF;
            p += 1 + n;
            if (n == 0) {
                return p <= d.length ? p : -1;
            }
        }
        return -1;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            m = t.getClass().getSimpleName();
        }
        if (t != e && e.getMessage() != null && !e.getMessage().equals(m)) {
            m = e.getMessage() + ": " + m;
        }
        return m.replace('\n', ' ').replace('\r', ' ');
    }

    /** Raster samples to 8-bit RGB without any colour management (see the class comment). */
    static RgbImage toRgb(BufferedImage bi, String name, Format fmt) {
        int w = bi.getWidth();
        int h = bi.getHeight();
        int n = w * h;
        byte[] rgb = new byte[3 * n];
        ColorModel cm = bi.getColorModel();
        Raster r = bi.getRaster();
        if (cm instanceof IndexColorModel icm) {
            int size = icm.getMapSize();
            int[] idx = r.getSamples(0, 0, w, h, 0, (int[]) null);
            for (int i = 0; i < n; i++) {
                int v = idx[i];
                if (v < size) {
                    rgb[3 * i] = (byte) icm.getRed(v);
                    rgb[3 * i + 1] = (byte) icm.getGreen(v);
                    rgb[3 * i + 2] = (byte) icm.getBlue(v);
                }
            }
            return new RgbImage(w, h, rgb);
        }
        ColorSpace cs = cm.getColorSpace();
        int nc = cm.getNumColorComponents();
        boolean integral = r.getTransferType() == DataBuffer.TYPE_BYTE || r.getTransferType() == DataBuffer.TYPE_USHORT
                || r.getTransferType() == DataBuffer.TYPE_INT;
        boolean direct = integral && r.getNumBands() >= nc
                && ((cs.getType() == ColorSpace.TYPE_RGB && nc == 3) || (cs.getType() == ColorSpace.TYPE_GRAY && nc == 1));
        for (int c = 0; direct && c < nc; c++) {
            int bits = cm.getComponentSize(c);
            if (bits < 1 || bits > 16) {
                direct = false;
            }
        }
        if (direct) {
            int[] s = null;
            for (int c = 0; c < nc; c++) {
                s = r.getSamples(0, 0, w, h, c, s);
                int bits = cm.getComponentSize(c);
                if (bits == 16) {
                    for (int i = 0; i < n; i++) {
                        s[i] >>>= 8; // high byte: see the class comment
                    }
                } else if (bits != 8) {
                    int max = (1 << bits) - 1; // e.g. 5/6-bit BMP channels: v * 255 / max, as PIL unpacks them
                    for (int i = 0; i < n; i++) {
                        s[i] = s[i] * 255 / max;
                    }
                }
                if (nc == 1) {
                    for (int i = 0; i < n; i++) {
                        byte b = (byte) s[i];
                        rgb[3 * i] = b;
                        rgb[3 * i + 1] = b;
                        rgb[3 * i + 2] = b;
                    }
                } else {
                    for (int i = 0; i < n; i++) {
                        rgb[3 * i + c] = (byte) s[i];
                    }
                }
            }
            return new RgbImage(w, h, rgb);
        }
        // Anything else (e.g. a CMYK or YCbCr raster, float samples): let Java2D convert to sRGB.
        try {
            int[] argb = bi.getRGB(0, 0, w, h, null, 0, w);
            for (int i = 0; i < n; i++) {
                int p = argb[i];
                rgb[3 * i] = (byte) (p >> 16);
                rgb[3 * i + 1] = (byte) (p >> 8);
                rgb[3 * i + 2] = (byte) p;
            }
        } catch (RuntimeException e) {
            throw new VitrimException(name + ": not a supported image (" + (fmt == null ? "image" : fmt)
                    + " with colour model " + cs.getType()
                    + "/" + nc + " components cannot be converted to RGB)", e);
        }
        return new RgbImage(w, h, rgb);
    }
}
