package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * EViT (Liang et al., ICLR 2022): in the listed blocks, between attention and MLP, keep the
 * ceil(keep·M) patches the CLS token attends to most (attention averaged over heads); with fusion the dropped
 * ones become one extra token Σ score·x (weights not renormalised), appended at the end. With {@code llf} (Last
 * Layer Fusion, generalised from Token Cropr) the dropped patches are also set aside and rejoin before the last block.
 */
public final class EVit implements TokenReducer {
    static final Set<String> KEYS = Set.of("keep", "at", "fuse", "llf");

    final double keep;
    final int[] at; // null: a quarter, half and three quarters of the depth (3/6/9 for 12 blocks)
    final boolean fuse;
    final boolean llf;

    /** The spec as the user wrote it, for error messages. */
    final String given;

    EVit(SpecParams p) {
        given = p.spec;
        keep = p.fraction("keep", 0.7);
        // "default" (what spec() prints when no blocks were given) reads back as the default blocks
        at = "default".equals(p.string("at", "")) ? null : p.ints("at", null);
        fuse = p.bool("fuse", true);
        llf = p.bool("llf", false);
    }

    static int[] defaultAt(int depth) {
        return new int[] {depth / 4, depth / 2, 3 * depth / 4};
    }

    int[] blocks(VitConfig c) {
        return at != null ? at : defaultAt(c.depth());
    }

    @Override
    public String spec() {
        return String.format(Locale.ROOT, "evit:keep=%s,at=%s,fuse=%s", keep,
                at == null ? "default" : Arrays.stream(at).mapToObj(Integer::toString).collect(Collectors.joining("/")),
                fuse) + (llf ? ",llf=true" : "");
    }

    @Override
    public void validate(VitConfig c) {
        for (int i : blocks(c)) {
            if (i < 0 || i >= c.depth()) {
                throw new VitrimException("reducer '" + given + "': at=" + i + " is outside the blocks 0.."
                        + (c.depth() - 1));
            }
        }
    }

    boolean prunesAt(VitConfig c, int block) {
        for (int i : blocks(c)) {
            if (i == block) {
                return true;
            }
        }
        return false;
    }

    int left(int m) {
        return (int) Math.ceil(keep * m);
    }

    @Override
    public int countAfterAttention(VitConfig c, int block, int n) {
        return prunesAt(c, block) ? c.prefixTokens() + left(n - c.prefixTokens()) + (fuse ? 1 : 0) : n;
    }

    @Override
    public int countBeforeLastBlock(VitConfig c, int n, int[] stash) {
        if (!llf) {
            return n;
        }
        int tokens = c.prefixTokens() + c.numPatches();
        int set = 0;
        for (int block = 0; block < c.depth() - 1; block++) {
            int after = countAfterAttention(c, block, tokens);
            if (after != tokens) {
                set += tokens - c.prefixTokens() - left(tokens - c.prefixTokens());
            }
            tokens = after;
        }
        return n + set;
    }

    @Override
    public long overheadMacs(VitConfig c, int block, int n) {
        return prunesAt(c, block) ? (long) c.heads() * n + (fuse ? (long) n * c.width() : 0) : 0;
    }

    @Override
    public Pass begin(ModelView model, Tokens initial) {
        VitConfig c = model.config();
        validate(c);
        return new Pass() {
            @Override
            public boolean needsClsAttention(int block) {
                return prunesAt(c, block);
            }

            @Override
            public Tokens afterAttention(int block, Tokens t, AttentionView view) {
                if (!prunesAt(c, block)) {
                    return t;
                }
                Reducers.requireUniform(t, "evit");
                int b = t.batch();
                int m = t.patches();
                int k = left(m);
                // selection in Java on the copied CLS rows; the engine gathers and fuses
                int n = t.prefix + m;
                float[] row = view.clsAttention().toFloatArray(); // [B, prefix + M]
                float[] cls = new float[b * m];
                for (int i = 0; i < b; i++) {
                    System.arraycopy(row, i * n + t.prefix, cls, i * m, m);
                }
                long[] idx = AttentionPruning.topK(cls, b, m, k);
                Tokens kept = llf ? t.keepPatchesStashingRest(idx, k) : t.keepPatches(idx, k);
                if (!fuse) {
                    return kept;
                }
                double[] dropped = new double[b * m]; // 1 where dropped
                java.util.Arrays.fill(dropped, 1.0);
                for (int i = 0; i < b; i++) {
                    for (int j = 0; j < k; j++) {
                        dropped[i * m + (int) idx[i * k + j]] = 0.0;
                    }
                }
                // kept, then Σ score·x of the dropped: one engine call; the scores stay on the engine so
                // fine-tuning gets their gradient
                NDArray x = ReduceKernels.fuse(kept.x, t.x, view.clsAttention(), dropped, t.prefix);
                // the fused token: no position; its size is the sum of the dropped tokens' sizes
                int kn = t.prefix + k;
                long[] pos = new long[b * (kn + 1)];
                float[] sizes = t.sizes == null ? null : new float[b * (kn + 1)];
                for (int i = 0; i < b; i++) {
                    System.arraycopy(kept.positions, i * kn, pos, i * (kn + 1), kn);
                    pos[i * (kn + 1) + kn] = -1;
                    if (sizes != null) {
                        System.arraycopy(kept.sizes, i * kn, sizes, i * (kn + 1), kn);
                        float fused = 0f;
                        for (int j = 0; j < m; j++) {
                            fused += dropped[i * m + j] * t.sizes[i * t.count() + t.prefix + j];
                        }
                        sizes[i * (kn + 1) + kn] = fused;
                    }
                }
                NDArray source = null;
                if (t.source != null) { // which original tokens each token holds (traces, explain): the dropped
                    float[] d = new float[dropped.length];
                    for (int j = 0; j < d.length; j++) {
                        d[j] = (float) dropped[j];
                    }
                    NDArray drop = t.x.getManager().create(d, new Shape(b, 1, m));
                    source = kept.source.concat(drop.matMul(t.source.get(new NDIndex(":, {}:, :", t.prefix))), 1);
                }
                return new Tokens(x, sizes, pos, t.prefix, kept.stash, null, null, source, t.keepsPruned);
            }

            @Override
            public Tokens beforeLastBlock(Tokens t) {
                return llf ? t.rejoinStash() : t;
            }
        };
    }
}
