package dev.vitrim.eval;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import java.util.List;

/**
 * The methods the demo and the accuracy table compare, at one cost: the unreduced model; attention-guided pruning
 * with the seed defaults ({@code attn}) and with per-image counts ({@code attn:mass=0.9}); and EViT, ToMe and random
 * pruning with the parameters whose MACs come closest to {@code attn}'s ({@link CostMatch}).
 */
public final class StandardMethods {
    /** attn with per-image counts: each image keeps the fewest patches holding 90% of the CLS attention. */
    public static final String ATTN_MASS = "attn:mass=0.9";
    /** The name of the {@link #ATTN_MASS} row. */
    public static final String ATTN_MASS_NAME = "attn mass=0.9";

    /** {@code attn} prunes after blocks 3 to depth-2: it needs 5 blocks to prune at all. */
    public static final int MIN_DEPTH = 5;

    private StandardMethods() {}

    /** The methods and what they were matched to. */
    public record Lineup(List<Comparison.Method> methods, long attnMacs, CostMatch.Match evit,
                         CostMatch.Match tome, CostMatch.Match random) {}

    /** The methods for an architecture of at least {@value #MIN_DEPTH} blocks. */
    public static Lineup of(VitConfig c) {
        if (c.depth() < MIN_DEPTH) {
            throw new VitrimException("the compared methods need at least " + MIN_DEPTH + " blocks (attn prunes after "
                    + "blocks 3 to depth-2), the model has " + c.depth());
        }
        TokenReducer attn = Reducers.parse("attn", c);
        long target = Macs.plan(c, attn).macs();
        CostMatch.Match evit = CostMatch.evit(c, target);
        CostMatch.Match tome = CostMatch.tome(c, target);
        CostMatch.Match random = CostMatch.random(c, target);
        List<Comparison.Method> methods = List.of(
                new Comparison.Method("none", Reducers.NONE),
                new Comparison.Method("attn", attn),
                new Comparison.Method(ATTN_MASS_NAME, Reducers.parse(ATTN_MASS, c)),
                new Comparison.Method("evit", evit.reducer()),
                new Comparison.Method("tome", tome.reducer()),
                new Comparison.Method("random", random.reducer()));
        return new Lineup(methods, target, evit, tome, random);
    }
}
