package dev.vitrim.cli;

import dev.vitrim.arch.VitConfig;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import picocli.CommandLine.Option;

/** {@code --reduce SPEC} and {@code --trace FILE}. */
public final class ReduceOptions {
    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", defaultValue = "none",
            description = "Token reduction (default: none). Methods:%n" + Reducers.HELP)
    String reduce;

    /** The reducer for a preset or checkpoint; a bare {@code cropr} takes the schedule recorded in the file. */
    TokenReducer reducer(VitConfig c, String recorded) {
        TokenReducer r = Reducers.parse(reduce, recorded);
        r.validate(c);
        return r;
    }

    /** The reducer for a loaded model. */
    TokenReducer reducer(VisionTransformer vit) {
        return Reducers.parse(reduce, vit);
    }
}
