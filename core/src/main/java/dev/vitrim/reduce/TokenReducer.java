package dev.vitrim.reduce;

import dev.vitrim.arch.VitConfig;

/**
 * A token-reduction method. A reducer is a description (its spec); {@link #begin} makes the per-forward
 * state ({@link Pass}) that sees the tokens between attention and MLP, after each block, and before the last
 * block. The count methods describe the same schedule without running the model, for MAC counting.
 */
public interface TokenReducer {
    /** The canonical spec string, e.g. {@code tome:r=13,prop=true}. */
    String spec();

    /** Validates the reducer against a model (block indices, counts) and returns the state of one forward. */
    Pass begin(ModelView model, Tokens initial);

    /** Checks the spec against an architecture; throws {@code VitrimException} naming the problem. */
    default void validate(VitConfig c) {}

    /** Token count after {@link Pass#afterAttention} of block {@code block}, from {@code n} entering it. */
    default int countAfterAttention(VitConfig c, int block, int n) {
        return n;
    }

    /** Token count after {@link Pass#afterBlock}; {@code stash} accumulates tokens set aside. */
    default int countAfterBlock(VitConfig c, int block, int n, int[] stash) {
        return n;
    }

    /** Token count entering the last block (Last Layer Fusion brings the stash back). */
    default int countBeforeLastBlock(VitConfig c, int n, int[] stash) {
        return n;
    }

    /** MACs the reducer itself spends at this block (scoring, matching, merging) on {@code n} tokens. */
    default long overheadMacs(VitConfig c, int block, int n) {
        return 0;
    }

    /** Whether the reducer merges tokens (so putting them back on the grid needs their sources tracked). */
    default boolean merges() {
        return false;
    }

    /** Whether images of one batch may keep different numbers of tokens. */
    default boolean perImageCounts() {
        return false;
    }

    /** The state of one forward. Defaults do nothing, so the model runs on its fastest path. */
    interface Pass {
        default boolean needsClsAttention(int block) {
            return false;
        }

        default boolean needsMeanKeys(int block) {
            return false;
        }

        /** ToMe's bipartite similarity of the mean keys ({@link AttentionView#keySimilarity}). */
        default boolean needsKeySimilarity(int block) {
            return false;
        }

        /** ToMe's proportional attention: log(size) added to the attention logits of each key. */
        default boolean proportionalAttention(int block) {
            return false;
        }

        default Tokens afterAttention(int block, Tokens t, AttentionView view) {
            return t;
        }

        /**
         * A merge of rows the model may run inside the MLP call that follows, instead of this block's
         * {@link #afterAttention} (which it then does not call); null: none, call {@link #afterAttention}. A pass that
         * returns one must make {@link #afterAttention} give the same tokens ({@link RowMerge#apply}): wrappers and
         * chains call that.
         */
        default RowMerge mergeBeforeMlp(int block, Tokens t, AttentionView view) {
            return null;
        }

        default Tokens afterBlock(int block, Tokens t) {
            return t;
        }

        default Tokens beforeLastBlock(Tokens t) {
            return t;
        }
    }
}
