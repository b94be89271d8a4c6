package dev.vitrim.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.Presets;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.Reducers;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Matching methods to a cost: how close, which parameters, and the demo's line-up built from it. */
class CostMatchTest {
    static long attnMacs(VitConfig c) {
        return Macs.plan(c, Reducers.parse("attn", c)).macs();
    }

    @ParameterizedTest
    @ValueSource(strings = {"mnist", "vit_small_patch16_224", "vit_base_patch16_224"})
    void randomPruningMatchesAttnsMacsWithinATenthOfAPercent(String arch) {
        VitConfig c = arch.equals("mnist") ? EvalTestSupport.mnistArch() : Presets.get(arch);
        long target = attnMacs(c);
        CostMatch.Match m = CostMatch.random(c, target);
        assertThat(m.reducer().spec()).startsWith("random:keep=").contains(",at=").endsWith(",seed=0");
        assertThat(Math.abs(m.relativeError())).as(m.reducer().spec()).isLessThan(0.001);
        // the reported MACs are the reducer's own plan
        assertThat(Macs.plan(c, Reducers.parse(m.reducer().spec(), c)).macs()).isEqualTo(m.macs());
    }

    @Test
    void evitAndTomeComeWithinTwoPercentOnTheMnistModel() {
        VitConfig c = EvalTestSupport.mnistArch();
        long target = attnMacs(c);
        CostMatch.Match evit = CostMatch.evit(c, target);
        CostMatch.Match tome = CostMatch.tome(c, target);
        assertThat(evit.reducer().spec()).startsWith("evit:keep=0.7,at=").endsWith(",fuse=true");
        assertThat(tome.reducer().spec()).matches("tome:r=\\d+,prop=true");
        assertThat(Math.abs(evit.relativeError())).isLessThan(0.02);
        assertThat(Math.abs(tome.relativeError())).isLessThan(0.02);
    }

    @Test
    void closestPicksTheNearestFirstAndSkipsSpecsTheArchitectureRejects() {
        VitConfig c = EvalTestSupport.mnistArch();
        long r8 = Macs.plan(c, Reducers.parse("tome:r=8", c)).macs();
        CostMatch.Match m = CostMatch.closest(c, r8 + 1, List.of("evit:keep=0.7,at=9", "tome:r=7", "tome:r=8",
                "tome:r=9"));
        assertThat(m.reducer().spec()).isEqualTo("tome:r=8,prop=true");
        assertThat(m.macs()).isEqualTo(r8);
        assertThat(m.target()).isEqualTo(r8 + 1);
        assertThatThrownBy(() -> CostMatch.closest(c, r8, List.of("evit:at=9"))).isInstanceOf(VitrimException.class)
                .hasMessageContaining("evit:at=9");
    }

    @Test
    void blockSetsAreEverySetOfUpToThreeBlocksFewestFirst() {
        List<int[]> sets = CostMatch.blockSets(6, 3);
        assertThat(sets).hasSize(6 + 15 + 20);
        assertThat(sets.get(0)).containsExactly(0);
        assertThat(sets.get(6)).containsExactly(0, 1);
        assertThat(sets.get(sets.size() - 1)).containsExactly(3, 4, 5);
    }

    @Test
    void theLineupMatchesEveryMethodToAttnAndRejectsShallowModels() {
        VitConfig c = EvalTestSupport.mnistArch();
        StandardMethods.Lineup l = StandardMethods.of(c);
        assertThat(l.methods()).extracting(Comparison.Method::name)
                .containsExactly("none", "attn", "attn mass=0.9", "evit", "tome", "random");
        assertThat(l.methods().get(0).spec()).isEqualTo("none");
        assertThat(l.methods().get(2).spec()).endsWith(",mass=0.9");
        assertThat(l.attnMacs()).isEqualTo(attnMacs(c));
        assertThat(l.methods().get(5).spec()).isEqualTo(l.random().reducer().spec());
        VitConfig shallow = new VitConfig("shallow", 32, 4, 2, 2, 14, 14, 64, 10, true, false, false, false, true,
                "token", false, 1e-6, EvalTestSupport.PRE, List.of());
        assertThatThrownBy(() -> StandardMethods.of(shallow)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("at least 5 blocks").hasMessageContaining("has 4");
    }
}
