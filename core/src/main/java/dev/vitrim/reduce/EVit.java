package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
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
                int m = t.patches();
                NDArray cls = view.clsAttention().get(new NDIndex(":, {}:", t.prefix)); // [B,M]
                NDArray idx = cls.topK(left(m), 1, true, true).get(1);
                Tokens kept = t.keepPatches(idx);
                if (!fuse) {
                    return kept;
                }
                NDManager mgr = t.x.getManager();
                NDArray isKept = idx.expandDims(2).eq(mgr.arange(0, m, 1, DataType.INT64).reshape(1, 1, m))
                        .toType(DataType.FLOAT32, false).sum(new int[] {1}); // [B,M] 1 where kept
                NDArray w = cls.mul(isKept.neg().add(1f)).expandDims(1); // [B,1,M] scores of the dropped
                NDArray patches = t.x.get(new NDIndex(":, {}:, :", t.prefix));
                NDArray extra = w.matMul(patches); // [B,1,D]
                NDArray pos = mgr.zeros(new ai.djl.ndarray.types.Shape(t.batch(), 1), DataType.INT64).sub(1); // fused: no position
                NDArray sizes = null;
                if (t.sizes != null) {
                    NDArray dropped = isKept.neg().add(1f).expandDims(1)
                            .matMul(t.sizes.get(new NDIndex(":, {}:, :", t.prefix)));
                    sizes = kept.sizes.concat(dropped, 1);
                }
                NDArray source = null;
                if (t.source != null) {
                    source = kept.source.concat(isKept.neg().add(1f).expandDims(1)
                            .matMul(t.source.get(new NDIndex(":, {}:, :", t.prefix))), 1);
                }
                return new Tokens(kept.x.concat(extra, 1), sizes, kept.positions.concat(pos, 1), t.prefix, t.stash,
                        null, null, source);
            }
        };
    }
}
