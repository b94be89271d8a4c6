package dev.vitrim.onnx;

import static dev.vitrim.onnx.Fixtures.path;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.model.VisionTransformer;
import dev.vitrim.onnx.proto.Onnx.ModelProto;
import dev.vitrim.onnx.proto.Onnx.NodeProto;
import dev.vitrim.reduce.Reducers;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the export promises about the graph itself: standard operators only (no custom domain), no scatter with a
 * reduction anywhere (TensorRT rejects it; ToMe merges by one-hot products), every node input defined before use, and
 * the opset and IR version asked for.
 */
class GraphStructureTest {
    @ParameterizedTest
    @ValueSource(strings = {"none", "tome:r=8", "evit:keep=0.5,at=1/3", "attn", "random:R=8,llf=true"})
    void standardOperatorsInTopologicalOrder(String spec) {
        String file = spec.equals("none") ? "deit_distilled.safetensors" : "deep197.safetensors";
        try (VisionTransformer vit = VisionTransformer.load(path(file), 4)) {
            ModelProto m = OnnxExport.build(vit, Reducers.parse(spec, vit), new OnnxExport.Options(17, 0, false));
            assertThat(m.getOpsetImport(0).getVersion()).isEqualTo(17);
            assertThat(m.getIrVersion()).isEqualTo(8);
            Set<String> defined = new TreeSet<>();
            m.getGraph().getInputList().forEach(v -> defined.add(v.getName()));
            m.getGraph().getInitializerList().forEach(t ->
                    assertThat(defined.add(t.getName())).as("initializer %s written once", t.getName()).isTrue());
            for (NodeProto n : m.getGraph().getNodeList()) {
                assertThat(n.getDomain()).as(n.getName()).isEmpty();
                assertThat(n.getOpType()).as(n.getName()).isNotIn("ScatterElements", "ScatterND", "Scatter");
                for (String o : n.getOutputList()) {
                    assertThat(defined).as("%s redefines %s", n.getName(), o).doesNotContain(o);
                }
                for (String in : n.getInputList()) {
                    assertThat(defined).as("%s reads %s before it is defined", n.getName(), in).contains(in);
                }
                defined.addAll(n.getOutputList());
            }
            Set<String> outputs = m.getGraph().getOutputList().stream().map(v -> v.getName()).collect(Collectors.toSet());
            assertThat(outputs).containsExactly(OnnxExport.OUTPUT);
            assertThat(defined).containsAll(outputs);
            if (spec.startsWith("tome")) {
                assertThat(m.getGraph().getNodeList().stream().map(NodeProto::getOpType))
                        .contains("TopK", "ArgMax", "GatherElements", "Equal");
            }
        }
    }
}
