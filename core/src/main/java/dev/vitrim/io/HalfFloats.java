package dev.vitrim.io;

/** IEEE binary16 (F16) and bfloat16 (BF16) conversions, bit-exact, without Java 20's Float.float16ToFloat. */
final class HalfFloats {
    private HalfFloats() {}

    /** Exact value of an F16 bit pattern (low 16 bits of {@code h}). */
    static float f16ToFloat(int h) {
        return Table.F16[h & 0xFFFF];
    }

    /** Exact value of a BF16 bit pattern (low 16 bits of {@code b}). */
    static float bf16ToFloat(int b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    /** Computes the F16 value arithmetically (used to fill the lookup table, and by tests). */
    static float f16ToFloatSlow(int h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0) {
            // zero or subnormal: mant * 2^-24, exact in float
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (exp == 0x1F) {
            // infinity, or NaN keeping its payload (shifted into the float mantissa)
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** Rounds a float to F16, round-to-nearest-even; overflow gives infinity, NaN stays a (quiet) NaN. */
    static short floatToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xFF;
        int mant = bits & 0x7FFFFF;
        if (exp == 0xFF) {
            return (short) (mant == 0 ? sign | 0x7C00 : sign | 0x7E00 | (mant >>> 13));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1F) {
            return (short) (sign | 0x7C00);
        }
        if (e <= 0) {
            // F16 subnormal (or zero): value / 2^-24 = (1.mant) * 2^(exp-126) = full >> (14 - e)
            int shift = 14 - e;
            if (shift > 24) {
                return (short) sign; // below half the smallest subnormal: rounds to zero
            }
            int full = mant | 0x800000;
            int m = full >>> shift;
            int rem = full & ((1 << shift) - 1);
            int half = 1 << (shift - 1);
            if (rem > half || (rem == half && (m & 1) != 0)) {
                m++; // may carry into the smallest normal, which is the right encoding
            }
            return (short) (sign | m);
        }
        int out = (e << 10) | (mant >>> 13);
        int rem = mant & 0x1FFF;
        if (rem > 0x1000 || (rem == 0x1000 && (out & 1) != 0)) {
            out++; // may carry into the exponent, up to infinity: right as well
        }
        return (short) (sign | out);
    }

    /** Rounds a float to BF16, round-to-nearest-even; NaN stays a (quiet) NaN. */
    static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    private static final class Table {
        static final float[] F16 = new float[1 << 16];

        static {
            for (int h = 0; h < F16.length; h++) {
                F16[h] = f16ToFloatSlow(h);
            }
        }
    }
}
