package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import dev.vitrim.VitrimException;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.model.VitConfig;
import java.util.Locale;
import java.util.Set;

/**
 * Token Cropr at inference (Bergner et al., CVPR 2025): after block i a module scores every token by its dot
 * product with the pre-summed learned queries of that module and prunes the R lowest (R+1 at the first
 * module); with Last Layer Fusion the pruned tokens are stashed and re-join before the last block. Modules
 * sit after blocks 0…L−3 with LLF and 0…L−2 without. The scorer is one matrix–vector product per module.
 */
public final class Cropr implements TokenReducer {
    static final Set<String> KEYS = Set.of("r", "llf");

    final int r;
    final boolean llf;

    /** The spec as the user wrote it, for error messages. */
    final String given;

    Cropr(SpecParams p) {
        given = p.spec;
        r = p.integer("r", 8);
        llf = p.bool("llf", true);
        if (r < 0) {
            throw p.error("R=" + r + " must be >= 0");
        }
    }

    /** The shared Cropr schedule (also used by the random control). */
    static int lastModule(int depth, boolean llf) {
        return llf ? depth - 3 : depth - 2;
    }

    static int pruned(int block, int r) {
        return r == 0 ? 0 : block == 0 ? r + 1 : r;
    }

    static void validateSchedule(String spec, VitConfig c, int r, boolean llf) {
        int last = lastModule(c.depth(), llf);
        if (last < 0) {
            throw new VitrimException("--reduce '" + spec + "': " + c.depth() + " blocks leave no room for pruning modules"
                    + (llf ? " with llf=true (needs at least 3 blocks)" : " (needs at least 2 blocks)"));
        }
        int total = 0;
        for (int i = 0; i <= last; i++) {
            total += pruned(i, r);
        }
        if (total >= c.numPatches()) {
            throw new VitrimException("--reduce '" + spec + "': R=" + r + " prunes " + total + " tokens over "
                    + (last + 1) + " modules but the model has only " + c.numPatches() + " patches (choose R <= "
                    + Math.max(0, (c.numPatches() - 2) / (last + 1)) + ")");
        }
    }

    @Override
    public String spec() {
        return String.format(Locale.ROOT, "cropr:R=%d,llf=%s", r, llf);
    }

    @Override
    public void validate(VitConfig c) {
        validateSchedule(given, c, r, llf);
    }

    @Override
    public int countAfterBlock(VitConfig c, int block, int n, int[] stash) {
        if (block > lastModule(c.depth(), llf)) {
            return n;
        }
        int p = pruned(block, r);
        stash[0] += llf ? p : 0;
        return n - p;
    }

    @Override
    public int countBeforeLastBlock(VitConfig c, int n, int[] stash) {
        return n + stash[0];
    }

    @Override
    public long overheadMacs(VitConfig c, int block, int n) {
        return block <= lastModule(c.depth(), llf) ? (long) n * c.width() : 0;
    }

    @Override
    public Pass begin(VisionTransformer model, Tokens initial) {
        VitConfig c = model.config();
        validate(c);
        int last = lastModule(c.depth(), llf);
        NDArray[] queries = new NDArray[last + 1];
        for (int i = 0; i <= last && r > 0; i++) {
            queries[i] = model.croprQuery(i);
            if (queries[i] == null) {
                throw new VitrimException("--reduce '" + given + "': the checkpoint has no Cropr queries for module "
                        + i + " ('cropr." + i + ".cross_attn.queries'); train them with `vitrim train --reduce cropr` "
                        + "or use a Cropr checkpoint");
            }
        }
        return new Pass() {
            @Override
            public Tokens afterBlock(int block, Tokens t) {
                if (block > last || r == 0) {
                    return t;
                }
                Reducers.requireUniform(t, "cropr");
                NDArray patches = t.x.get(new NDIndex(":, {}:, :", t.prefix));
                NDArray scores = patches.matMul(queries[block]).squeeze(2); // [B,M]
                return pruneLowest(t, scores, pruned(block, r), llf);
            }

            @Override
            public Tokens beforeLastBlock(Tokens t) {
                return llf ? t.rejoinStash() : t;
            }
        };
    }

    /** Keeps all but the {@code p} lowest-scoring patches; stashes those when {@code stash}. */
    public static Tokens pruneLowest(Tokens t, NDArray scores, int p, boolean stash) {
        int m = t.patches();
        NDArray order = scores.argSort(-1, false);
        Tokens kept = t.keepPatches(order.get(new NDIndex(":, :{}", m - p)));
        if (!stash) {
            return kept;
        }
        NDArray gone = order.get(new NDIndex(":, {}:", m - p)).add(t.prefix);
        return t.stashing(gone, kept);
    }
}
