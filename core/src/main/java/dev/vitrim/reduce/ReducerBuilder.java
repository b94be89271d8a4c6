package dev.vitrim.reduce;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A typed way to write a reducer spec. Each builder writes the spec string of the parameters it was given and
 * {@link #build()} parses it with {@link Reducers#parse(String)}, so a builder and the spec string it stands for
 * give the same reducer, with the same checks and the same defaults for what is left out:
 *
 * <pre>{@code
 * TokenReducer a = Reducers.attn().keep(0.8, 0.4).start(3).build();   // attn:keep=0.8..0.4,start=3
 * TokenReducer t = Reducers.tome(13).build();                         // tome:r=13
 * TokenReducer c = Reducers.cropr().r(8).llf(true).build();           // cropr:R=8,llf=true
 * TokenReducer both = Reducers.attn().start(1).then(Reducers.tome(8)).build();   // attn:start=1+tome:r=8
 * }</pre>
 *
 * Parameters that are not set keep the method's defaults ({@link Reducers#HELP}); for {@code cropr}, when built
 * for a loaded model ({@link #build(ModelView)}), the schedule the model was trained with.
 */
public abstract class ReducerBuilder {
    ReducerBuilder() {}

    /** The spec string this builder stands for, e.g. {@code attn:keep=0.8..0.4,start=3}. */
    public abstract String spec();

    /** The reducer, as {@link Reducers#parse(String)} makes it from {@link #spec()}. */
    public TokenReducer build() {
        return Reducers.parse(spec());
    }

    /**
     * The reducer for a loaded model, checked against it; unset {@code cropr} parameters come from the schedule the
     * model was trained with, as {@link Reducers#parse(String, ModelView)} does.
     */
    public TokenReducer build(ModelView model) {
        return Reducers.parse(spec(), model);
    }

    /** This reducer, then {@code next}, at every hook ({@code A+B} in a spec). */
    public ReducerBuilder then(ReducerBuilder next) {
        ReducerBuilder first = this;
        return new ReducerBuilder() {
            @Override
            public String spec() {
                return first.spec() + "+" + next.spec();
            }
        };
    }

    @Override
    public String toString() {
        return spec();
    }

    static String num(double v) {
        return v == Math.floor(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    static String ints(int... v) {
        if (v == null || v.length == 0) {
            throw new IllegalArgumentException("at least one value is needed");
        }
        return Arrays.stream(v).mapToObj(Integer::toString).collect(Collectors.joining("/"));
    }

    /** A method and the parameters set so far, in the order they were set. */
    abstract static class Params<B extends Params<B>> extends ReducerBuilder {
        private final String method;
        private final Map<String, String> values = new LinkedHashMap<>();

        Params(String method) {
            this.method = method;
        }

        @SuppressWarnings("unchecked")
        B set(String key, String value) {
            values.put(key, value);
            return (B) this;
        }

        @Override
        public String spec() {
            if (values.isEmpty()) {
                return method;
            }
            return method + ":" + values.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                    .collect(Collectors.joining(","));
        }
    }

    /** Attention-guided pruning ({@code attn}): see {@link Reducers#attn()}. */
    public static final class Attn extends Params<Attn> {
        Attn() {
            super("attn");
        }

        /** The kept fraction falls linearly from {@code first} (at block {@code start}) to {@code last}. */
        public Attn keep(double first, double last) {
            return set("keep", num(first) + ".." + num(last));
        }

        /** The same kept fraction at every pruning block. */
        public Attn keep(double fraction) {
            return set("keep", num(fraction));
        }

        /** The first block (0-based) after which patches are pruned. */
        public Attn start(int block) {
            return set("start", Integer.toString(block));
        }

        /** The floor: a fraction of the patches (below 1) or a count of patches (1 or more). */
        public Attn min(double fractionOrCount) {
            return set("min", num(fractionOrCount));
        }

        /** How many of the last blocks' CLS attention are averaged. */
        public Attn avg(int blocks) {
            return set("avg", Integer.toString(blocks));
        }

        /** Per image, the fewest patches that hold this fraction of the importance (counts then vary per image). */
        public Attn mass(double fraction) {
            return set("mass", num(fraction));
        }

        /** Last Layer Fusion: the pruned patches rejoin before the last block (not with {@link #mass}). */
        public Attn llf(boolean on) {
            return set("llf", Boolean.toString(on));
        }
    }

    /** EViT ({@code evit}): see {@link Reducers#evit()}. */
    public static final class EVit extends Params<EVit> {
        EVit() {
            super("evit");
        }

        /** The fraction of patches kept at each pruning block. */
        public EVit keep(double fraction) {
            return set("keep", num(fraction));
        }

        /** The blocks (0-based) whose patches are pruned between attention and MLP. */
        public EVit at(int... blocks) {
            return set("at", ints(blocks));
        }

        /** Whether the pruned patches are fused into one token (EViT) or dropped. */
        public EVit fuse(boolean on) {
            return set("fuse", Boolean.toString(on));
        }

        /** Last Layer Fusion: the pruned patches rejoin before the last block. */
        public EVit llf(boolean on) {
            return set("llf", Boolean.toString(on));
        }
    }

    /** ToMe ({@code tome}): see {@link Reducers#tome()}. */
    public static final class ToMe extends Params<ToMe> {
        ToMe() {
            super("tome");
        }

        /** Tokens merged per block: one value for every block, or one per block. */
        public ToMe r(int... perBlock) {
            return set("r", ints(perBlock));
        }

        /** Proportional attention (log of the token sizes added to the attention logits). */
        public ToMe prop(boolean on) {
            return set("prop", Boolean.toString(on));
        }

        /** ToMe's decreasing schedule: 2r merged in the first block falling to 0 in the last (one r only). */
        public ToMe decreasing() {
            return set("schedule", "decreasing");
        }
    }

    /** Token Cropr ({@code cropr}): see {@link Reducers#cropr()}. */
    public static final class Cropr extends Params<Cropr> {
        Cropr() {
            super("cropr");
        }

        /** Tokens pruned per block (R, R+1 at the first). */
        public Cropr r(int perBlock) {
            return set("R", Integer.toString(perBlock));
        }

        /** Last Layer Fusion: the pruned tokens re-join for the last block. */
        public Cropr llf(boolean on) {
            return set("llf", Boolean.toString(on));
        }

        /** Kept counts rounded down to a multiple of this. */
        public Cropr multiple(int m) {
            return set("multiple", Integer.toString(m));
        }

        /** Keeps the least relevant tokens instead (an ablation). */
        public Cropr invert(boolean on) {
            return set("invert", Boolean.toString(on));
        }
    }

    /** Random pruning ({@code random}) on EViT's or Cropr's schedule: see {@link Reducers#random()}. */
    public static final class Random extends Params<Random> {
        Random() {
            super("random");
        }

        /** EViT's schedule: the fraction kept at each pruning block. */
        public Random keep(double fraction) {
            return set("keep", num(fraction));
        }

        /** EViT's schedule: the pruning blocks (0-based). */
        public Random at(int... blocks) {
            return set("at", ints(blocks));
        }

        /** Cropr's schedule: tokens pruned per block. */
        public Random r(int perBlock) {
            return set("R", Integer.toString(perBlock));
        }

        /** Cropr's schedule: Last Layer Fusion. */
        public Random llf(boolean on) {
            return set("llf", Boolean.toString(on));
        }

        /** Cropr's schedule: kept counts rounded down to a multiple of this. */
        public Random multiple(int m) {
            return set("multiple", Integer.toString(m));
        }

        /** The seed of the random choice. */
        public Random seed(long seed) {
            return set("seed", Long.toString(seed));
        }
    }
}
