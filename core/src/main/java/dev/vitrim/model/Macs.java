package dev.vitrim.model;

/**
 * Analytic multiply-accumulate counts of a ViT forward, per image. "GFLOPs" in ViT papers are GMACs:
 * ViT-S/16 4.6 G, ViT-B/16 17.6 G at 224 px.
 */
public final class Macs {
    private Macs() {}

    /** Patch embedding of {@code patches} patches. */
    public static long patchEmbed(VitConfig c, long patches) {
        return patches * c.width() * 3L * c.patchSize() * c.patchSize();
    }

    /** Attention of a block over {@code n} tokens: qkv, the two N×N products, and the output projection. */
    public static long attention(VitConfig c, long n) {
        long d = c.width();
        return n * d * 3 * d + 2 * n * n * d + n * d * d;
    }

    /** MLP of a block over {@code n} tokens. */
    public static long mlp(VitConfig c, long n) {
        return 2 * n * c.width() * (long) c.mlpHidden();
    }

    public static long head(VitConfig c) {
        return (long) c.width() * c.numClasses() * (c.distilled() ? 2 : 1);
    }

    /** The unreduced model at its native resolution. */
    public static long unreduced(VitConfig c) {
        long n = c.tokens();
        return patchEmbed(c, c.numPatches()) + c.depth() * (attention(c, n) + mlp(c, n)) + head(c);
    }
}
