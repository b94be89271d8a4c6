package dev.vitrim.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.vitrim.engine.Torch;
import dev.vitrim.model.VisionTransformer;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * timm's initialisation of a VisionTransformer trained from scratch ({@code weight_init=''}): every Linear weight
 * (qkv, proj, fc1, fc2, head) truncated normal with std 0.02 (cut at +-2, i.e. effectively untruncated), biases 0,
 * LayerNorm 1 and 0, position embedding truncated normal 0.02, class/distillation tokens normal with std 1e-6,
 * LayerScale gammas 1e-5, and the patch-embedding convolution with PyTorch's default (kaiming-uniform, a = sqrt(5)):
 * weight and bias uniform in +-1/sqrt(3 p^2). Deterministic in the seed (drawn in Java, not by the engine).
 */
final class TimmInit {
    private TimmInit() {}

    public static void apply(VisionTransformer vit, long seed) {
        SplittableRandom rng = new SplittableRandom(seed ^ 0x7A3D_91C5_E4B2_0F18L);
        int p = vit.config().patchSize();
        double fanInBound = 1.0 / Math.sqrt(3.0 * p * p);
        float scale = (float) Math.pow(vit.config().headDim(), -0.5);
        int d = vit.config().width();
        boolean grad = ai.djl.pytorch.jni.JniUtils.isGradMode();
        Torch.grad(false);
        try {
            for (Map.Entry<String, NDArray> e : vit.parameters().entrySet()) {
                String n = e.getKey();
                NDArray a = e.getValue();
                int size = Math.toIntExact(a.size());
                float[] v = new float[size];
                if (n.startsWith("patch_embed.proj.")) {
                    for (int i = 0; i < size; i++) {
                        v[i] = (float) ((2 * rng.nextDouble() - 1) * fanInBound);
                    }
                } else if (n.equals("cls_token") || n.equals("dist_token")) {
                    for (int i = 0; i < size; i++) {
                        v[i] = (float) (1e-6 * rng.nextGaussian());
                    }
                } else if (n.endsWith(".gamma")) {
                    java.util.Arrays.fill(v, 1e-5f);
                } else if (n.endsWith("norm1.weight") || n.endsWith("norm2.weight") || n.equals("norm.weight")
                        || n.equals("fc_norm.weight")) {
                    java.util.Arrays.fill(v, 1f);
                } else if (n.endsWith(".bias")) {
                    // zeros
                } else {
                    for (int i = 0; i < size; i++) {
                        double x;
                        do {
                            x = 0.02 * rng.nextGaussian();
                        } while (x < -2 || x > 2);
                        v[i] = (float) x;
                    }
                    if (n.endsWith("attn.qkv.weight")) {
                        for (int i = 0; i < d * d; i++) {
                            v[i] *= scale; // the model keeps the attention scale folded into the queries
                        }
                    }
                }
                try (NDManager m = a.getManager().newSubManager()) {
                    a.set(new NDIndex("..."), m.create(v, a.getShape()));
                }
            }
        } finally {
            Torch.grad(grad);
        }
    }
}
