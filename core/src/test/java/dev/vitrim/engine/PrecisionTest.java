package dev.vitrim.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The decision between the formats for every kind of CPU, from its flags alone. */
class PrecisionTest {
    static final Set<String> EPYC_AVX2 = Precision.parseFlags("fpu sse4_2 avx avx2 fma bmi2");
    static final Set<String> XEON_AMX = Precision.parseFlags("avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 "
            + "amx_int8 amx_tile");
    static final Set<String> COOPER_LAKE = Precision.parseFlags("avx2 avx512f avx512_bf16 avx512_vnni");
    static final Set<String> SKYLAKE = Precision.parseFlags("avx2 avx512f avx512bw avx512vl avx512dq");

    @Test
    void autoIsBf16OnlyWithBf16Hardware() {
        assertThat(Precision.resolve(Precision.AUTO, XEON_AMX).chosen()).isEqualTo(Precision.BF16);
        assertThat(Precision.resolve(Precision.AUTO, XEON_AMX).reason())
                .isEqualTo("bf16: this CPU has AMX-BF16 and AVX512_BF16");
        assertThat(Precision.resolve(Precision.AUTO, COOPER_LAKE).chosen()).isEqualTo(Precision.BF16);
        assertThat(Precision.resolve(Precision.AUTO, Set.of("amx_bf16")).reason()).isEqualTo("bf16: this CPU has AMX-BF16");
        for (Set<String> f : java.util.List.of(EPYC_AVX2, SKYLAKE, Set.<String>of())) {
            Precision.Choice c = Precision.resolve(Precision.AUTO, f);
            assertThat(c.chosen()).as("%s", f).isEqualTo(Precision.FP32);
            assertThat(c.reason()).isEqualTo("fp32: this CPU has no AVX512_BF16/AMX");
            assertThat(c.requested()).isEqualTo(Precision.AUTO);
        }
    }

    @Test
    void explicitRequestsAreHonouredAndBf16WithoutHardwareSaysItIsEmulated() {
        assertThat(Precision.resolve(Precision.FP32, XEON_AMX).chosen()).isEqualTo(Precision.FP32);
        assertThat(Precision.resolve(Precision.INT8, EPYC_AVX2).chosen()).isEqualTo(Precision.INT8);
        Precision.Choice slow = Precision.resolve(Precision.BF16, EPYC_AVX2);
        assertThat(slow.chosen()).isEqualTo(Precision.BF16);
        assertThat(slow.reason()).contains("emulated");
        assertThat(Precision.resolve(Precision.BF16, XEON_AMX).reason()).doesNotContain("emulated");
    }

    @Test
    void theFlagsPropertyReplacesTheCpu() {
        String old = System.getProperty(Precision.FLAGS_PROPERTY);
        try {
            System.setProperty(Precision.FLAGS_PROPERTY, "avx2,avx512_bf16");
            assertThat(Precision.cpuFlags()).containsExactlyInAnyOrder("avx2", "avx512_bf16");
            assertThat(Precision.AUTO.resolve().chosen()).isEqualTo(Precision.BF16);
            System.setProperty(Precision.FLAGS_PROPERTY, "avx2 fma");
            assertThat(Precision.AUTO.resolve().chosen()).isEqualTo(Precision.FP32);
        } finally {
            if (old == null) {
                System.clearProperty(Precision.FLAGS_PROPERTY);
            } else {
                System.setProperty(Precision.FLAGS_PROPERTY, old);
            }
        }
    }

    @Test
    void parseTakesTheFourNamesInAnyCase() {
        assertThat(Precision.parse("BF16")).isEqualTo(Precision.BF16);
        assertThat(Precision.parse(" auto")).isEqualTo(Precision.AUTO);
        assertThat(Precision.INT8.label()).isEqualTo("int8");
        assertThatThrownBy(() -> Precision.parse("fp16")).isInstanceOf(VitrimException.class)
                .hasMessageContaining("fp32, bf16, int8 or auto").hasMessageContaining("fp16");
    }
}
