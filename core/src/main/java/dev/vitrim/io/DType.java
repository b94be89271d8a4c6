package dev.vitrim.io;

import dev.vitrim.VitrimException;

/** Element types of safetensors tensors, named as in the safetensors header ({@code "F32"}, {@code "BF16"}...). */
public enum DType {
    F64(8, true),
    F32(4, true),
    F16(2, true),
    BF16(2, true),
    I64(8, false),
    I32(4, false),
    I16(2, false),
    I8(1, false),
    U8(1, false),
    BOOL(1, false);

    private final int byteSize;
    private final boolean isFloat;

    DType(int byteSize, boolean isFloat) {
        this.byteSize = byteSize;
        this.isFloat = isFloat;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** True for F64, F32, F16 and BF16: the types {@link TensorSource#floats} converts. */
    public boolean isFloat() {
        return isFloat;
    }

    /**
     * The dtype with this safetensors name (exact, upper case, e.g. {@code "BF16"}).
     *
     * @throws VitrimException for a name that is not one of the supported dtypes
     */
    public static DType parse(String s) {
        if (s != null) {
            for (DType t : values()) {
                if (t.name().equals(s)) {
                    return t;
                }
            }
        }
        throw new VitrimException("unknown dtype '" + s + "' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
    }
}
