package dev.vitrim.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Exhaustive and randomized checks of the F16/BF16 conversions used by the safetensors reader and writer. */
class SafeTensorsHalfFloatsTest {

    @Test
    void f16TableMatchesArithmeticForAllPatterns() {
        for (int h = 0; h < 1 << 16; h++) {
            assertThat(Float.floatToRawIntBits(HalfFloats.f16ToFloat(h)))
                    .isEqualTo(Float.floatToRawIntBits(HalfFloats.f16ToFloatSlow(h)));
        }
    }

    @Test
    void everyF16ValueSurvivesARoundTrip() {
        for (int h = 0; h < 1 << 16; h++) {
            float f = HalfFloats.f16ToFloat(h);
            if (Float.isNaN(f)) {
                assertThat(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.floatToF16(f)))).isTrue();
            } else {
                assertThat(HalfFloats.floatToF16(f) & 0xFFFF).as("pattern %04x", h).isEqualTo(h);
            }
        }
    }

    @Test
    void everyBf16ValueSurvivesARoundTrip() {
        for (int b = 0; b < 1 << 16; b++) {
            float f = HalfFloats.bf16ToFloat(b);
            if (Float.isNaN(f)) {
                assertThat(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(f)))).isTrue();
            } else {
                assertThat(HalfFloats.floatToBf16(f) & 0xFFFF).isEqualTo(b);
            }
        }
    }

    /** Reference: the nearest of the sorted non-negative finite F16 values, ties to the even pattern. */
    @Test
    void f16RoundingMatchesNearestEvenReference() {
        float[] values = new float[0x7C00 + 1]; // patterns 0x0000..0x7C00 (0x7C00 = infinity) are increasing
        for (int h = 0; h <= 0x7C00; h++) {
            values[h] = HalfFloats.f16ToFloat(h);
        }
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < 500_000; i++) {
            // floats with exponents around the F16 range, including subnormal and overflow territory
            int exp = 127 - 27 + rnd.nextInt(46);
            int bits = (exp << 23) | rnd.nextInt(1 << 23);
            if (i % 4 == 0) {
                bits &= ~0x0FFF; // many exact ties and near-ties
            }
            float f = Float.intBitsToFloat(bits);
            assertThat(HalfFloats.floatToF16(f) & 0xFFFF).as("float %s", f).isEqualTo(reference(values, f));
            assertThat(HalfFloats.floatToF16(-f) & 0xFFFF).isEqualTo(0x8000 | reference(values, f));
        }
    }

    private static int reference(float[] values, float f) {
        int idx = Arrays.binarySearch(values, f);
        if (idx >= 0) {
            return idx;
        }
        int hi = -idx - 1; // first value greater than f
        if (hi >= values.length) {
            return 0x7C00;
        }
        int lo = hi - 1;
        if (hi == 0x7C00) {
            // between 65504 and infinity: round as if the next step (65536) existed
            double mid = 65504.0 + 16.0;
            return f < mid ? lo : 0x7C00;
        }
        double dLo = (double) f - values[lo];
        double dHi = (double) values[hi] - f;
        if (dLo < dHi) {
            return lo;
        }
        if (dHi < dLo) {
            return hi;
        }
        return (lo & 1) == 0 ? lo : hi;
    }

    @Test
    void bf16RoundingMatchesNearestEvenReference() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int i = 0; i < 500_000; i++) {
            int bits = rnd.nextInt() & 0x7F7FFFFF; // finite, positive
            float f = Float.intBitsToFloat(bits);
            int lo = bits >>> 16;
            float vLo = Float.intBitsToFloat(lo << 16);
            // above the largest finite BF16, round as if the next step (2^128) existed; reaching it means infinity
            double vHi = lo + 1 == 0x7F80 ? 0x1p128 : Float.intBitsToFloat((lo + 1) << 16);
            double dLo = (double) f - vLo;
            double dHi = vHi - f;
            int expected = dLo < dHi ? lo : dHi < dLo ? lo + 1 : (lo & 1) == 0 ? lo : lo + 1;
            assertThat(HalfFloats.floatToBf16(f) & 0xFFFF).as("float %s", f).isEqualTo(expected);
        }
    }
}
