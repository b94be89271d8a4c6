package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.VitrimException;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.model.VitConfig;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * EViT (Liang et al., ICLR 2022): in the listed blocks, between attention and MLP, keep the
 * ceil(keep·M) patches the CLS token attends to most (attention averaged over heads); with fusion the dropped
 * ones become one extra token Σ score·x (weights not renormalised), appended at the end.
 */
public final class EVit implements TokenReducer {
    static final Set<String> KEYS = Set.of("keep", "at", "fuse");

    final double keep;
    final int[] at; // null: a quarter, half and three quarters of the depth (3/6/9 for 12 blocks)
    final boolean fuse;

    /** The spec as the user wrote it, for error messages. */
    final String given;

    EVit(SpecParams p) {
        given = p.spec;
        keep = p.fraction("keep", 0.7);
        at = p.ints("at", null);
        fuse = p.bool("fuse", true);
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
                fuse);
    }

    @Override
    public void validate(VitConfig c) {
        for (int i : blocks(c)) {
            if (i < 0 || i >= c.depth()) {
                throw new VitrimException("--reduce '" + given + "': at=" + i + " is outside the blocks 0.."
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
    public long overheadMacs(VitConfig c, int block, int n) {
        return prunesAt(c, block) ? (long) c.heads() * n + (fuse ? (long) n * c.width() : 0) : 0;
    }

    @Override
    public Pass begin(VisionTransformer model, Tokens initial) {
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
                NDArray clsRow = view.clsAttention().get(new NDIndex(":, {}:", t.prefix)); // [B,M]
                float[] cls = clsRow.toFloatArray();
                long[] idx = AttentionPruning.topK(cls, b, m, k);
                Tokens kept = t.keepPatches(idx, k);
                if (!fuse) {
                    return kept;
                }
                NDManager mgr = t.x.getManager();
                float[] dropped = new float[b * m]; // 1 where dropped
                java.util.Arrays.fill(dropped, 1f);
                for (int i = 0; i < b; i++) {
                    for (int j = 0; j < k; j++) {
                        dropped[i * m + (int) idx[i * k + j]] = 0f;
                    }
                }
                NDArray drop = mgr.create(dropped, new Shape(b, 1, m));
                // Σ score·x of the dropped [B,1,D]; the scores stay on the engine so fine-tuning gets their gradient
                NDArray extra = clsRow.expandDims(1).mul(drop).matMul(t.x.get(new NDIndex(":, {}:, :", t.prefix)));
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
                NDArray source = t.source == null ? null
                        : kept.source.concat(drop.matMul(t.source.get(new NDIndex(":, {}:, :", t.prefix))), 1);
                return new Tokens(kept.x.concat(extra, 1), sizes, pos, t.prefix, t.stash, null, null, source);
            }
        };
    }
}
