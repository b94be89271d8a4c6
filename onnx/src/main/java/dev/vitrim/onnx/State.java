package dev.vitrim.onnx;

import java.util.List;

/**
 * The token state between blocks inside the graph being written, the counterpart of {@code reduce.Tokens}: the names
 * of {@code x} [B,n,D], {@code sizes} [B,n] float (null while every size is 1), {@code pos} [B,n] int64 (original
 * positions: CLS 0, patches 1..N, -1 for a fused token) and the stash of pruned tokens (for Last Layer Fusion). The
 * token count {@code n} is known when the graph is written: every reducer exported has fixed counts. {@code owner}
 * [B,N0] int64 (dense export with merging only, else null): for each original token, the row that holds it now.
 */
record State(String x, String sizes, String pos, int n, List<Stashed> stash, String owner) {
    State {
        stash = List.copyOf(stash);
    }

    State(String x, String sizes, String pos, int n, List<Stashed> stash) {
        this(x, sizes, pos, n, stash, null);
    }

    /** Pruned tokens set aside as they were when pruned; {@code sizes} may be null (all ones). */
    record Stashed(String x, String sizes, String pos, int count) {}

    State with(String nx, String nsizes, String npos, int nn) {
        return new State(nx, nsizes, npos, nn, stash, owner);
    }

    State withX(String nx) {
        return new State(nx, sizes, pos, n, stash, owner);
    }

    State withOwner(String o) {
        return new State(x, sizes, pos, n, stash, o);
    }
}
