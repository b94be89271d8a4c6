/** Tensor files: safetensors (single and sharded, F32/F16/BF16) and NumPy {@code .npy}, read and written. */
package dev.vitrim.io;
