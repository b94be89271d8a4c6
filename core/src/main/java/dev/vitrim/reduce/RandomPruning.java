package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.arch.VitConfig;
import java.util.Random;
import java.util.Set;

/**
 * The control every learned method must beat: prune at random on EViT's schedule ({@code keep, at}) or on
 * Cropr's ({@code R, llf}). Scores come from a seeded generator per block, identical for every image, so a
 * batch gives each image what it would get alone. Needs nothing from attention.
 */
public final class RandomPruning implements TokenReducer {
    static final Set<String> KEYS = Set.of("keep", "at", "r", "llf", "multiple", "seed");

    final EVit evitSchedule; // null when on Cropr's schedule
    final CroprSchedule schedule; // null when on EViT's schedule
    final long seed;

    /** The spec as the user wrote it, for error messages. */
    final String given;

    RandomPruning(SpecParams p) {
        given = p.spec;
        boolean cropr = p.has("r") || p.has("llf") || p.has("multiple");
        if (cropr && (p.has("keep") || p.has("at"))) {
            throw p.error("choose one schedule: keep/at (EViT's) or R/llf/multiple (Cropr's)");
        }
        evitSchedule = cropr ? null : new EVit(new SpecParams(p.spec, "random", paramsFor(p), EVit.KEYS));
        int r = p.integer("r", 8);
        int multiple = p.integer("multiple", 1);
        if (r < 0 || multiple < 1) {
            throw p.error(r < 0 ? "R=" + r + " must be >= 0" : "multiple=" + multiple + " must be >= 1");
        }
        schedule = cropr ? new CroprSchedule(r, p.bool("llf", true), multiple) : null;
        seed = p.lng("seed", 0);
    }

    private static String paramsFor(SpecParams p) {
        StringBuilder sb = new StringBuilder("fuse=false");
        if (p.has("keep")) {
            sb.append(",keep=").append(p.string("keep", ""));
        }
        if (p.has("at")) {
            sb.append(",at=").append(p.string("at", ""));
        }
        return sb.toString();
    }

    @Override
    public String spec() {
        if (evitSchedule != null) {
            return evitSchedule.spec().replace("evit:", "random:").replace(",fuse=false", "") + ",seed=" + seed;
        }
        return "random:" + schedule.params() + ",seed=" + seed;
    }

    @Override
    public void validate(VitConfig c) {
        if (evitSchedule != null) {
            evitSchedule.validate(c);
        } else {
            schedule.validate(given, c);
        }
    }

    @Override
    public int countAfterAttention(VitConfig c, int block, int n) {
        return evitSchedule != null ? evitSchedule.countAfterAttention(c, block, n) : n;
    }

    @Override
    public int countAfterBlock(VitConfig c, int block, int n, int[] stash) {
        return schedule == null ? n : schedule.countAfterBlock(c, block, n, stash);
    }

    @Override
    public int countBeforeLastBlock(VitConfig c, int n, int[] stash) {
        return n + stash[0];
    }

    /** Random scores for {@code m} patches at {@code block}, the same for every image. */
    NDArray scores(Tokens t, int block, int m) {
        Random rng = new Random(seed * 1_000_003L + block);
        float[] s = new float[m];
        for (int i = 0; i < m; i++) {
            s[i] = rng.nextFloat();
        }
        return t.x.getManager().create(s, new Shape(1, m)).repeat(0, t.batch());
    }

    @Override
    public Pass begin(ModelView model, Tokens initial) {
        VitConfig c = model.config();
        validate(c);
        int n0 = initial.count();
        return new Pass() {
            @Override
            public Tokens afterAttention(int block, Tokens t, AttentionView view) {
                if (evitSchedule == null || !evitSchedule.prunesAt(c, block)) {
                    return t;
                }
                Reducers.requireUniform(t, "random");
                int m = t.patches();
                NDArray idx = scores(t, block, m).topK(evitSchedule.left(m), 1, true, true).get(1);
                return t.keepPatches(idx);
            }

            @Override
            public Tokens afterBlock(int block, Tokens t) {
                if (schedule == null || !schedule.prunesAfter(c.depth(), block)) {
                    return t;
                }
                Reducers.requireUniform(t, "random");
                return Cropr.pruneLowest(t, scores(t, block, t.patches()), schedule.pruned(block, n0), schedule.llf());
            }

            @Override
            public Tokens beforeLastBlock(Tokens t) {
                return schedule != null && schedule.llf() ? t.rejoinStash() : t;
            }
        };
    }
}
