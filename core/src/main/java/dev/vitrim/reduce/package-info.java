/**
 * Token reduction: the {@link dev.vitrim.reduce.TokenReducer} interface, the methods behind it (attention-guided
 * pruning, EViT, ToMe, Token Cropr, random pruning) and the ways to make one.
 *
 * <ul>
 *   <li>{@link dev.vitrim.reduce.Reducers#parse(String)}: from a spec string such as {@code attn:keep=0.8..0.4,start=3}
 *       or {@code tome:r=13} (the command line's {@code --reduce}; {@link dev.vitrim.reduce.Reducers#HELP} lists
 *       them);</li>
 *   <li>{@link dev.vitrim.reduce.Reducers#attn()}, {@code evit()}, {@code tome(r)}, {@code cropr()}, {@code random()}:
 *       typed builders ({@link dev.vitrim.reduce.ReducerBuilder}) that give the same reducers as their spec
 *       strings;</li>
 *   <li>{@link dev.vitrim.reduce.Macs}: multiply-accumulates of a schedule without running the model;
 *       {@link dev.vitrim.reduce.Trace}: which tokens each block kept.</li>
 * </ul>
 *
 * A reducer sees the model only through {@link dev.vitrim.reduce.ModelView} and the tokens through
 * {@link dev.vitrim.reduce.Tokens}; see {@code docs/adding-a-reducer.md} for a new method.
 */
package dev.vitrim.reduce;
