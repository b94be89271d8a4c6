package dev.vitrim.reduce;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.Golden;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.Presets;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Properties of the reducers that hold for any input, and the published MAC figures. */
class ReducerBehaviourTest {
    static VisionTransformer vit;
    static FloatTensor x;

    @BeforeAll
    static void load() {
        vit = VisionTransformer.load(Golden.path("deep197.safetensors"), 4);
        x = Golden.npy("input224_b2.npy");
    }

    @AfterAll
    static void close() {
        vit.close();
    }

    static Trace run(String spec) {
        Trace t = new Trace();
        vit.forward(x, Reducers.parse(spec, vit.config()), t);
        return t;
    }

    @ParameterizedTest
    @ValueSource(strings = {"attn", "attn:keep=0.7..0.3,llf=true", "evit", "evit:keep=0.6,llf=true", "random",
        "random:keep=0.5", "random:R=4,llf=true", "tome", "tome:r=16,schedule=decreasing", "cropr:R=2",
        "attn:start=1+tome:r=0/0/0/0/0/8"})
    void everyCanonicalSpecParsesBackToItself(String spec) {
        String canonical = Reducers.parse(spec).spec();
        assertThat(Reducers.parse(canonical).spec()).as(spec).isEqualTo(canonical);
    }

    @ParameterizedTest
    @ValueSource(strings = {"attn", "attn:keep=0.5..0.2,start=1,min=0.1,avg=1", "attn:keep=0.8..0.4,start=0,mass=0.6",
        "attn:start=2,min=50,mass=0.3", "evit:keep=0.5,at=0/1/2", "tome:r=40", "cropr:R=0", "random:keep=0.3",
        "random:R=20,llf=false", "attn:start=1+tome:r=0/0/0/0/0/8"})
    void clsIsNeverPrunedOrMerged(String spec) {
        for (List<Trace.Block> img : run(spec).images()) {
            for (Trace.Block b : img) {
                assertThat(b.positions()).as("block %d", b.block()).contains(0L);
                assertThat(java.util.Arrays.stream(b.positions()).filter(p -> p == 0).count()).isEqualTo(1);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tome:r=4", "tome:r=8", "attn:keep=0.6..0.3,start=0", "evit:keep=0.5,at=0/1",
        "random:keep=0.4", "attn:start=0,mass=0.5"})
    void aDistillationTokenStaysSecondWhateverIsReduced(String spec) {
        // the distilled head reads tokens 0 and 1: every reducer must leave [CLS, dist] at the front
        try (VisionTransformer deit = VisionTransformer.load(Golden.path("deit_distilled.safetensors"), 4);
             ai.djl.ndarray.NDManager m = dev.vitrim.engine.Torch.newManager()) {
            dev.vitrim.engine.Torch.inference();
            FloatTensor in = Golden.npy("input_b2.npy");
            Tokens t = deit.forwardTokens(m.create(in.data(), new ai.djl.ndarray.types.Shape(in.shape())),
                    Reducers.parse(spec, deit.config()), null, false);
            int n = t.count();
            assertThat(n).as("%s reduced something", spec).isLessThan(18);
            for (int i = 0; i < t.batch(); i++) {
                assertThat(t.positions[i * n]).as("%s image %d token 0", spec, i).isEqualTo(0L);
                assertThat(t.positions[i * n + 1]).as("%s image %d token 1", spec, i).isEqualTo(1L);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"attn", "attn:keep=0.7..0.3,start=1,min=0.25,avg=2", "attn:keep=0.9..0.1,start=2,min=30",
        "evit:keep=0.6,at=1/2,fuse=true", "tome:r=16,schedule=decreasing", "random:R=10,llf=true"})
    void countsFollowTheSchedule(String spec) {
        Macs.Plan plan = Macs.plan(vit.config(), Reducers.parse(spec));
        for (List<Trace.Block> img : run(spec).images()) {
            for (Trace.Block b : img) {
                assertThat(b.tokens()).as("block %d", b.block()).isEqualTo(plan.afterBlock()[b.block()]);
            }
        }
    }

    @Test
    void attnPrunesNothingBeforeStartAndNeverGoesUnderTheFloor() {
        String spec = "attn:keep=0.5..0.1,start=2,min=0.25,avg=3";
        int floor = (int) Math.ceil(0.25 * 196);
        for (List<Trace.Block> img : run(spec).images()) {
            for (Trace.Block b : img) {
                if (b.block() < 2) {
                    assertThat(b.tokens()).isEqualTo(197);
                } else {
                    assertThat(b.tokens() - 1).isGreaterThanOrEqualTo(floor);
                }
            }
            assertThat(img.get(4).tokens() - 1).as("the floor is reached").isEqualTo(floor);
        }
    }

    @Test
    void massGivesPerImageCountsWithinTheFloorAndTheSchedule() {
        String spec = "attn:keep=0.8..0.4,start=1,min=0.2,avg=3,mass=0.8";
        Macs.Plan plan = Macs.plan(vit.config(), Reducers.parse("attn:keep=0.8..0.4,start=1,min=0.2,avg=3"));
        Trace t = run(spec);
        boolean differ = false;
        for (int block = 0; block < 6; block++) {
            int a = t.images().get(0).get(block).tokens();
            int b = t.images().get(1).get(block).tokens();
            differ |= a != b;
            for (int n : new int[] {a, b}) {
                assertThat(n - 1).isGreaterThanOrEqualTo(40);
            }
        }
        assertThat(differ).as("two different images keep different numbers of tokens").isTrue();
        assertThat(t.images().get(0).get(1).tokens()).isLessThanOrEqualTo(plan.afterBlock()[1]);
    }

    @ParameterizedTest
    @ValueSource(strings = {"attn:keep=0.5..0.5,start=1,min=0.25,avg=2", "attn:keep=0.8..0.4,start=1,min=0.2,avg=3,mass=0.5"})
    void attnStopsAskingForClsRowsOnceEveryImageIsAtTheFloor(String spec) {
        // both specs put both images at the floor after block 2 (the mass one per image: 52 then 41, 42 then 41)
        TokenReducer attn = Reducers.parse(spec, vit.config());
        List<Integer> asked = new java.util.ArrayList<>();
        TokenReducer recording = new TokenReducer() {
            @Override
            public String spec() {
                return attn.spec();
            }

            @Override
            public Pass begin(ModelView model, Tokens initial) {
                Pass p = attn.begin(model, initial);
                return new Pass() {
                    @Override
                    public boolean needsClsAttention(int block) {
                        boolean v = p.needsClsAttention(block);
                        if (v) {
                            asked.add(block);
                        }
                        return v;
                    }

                    @Override
                    public Tokens afterAttention(int block, Tokens t, AttentionView view) {
                        return p.afterAttention(block, t, view);
                    }

                    @Override
                    public Tokens afterBlock(int block, Tokens t) {
                        return p.afterBlock(block, t);
                    }
                };
            }
        };
        Trace t = new Trace();
        vit.forward(x, recording, t);
        int floor = spec.contains("min=0.25") ? 49 : 40;
        for (List<Trace.Block> img : t.images()) {
            assertThat(img.get(2).tokens() - 1).isEqualTo(floor);
            for (int block = 3; block < 6; block++) { // the steps after 3 and 4 keep every token where it is
                assertThat(img.get(block).positions()).as("block %d", block).containsExactly(img.get(2).positions());
            }
        }
        // rows for the steps after blocks 1 and 2 (the window reaches back to block 0); none after the floor
        assertThat(asked).containsExactly(0, 1, 2);
        // and the MAC count leaves out the rows that are not computed
        assertThat(attn.overheadMacs(vit.config(), 2, 197)).isPositive();
        assertThat(attn.overheadMacs(vit.config(), 3, 1 + floor)).isZero();
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "vit_small_patch16_224; none; 4.6",
        "vit_base_patch16_224; none; 17.6",
        "deit_small_patch16_224; tome:r=8; 3.4",
        "deit_small_patch16_224; tome:r=13; 2.7",
        "deit_small_patch16_224; tome:r=16; 2.3",
        "deit_small_patch16_224; evit:keep=0.7,at=3/6/9; 3.0",
        "deit_base_patch16_224; evit:keep=0.7,at=3/6/9; 11.6",
        "vit_base_patch16_224; attn; 10.1",
    })
    void macsAgreeWithPublishedFigures(String arch, String spec, double gmacs) {
        VitConfig c = Presets.get(arch);
        assertThat(Macs.plan(c, Reducers.parse(spec)).gmacs()).isCloseTo(gmacs, Offset.offset(0.06));
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "magic:r=3; unknown method 'magic'",
        "tome:q=3; unknown parameter 'q'",
        "evit:keep=1.5; keep=1.5 must be in (0, 1]",
        "evit:keep=0; must be in (0, 1]",
        "tome:r=99; too large",
        "evit:at=3/6/9; outside the blocks",
        "attn:start=9; beyond the last block",
        "cropr:R=60; prunes",
        "tome:r=x; not a whole number",
        "random:keep=0.5,R=8; choose one schedule",
    })
    void badSpecsNameTheProblem(String spec, String message) {
        assertThatThrownBy(() -> Reducers.parse(spec, vit.config())).isInstanceOf(VitrimException.class)
                .hasMessageContaining(spec).hasMessageContaining(message);
    }

    @Test
    void aBareCroprRunsTheScheduleTheModelWasTrainedWith() {
        String recorded = "cropr:R=12,llf=false";
        assertThat(Reducers.parse("cropr", recorded).spec()).isEqualTo("cropr:R=12,llf=false");
        assertThat(Reducers.parse("cropr:invert=true", recorded).spec()).isEqualTo("cropr:R=12,llf=false,invert=true");
        assertThat(Reducers.parse("cropr:R=4", recorded).spec()).isEqualTo("cropr:R=4,llf=false");
        assertThat(Reducers.parse("cropr", (String) null).spec()).isEqualTo("cropr:R=8,llf=true");
        assertThat(Reducers.parse("cropr", "attn:keep=0.7..0.3").spec()).isEqualTo("cropr:R=8,llf=true");
        assertThat(Reducers.parse("random:R=12,llf=false+cropr", recorded).spec())
                .isEqualTo("random:R=12,llf=false,seed=0+cropr:R=12,llf=false");
        assertThatThrownBy(() -> Reducers.parse("cropr:bogus=1", recorded)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("unknown parameter 'bogus'");
    }

    @Test
    void multipleRoundsTheKeptCountsDownToMultiples() {
        // 197 tokens, R=10, LLF: the plain schedule keeps 186, 176, 166, 156 after blocks 0..3; rounded to 8s
        Trace t = run("random:R=10,llf=true,multiple=8");
        for (List<Trace.Block> img : t.images()) {
            assertThat(img.stream().mapToInt(Trace.Block::tokens).toArray())
                    .containsExactly(184, 176, 160, 152, 152, 197);
        }
        assertThat(Macs.plan(vit.config(), Reducers.parse("random:R=10,llf=true,multiple=8")).afterBlock())
                .containsExactly(184, 176, 160, 152, 152, 197);
    }

    @Test
    void croprWithoutQueriesIsAClearError() {
        assertThatThrownBy(() -> vit.forward(x, Reducers.parse("cropr"), null)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("no Cropr queries");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tome:r=9", "evit:keep=0.6,at=1/3,fuse=true", "random:R=10,llf=true",
        "random:R=7,llf=false", "attn:start=1,keep=0.7..0.4", "random:R=10,llf=false+tome:r=4"})
    void sameCountsRunsTheReducersCountsKeepingTheFirstPatches(String spec) {
        TokenReducer of = Reducers.parse(spec);
        Trace plain = run(spec);
        Trace counts = new Trace();
        vit.forward(x, new SameCounts(of, vit.config()), counts);
        for (int i = 0; i < 2; i++) {
            List<Trace.Block> want = plain.images().get(i);
            List<Trace.Block> got = counts.images().get(i);
            for (int j = 0; j < want.size(); j++) {
                assertThat(got.get(j).tokens()).as(spec + " block " + j).isEqualTo(want.get(j).tokens());
                long[] pos = got.get(j).positions();
                if (j < want.size() - 1 || pos.length < 197) { // LLF gives everything back to the last block
                    for (int k = 0; k < pos.length; k++) {
                        assertThat(pos[k]).as(spec + " block " + j).isEqualTo(k);
                    }
                }
            }
        }
    }

    @Test
    void sameCountsRefusesPerImageCounts() {
        assertThatThrownBy(() -> new SameCounts(Reducers.parse("attn:mass=0.9"), vit.config()))
                .isInstanceOf(VitrimException.class).hasMessageContaining("different number of tokens per image");
    }
}
