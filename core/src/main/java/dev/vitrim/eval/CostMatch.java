package dev.vitrim.eval;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Finds the parameters of a reduction method whose analytic cost ({@link Macs#plan}) comes closest to a target,
 * so methods can be compared at equal MACs. Candidates are tried in a fixed order and the first one with the
 * smallest distance wins, so the answer is deterministic.
 */
public final class CostMatch {
    /** Most pruning blocks tried in an {@code at=} list (EViT prunes in three). */
    static final int MAX_BLOCKS = 3;

    private CostMatch() {}

    /** The chosen reducer, its MACs per image and the target it was matched to. */
    public record Match(TokenReducer reducer, long macs, long target) {
        /** (macs - target) / target. */
        public double relativeError() {
            return (double) (macs - target) / target;
        }
    }

    /**
     * Random pruning on EViT's schedule at the target cost: {@code keep} from 0.99 down to 0.01 in steps of 0.01
     * and {@code at} any set of one to {@value #MAX_BLOCKS} blocks (fewer blocks first), seed 0.
     */
    public static Match random(VitConfig c, long targetMacs) {
        List<String> specs = new ArrayList<>();
        for (int[] at : blockSets(c.depth(), MAX_BLOCKS)) {
            for (int k = 99; k >= 1; k--) {
                specs.add(String.format(Locale.ROOT, "random:keep=%s,at=%s,seed=0", k / 100.0, join(at)));
            }
        }
        return closest(c, targetMacs, specs);
    }

    /**
     * EViT with the paper's keep rate 0.7 and fusion, pruning in the set of one to {@value #MAX_BLOCKS} blocks
     * whose cost is closest to the target.
     */
    public static Match evit(VitConfig c, long targetMacs) {
        List<String> specs = blockSets(c.depth(), MAX_BLOCKS).stream()
                .map(at -> "evit:keep=0.7,at=" + join(at) + ",fuse=true").collect(Collectors.toList());
        return closest(c, targetMacs, specs);
    }

    /** ToMe with proportional attention and the constant {@code r} (merges per block) closest to the target. */
    public static Match tome(VitConfig c, long targetMacs) {
        List<String> specs = IntStream.rangeClosed(1, c.numPatches() / 2).mapToObj(r -> "tome:r=" + r + ",prop=true")
                .collect(Collectors.toList());
        return closest(c, targetMacs, specs);
    }

    /** The first spec with the smallest distance to the target; specs the architecture rejects are skipped. */
    public static Match closest(VitConfig c, long targetMacs, List<String> specs) {
        Match best = null;
        for (String s : specs) {
            TokenReducer r;
            long macs;
            try {
                r = Reducers.parse(s, c);
                macs = Macs.plan(c, r).macs();
            } catch (VitrimException e) {
                continue;
            }
            if (best == null || Math.abs(macs - targetMacs) < Math.abs(best.macs() - targetMacs)) {
                best = new Match(r, macs, targetMacs);
            }
        }
        if (best == null) {
            throw new VitrimException(c.name() + ": no candidate spec fits this architecture (tried " + specs.size()
                    + ", e.g. '" + (specs.isEmpty() ? "" : specs.get(0)) + "')");
        }
        return best;
    }

    /** Every set of 1..max distinct blocks of 0..depth-1, ascending within a set; fewer blocks first. */
    static List<int[]> blockSets(int depth, int max) {
        List<int[]> out = new ArrayList<>();
        for (int size = 1; size <= Math.min(max, depth); size++) {
            addSets(out, new int[size], 0, 0, depth);
        }
        return out;
    }

    private static void addSets(List<int[]> out, int[] cur, int pos, int from, int depth) {
        if (pos == cur.length) {
            out.add(cur.clone());
            return;
        }
        for (int b = from; b < depth; b++) {
            cur[pos] = b;
            addSets(out, cur, pos + 1, b + 1, depth);
        }
    }

    private static String join(int[] at) {
        return IntStream.of(at).mapToObj(Integer::toString).collect(Collectors.joining("/"));
    }
}
