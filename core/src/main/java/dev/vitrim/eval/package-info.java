/**
 * Internal (not exported by the module): the evaluation and benchmark harness behind {@code vitrim eval},
 * {@code compare}, {@code bench} and {@code explain}. May change between releases.
 */
package dev.vitrim.eval;
