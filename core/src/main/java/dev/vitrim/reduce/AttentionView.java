package dev.vitrim.reduce;

import ai.djl.ndarray.NDArray;

/**
 * What a block's attention exposes to reducers — only what they asked for.
 *
 * @param clsAttention  [B,N] attention probabilities of the CLS query over all keys, averaged over heads
 *                      (null unless requested)
 * @param meanKeys      [B,N,head_dim] the keys averaged over heads (null unless requested)
 * @param keySimilarity [B,⌈N/2⌉,⌊N/2⌋] cosine similarity of the mean keys of tokens 0, 2, 4, … to those of
 *                      tokens 1, 3, 5, …: ToMe's bipartite scores, computed where the keys are (null unless requested)
 */
public record AttentionView(NDArray clsAttention, NDArray meanKeys, NDArray keySimilarity) {
    public static final AttentionView NONE = new AttentionView(null, null, null);
}
