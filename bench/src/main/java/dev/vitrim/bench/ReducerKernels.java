package dev.vitrim.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.vitrim.arch.Presets;
import dev.vitrim.engine.Torch;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.AttentionView;
import dev.vitrim.reduce.BipartiteMerge;
import dev.vitrim.reduce.Cropr;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.reduce.Tokens;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What each reducer itself costs per block on ViT-S/16 tokens [B,N,384] (N = {@code tokens}, 197 unless set, e.g.
 * {@code -p tokens=100} for a pruned block), next to one transformer block: the bookkeeping must stay small against
 * the block it saves. Run: {@code scripts/jmh}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true"})
public class ReducerKernels {
    @Param({"1", "8"})
    int batch;

    @Param({"197"})
    int tokens;

    /** PyTorch's intra-op threads; 0: its default (one per core). */
    @Param({"0"})
    int threads;

    VisionTransformer vit;
    NDManager base;
    NDArray x;
    NDArray keys;
    NDArray cls;
    NDArray query;
    TokenReducer.Pass evit;
    TokenReducer.Pass random;
    TokenReducer.Pass none;
    TokenReducer.Pass clsRow;
    TokenReducer.Pass keySimilarity;

    @Setup(Level.Trial)
    public void setUp() {
        Torch.useApplicationDefaults();
        Torch.engine(threads);
        Torch.inference();
        vit = VisionTransformer.random(Presets.get("vit_small_patch16_224"), 0);
        base = vit.manager().newSubManager();
        x = base.randomNormal(new Shape(batch, tokens, 384));
        keys = base.randomNormal(new Shape(batch, tokens, 64));
        cls = base.randomUniform(0, 1, new Shape(batch, tokens)).softmax(-1);
        query = base.randomNormal(new Shape(384, 1));
        Tokens t = Tokens.initial(x, 1);
        evit = Reducers.parse("evit:keep=0.7,at=3/6/9").begin(vit, t);
        random = Reducers.parse("random:R=8,llf=true").begin(vit, t);
        none = Reducers.NONE.begin(vit, t);
        clsRow = reading(true);
        keySimilarity = reading(false);
    }

    /** A pass that asks attention for the CLS row (attn, EViT) or for ToMe's key similarities, and reads it back. */
    private static TokenReducer.Pass reading(boolean clsRow) {
        return new TokenReducer.Pass() {
            @Override
            public boolean needsClsAttention(int block) {
                return clsRow;
            }

            @Override
            public boolean needsKeySimilarity(int block) {
                return !clsRow;
            }

            @Override
            public Tokens afterAttention(int block, Tokens t, AttentionView view) {
                (clsRow ? view.clsAttention() : view.keySimilarity()).toFloatArray();
                return t;
            }
        };
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        base.close();
        vit.close();
    }

    private Tokens tokens(NDManager m) {
        Torch.inference(); // JMH may run the benchmark on another thread than the setup: prepare this one
        m.tempAttachAll(x, keys, cls);
        return Tokens.initial(x, 1);
    }

    @Benchmark
    public float tomeMergeR13() {
        try (NDManager m = base.newSubManager()) {
            Tokens t = BipartiteMerge.merge(tokens(m), keys, 13);
            return t.x.get(0, 0, 0).getFloat();
        }
    }

    @Benchmark
    public float evitSelectAndFuse() {
        try (NDManager m = base.newSubManager()) {
            Tokens t = evit.afterAttention(3, tokens(m), new AttentionView(cls, null, null));
            return t.x.get(0, 0, 0).getFloat();
        }
    }

    @Benchmark
    public float croprScoreAndPruneR8() {
        try (NDManager m = base.newSubManager()) {
            Tokens t = tokens(m);
            NDArray scores = t.x.get(new NDIndex(":, 1:, :")).matMul(query).squeeze(2);
            return Cropr.pruneLowest(t, scores, 8, true).x.get(0, 0, 0).getFloat();
        }
    }

    @Benchmark
    public float randomPruneR8() {
        try (NDManager m = base.newSubManager()) {
            Tokens t = random.afterBlock(1, tokens(m));
            return t.x.get(0, 0, 0).getFloat();
        }
    }

    @Benchmark
    public float transformerBlock() {
        return block(none);
    }

    /** A block that also hands out the CLS attention row: the difference to {@link #transformerBlock} is its cost. */
    @Benchmark
    public float transformerBlockWithClsRow() {
        return block(clsRow);
    }

    /** A block that also hands out ToMe's key similarities: the difference to {@link #transformerBlock}. */
    @Benchmark
    public float transformerBlockWithKeySimilarity() {
        return block(keySimilarity);
    }

    private float block(TokenReducer.Pass pass) {
        try (NDManager m = base.newSubManager()) {
            Tokens t = vit.block(5, tokens(m), pass, false);
            return t.x.get(0, 0, 0).getFloat();
        }
    }
}
