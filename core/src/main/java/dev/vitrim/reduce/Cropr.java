package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import java.util.Set;

/**
 * Token Cropr at inference (Bergner et al., CVPR 2025): after block i a module scores every token by its dot
 * product with the pre-summed learned queries of that module and prunes the R lowest (R+1 at the first
 * module); with Last Layer Fusion the pruned tokens are stashed and re-join before the last block. Modules
 * sit after blocks 0…L−3 with LLF and 0…L−2 without. The scorer is one matrix–vector product per module.
 */
public final class Cropr implements TokenReducer {
    static final Set<String> KEYS = Set.of("r", "llf", "multiple", "invert", "ramp", "qstd");

    final CroprSchedule schedule;
    final boolean invert;
    final boolean ramp;
    final double queryStd;

    /** The spec as the user wrote it, for error messages. */
    final String given;

    /** Training only: the default {@code qstd}. */
    public static final double DEFAULT_QUERY_STD = 0.02;

    Cropr(SpecParams p) {
        given = p.spec;
        int r = p.integer("r", 8);
        int multiple = p.integer("multiple", 1);
        if (r < 0) {
            throw p.error("R=" + r + " must be >= 0");
        }
        if (multiple < 1) {
            throw p.error("multiple=" + multiple + " must be >= 1");
        }
        schedule = new CroprSchedule(r, p.bool("llf", true), multiple);
        invert = p.bool("invert", false);
        ramp = p.bool("ramp", false);
        queryStd = p.dbl("qstd", DEFAULT_QUERY_STD);
        if (!(queryStd > 0) || Double.isInfinite(queryStd)) {
            throw p.error("qstd=" + queryStd + " must be a positive number");
        }
    }

    /** The pruning schedule. */
    public CroprSchedule schedule() {
        return schedule;
    }

    /** Whether the scorer is inverted: the least relevant tokens are kept (the paper's ablation). */
    public boolean inverted() {
        return invert;
    }

    /** Training only: R grows from 0 to its value over the first half of training. */
    public boolean ramp() {
        return ramp;
    }

    /**
     * Training only: the standard deviation the fresh queries are drawn with (clamped at two of them). The
     * default is timm's for linear layers; the authors' code draws them with D^-1/2 (REFERENCE §1.2), which on
     * Fashion-MNIST trained worse (README, "Learned pruning"), so it is an option, not the default.
     */
    public double queryStd() {
        return queryStd;
    }

    /** The canonical spec; training's {@code ramp} and {@code qstd} are left out (inference has no use for it). */
    @Override
    public String spec() {
        return "cropr:" + schedule.params() + (invert ? ",invert=true" : "");
    }

    @Override
    public void validate(VitConfig c) {
        schedule.validate(given, c);
    }

    @Override
    public int countAfterBlock(VitConfig c, int block, int n, int[] stash) {
        return schedule.countAfterBlock(c, block, n, stash);
    }

    @Override
    public int countBeforeLastBlock(VitConfig c, int n, int[] stash) {
        return n + stash[0];
    }

    @Override
    public long overheadMacs(VitConfig c, int block, int n) {
        return schedule.prunesAfter(c.depth(), block) ? (long) n * c.width() : 0;
    }

    @Override
    public Pass begin(ModelView model, Tokens initial) {
        VitConfig c = model.config();
        validate(c);
        int last = schedule.lastModule(c.depth());
        NDArray[] queries = new NDArray[last + 1];
        for (int i = 0; i <= last && schedule.r() > 0; i++) {
            queries[i] = summedQueries(model, i);
            if (queries[i] == null) {
                throw new VitrimException("reducer '" + given + "': the checkpoint has no Cropr queries for module "
                        + i + " ('" + queryName(i) + "'); train them with `vitrim train --reduce cropr` "
                        + "or use a Cropr checkpoint");
            }
        }
        int n0 = initial.count();
        return new Pass() {
            @Override
            public Tokens afterBlock(int block, Tokens t) {
                if (!schedule.prunesAfter(c.depth(), block)) {
                    return t;
                }
                Reducers.requireUniform(t, "cropr");
                // scored on all tokens, then sliced: slicing x first would copy [B,M,D] before the product
                NDArray scores = t.x.matMul(queries[block]).squeeze(2).get(new NDIndex(":, {}:", t.prefix)); // [B,M]
                return pruneLowest(t, invert ? scores.neg() : scores, schedule.pruned(block, n0), schedule.llf());
            }

            @Override
            public Tokens beforeLastBlock(Tokens t) {
                return schedule.llf() ? t.rejoinStash() : t;
            }
        };
    }

    /** The file name of module {@code i}'s queries, [1, q, D]. */
    public static String queryName(int i) {
        return "cropr." + i + ".cross_attn.queries";
    }

    /** The query names of a module after every block but the last. */
    public static java.util.List<String> queryNames(VitConfig c) {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < c.depth() - 1; i++) {
            out.add(queryName(i));
        }
        return out;
    }

    /** Whether a model holds the queries of module 0 (a checkpoint trained with Cropr). */
    public static boolean hasQueries(ModelView model) {
        return model.extra(queryName(0)) != null;
    }

    /**
     * Module {@code i}'s queries summed over the query axis once, as [D,1] (scoring is then one matrix-vector
     * product), or null when the model has none. A tensor of the wrong shape is an error naming it.
     */
    static NDArray summedQueries(ModelView model, int i) {
        String name = queryName(i);
        NDArray q = model.extra(name);
        if (q == null) {
            return null;
        }
        long[] s = q.getShape().getShape();
        int d = model.config().width();
        if (s.length != 3 || s[0] != 1 || s[2] != d || s[1] < 1) {
            throw new VitrimException("tensor '" + name + "' has shape " + java.util.Arrays.toString(s)
                    + ", expected [1, queries, " + d + "]");
        }
        return model.derived(name + "#sum", m -> q.sum(new int[] {1}).reshape(d, 1));
    }

    /** Keeps all but the {@code p} lowest-scoring patches; stashes those when {@code stash}. */
    public static Tokens pruneLowest(Tokens t, NDArray scores, int p, boolean stash) {
        int m = t.patches();
        int b = t.batch();
        int k = m - p;
        long[] order = scores.argSort(-1, false).toLongArray(); // [B,M], highest first
        long[] keep = new long[b * k];
        long[] gone = new long[b * p];
        for (int i = 0; i < b; i++) {
            System.arraycopy(order, i * m, keep, i * k, k);
            System.arraycopy(order, i * m + k, gone, i * p, p);
        }
        Tokens kept = t.keepPatches(keep, k);
        return stash ? t.stashing(gone, p, kept) : kept;
    }
}
