package dev.vitrim.onnx;

import ai.djl.ndarray.NDArray;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.reduce.AttentionPruning;
import dev.vitrim.reduce.Cropr;
import dev.vitrim.reduce.CroprSchedule;
import dev.vitrim.reduce.EVit;
import dev.vitrim.reduce.RandomPruning;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.ToMe;
import dev.vitrim.reduce.TokenReducer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The reducers as graph operators, one {@link Step} per reducer of a spec (several joined with {@code +} run in order
 * at every hook, as in vitrim). Token counts come from the reducers' own count methods, so the graph prunes exactly as
 * many tokens as vitrim; which tokens is decided in the graph the way vitrim decides it:
 * <ul>
 *   <li>{@code evit}: TopK of the CLS row (averaged over heads) over the patches, GatherElements of the kept ones;
 *       the fused token Σ score·x of the dropped ones is one MatMul with a one-hot membership mask;</li>
 *   <li>{@code attn} (without {@code mass}): the CLS row renormalised over the patches, averaged over the last
 *       {@code avg} blocks (the history is gathered along with the tokens), TopK;</li>
 *   <li>{@code cropr}: scores = tokens · the summed learned queries of the module (an initializer), a full TopK sort,
 *       the lowest pruned and, with Last Layer Fusion, stashed and concatenated back before the last block;</li>
 *   <li>{@code random}: its scores depend on the seed alone, so the kept rows are computed here exactly as vitrim draws
 *       them and written as constant Gather indices;</li>
 *   <li>{@code tome}: bipartite matching as ReduceMax/ArgMax/TopK, and the size-weighted merge as a one-hot assignment
 *       [B,⌊N/2⌋,r] multiplied into the sources (MatMul), no ScatterElements with reduction: TensorRT rejects those,
 *       and the one-hot product also runs on opsets before 16. Proportional attention adds log(size) to the logits.</li>
 * </ul>
 */
final class ReducerSteps {
    private ReducerSteps() {}

    /** One reducer's hooks in the graph, the counterpart of {@code TokenReducer.Pass}. */
    interface Step {
        default boolean proportionalAttention() {
            return false;
        }

        default State afterAttention(int block, State t, OnnxExport.View view) {
            return t;
        }

        default State afterBlock(int block, State t) {
            return t;
        }

        default State beforeLastBlock(State t) {
            return t;
        }
    }

    /** The steps of a reducer (a chain gives one per part). */
    static List<Step> of(TokenReducer reducer, OnnxExport.Writer w) {
        List<Step> out = new ArrayList<>();
        String spec = reducer.spec();
        if (spec.equals("none")) {
            return out;
        }
        if (reducer.perImageCounts()) {
            throw new VitrimException("--reduce '" + spec + "': per-image token counts (attn with mass) cannot be "
                    + "exported: an ONNX graph has one token count per block for the whole batch. Export attn without "
                    + "mass (the schedule's counts), or run this reducer in vitrim");
        }
        for (String part : spec.split("\\+")) {
            // a canonical spec names EViT's default blocks "at=default", which the parser does not take back
            part = part.replace(",at=default", "").replace("at=default,", "");
            TokenReducer r = Reducers.parse(part);
            Map<String, String> p = params(part);
            if (r instanceof EVit) {
                out.add(new EvitStep(w, r, Boolean.parseBoolean(p.get("fuse"))));
            } else if (r instanceof AttentionPruning) {
                out.add(new AttnStep(w, r, Integer.parseInt(p.get("start")), Integer.parseInt(p.get("avg"))));
            } else if (r instanceof Cropr cropr) {
                out.add(new CroprStep(w, cropr));
            } else if (r instanceof ToMe) {
                out.add(new ToMeStep(w, r, Boolean.parseBoolean(p.get("prop"))));
            } else if (r instanceof RandomPruning) {
                out.add(new RandomStep(w, r, Long.parseLong(p.get("seed")), p.containsKey("r"),
                        Boolean.parseBoolean(p.getOrDefault("llf", "false"))));
            } else if (!part.equals("none")) {
                throw new VitrimException("--reduce '" + spec + "': '" + part + "' has no ONNX export");
            }
        }
        return out;
    }

    /** The parameters of one canonical spec, keys in lower case. */
    static Map<String, String> params(String spec) {
        Map<String, String> out = new LinkedHashMap<>();
        int colon = spec.indexOf(':');
        if (colon < 0) {
            return out;
        }
        for (String kv : spec.substring(colon + 1).split(",")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                out.put(kv.substring(0, eq).trim().toLowerCase(Locale.ROOT), kv.substring(eq + 1).trim());
            }
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ EViT

    /** EViT: keep the most attended patches between attention and MLP; the rest fused into one token. */
    static final class EvitStep implements Step {
        final OnnxExport.Writer w;
        final TokenReducer r;
        final boolean fuse;

        EvitStep(OnnxExport.Writer w, TokenReducer r, boolean fuse) {
            this.w = w;
            this.r = r;
            this.fuse = fuse;
        }

        @Override
        public State afterAttention(int block, State t, OnnxExport.View view) {
            int after = r.countAfterAttention(w.c, block, t.n());
            if (after == t.n()) {
                return t;
            }
            Graph g = w.g;
            int p = w.prefix;
            int m = t.n() - p;
            int k = after - p - (fuse ? 1 : 0);
            String clsP = g.slice(view.cls(w, t, block), 1, p, t.n()); // [B,M]
            String idx = g.topK(clsP, k, true)[1];
            w.dropped = true;
            State kept = w.keep(t, idx, k);
            if (!fuse) {
                return kept;
            }
            String dropped = g.sub(g.scalar(1f), w.membership(idx, m)); // [B,M]
            String weights = g.unsqueeze(g.mul(clsP, dropped), 1); // [B,1,M]
            String fused = g.matMul(weights, g.slice(t.x(), 1, p, t.n())); // [B,1,D]
            String pos = g.concat(1, kept.pos(), g.filledLong(w.batchAnd(1), -1));
            String sizes = t.sizes() == null ? null : g.concat(1, kept.sizes(),
                    g.reduceSum(g.mul(g.slice(t.sizes(), 1, p, t.n()), dropped), true, 1));
            return kept.with(g.concat(1, kept.x(), fused), sizes, pos, after);
        }
    }

    // ------------------------------------------------------------------------------------------------ attn

    /**
     * Attention-guided pruning at the schedule's counts: importance = CLS attention renormalised over the patches,
     * averaged over the last {@code avg} blocks; after each pruning block keep the top ones.
     */
    static final class AttnStep implements Step {
        final OnnxExport.Writer w;
        final TokenReducer r;
        final int start;
        final int avg;
        final int lastPrune;
        final Deque<String> history = new ArrayDeque<>(); // [B,M] each, oldest first
        int historyPatches = -1;

        AttnStep(OnnxExport.Writer w, TokenReducer r, int start, int avg) {
            this.w = w;
            this.r = r;
            this.start = start;
            this.avg = avg;
            // the last block after which the schedule prunes: importance recorded later changes nothing
            VitConfig c = w.c;
            int n = c.tokens();
            int last = -1;
            int[] stash = new int[1];
            for (int i = 0; i < c.depth(); i++) {
                n = r.countAfterAttention(c, i, n);
                int after = r.countAfterBlock(c, i, n, stash);
                if (after != n) {
                    last = i;
                }
                n = after;
            }
            this.lastPrune = last;
        }

        @Override
        public State afterAttention(int block, State t, OnnxExport.View view) {
            if (block < start - avg + 1 || block > w.c.depth() - 2 || block > lastPrune) {
                return t;
            }
            Graph g = w.g;
            String clsP = g.slice(view.cls(w, t, block), 1, w.prefix, t.n());
            history.addLast(g.div(clsP, g.reduceSum(clsP, true, 1)));
            historyPatches = t.n() - w.prefix;
            if (history.size() > avg) {
                history.removeFirst();
            }
            return t;
        }

        @Override
        public State afterBlock(int block, State t) {
            int after = r.countAfterBlock(w.c, block, t.n(), new int[1]);
            if (after == t.n()) {
                return t;
            }
            Graph g = w.g;
            int m = t.n() - w.prefix;
            if (historyPatches != m) {
                throw new VitrimException("--reduce '" + r.spec() + "': another reducer changed the tokens of block "
                        + block + " after attention; attn needs blocks of its own (e.g. tome:r=0/0/.../8)");
            }
            String score = null;
            for (String h : history) {
                score = score == null ? h : g.add(score, h);
            }
            score = g.div(score, g.scalar(history.size()));
            int k = after - w.prefix;
            String idx = g.topK(score, k, true)[1];
            Deque<String> kept = new ArrayDeque<>();
            for (String h : history) {
                kept.addLast(g.gatherElements(h, idx, 1));
            }
            history.clear();
            history.addAll(kept);
            historyPatches = k;
            w.dropped = true;
            return w.keep(t, idx, k);
        }
    }

    // ------------------------------------------------------------------------------------------------ Cropr

    /** Token Cropr: learned queries score the tokens after each module's block; the lowest are pruned. */
    static final class CroprStep implements Step {
        final OnnxExport.Writer w;
        final Cropr r;
        final CroprSchedule schedule;
        final boolean invert;

        CroprStep(OnnxExport.Writer w, Cropr r) {
            this.w = w;
            this.r = r;
            this.schedule = r.schedule();
            this.invert = r.inverted();
        }

        /** Module {@code i}'s queries summed over the query axis, [D]. */
        String queries(int i) {
            String name = Cropr.queryName(i);
            NDArray q = w.vit.extra(name);
            int d = w.d;
            if (q == null) {
                throw new VitrimException("reducer '" + r.spec() + "': the checkpoint has no Cropr queries for module "
                        + i + " ('" + name + "'); train them with `vitrim train --reduce cropr` or use a Cropr checkpoint");
            }
            long[] s = q.getShape().getShape();
            if (s.length != 3 || s[0] != 1 || s[2] != d || s[1] < 1) {
                throw new VitrimException("tensor '" + name + "' has shape " + Arrays.toString(s) + ", expected [1, queries, "
                        + d + "]");
            }
            float[] v = q.toFloatArray();
            float[] sum = new float[d];
            for (int j = 0; j < s[1]; j++) {
                for (int k = 0; k < d; k++) {
                    sum[k] += v[j * d + k];
                }
            }
            return w.g.init(name + ".sum", sum, d);
        }

        @Override
        public State afterBlock(int block, State t) {
            if (!schedule.prunesAfter(w.c.depth(), block)) {
                return t;
            }
            int pruned = t.n() - r.countAfterBlock(w.c, block, t.n(), new int[1]);
            Graph g = w.g;
            int m = t.n() - w.prefix;
            String scores = g.slice(g.matMul(t.x(), queries(block)), 1, w.prefix, t.n()); // [B,M]
            if (invert) {
                scores = g.neg(scores);
            }
            int k = m - pruned;
            String order = g.topK(scores, m, true)[1]; // highest first
            String keepIdx = g.slice(order, 1, 0, k);
            State kept = w.keep(t, keepIdx, k);
            if (!schedule.llf()) {
                w.dropped = true;
                return kept;
            }
            List<State.Stashed> stash = new ArrayList<>(t.stash());
            stash.add(w.patchRows(t, g.slice(order, 1, k, m), pruned));
            return new State(kept.x(), kept.sizes(), kept.pos(), kept.n(), stash);
        }

        @Override
        public State beforeLastBlock(State t) {
            return schedule.llf() ? w.rejoin(t) : t;
        }
    }

    // ------------------------------------------------------------------------------------------------ random

    /**
     * Random pruning: the scores are drawn from the seed and the block alone (the same for every image), so the kept
     * and pruned rows are known now; they become constant Gather indices. The draw is vitrim's
     * ({@code new Random(seed·1000003 + block)}, one float per patch); ties, which a float draw makes all but
     * impossible, are refused rather than guessed.
     */
    static final class RandomStep implements Step {
        final OnnxExport.Writer w;
        final TokenReducer r;
        final long seed;
        final boolean croprSchedule;
        final boolean llf;

        RandomStep(OnnxExport.Writer w, TokenReducer r, long seed, boolean croprSchedule, boolean llf) {
            this.w = w;
            this.r = r;
            this.seed = seed;
            this.croprSchedule = croprSchedule;
            this.llf = llf;
        }

        /** Patch indices by descending score for a block (the order vitrim's sort gives). */
        int[] order(int block, int m) {
            Random rng = new Random(seed * 1_000_003L + block);
            float[] s = new float[m];
            for (int i = 0; i < m; i++) {
                s[i] = rng.nextFloat();
            }
            Integer[] idx = new Integer[m];
            for (int i = 0; i < m; i++) {
                idx[i] = i;
            }
            Arrays.sort(idx, (a, b) -> Float.compare(s[b], s[a]));
            for (int i = 1; i < m; i++) {
                if (s[idx[i]] == s[idx[i - 1]]) {
                    throw new VitrimException("--reduce '" + r.spec() + "': two random scores of block " + block
                            + " are equal, so the kept set is not determined; choose another seed");
                }
            }
            int[] out = new int[m];
            for (int i = 0; i < m; i++) {
                out[i] = idx[i];
            }
            return out;
        }

        long[] rows(int[] order, int from, int to, boolean withPrefix) {
            int p = w.prefix;
            int pre = withPrefix ? p : 0;
            long[] rows = new long[pre + to - from];
            for (int i = 0; i < pre; i++) {
                rows[i] = i;
            }
            for (int i = from; i < to; i++) {
                rows[pre + i - from] = p + order[i];
            }
            return rows;
        }

        @Override
        public State afterAttention(int block, State t, OnnxExport.View view) {
            if (croprSchedule) {
                return t;
            }
            int after = r.countAfterAttention(w.c, block, t.n());
            if (after == t.n()) {
                return t;
            }
            int[] order = order(block, t.n() - w.prefix);
            w.dropped = true;
            return w.fixedRows(t, rows(order, 0, after - w.prefix, true));
        }

        @Override
        public State afterBlock(int block, State t) {
            if (!croprSchedule) {
                return t;
            }
            int after = r.countAfterBlock(w.c, block, t.n(), new int[1]);
            if (after == t.n()) {
                return t;
            }
            int m = t.n() - w.prefix;
            int k = after - w.prefix;
            int[] order = order(block, m);
            State kept = w.fixedRows(t, rows(order, 0, k, true));
            if (!llf) {
                w.dropped = true;
                return kept;
            }
            List<State.Stashed> stash = new ArrayList<>(t.stash());
            stash.add(w.fixedStash(t, rows(order, k, m, false)));
            return new State(kept.x(), kept.sizes(), kept.pos(), kept.n(), stash);
        }

        @Override
        public State beforeLastBlock(State t) {
            return croprSchedule && llf ? w.rejoin(t) : t;
        }
    }

    // ------------------------------------------------------------------------------------------------ ToMe

    /**
     * ToMe: bipartite soft matching of the mean keys, the r best-matched even tokens merged into their odd matches
     * with a size-weighted average. Output order as vitrim's: the prefix tokens in index order, then the other
     * unmerged even tokens in index order, then the other odd ones.
     */
    static final class ToMeStep implements Step {
        final OnnxExport.Writer w;
        final TokenReducer r;
        final boolean prop;

        ToMeStep(OnnxExport.Writer w, TokenReducer r, boolean prop) {
            this.w = w;
            this.r = r;
            this.prop = prop;
        }

        @Override
        public boolean proportionalAttention() {
            return prop;
        }

        @Override
        public State afterAttention(int block, State t, OnnxExport.View view) {
            int n = t.n();
            int rr = n - r.countAfterAttention(w.c, block, n);
            if (rr <= 0) {
                return t;
            }
            Graph g = w.g;
            int p = w.prefix;
            int d = w.d;
            int na = (n + 1) / 2;
            int nb = n / 2;
            String sim = view.similarity(w, t, block); // [B,na,nb]
            if (p > 0) { // a prefix token never leaves (its A row) nor receives (its B column)
                float[] mask = new float[na * nb];
                for (int a = 0; a < na; a++) {
                    for (int j = 0; j < nb; j++) {
                        if (2 * a < p || j < p / 2) {
                            mask[a * nb + j] = Float.NEGATIVE_INFINITY;
                        }
                    }
                }
                sim = g.add(sim, g.floatsConst(mask, na, nb));
            }
            String best = g.reduceMax(sim, false, 2); // [B,na]
            String match = g.argMax(sim, 2, false); // [B,na], the first of equal maxima
            String src = g.topK(best, rr, true)[1]; // [B,r], best first; equal scores: lower index first
            // the unmerged A tokens in index order: the smallest keys index + na·taken
            float[] ar = new float[na];
            for (int i = 0; i < na; i++) {
                ar[i] = i;
            }
            String key = g.add(g.mul(w.membership(src, na), g.scalar(na)), g.floatsConst(ar, na));
            String unm = g.cast(g.topK(key, na - rr, false)[0], Graph.INT64); // [B,na-r]
            String dst = g.gatherElements(match, src, 1); // [B,r]

            String xa = g.slice(t.x(), 1, 0, n, 2);
            String xb = g.slice(t.x(), 1, 1, n, 2);
            String pa = g.slice(t.pos(), 1, 0, n, 2);
            String pb = g.slice(t.pos(), 1, 1, n, 2);
            String sizes = t.sizes() != null ? t.sizes() : g.filled(w.batchAnd(n), 1f);
            String sa = g.slice(sizes, 1, 0, n, 2);
            String sb = g.slice(sizes, 1, 1, n, 2);
            String wideUnm = g.expand(g.unsqueeze(unm, 2), g.ints(1, 1, d));
            String wideSrc = g.expand(g.unsqueeze(src, 2), g.ints(1, 1, d));
            String unmX = g.gatherElements(xa, wideUnm, 1);
            String unmS = g.gatherElements(sa, unm, 1);
            String unmP = g.gatherElements(pa, unm, 1);
            String srcX = g.gatherElements(xa, wideSrc, 1); // [B,r,D]
            String srcS = g.unsqueeze(g.gatherElements(sa, src, 1), 2); // [B,r,1]
            // the assignment of sources to destinations as a one-hot [B,nb,r]: merging is two matrix products
            String assign = g.transpose(g.cast(g.equal(g.unsqueeze(dst, 2), w.arange(nb)), Graph.FLOAT), 0, 2, 1);
            String total = g.add(sb, g.squeeze(g.matMul(assign, srcS), 2)); // [B,nb]
            String sum = g.add(g.mul(g.unsqueeze(sb, 2), xb), g.matMul(assign, g.mul(srcS, srcX)));
            String merged = g.div(sum, g.unsqueeze(total, 2));
            int keep = na - rr;
            State out = t.with(prefixFirst(g, unmX, merged, keep, nb, p), prefixFirst(g, unmS, total, keep, nb, p),
                    prefixFirst(g, unmP, pb, keep, nb, p), n - rr);
            if (t.owner() == null) {
                return out;
            }
            // where each row went: an unmerged A token to the row of its rank among the unmerged, a merged one to its
            // match's row, B token j to its row; the original tokens follow the rows that held them
            int prefixA = (p + 1) / 2;
            int prefixB = p / 2;
            String taken = w.membership(src, na);
            String rank = g.sub(g.node("CumSum", java.util.List.of(g.sub(g.scalar(1f), taken), g.scalarLong(1))), g.scalar(1f));
            String aRow = g.node("Where", java.util.List.of(g.less(rank, g.scalar(prefixA)), g.mul(rank, g.scalar(2f)),
                    g.add(rank, g.scalar(p - prefixA))));
            String matchF = g.cast(match, Graph.FLOAT);
            String toMatch = g.node("Where", java.util.List.of(g.less(matchF, g.scalar(prefixB)),
                    g.add(g.mul(matchF, g.scalar(2f)), g.scalar(1f)), g.add(matchF, g.scalar(p + keep - prefixA - prefixB))));
            String newA = g.cast(g.node("Where", java.util.List.of(g.cast(taken, Graph.BOOL), toMatch, aRow)), Graph.INT64);
            long[] bRows = new long[na];
            for (int j = 0; j < na; j++) {
                int jj = Math.min(j, nb - 1); // a padding column when n is odd, sliced off below
                bRows[j] = jj < prefixB ? 2L * jj + 1 : p + keep - prefixA + jj - prefixB;
            }
            String newB = g.constLongs(bRows, na);
            String pairs = g.concat(2, g.unsqueeze(newA, 2), g.expand(g.unsqueeze(newB, 0, 2), w.batchAnd(na, 1)));
            String newRow = g.slice(g.reshape(pairs, 0, 2L * na), 1, 0, n); // row i of the input: pairs[i/2][i%2]
            return out.withOwner(g.gatherElements(newRow, t.owner(), 1));
        }

        /**
         * The merged tokens in vitrim's order: prefix token i (A row i/2 when i is even, B row i/2 when odd) first,
         * then the other {@code a} rows, then the other {@code b} rows ([B,keep,…] and [B,nb,…]).
         */
        private static String prefixFirst(Graph g, String a, String b, int keep, int nb, int p) {
            if (p <= 1) {
                return g.concat(1, a, b);
            }
            List<String> parts = new ArrayList<>();
            for (int i = 0; i < p; i++) {
                parts.add(g.slice(i % 2 == 0 ? a : b, 1, i / 2, i / 2 + 1));
            }
            parts.add(g.slice(a, 1, (p + 1) / 2, keep));
            parts.add(g.slice(b, 1, p / 2, nb));
            return g.concat(1, parts.toArray(new String[0]));
        }
    }
}
