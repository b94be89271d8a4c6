package dev.vitrim.reduce;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Parses reducer specs: {@code method:key=value,key=value}, several joined with {@code +} (applied in order),
 * {@code none} for the unreduced model. Block indices are 0-based; lists use {@code /}. The typed builders
 * ({@link #attn()}, {@link #evit()}, {@link #tome(int)}, {@link #cropr()}, {@link #random()}) write such a spec and
 * parse it.
 */
public final class Reducers {
    public static final String METHODS = "none, attn, evit, tome, cropr, random";

    /** Every method with an example spec, for help texts. */
    public static final String HELP =
            "  none%n"
            + "  attn:keep=0.8..0.4,start=3,min=0.2,avg=3[,mass=0.9 | ,llf=true]   (seed 000: CLS attention)%n"
            + "  evit:keep=0.7,at=3/6/9,fuse=true[,llf=true]%n"
            + "  tome:r=13,prop=true  |  tome:r=20/18/...  |  tome:r=16,schedule=decreasing%n"
            + "  cropr:R=8,llf=true[,multiple=8][,invert=true]   (learned queries)%n"
            + "  cropr   (the schedule the checkpoint was trained with)%n"
            + "  random:keep=0.7,at=3/6/9,seed=0  |  random:R=8,llf=true,seed=0%n"
            + "  A+B applies several in order. Block indices are 0-based; lists use '/'.%n"
            + "  llf=true (Last Layer Fusion): pruned tokens rejoin before the last block. On dense models a pruned%n"
            + "  patch without it keeps its token's value from when it was pruned.";

    private Reducers() {}

    /**
     * Attention-guided pruning, typed: {@code Reducers.attn().keep(0.8, 0.4).start(3).build()} is
     * {@code attn:keep=0.8..0.4,start=3}. Unset parameters keep their defaults (keep 0.8..0.4, start 3, min 0.2,
     * avg 3, no mass).
     */
    public static ReducerBuilder.Attn attn() {
        return new ReducerBuilder.Attn();
    }

    /** EViT, typed: {@code Reducers.evit().keep(0.7).at(3, 6, 9)} is {@code evit:keep=0.7,at=3/6/9}. */
    public static ReducerBuilder.EVit evit() {
        return new ReducerBuilder.EVit();
    }

    /** ToMe with its defaults (r 13, proportional attention). */
    public static ReducerBuilder.ToMe tome() {
        return new ReducerBuilder.ToMe();
    }

    /** ToMe merging {@code r} tokens in every block: {@code Reducers.tome(13)} is {@code tome:r=13}. */
    public static ReducerBuilder.ToMe tome(int r) {
        return new ReducerBuilder.ToMe().r(r);
    }

    /**
     * Token Cropr, typed: {@code Reducers.cropr().r(8).llf(true)} is {@code cropr:R=8,llf=true}; with nothing set and
     * built for a model ({@link ReducerBuilder#build(ModelView)}), the schedule the model was trained with.
     */
    public static ReducerBuilder.Cropr cropr() {
        return new ReducerBuilder.Cropr();
    }

    /**
     * Random pruning, typed: {@code Reducers.random().keep(0.7).seed(1)} is {@code random:keep=0.7,seed=1} (EViT's
     * schedule); {@code Reducers.random().r(8).llf(true)} is Cropr's.
     */
    public static ReducerBuilder.Random random() {
        return new ReducerBuilder.Random();
    }

    /** Parses a spec; {@code none} (or an empty spec) gives {@link #NONE}. */
    public static TokenReducer parse(String spec) {
        return parse(spec, (String) null);
    }

    /**
     * Parses a spec whose {@code cropr} parameters default to those of {@code recorded} (the spec a model was
     * trained with, may be null): {@code cropr} alone runs the trained schedule, {@code cropr:invert=true} the same
     * schedule inverted.
     */
    public static TokenReducer parse(String spec, String recorded) {
        if (spec == null || spec.isBlank() || spec.trim().equalsIgnoreCase("none")) {
            return NONE;
        }
        List<TokenReducer> parts = new ArrayList<>();
        for (String one : spec.split("\\+")) {
            parts.add(parseOne(spec, one.trim(), recorded));
        }
        return parts.size() == 1 ? parts.get(0) : new Chain(parts);
    }

    /** Parses and checks against an architecture. */
    public static TokenReducer parse(String spec, VitConfig c) {
        TokenReducer r = parse(spec);
        r.validate(c);
        return r;
    }

    /** Parses for a loaded model (its recorded Cropr schedule supplies defaults) and checks against it. */
    public static TokenReducer parse(String spec, ModelView model) {
        TokenReducer r = parse(spec, model.recordedReduce());
        r.validate(model.config());
        return r;
    }

    private static TokenReducer parseOne(String whole, String one, String recorded) {
        int colon = one.indexOf(':');
        String method = (colon < 0 ? one : one.substring(0, colon)).trim().toLowerCase(Locale.ROOT);
        String params = colon < 0 ? "" : one.substring(colon + 1);
        switch (method) {
            case "none":
                if (!params.isBlank()) {
                    throw new VitrimException("reducer '" + whole + "': none takes no parameters");
                }
                return NONE;
            case "attn":
                return new AttentionPruning(new SpecParams(whole, method, params, AttentionPruning.KEYS));
            case "evit":
                return new EVit(new SpecParams(whole, method, params, EVit.KEYS));
            case "tome":
                return new ToMe(new SpecParams(whole, method, params, ToMe.KEYS));
            case "cropr":
                return new Cropr(new SpecParams(whole, method, withDefaults(params, recorded, method), Cropr.KEYS));
            case "random":
                return new RandomPruning(new SpecParams(whole, method, params, RandomPruning.KEYS));
            default:
                throw new VitrimException("reducer '" + whole + "': unknown method '" + method + "' (allowed: "
                        + METHODS + ")");
        }
    }

    /** {@code params} over the parameters {@code recorded} gives for {@code method} (when it is that method). */
    static String withDefaults(String params, String recorded, String method) {
        if (recorded == null || !recorded.toLowerCase(Locale.ROOT).startsWith(method + ":")) {
            return params;
        }
        Map<String, String> merged = new LinkedHashMap<>();
        for (String src : new String[] {recorded.substring(method.length() + 1), params}) {
            for (String kv : src.split(",")) {
                int eq = kv.indexOf('=');
                if (!kv.isBlank()) {
                    merged.put(eq < 0 ? kv.trim() : kv.substring(0, eq).trim().toLowerCase(Locale.ROOT), kv.trim());
                }
            }
        }
        return String.join(",", merged.values());
    }

    /** Merging and fixed-count pruning need every image to hold the same tokens. */
    static void requireUniform(Tokens t, String method) {
        if (t.keyMask != null) {
            throw new VitrimException("reducer: " + method + " cannot follow a reducer that keeps a different number "
                    + "of tokens per image (attn with mass); put it first or drop mass");
        }
    }

    /** The unreduced model. */
    public static final TokenReducer NONE = new TokenReducer() {
        private final Pass pass = new Pass() {};

        @Override
        public String spec() {
            return "none";
        }

        @Override
        public Pass begin(ModelView model, Tokens initial) {
            return pass;
        }
    };

    /** Several reducers applied in order at every hook. */
    static final class Chain implements TokenReducer {
        final List<TokenReducer> parts;

        Chain(List<TokenReducer> parts) {
            this.parts = List.copyOf(parts);
        }

        @Override
        public String spec() {
            return parts.stream().map(TokenReducer::spec).collect(Collectors.joining("+"));
        }

        @Override
        public void validate(VitConfig c) {
            parts.forEach(p -> p.validate(c));
        }

        @Override
        public boolean perImageCounts() {
            return parts.stream().anyMatch(TokenReducer::perImageCounts);
        }

        @Override
        public boolean merges() {
            return parts.stream().anyMatch(TokenReducer::merges);
        }

        @Override
        public int countAfterAttention(VitConfig c, int block, int n) {
            for (TokenReducer p : parts) {
                n = p.countAfterAttention(c, block, n);
            }
            return n;
        }

        @Override
        public int countAfterBlock(VitConfig c, int block, int n, int[] stash) {
            for (TokenReducer p : parts) {
                n = p.countAfterBlock(c, block, n, stash);
            }
            return n;
        }

        @Override
        public int countBeforeLastBlock(VitConfig c, int n, int[] stash) {
            for (TokenReducer p : parts) { // the first reducer with Last Layer Fusion re-joins the whole stash
                int joined = p.countBeforeLastBlock(c, n, stash);
                if (joined != n) {
                    return joined;
                }
            }
            return n;
        }

        @Override
        public long overheadMacs(VitConfig c, int block, int n) {
            return parts.stream().mapToLong(p -> p.overheadMacs(c, block, n)).sum();
        }

        @Override
        public Pass begin(ModelView model, Tokens initial) {
            List<Pass> passes = new ArrayList<>();
            for (TokenReducer p : parts) {
                passes.add(p.begin(model, initial));
            }
            return new Pass() {
                @Override
                public boolean needsClsAttention(int block) {
                    return passes.stream().anyMatch(p -> p.needsClsAttention(block));
                }

                @Override
                public boolean needsMeanKeys(int block) {
                    return passes.stream().anyMatch(p -> p.needsMeanKeys(block));
                }

                @Override
                public boolean needsKeySimilarity(int block) {
                    return passes.stream().anyMatch(p -> p.needsKeySimilarity(block));
                }

                @Override
                public boolean proportionalAttention(int block) {
                    return passes.stream().anyMatch(p -> p.proportionalAttention(block));
                }

                @Override
                public Tokens afterAttention(int block, Tokens t, AttentionView view) {
                    // a reducer that changed the tokens invalidates the attention view for the next one
                    Tokens cur = t;
                    for (Pass p : passes) {
                        if (cur != t && (p.needsClsAttention(block) || p.needsMeanKeys(block)
                                || p.needsKeySimilarity(block))) {
                            throw new VitrimException("reducer '" + spec() + "': two reducers act on the attention "
                                    + "of block " + block + "; give them different blocks");
                        }
                        cur = p.afterAttention(block, cur, view);
                    }
                    return cur;
                }

                @Override
                public Tokens afterBlock(int block, Tokens t) {
                    for (Pass p : passes) {
                        t = p.afterBlock(block, t);
                    }
                    return t;
                }

                @Override
                public Tokens beforeLastBlock(Tokens t) {
                    for (Pass p : passes) {
                        t = p.beforeLastBlock(t);
                    }
                    return t;
                }
            };
        }
    }
}
