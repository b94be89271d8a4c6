package dev.vitrim.reduce;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;

/**
 * A timing control, not a method: the token counts of another reducer's schedule with none of its work. Wherever
 * that reducer changes the count, this keeps the first patches (one gather, as a pruner does), and re-joins what it
 * set aside where the schedule does (Last Layer Fusion). Timed next to the reducer ({@code vitrim bench
 * --same-counts}), it splits a reducer's shortfall from its MAC ratio into what the engine loses on smaller matrices
 * (the counts alone) and what the reducer's own scoring, selection and merging cost.
 */
public final class SameCounts implements TokenReducer {
    private final TokenReducer of;
    private final Macs.Plan plan;
    private final boolean rejoins;

    /** The counts of {@code of} on architecture {@code c}; refused for reducers whose counts differ per image. */
    public SameCounts(TokenReducer of, VitConfig c) {
        if (of.perImageCounts()) {
            throw new VitrimException("same-counts control: '" + of.spec() + "' keeps a different number of tokens per "
                    + "image, so no fixed schedule has its counts");
        }
        this.of = of;
        this.plan = Macs.plan(c, of);
        int last = c.depth() - 1;
        this.rejoins = last > 0 && plan.attnTokens()[last] > plan.afterBlock()[last - 1];
    }

    @Override
    public String spec() {
        return "same-counts(" + of.spec() + ")";
    }

    @Override
    public void validate(VitConfig c) {
        of.validate(c);
    }

    @Override
    public int countAfterAttention(VitConfig c, int block, int n) {
        return of.countAfterAttention(c, block, n);
    }

    @Override
    public int countAfterBlock(VitConfig c, int block, int n, int[] stash) {
        return of.countAfterBlock(c, block, n, stash);
    }

    @Override
    public int countBeforeLastBlock(VitConfig c, int n, int[] stash) {
        return of.countBeforeLastBlock(c, n, stash);
    }

    @Override
    public Pass begin(ModelView model, Tokens initial) {
        int[] mlp = plan.mlpTokens();
        int[] after = plan.afterBlock();
        return new Pass() {
            @Override
            public Tokens afterAttention(int block, Tokens t, AttentionView view) {
                return to(t, mlp[block], false);
            }

            @Override
            public Tokens afterBlock(int block, Tokens t) {
                return to(t, after[block], rejoins);
            }

            @Override
            public Tokens beforeLastBlock(Tokens t) {
                return rejoins ? t.rejoinStash() : t;
            }
        };
    }

    /** The first {@code n - prefix} patches of {@code t} (the others stashed when {@code stash}); t when n is its count. */
    static Tokens to(Tokens t, int n, boolean stash) {
        int k = n - t.prefix;
        int m = t.patches();
        if (k >= m) {
            return t;
        }
        int b = t.batch();
        long[] keep = new long[b * k];
        long[] gone = new long[b * (m - k)];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < m; j++) {
                if (j < k) {
                    keep[i * k + j] = j;
                } else {
                    gone[i * (m - k) + j - k] = j;
                }
            }
        }
        Tokens kept = t.keepPatches(keep, k);
        return stash ? t.stashing(gone, m - k, kept) : kept;
    }
}
