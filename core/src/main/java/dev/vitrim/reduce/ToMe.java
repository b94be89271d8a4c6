package dev.vitrim.reduce;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * ToMe token merging in every block, between the attention residual and the MLP: r tokens per block
 * (constant, a per-block list, or ToMe's decreasing schedule from 2r to 0), with proportional attention.
 */
public final class ToMe implements TokenReducer {
    @Override
    public boolean merges() {
        return true;
    }

    static final Set<String> KEYS = Set.of("r", "prop", "schedule");

    final int[] r; // one value (constant / decreasing) or one per block
    final boolean prop;
    final boolean decreasing;
    private final String specText;

    /** The spec as the user wrote it, for error messages. */
    final String given;

    ToMe(SpecParams p) {
        given = p.spec;
        r = p.ints("r", new int[] {13});
        prop = p.bool("prop", true);
        String schedule = p.string("schedule", "constant");
        if (!schedule.equals("constant") && !schedule.equals("decreasing")) {
            throw p.error("schedule=" + schedule + " (allowed: constant, decreasing)");
        }
        decreasing = schedule.equals("decreasing");
        if (decreasing && r.length != 1) {
            throw p.error("schedule=decreasing takes one r, got " + r.length);
        }
        for (int v : r) {
            if (v < 0) {
                throw p.error("r=" + v + " must be >= 0");
            }
        }
        specText = String.format(Locale.ROOT, "tome:r=%s,prop=%s%s",
                Arrays.stream(r).mapToObj(Integer::toString).collect(Collectors.joining("/")), prop,
                decreasing ? ",schedule=decreasing" : "");
    }

    @Override
    public String spec() {
        return specText;
    }

    /** The requested r of a block (before clamping to what the token count allows). */
    int requested(int block, int depth) {
        if (r.length > 1) {
            return r[block];
        }
        if (decreasing) { // ToMe's (r, -1) inflection: a linear ramp from 2r down to 0
            return (int) Math.rint(2.0 * r[0] * (depth - 1 - block) / Math.max(1, depth - 1));
        }
        return r[0];
    }

    @Override
    public void validate(VitConfig c) {
        if (r.length > 1 && r.length != c.depth()) {
            throw new VitrimException("reducer '" + given + "': a per-block r list needs " + c.depth()
                    + " values (one per block), got " + r.length);
        }
        int first = requested(0, c.depth());
        int max = BipartiteMerge.maxR(c.tokens(), c.prefixTokens());
        if (first > max) {
            throw new VitrimException("reducer '" + given + "': r=" + first + " is too large for " + c.tokens()
                    + " tokens (at most " + max + " can merge in one block)");
        }
    }

    @Override
    public int countAfterAttention(VitConfig c, int block, int n) {
        return n - Math.min(requested(block, c.depth()), BipartiteMerge.maxR(n, c.prefixTokens()));
    }

    @Override
    public long overheadMacs(VitConfig c, int block, int n) {
        long hd = c.headDim();
        long na = (n + 1) / 2;
        long nb = n / 2;
        long rr = Math.min(requested(block, c.depth()), BipartiteMerge.maxR(n, c.prefixTokens()));
        // mean keys, normalisation, A·Bᵀ similarities, size weighting, the one-hot accumulation
        return (long) n * c.heads() * hd + n * hd + na * nb * hd + (long) n * c.width() + nb * rr * (c.width() + 1);
    }

    @Override
    public Pass begin(ModelView model, Tokens initial) {
        VitConfig c = model.config();
        validate(c);
        return new Pass() {
            @Override
            public boolean needsKeySimilarity(int block) {
                return requested(block, c.depth()) > 0;
            }

            @Override
            public boolean proportionalAttention(int block) {
                return prop;
            }

            @Override
            public RowMerge mergeBeforeMlp(int block, Tokens t, AttentionView view) {
                int rr = requested(block, c.depth());
                if (rr <= 0) {
                    return null;
                }
                Reducers.requireUniform(t, "tome");
                return BipartiteMerge.plan(t, view.keySimilarity(), rr);
            }

            @Override
            public Tokens afterAttention(int block, Tokens t, AttentionView view) {
                RowMerge plan = mergeBeforeMlp(block, t, view);
                return plan == null ? t : plan.apply(t);
            }
        };
    }
}
