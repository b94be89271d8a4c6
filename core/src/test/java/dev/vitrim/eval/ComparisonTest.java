package dev.vitrim.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.ImageTransform;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Trace;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The comparison on a small random model: rows, accuracy and cost as eval reports them, timing, the figure. */
class ComparisonTest {
    static VisionTransformer vit;
    static VitConfig c;
    static final Comparison.Timing QUICK = new Comparison.Timing(4, 0, 2, 0);

    @BeforeAll
    static void model() {
        c = EvalTestSupport.small();
        vit = VisionTransformer.random(c, 3);
    }

    @AfterAll
    static void close() {
        vit.close();
    }

    @Test
    void everyMethodGetsARowWithEvalsAccuracyAndCostAndAMeasuredSpeedup() {
        LabeledImages data = EvalTestSupport.digits(10);
        List<Comparison.Method> methods = StandardMethods.of(c).methods();
        List<String> progress = new ArrayList<>();
        Comparison.Result r = Comparison.run(vit, data, methods, QUICK,
                (task, done, total) -> progress.add(task + " " + done + "/" + total));
        assertThat(r.images()).isEqualTo(10);
        assertThat(r.batch()).isEqualTo(4);
        assertThat(r.baselineGmacs()).isEqualTo(Macs.unreduced(c) / 1e9);
        assertThat(r.rows()).extracting(Comparison.Row::name)
                .containsExactly("none", "attn", "attn mass=0.9", "evit", "tome", "random");
        ImageTransform t = new ImageTransform(c.preprocess(), 0, false);
        for (int i = 0; i < methods.size(); i++) {
            Comparison.Row row = r.rows().get(i);
            Comparison.Method m = methods.get(i);
            assertThat(row.spec()).isEqualTo(m.spec());
            Evaluation.Result e = Evaluation.run(vit, data, t, m.reducer(), Comparison.EVAL_BATCH, null);
            assertThat(row.top1()).as(row.name()).isEqualTo(e.top1());
            assertThat(row.gmacs()).as(row.name()).isCloseTo(e.gmacs(), Offset.offset(1e-12));
            assertThat(row.imagesPerS()).isPositive();
            assertThat(row.speedup()).isCloseTo(row.imagesPerS() / row.baselineImagesPerS(), Offset.offset(1e-9));
            assertThat(row.runs()).isGreaterThanOrEqualTo(2);
        }
        Comparison.Row none = r.rows().get(0);
        assertThat(none.speedup()).isEqualTo(1.0);
        assertThat(none.gmacs()).isCloseTo(r.baselineGmacs(), Offset.offset(1e-12));
        // fixed schedules cost what the plan says
        assertThat(r.rows().get(1).gmacs()).isCloseTo(Macs.plan(c, Reducers.parse("attn", c)).gmacs(),
                Offset.offset(1e-12));
        assertThat(progress).contains("accuracy 60/60", "speed 5/5");
        String table = ComparisonTable.text(r);
        assertThat(table.lines()).hasSize(7);
        assertThat(table).contains("evit:keep=0.7,at=").contains("1.00x");
        String md = ComparisonTable.markdownHeader(4) + ComparisonTable.markdownRows("digits", r);
        assertThat(md.lines()).hasSize(8);
        assertThat(md.lines().findFirst().orElseThrow()).contains("speedup batch 4");
        assertThat(md).contains("| digits | random | `random:keep=");
    }

    @Test
    void theUnreducedModelAloneIsTimedAlone() {
        Comparison.Result r = Comparison.run(vit, EvalTestSupport.digits(3), List.of(new Comparison.Method("none",
                Reducers.NONE)), QUICK, null);
        assertThat(r.rows()).hasSize(1);
        assertThat(r.rows().get(0).speedup()).isEqualTo(1.0);
        assertThat(r.rows().get(0).imagesPerS()).isPositive();
    }

    @Test
    void wrongClassCountOrNoMethodsIsBadInput() {
        LabeledImages two = new LabeledImages("two", List.of("a", "b"), 1, 28, 28, new byte[784], new int[] {1});
        assertThatThrownBy(() -> Comparison.run(vit, two, StandardMethods.of(c).methods(), QUICK, null))
                .isInstanceOf(VitrimException.class).hasMessageContaining("2 classes");
        assertThatThrownBy(() -> Comparison.run(vit, two, List.of(), QUICK, null))
                .isInstanceOf(VitrimException.class).hasMessageContaining("no methods");
        assertThatThrownBy(() -> new Comparison.Timing(0, 0, 1, 0)).isInstanceOf(VitrimException.class);
    }

    @Test
    void theSampleIsSeededAndKeepsDataOrder() {
        LabeledImages data = EvalTestSupport.digits(50);
        LabeledImages a = Comparison.sample(data, 10, 0);
        LabeledImages b = Comparison.sample(data, 10, 0);
        assertThat(a.size()).isEqualTo(10);
        assertThat(a.pixels()).isEqualTo(b.pixels());
        assertThat(a.name()).contains("10 of 50");
        assertThat(Comparison.sample(data, 10, 1).pixels()).isNotEqualTo(a.pixels());
        assertThat(Comparison.sample(data, 0, 0)).isSameAs(data);
        assertThat(Comparison.sample(data, 50, 0)).isSameAs(data);
    }

    @Test
    void examplesAreTheThinnestOneTheBusiestEightAndTwoMore() {
        LabeledImages data = EvalTestSupport.digits(40);
        List<ExampleImages.Example> ex = ExampleImages.pick(data);
        assertThat(ex).extracting(ExampleImages.Example::role)
                .containsExactly("thinnest 1", "busiest 8", "first 0", "first 2");
        assertThat(ex.get(0).label()).isEqualTo(1);
        assertThat(ex.get(1).label()).isEqualTo(8);
        // bars of width 2 or 9, 20 rows: every 1 has the same ink, the first one wins
        assertThat(ex.get(0).index()).isEqualTo(1);
        assertThat(ExampleImages.ink(data, ex.get(0).index())).isEqualTo(40);
        assertThat(ExampleImages.ink(data, ex.get(1).index())).isEqualTo(180);
    }

    @Test
    void theFigureHasARowPerImageAndAColumnPerMethodWithTheTracedCounts() {
        LabeledImages data = EvalTestSupport.digits(20);
        List<ExampleImages.Example> ex = ExampleImages.pick(data);
        List<Comparison.Method> methods = StandardMethods.of(c).methods();
        KeptPatches.Grid g = KeptPatches.trace(vit, data, ex, methods);
        for (int i = 0; i < ex.size(); i++) {
            assertThat(g.tokens(i, 0)).isEqualTo(c.tokens());
            assertThat(g.tokens(i, 1)).isEqualTo(Macs.plan(c, methods.get(1).reducer()).afterBlock()[c.depth() - 1]);
            assertThat(g.tokens(i, 2)).isLessThanOrEqualTo(g.tokens(i, 1));
            Trace.Block b = g.last()[i][1];
            assertThat(java.util.Arrays.stream(b.owner()).filter(o -> o >= 0).count()).isEqualTo(b.tokens());
        }
        List<String> captions = ex.stream().map(ExampleImages.Example::role).toList();
        BufferedImage img = KeptPatches.render(g, captions, c.preprocess(), c);
        int panel = 28 * 6; // ceil(160 / 28) = 6
        assertThat(img.getWidth()).isEqualTo(8 + (1 + methods.size()) * (panel + 8));
        assertThat(img.getHeight()).isEqualTo(8 + 18 + ex.size() * (18 + panel + 18 + 8) + 18);
        // the unreduced cell shows the input unchanged; attn's greys out what it pruned
        int y = 8 + 18 + 18 + 3;
        int inputX = 8 + 3;
        int noneX = 8 + panel + 8 + 3;
        assertThat(img.getRGB(noneX, y)).isEqualTo(img.getRGB(inputX, y));
        // attn's cell: kept patches show the input, pruned ones carry the hatch lines (grey alone is invisible on
        // light images)
        int attnX = 8 + 2 * (panel + 8);
        int[] owner = g.last()[0][1].owner();
        int scale = 6;
        int p = c.patchSize() * scale;
        boolean sawPruned = false;
        boolean sawKept = false;
        for (int patch = 0; patch < c.numPatches(); patch++) {
            int px = (patch % c.gridW()) * p;
            int py = (patch / c.gridW()) * p;
            int y0 = 8 + 18 + 18;
            if (owner[c.prefixTokens() + patch] < 0) {
                sawPruned = true;
                // (px + py) is a multiple of the period here: the patch's top-left pixel lies on a hatch line
                assertThat(img.getRGB(attnX + px, y0 + py) & 0xFFFFFF).isEqualTo(Explainer.HATCH);
                assertThat(img.getRGB(attnX + px + 1, y0 + py) & 0xFFFFFF).isNotEqualTo(Explainer.HATCH);
            } else {
                sawKept = true;
                for (int d = 0; d < p; d++) {
                    assertThat(img.getRGB(attnX + px + d, y0 + py)).isEqualTo(img.getRGB(inputX - 3 + px + d, y0 + py));
                }
            }
        }
        assertThat(sawPruned).isTrue();
        assertThat(sawKept).isTrue();
    }

    @Test
    void aMethodWithItsOwnModelIsEvaluatedAndTracedOnItAndTimedAgainstTheComparedOne() {
        LabeledImages data = EvalTestSupport.digits(12);
        try (VisionTransformer other = VisionTransformer.random(c, 11)) {
            // random pruning with LLF: the final block gets every token back, so the picture shows the block before
            TokenReducer llf = Reducers.parse("random:R=20,llf=true", c);
            Comparison.Method own = new Comparison.Method("own", llf, other);
            Comparison.Method here = new Comparison.Method("here", llf);
            Comparison.Result r = Comparison.run(vit, data, List.of(here, own), QUICK, null);
            ImageTransform t = new ImageTransform(c.preprocess(), 0, false);
            assertThat(r.rows().get(1).top1())
                    .isEqualTo(Evaluation.run(other, data, t, llf, Comparison.EVAL_BATCH, null).top1());
            assertThat(r.rows().get(0).top1())
                    .isEqualTo(Evaluation.run(vit, data, t, llf, Comparison.EVAL_BATCH, null).top1());
            assertThat(r.rows().get(1).baselineImagesPerS()).isPositive();
            List<ExampleImages.Example> ex = ExampleImages.pick(data);
            KeptPatches.Grid g = KeptPatches.trace(vit, data, ex, List.of(here, own));
            int[] after = Macs.plan(c, llf).afterBlock();
            assertThat(after[c.depth() - 1]).isEqualTo(c.tokens());
            for (int i = 0; i < ex.size(); i++) {
                assertThat(g.tokens(i, 1)).isEqualTo(after[c.depth() - 2]).isLessThan(c.tokens());
            }
        }
    }

    @Test
    void aMethodWhoseModelHasAnotherArchitectureIsRefused() {
        VitConfig wider = EvalTestSupport.small().withHeads(c.heads() == 1 ? 2 : 1);
        try (VisionTransformer other = VisionTransformer.random(wider, 1)) {
            Comparison.Method m = new Comparison.Method("other", Reducers.NONE, other);
            assertThatThrownBy(() -> Comparison.run(vit, EvalTestSupport.digits(3), List.of(m), QUICK, null))
                    .isInstanceOf(VitrimException.class)
                    .hasMessageContaining("method other").hasMessageContaining("not the compared model's architecture");
        }
    }
}
