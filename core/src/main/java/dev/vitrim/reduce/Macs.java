package dev.vitrim.reduce;

import dev.vitrim.arch.VitConfig;

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

    /**
     * The cost of a reduced forward at the native resolution, from the per-block token counts the reducer's
     * schedule gives (attention's quadratic term, the reducer's own scoring and merging included). For
     * reducers whose counts depend on the image (attn with mass) this is the schedule's upper bound.
     *
     * @param attnTokens  tokens entering each block's attention
     * @param mlpTokens   tokens entering each block's MLP
     * @param afterBlock  tokens leaving each block (after the reducer)
     */
    public record Plan(long macs, long overhead, int[] attnTokens, int[] mlpTokens, int[] afterBlock) {
        public double gmacs() {
            return macs / 1e9;
        }
    }

    public static Plan plan(VitConfig c, dev.vitrim.reduce.TokenReducer r) {
        r.validate(c);
        int depth = c.depth();
        int[] attn = new int[depth];
        int[] mlp = new int[depth];
        int[] after = new int[depth];
        int[] stash = {0};
        int n = c.tokens();
        long total = patchEmbed(c, c.numPatches()) + head(c);
        long overhead = 0;
        for (int i = 0; i < depth; i++) {
            if (i == depth - 1) {
                n = r.countBeforeLastBlock(c, n, stash);
            }
            attn[i] = n;
            total += attention(c, n);
            long o = r.overheadMacs(c, i, n);
            n = r.countAfterAttention(c, i, n);
            mlp[i] = n;
            total += mlp(c, n);
            n = r.countAfterBlock(c, i, n, stash);
            after[i] = n;
            overhead += o;
        }
        return new Plan(total + overhead, overhead, attn, mlp, after);
    }
}
