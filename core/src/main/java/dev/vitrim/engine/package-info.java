/**
 * The engine: {@link dev.vitrim.engine.Precision} (fp32, bf16, int8 and how {@code auto} chooses),
 * {@link dev.vitrim.engine.Torch} (threads and the DJL engine) and {@link dev.vitrim.engine.TorchScript} (the
 * kernels compiled from Java at load time).
 */
package dev.vitrim.engine;
