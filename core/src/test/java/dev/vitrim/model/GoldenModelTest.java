package dev.vitrim.model;

import static dev.vitrim.Golden.assertClose;
import static dev.vitrim.Golden.npy;
import static dev.vitrim.Golden.path;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.Golden;
import dev.vitrim.arch.Presets;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.reduce.Macs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Logits of the Java forward against the independent PyTorch reference (tools/reference_vit.py), which
 * wrote the checkpoints, inputs and expected logits. Tolerance: max abs error 1e-4.
 */
class GoldenModelTest {
    static final double TOL = 1e-4;

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "vit_timm.safetensors, 4, input_b2.npy, vit_timm.logits.npy",
        "vit_hf, 0, input_b2.npy, vit_hf.logits.npy",
        "vit_hf_sharded, 0, input_b2.npy, vit_hf.logits.npy",
        "vit_hf_sharded/model.safetensors.index.json, 0, input_b2.npy, vit_hf.logits.npy",
        "vit_bf16.safetensors, 4, input_b2.npy, vit_bf16.logits.npy",
        "vit_f16.safetensors, 4, input_b2.npy, vit_f16.logits.npy",
        "deit_distilled.safetensors, 4, input_b2.npy, deit_distilled.logits.npy",
        "deit3_ls.safetensors, 4, input_b2.npy, deit3_ls.logits.npy",
        "vit_gap.safetensors, 4, input_b2.npy, vit_gap.logits.npy",
        "timm_hub, 0, input_b2.npy, vit_timm.logits.npy",
        "vit_timm.safetensors, 4, input48_b2.npy, vit_timm.interp48_aa.logits.npy",
        "deep197.safetensors, 4, input224_b2.npy, deep197.logits.npy",
        "vit224, 0, input224_b2.npy, vit224.logits.npy",
        "vit224, 0, dog.vit224.input.npy, dog.vit224.logits.npy",
    })
    void logitsMatchReference(String model, int heads, String input, String expected) {
        try (VisionTransformer vit = VisionTransformer.load(path(model), heads)) {
            FloatTensor y = vit.forward(npy(input));
            assertClose(y, npy(expected), TOL);
        }
    }

    @Test
    void configIsReadOffTheTensors() {
        try (Checkpoint ck = Checkpoint.open(path("deit3_ls.safetensors"), 4)) {
            VitConfig c = ck.config();
            assertThat(c.width()).isEqualTo(64);
            assertThat(c.depth()).isEqualTo(3);
            assertThat(c.patchSize()).isEqualTo(8);
            assertThat(c.gridH()).isEqualTo(4);
            assertThat(c.numClasses()).isEqualTo(10);
            assertThat(c.layerScale()).isTrue();
            assertThat(c.noEmbedClass()).isTrue();
            assertThat(c.eps()).isEqualTo(1e-6);
        }
        try (Checkpoint ck = Checkpoint.open(path("vit_hf"), 0)) {
            VitConfig c = ck.config();
            assertThat(ck.isHuggingFace()).isTrue();
            assertThat(c.heads()).isEqualTo(4);
            assertThat(c.eps()).isEqualTo(1e-12);
            assertThat(c.labels()).hasSize(10);
        }
        try (Checkpoint ck = Checkpoint.open(path("timm_hub"), 0)) {
            assertThat(ck.config().heads()).as("model_args.num_heads").isEqualTo(4);
            assertThat(ck.config().label(3)).isEqualTo("three");
        }
        try (Checkpoint ck = Checkpoint.open(path("vit_timm.safetensors"), 0)) {
            assertThat(ck.config().heads()).as("width/64 default").isEqualTo(1);
        }
        try (Checkpoint ck = Checkpoint.open(path("deit_distilled.safetensors"), 4)) {
            assertThat(ck.config().distilled()).isTrue();
            assertThat(ck.config().tokens()).isEqualTo(18);
        }
        try (Checkpoint ck = Checkpoint.open(path("vit_gap.safetensors"), 4)) {
            assertThat(ck.config().globalPool()).isEqualTo("avg");
            assertThat(ck.config().fcNorm()).isTrue();
        }
    }

    @Test
    void wrongHeadCountChangesTheAnswer() {
        // guards the heads plumbing: the fixtures use 4 heads, the width/64 default would be 1
        try (VisionTransformer vit = VisionTransformer.load(path("vit_timm.safetensors"), 1)) {
            FloatTensor y = vit.forward(npy("input_b2.npy"));
            assertThat(Golden.maxAbsDiff(y, npy("vit_timm.logits.npy"))).isGreaterThan(1e-2);
        }
    }

    @Test
    void posEmbedResamplingMatchesTorch() {
        FloatTensor grid = npy("posembed_grid4.npy");
        float[] aa = PosEmbed.resampleBicubic(grid.data(), 4, 4, 7, 7, 64, true);
        assertClose(new FloatTensor(new long[] {1, 49, 64}, aa), npy("posembed_grid4_to_7_aa.npy"), 1e-5);
        float[] plain = PosEmbed.resampleBicubic(grid.data(), 4, 4, 7, 7, 64, false);
        assertClose(new FloatTensor(new long[] {1, 49, 64}, plain), npy("posembed_grid4_to_7.npy"), 1e-5);
    }

    @Test
    void macsMatchPublishedFigures() {
        assertThat(Macs.unreduced(Presets.get("vit_small_patch16_224")) / 1e9).isCloseTo(4.6, org.assertj.core.data.Offset.offset(0.05));
        assertThat(Macs.unreduced(Presets.get("vit_base_patch16_224")) / 1e9).isCloseTo(17.6, org.assertj.core.data.Offset.offset(0.1));
        assertThat(Presets.get("vit_small_patch16_224").parameterCount()).isEqualTo(22_050_664L);
    }
}
