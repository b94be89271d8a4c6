package dev.vitrim.cli;

import dev.vitrim.reduce.Trace;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --trace FILE}: per image and block, the token count and the original positions present. */
public final class TraceOption {
    @Option(names = "--trace", paramLabel = "FILE.json",
            description = "Write, per image and block, the token count and the original positions present after "
                    + "the block: {\"images\":[{\"blocks\":[{\"block\":0,\"tokens\":197,\"positions\":[0,1,…]}]}]}. "
                    + "Merged tokens report their representative's position, a fused EViT token -1.")
    Path trace;

    Trace start() {
        return trace == null ? null : new Trace();
    }

    void finish(Trace t) {
        if (t != null) {
            t.write(trace);
        }
    }
}
