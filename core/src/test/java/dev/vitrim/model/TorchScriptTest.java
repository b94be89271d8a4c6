package dev.vitrim.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.VitrimException;
import dev.vitrim.engine.Torch;
import dev.vitrim.engine.TorchScript;
import org.junit.jupiter.api.Test;

/** TorchScript compiled from source at run time: arguments and results of each kind, and its errors. */
class TorchScriptTest {
    static final String SOURCE = String.join("\n",
            "class T(Module):",
            "  __parameters__ = []",
            "  __buffers__ = []",
            "  training : bool",
            "  def affine(self: __torch__.T, x: Tensor, w: List[Tensor], k: int, s: float) -> Tensor:",
            "    return torch.add(torch.mul(x, w[0]), k * s)",
            "  def pick(self: __torch__.T, x: Tensor, idx: List[int], w: List[float], flip: bool)"
                    + " -> Tuple[Tensor, Optional[Tensor]]:",
            "    y = torch.mul(x.index_select(0, torch.tensor(idx, dtype=4)), torch.tensor(w, dtype=6))",
            "    n: Optional[Tensor] = None",
            "    if flip:",
            "      n = torch.neg(y)",
            "    return (y, n)",
            "");

    @Test
    void callsTakeTensorsListsAndScalarsAndGiveTensorsBack() {
        try (NDManager m = Torch.newManager()) {
            Torch.inference();
            TorchScript s = TorchScript.compile(m, "T", SOURCE);
            NDArray x = m.create(new float[] {1, 2, 3});
            NDArray[] r = s.call("affine", m, x, new NDArray[] {m.create(new float[] {2, 2, 2})}, 3, 0.5);
            assertThat(r).hasSize(1);
            assertThat(r[0].toFloatArray()).containsExactly(3.5f, 5.5f, 7.5f);
            NDArray[] t = s.call("pick", m, x, new long[] {2, 0}, new double[] {10, 100}, true);
            assertThat(t[0].toFloatArray()).containsExactly(30f, 100f);
            assertThat(t[1].toFloatArray()).containsExactly(-30f, -100f);
            NDArray[] none = s.call("pick", m, x, new long[] {1}, new double[] {1}, false);
            assertThat(none[1]).as("None comes back as null").isNull();
            assertThat(none[0].getManager()).isSameAs(m);
        }
    }

    @Test
    void badSourceAndBadCallsAreClearErrors() {
        try (NDManager m = Torch.newManager()) {
            assertThatThrownBy(() -> TorchScript.compile(m, "T", SOURCE.replace("torch.add", "torch.no_such_op")))
                    .isInstanceOf(VitrimException.class).hasMessageContaining("TorchScript kernels (T)")
                    .hasMessageContaining("no_such_op");
            TorchScript s = TorchScript.compile(m, "T", SOURCE);
            NDArray x = m.create(new float[] {1, 2, 3}, new Shape(3));
            assertThatThrownBy(() -> s.call("affine", m, x, new NDArray[0], 1, 1.0))
                    .isInstanceOf(VitrimException.class).hasMessageContaining("T.affine");
            assertThatThrownBy(() -> s.call("affine", m, x, "text", 1, 1.0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("java.lang.String");
        }
    }
}
