/**
 * Internal (not exported by the module): training and fine-tuning (AdamW, schedules, checkpoints and resumable
 * state, trainable reducers) behind {@code vitrim train}. May change between releases.
 */
package dev.vitrim.train;
