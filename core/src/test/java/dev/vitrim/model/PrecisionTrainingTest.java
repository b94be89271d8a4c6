package dev.vitrim.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.engine.Precision;
import dev.vitrim.engine.Torch;
import dev.vitrim.reduce.Reducers;
import org.junit.jupiter.api.Test;

/**
 * bf16 mixed-precision training against float32 on a tiny model: the same steps of plain gradient descent from the
 * same weights give losses within bfloat16's precision of each other, the gradients reach the float32 weights, and
 * inference is untouched.
 */
class PrecisionTrainingTest {
    static final int STEPS = 6;
    static final float LR = 0.05f;

    /** Losses of {@link #STEPS} steps of gradient descent on a fixed batch, regressing the logits to fixed targets. */
    static double[] train(VisionTransformer vit) {
        double[] losses = new double[STEPS];
        for (NDArray p : vit.parameters().values()) {
            p.setRequiresGradient(true);
        }
        try (NDManager m = vit.manager().newSubManager()) {
            NDArray x = BlockKernelsTest.images(m, 4, 13);
            NDArray target = BlockKernelsTest.images(m, 4, 17).reshape(4, -1).get(":, :" + vit.config().numClasses());
            for (int step = 0; step < STEPS; step++) {
                try (NDManager s = m.newSubManager()) {
                    s.tempAttachAll(x, target);
                    try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                        NDArray d = vit.forward(x, Reducers.NONE, null).sub(target);
                        NDArray loss = d.mul(d).mean();
                        losses[step] = loss.getFloat();
                        gc.backward(loss);
                    } finally {
                        Torch.grad(false);
                    }
                    for (NDArray p : vit.parameters().values()) {
                        NDArray g = p.getGradient();
                        assertThat(g.getDataType()).isEqualTo(DataType.FLOAT32);
                        p.subi(g.mul(LR));
                        JniUtils.zeroGrad((PtNDArray) p);
                    }
                }
            }
        }
        return losses;
    }

    @Test
    void bf16MixedPrecisionFollowsFp32() {
        for (VitConfig c : BlockKernelsTest.variants()) {
            try (VisionTransformer fp32 = VisionTransformer.random(c, 9); VisionTransformer bf16 = VisionTransformer.random(c, 9)) {
                Precision.Choice choice = bf16.useTrainingPrecision(Precision.BF16);
                assertThat(choice.chosen()).isEqualTo(Precision.BF16);
                assertThat(choice.reason()).contains("mixed precision");
                double[] a = train(fp32);
                double[] b = train(bf16);
                System.out.printf("%s: fp32 losses %s%n      bf16 losses %s%n", c.globalPool(),
                        java.util.Arrays.toString(a), java.util.Arrays.toString(b));
                assertThat(a[STEPS - 1]).as("fp32 learns").isLessThan(a[0]);
                assertThat(b[STEPS - 1]).as("bf16 learns").isLessThan(b[0]);
                boolean differs = false;
                for (int i = 0; i < STEPS; i++) {
                    // bfloat16's 2^-8 per block of products, as for inference, on the loss of each step
                    assertThat(Math.abs(b[i] - a[i])).as("step %d", i)
                            .isLessThanOrEqualTo(c.depth() * Math.pow(2, -8) * a[i]);
                    differs |= a[i] != b[i];
                }
                assertThat(differs).as("the bf16 products really ran").isTrue();
            }
        }
    }

    @Test
    void inferenceIsUntouchedAndInt8IsRefused() {
        VitConfig c = BlockKernelsTest.variants().get(0);
        try (VisionTransformer plain = BlockKernelsTest.peaky(c, 3); VisionTransformer mixed = BlockKernelsTest.peaky(c, 3);
             NDManager m = plain.manager().newSubManager()) {
            mixed.useTrainingPrecision(Precision.BF16);
            Torch.inference();
            NDArray x = BlockKernelsTest.images(m, 2, 5);
            assertThat(mixed.forward(x).toFloatArray()).containsExactly(plain.forward(x).toFloatArray());
            assertThat(mixed.useTrainingPrecision(Precision.FP32).chosen()).isEqualTo(Precision.FP32);
            assertThatThrownBy(() -> mixed.useTrainingPrecision(Precision.INT8)).isInstanceOf(VitrimException.class)
                    .hasMessageContaining("int8 is for inference");
        }
    }
}
