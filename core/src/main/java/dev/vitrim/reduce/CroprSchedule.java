package dev.vitrim.reduce;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;

/**
 * Token Cropr's pruning schedule, shared by {@code cropr}, {@code random:R=…} and Cropr training. A module after
 * block i (blocks 0…L−3 with Last Layer Fusion, 0…L−2 without) prunes R tokens, the first one R+1 (so counts stay
 * aligned once CLS is counted). With {@code multiple} &gt; 1 the token count left after each module (prefix tokens
 * included, as the kernels see it) is rounded down to a multiple of it.
 *
 * @param r        tokens pruned per module (0: none)
 * @param llf      Last Layer Fusion: pruned tokens are stashed and re-join before the last block
 * @param multiple round the kept counts down to a multiple of this (1: no rounding)
 */
public record CroprSchedule(int r, boolean llf, int multiple) {
    public CroprSchedule {
        if (r < 0) {
            throw new IllegalArgumentException("R must be >= 0, got " + r);
        }
        if (multiple < 1) {
            throw new IllegalArgumentException("multiple must be >= 1, got " + multiple);
        }
    }

    /** Index of the block after which the last module sits (-1: none). */
    public int lastModule(int depth) {
        return llf ? depth - 3 : depth - 2;
    }

    /** Whether a module follows block {@code block}. */
    public boolean prunesAfter(int depth, int block) {
        return r > 0 && block <= lastModule(depth);
    }

    /** Tokens (prefix included) left after module {@code module} of a forward that started with {@code n0}. */
    public int keptAfter(int module, int n0) {
        if (module < 0 || r == 0) {
            return n0;
        }
        int left = n0 - (r * (module + 1) + 1);
        return multiple > 1 ? Math.floorDiv(left, multiple) * multiple : left;
    }

    /** Tokens module {@code module} prunes in a forward that started with {@code n0} tokens. */
    public int pruned(int module, int n0) {
        return keptAfter(module - 1, n0) - keptAfter(module, n0);
    }

    /** Checks that the schedule leaves at least one patch in every module of {@code c}. */
    public void validate(String spec, VitConfig c) {
        int last = lastModule(c.depth());
        if (last < 0) {
            throw new VitrimException("reducer '" + spec + "': " + c.depth() + " blocks leave no room for pruning "
                    + "modules" + (llf ? " with llf=true (needs at least 3 blocks)" : " (needs at least 2 blocks)"));
        }
        int n0 = c.tokens();
        int left = keptAfter(last, n0);
        if (left < c.prefixTokens() + 1) {
            int maxR = Math.max(0, (c.numPatches() - 2) / (last + 1));
            throw new VitrimException("reducer '" + spec + "': R=" + r + (multiple > 1 ? ", multiple=" + multiple : "")
                    + " prunes " + (n0 - left) + " tokens over " + (last + 1) + " modules but the model has only "
                    + c.numPatches() + " patches (choose R <= " + maxR + ")");
        }
    }

    /** {@link TokenReducer#countAfterBlock} for this schedule. */
    public int countAfterBlock(VitConfig c, int block, int n, int[] stash) {
        if (!prunesAfter(c.depth(), block)) {
            return n;
        }
        int p = pruned(block, c.tokens());
        stash[0] += llf ? p : 0;
        return n - p;
    }

    /** The spec parameters, e.g. {@code R=8,llf=true} (multiple only when it rounds). */
    String params() {
        return "R=" + r + ",llf=" + llf + (multiple > 1 ? ",multiple=" + multiple : "");
    }
}
