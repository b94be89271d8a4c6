package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;

/**
 * What a block's attention exposes to reducers — only what they asked for.
 *
 * @param clsAttention [B,N] attention probabilities of the CLS query over all keys, averaged over heads
 *                     (null unless requested)
 * @param meanKeys     [B,N,head_dim] the keys averaged over heads (null unless requested)
 */
public record AttentionView(NDArray clsAttention, NDArray meanKeys) {
    public static final AttentionView NONE = new AttentionView(null, null);
}
