package dev.vitrim.reduce;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a reducer did, per image and block: the token count and the original positions present after the
 * block (a merged token reports its representative's position, a fused EViT token -1). Recording pulls the
 * positions out of the engine after every block, so it is off the fast path unless asked for.
 */
public final class Trace {
    /**
     * One block of one image. {@code positions} ascending. {@code owner} (only when tracing sources): for each
     * original token, the index of the token that now holds it, or -1 when it was pruned.
     */
    public record Block(int block, int tokens, long[] positions, int[] owner) {}

    private final boolean withSource;

    public Trace() {
        this(false);
    }

    /** With {@code withSource}, tokens carry which original tokens they hold (for explanations; slower). */
    public Trace(boolean withSource) {
        this.withSource = withSource;
    }

    public boolean withSource() {
        return withSource;
    }

    private final List<List<Block>> images = new ArrayList<>();
    private int base;

    /** Marks the start of a new batch: its images are numbered after those recorded so far. */
    public void startBatch() {
        base = images.size();
    }

    /** Records the tokens after {@code block} for images {@code first}, {@code first+1}, … of the batch. */
    public void record(int firstInBatch, int block, Tokens t) {
        int first = base + firstInBatch;
        int b = t.batch();
        int n = t.count();
        long[] pos = t.positions;
        float[] src = t.source == null ? null : t.source.toFloatArray();
        int n0 = t.source == null ? 0 : (int) t.source.getShape().get(2);
        for (int i = 0; i < b; i++) {
            while (images.size() <= first + i) {
                images.add(new ArrayList<>());
            }
            int real = t.counts == null ? n : t.counts[i];
            long[] p = Arrays.copyOfRange(pos, i * n, i * n + real);
            Arrays.sort(p);
            int[] owner = null;
            if (src != null) {
                owner = new int[n0];
                java.util.Arrays.fill(owner, -1);
                for (int tok = 0; tok < real; tok++) {
                    for (int j = 0; j < n0; j++) {
                        if (src[(i * n + tok) * n0 + j] > 0.5f) {
                            owner[j] = tok;
                        }
                    }
                }
            }
            images.get(first + i).add(new Block(block, real, p, owner));
        }
    }

    public List<List<Block>> images() {
        return images;
    }

    public ObjectNode toJson(ObjectMapper om) {
        ObjectNode doc = om.createObjectNode();
        ArrayNode arr = doc.putArray("images");
        for (List<Block> img : images) {
            ArrayNode blocks = arr.addObject().putArray("blocks");
            for (Block bl : img) {
                ObjectNode o = blocks.addObject();
                o.put("block", bl.block()).put("tokens", bl.tokens());
                ArrayNode p = o.putArray("positions");
                for (long v : bl.positions()) {
                    p.add(v);
                }
            }
        }
        return doc;
    }

    public void write(Path file) {
        ObjectMapper om = new ObjectMapper();
        try {
            om.writeValue(file.toFile(), toJson(om));
        } catch (IOException e) {
            throw new VitrimException(file + ": cannot write the trace (" + e.getMessage() + ")");
        }
    }
}
