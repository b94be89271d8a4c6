package dev.vitrim.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.vitrim.engine.Torch;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class OpProfileTest {
    private static void event(ArrayNode a, String name, long tid, double ts, double dur) {
        a.addObject().put("name", name).put("ph", "X").put("tid", tid).put("ts", ts).put("dur", dur);
    }

    @Test
    void selfTimeIsEachEventLessTheEventsDirectlyInsideItPerThread() {
        ArrayNode a = new ObjectMapper().createArrayNode();
        // thread 1: a scope [0, 100) holding a linear [10, 40) that holds a copy [20, 30), then a norm [50, 60)
        event(a, "aten::copy_", 1, 20, 10); // listed before its parents, as libtorch writes them
        event(a, "mkldnn::_linear_pointwise", 1, 10, 30);
        event(a, "attention", 1, 0, 100);
        event(a, "aten::native_layer_norm", 1, 50, 10);
        // thread 2 overlaps thread 1 in time but nests only within itself
        event(a, "aten::topk", 2, 15, 8);
        a.addObject().put("name", "instant").put("ph", "i").put("tid", 1).put("ts", 5); // not a duration event
        OpProfile p = OpProfile.parse(a, 0.25, 2); // two forwards in 0.25 ms of wall time

        Map<String, OpProfile.Op> ops = p.ops().stream().collect(Collectors.toMap(OpProfile.Op::name, o -> o));
        assertThat(ops).hasSize(5);
        // microseconds in the trace, milliseconds per forward out
        assertThat(ops.get("attention").selfMs()).isCloseTo((100 - 30 - 10) / 1e3 / 2, within(1e-12));
        assertThat(ops.get("mkldnn::_linear_pointwise").selfMs()).isCloseTo((30 - 10) / 1e3 / 2, within(1e-12));
        assertThat(ops.get("aten::copy_").selfMs()).isCloseTo(10 / 1e3 / 2, within(1e-12));
        assertThat(ops.get("aten::native_layer_norm").selfMs()).isCloseTo(10 / 1e3 / 2, within(1e-12));
        assertThat(ops.get("aten::topk").selfMs()).isCloseTo(8 / 1e3 / 2, within(1e-12));
        assertThat(ops.get("aten::topk").calls()).isEqualTo(0.5);
        assertThat(p.ops().get(0).name()).isEqualTo("attention"); // most self time first

        Map<OpProfile.Kind, Double> k = p.msByKind();
        assertThat(k).containsOnlyKeys(OpProfile.Kind.values());
        assertThat(k.get(OpProfile.Kind.SCRIPT)).isCloseTo(0.030, within(1e-12));
        assertThat(k.get(OpProfile.Kind.LINEAR)).isCloseTo(0.010, within(1e-12));
        assertThat(k.get(OpProfile.Kind.MEMORY)).isCloseTo(0.005, within(1e-12));
        assertThat(k.get(OpProfile.Kind.NORM)).isCloseTo(0.005, within(1e-12));
        assertThat(k.get(OpProfile.Kind.SELECTION)).isCloseTo(0.004, within(1e-12));
        assertThat(k.get(OpProfile.Kind.OTHER)).isZero();
        assertThat(p.wallMs()).isCloseTo(0.125, within(1e-12));
        assertThat(p.outsideMs()).isCloseTo(0.125 - 0.054, within(1e-12));
    }

    @Test
    void operatorNamesFallIntoTheirKinds() {
        assertThat(OpProfile.kind("mkldnn::_linear_pointwise")).isEqualTo(OpProfile.Kind.LINEAR);
        assertThat(OpProfile.kind("aten::addmm")).isEqualTo(OpProfile.Kind.LINEAR);
        assertThat(OpProfile.kind("quantized::linear_dynamic")).isEqualTo(OpProfile.Kind.LINEAR);
        assertThat(OpProfile.kind("aten::_scaled_dot_product_flash_attention_for_cpu"))
                .isEqualTo(OpProfile.Kind.ATTENTION);
        assertThat(OpProfile.kind("aten::_softmax")).isEqualTo(OpProfile.Kind.ATTENTION);
        assertThat(OpProfile.kind("aten::native_layer_norm")).isEqualTo(OpProfile.Kind.NORM);
        assertThat(OpProfile.kind("aten::add_")).isEqualTo(OpProfile.Kind.ELEMENTWISE);
        assertThat(OpProfile.kind("aten::gelu")).isEqualTo(OpProfile.Kind.ELEMENTWISE);
        assertThat(OpProfile.kind("aten::topk")).isEqualTo(OpProfile.Kind.SELECTION);
        assertThat(OpProfile.kind("aten::index_select")).isEqualTo(OpProfile.Kind.SELECTION);
        assertThat(OpProfile.kind("aten::scatter_reduce")).isEqualTo(OpProfile.Kind.SELECTION);
        assertThat(OpProfile.kind("aten::_embedding_bag_forward_only")).isEqualTo(OpProfile.Kind.SELECTION);
        assertThat(OpProfile.kind("aten::linalg_vector_norm")).isEqualTo(OpProfile.Kind.ELEMENTWISE);
        assertThat(OpProfile.kind("aten::select")).isEqualTo(OpProfile.Kind.MEMORY);
        assertThat(OpProfile.kind("aten::copy_")).isEqualTo(OpProfile.Kind.MEMORY);
        assertThat(OpProfile.kind("mlp")).isEqualTo(OpProfile.Kind.SCRIPT);
        assertThat(OpProfile.kind("aten::conv2d")).isEqualTo(OpProfile.Kind.OTHER);
    }

    @Test
    void profileOfARealForwardAccountsForItsWallTime() {
        Torch.engine(1);
        try (VisionTransformer vit = VisionTransformer.random(EvalTestSupport.small(), 2);
             NDManager m = vit.manager().newSubManager()) {
            Torch.inference();
            NDArray x = m.randomNormal(0, 1, new Shape(2, 3, 28, 28), DataType.FLOAT32);
            Runnable f = Benchmark.forward(m, x, vit, Reducers.parse("tome:r=8", vit.config()));
            f.run();
            OpProfile p = OpProfile.record(f, 3);
            Map<OpProfile.Kind, Double> k = p.msByKind();
            assertThat(k.get(OpProfile.Kind.LINEAR)).isPositive();
            assertThat(k.get(OpProfile.Kind.NORM)).isPositive();
            assertThat(k.get(OpProfile.Kind.SELECTION)).isPositive(); // ToMe merges with an embedding bag
            double ops = k.values().stream().mapToDouble(Double::doubleValue).sum();
            // every operator ran inside the timed forwards: their self times cannot add up to more than the wall time
            assertThat(ops).isPositive().isLessThanOrEqualTo(p.wallMs() * 1.0001);
            assertThat(ops + p.outsideMs()).isCloseTo(p.wallMs(), within(1e-9));
            assertThat(p.ops()).allSatisfy(o -> assertThat(o.calls()).isPositive());
        }
    }
}
