package dev.vitrim.engine;

import dev.vitrim.VitrimException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * The arithmetic format of a model's transformer blocks at inference.
 *
 * <ul>
 *   <li>{@link #FP32}: float32 throughout, the reference.</li>
 *   <li>{@link #BF16}: the blocks' matrix products (qkv, attention, projection, MLP) in bfloat16, with bfloat16
 *       copies of their weights made once; LayerNorm, the residual stream, the attention scores a reducer reads and
 *       everything outside the blocks stay float32. Fast on CPUs with AMX or AVX512_BF16; elsewhere libtorch
 *       emulates bfloat16 and it is several times slower than float32.</li>
 *   <li>{@link #INT8}: dynamic quantization of the blocks' linear layers (int8 weights per output channel, each
 *       input row quantized on the fly, float32 out), libtorch's FBGEMM kernels; attention and everything else
 *       float32.</li>
 *   <li>{@link #AUTO}: {@link #BF16} where the CPU has AMX-BF16 or AVX512_BF16, {@link #FP32} elsewhere.</li>
 * </ul>
 *
 * <p>{@link #resolve()} turns a request into a {@link Choice} with the reason, read off the CPU's flags in
 * {@code /proc/cpuinfo}. The system property {@value #FLAGS_PROPERTY} replaces those flags (space or comma
 * separated, e.g. {@code "avx2 fma"} or {@code "avx512_bf16 amx_bf16"}): the decision can be checked for any
 * processor on any machine.
 */
public enum Precision {
    FP32, BF16, INT8, AUTO;

    /** System property that replaces the CPU flags read from {@code /proc/cpuinfo}. */
    public static final String FLAGS_PROPERTY = "vitrim.cpu.flags";

    /** The precision asked for, the one that runs, and why, e.g. "fp32: this CPU has no AVX512_BF16/AMX". */
    public record Choice(Precision requested, Precision chosen, String reason) {
        @Override
        public String toString() {
            return reason;
        }
    }

    /** The lower-case name used on the command line: fp32, bf16, int8, auto. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses fp32, bf16, int8 or auto (any case); anything else is an error naming the accepted values. */
    public static Precision parse(String s) {
        if (s != null) {
            for (Precision p : values()) {
                if (p.label().equalsIgnoreCase(s.trim())) {
                    return p;
                }
            }
        }
        throw new VitrimException("precision: expected fp32, bf16, int8 or auto, got '" + s + "'");
    }

    /** The precision that runs for this request on this CPU, and why. */
    public Choice resolve() {
        return resolve(this, cpuFlags());
    }

    /** The decision itself, for any set of CPU flags (lower case, as in {@code /proc/cpuinfo}). */
    static Choice resolve(Precision requested, Set<String> flags) {
        boolean bf16 = hasBf16(flags);
        String hw = bf16Hardware(flags);
        switch (requested) {
            case FP32:
                return new Choice(requested, FP32, "fp32: as requested");
            case BF16:
                return new Choice(requested, BF16, bf16 ? "bf16: as requested; this CPU has " + hw
                        : "bf16: as requested, but this CPU has no AVX512_BF16/AMX: bfloat16 is emulated and slower "
                                + "than fp32 here");
            case INT8:
                return new Choice(requested, INT8, "int8: as requested; dynamic quantization of the linear layers "
                        + "(FBGEMM" + (flags.contains("avx512_vnni") || flags.contains("avx_vnni") ? ", VNNI" : "")
                        + ")");
            case AUTO:
            default:
                return bf16 ? new Choice(requested, BF16, "bf16: this CPU has " + hw)
                        : new Choice(requested, FP32, "fp32: this CPU has no AVX512_BF16/AMX");
        }
    }

    /** Whether the flags include bfloat16 arithmetic in hardware: AMX-BF16 or AVX512_BF16. */
    static boolean hasBf16(Set<String> flags) {
        return flags.contains("amx_bf16") || flags.contains("avx512_bf16");
    }

    private static String bf16Hardware(Set<String> flags) {
        if (flags.contains("amx_bf16")) {
            return flags.contains("avx512_bf16") ? "AMX-BF16 and AVX512_BF16" : "AMX-BF16";
        }
        return "AVX512_BF16";
    }

    /**
     * The CPU's flags: the property {@value #FLAGS_PROPERTY} when set, otherwise the first {@code flags} line of
     * {@code /proc/cpuinfo}; empty where neither can be read (then {@link #AUTO} means fp32).
     */
    static Set<String> cpuFlags() {
        String forced = System.getProperty(FLAGS_PROPERTY);
        if (forced != null) {
            return parseFlags(forced);
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    int colon = line.indexOf(':');
                    return parseFlags(colon < 0 ? "" : line.substring(colon + 1));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or no access: no flags
        }
        return Collections.emptySet();
    }

    static Set<String> parseFlags(String s) {
        Set<String> out = new TreeSet<>();
        Arrays.stream(s.toLowerCase(Locale.ROOT).split("[\\s,]+")).filter(f -> !f.isEmpty()).forEach(out::add);
        return Collections.unmodifiableSet(out);
    }
}
