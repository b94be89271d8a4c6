package dev.vitrim.reduce;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The typed builders give the reducers their spec strings give: the same canonical spec and the same kept tokens,
 * block by block, on a trained model with Cropr queries (so every method runs).
 */
class ReducerBuilderTest {
    static VisionTransformer vit;
    static FloatTensor x;

    @BeforeAll
    static void load() {
        vit = VisionTransformer.load(Path.of("../models/mnist-cropr-llf.safetensors"), 0);
        Random r = new Random(7);
        float[] d = new float[2 * 3 * 28 * 28];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) r.nextGaussian();
        }
        x = new FloatTensor(new long[] {2, 3, 28, 28}, d);
    }

    @AfterAll
    static void close() {
        vit.close();
    }

    static Stream<Arguments> pairs() {
        return Stream.of(
                Arguments.of(Reducers.attn(), "attn"),
                Arguments.of(Reducers.attn().keep(0.8, 0.4).start(3), "attn:keep=0.8..0.4,start=3"),
                Arguments.of(Reducers.attn().keep(0.7).start(1).min(0.25).avg(2), "attn:keep=0.7,start=1,min=0.25,avg=2"),
                Arguments.of(Reducers.attn().start(2).min(50).mass(0.6), "attn:start=2,min=50,mass=0.6"),
                Arguments.of(Reducers.evit().keep(0.7).at(1, 3).fuse(false), "evit:keep=0.7,at=1/3,fuse=false"),
                Arguments.of(Reducers.evit().keep(0.6).at(1).llf(true), "evit:keep=0.6,at=1,llf=true"),
                Arguments.of(Reducers.attn().start(1).keep(0.7, 0.4).llf(true), "attn:start=1,keep=0.7..0.4,llf=true"),
                Arguments.of(Reducers.evit(), "evit"),
                Arguments.of(Reducers.tome(13), "tome:r=13"),
                Arguments.of(Reducers.tome().r(20, 18, 16, 8, 4, 0).prop(false), "tome:r=20/18/16/8/4/0,prop=false"),
                Arguments.of(Reducers.tome(16).decreasing(), "tome:r=16,schedule=decreasing"),
                Arguments.of(Reducers.cropr().r(44).llf(true), "cropr:R=44,llf=true"),
                Arguments.of(Reducers.cropr().r(40).llf(true).multiple(8), "cropr:R=40,llf=true,multiple=8"),
                Arguments.of(Reducers.cropr().r(44).invert(true), "cropr:R=44,invert=true"),
                Arguments.of(Reducers.random().keep(0.5).at(2, 4).seed(3), "random:keep=0.5,at=2/4,seed=3"),
                Arguments.of(Reducers.random().r(10).llf(true).seed(1), "random:R=10,llf=true,seed=1"),
                Arguments.of(Reducers.attn().start(1).then(Reducers.tome(0)), "attn:start=1+tome:r=0"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("pairs")
    void aBuilderGivesTheReducerOfItsSpecString(ReducerBuilder builder, String spec) {
        TokenReducer built = builder.build();
        TokenReducer parsed = Reducers.parse(spec);
        assertThat(built.spec()).isEqualTo(parsed.spec());
        assertThat(built.getClass()).isEqualTo(parsed.getClass());
        assertSameKeptTokens(built, parsed);
        // for a model, unset Cropr parameters come from its trained schedule in both
        assertThat(builder.build(vit).spec()).isEqualTo(Reducers.parse(spec, vit).spec());
    }

    @Test
    void aBareCroprBuilderRunsTheScheduleTheModelWasTrainedWith() {
        assertThat(vit.recordedReduce()).startsWith("cropr:");
        TokenReducer c = Reducers.cropr().build(vit);
        assertThat(c.spec()).isEqualTo(Reducers.parse(vit.recordedReduce()).spec());
        assertSameKeptTokens(c, Reducers.parse("cropr", vit));
    }

    @Test
    void badValuesAreRefusedAsTheParserRefusesThem() {
        assertThatThrownBy(() -> Reducers.attn().keep(1.5, 0.4).build()).isInstanceOf(VitrimException.class)
                .hasMessageContaining("keep=1.5..0.4");
        assertThatThrownBy(() -> Reducers.tome(-1).build()).isInstanceOf(VitrimException.class)
                .hasMessageContaining("r=-1");
        assertThatThrownBy(() -> Reducers.random().keep(0.5).r(8).build()).isInstanceOf(VitrimException.class);
        assertThatThrownBy(() -> Reducers.attn().start(9).build(vit)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("start=9");
    }

    @Test
    void theBuilderWritesTheSpecItStandsFor() {
        assertThat(Reducers.attn().keep(0.8, 0.4).start(3).spec()).isEqualTo("attn:keep=0.8..0.4,start=3");
        assertThat(Reducers.cropr().r(8).spec()).isEqualTo("cropr:R=8");
        assertThat(Reducers.evit().at(3, 6, 9).toString()).isEqualTo("evit:at=3/6/9");
    }

    /** Both reducers keep the same original tokens after every block, image by image. */
    static void assertSameKeptTokens(TokenReducer a, TokenReducer b) {
        Trace ta = new Trace();
        Trace tb = new Trace();
        FloatTensor ya = vit.forward(x, a, ta);
        FloatTensor yb = vit.forward(x, b, tb);
        List<List<Trace.Block>> ia = ta.images();
        List<List<Trace.Block>> ib = tb.images();
        assertThat(ia).hasSameSizeAs(ib);
        boolean reduced = false;
        for (int i = 0; i < ia.size(); i++) {
            assertThat(ia.get(i)).hasSameSizeAs(ib.get(i));
            for (int k = 0; k < ia.get(i).size(); k++) {
                assertThat(ia.get(i).get(k).positions()).as("image %d block %d", i, k)
                        .containsExactly(ib.get(i).get(k).positions());
                reduced |= ia.get(i).get(k).tokens() < 197;
            }
        }
        assertThat(ya.data()).containsExactly(yb.data());
        if (!a.spec().startsWith("tome:r=0") && !a.spec().contains("+tome:r=0")) {
            assertThat(reduced).as("the reducer removed tokens somewhere").isTrue();
        }
    }
}
