package dev.vitrim.cli;

import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import dev.vitrim.model.VitConfig;
import picocli.CommandLine.Option;

/** {@code --reduce SPEC} and {@code --trace FILE}. */
public final class ReduceOptions {
    @Option(names = {"-r", "--reduce"}, paramLabel = "SPEC", defaultValue = "none",
            description = "Token reduction (default: none). Methods:%n" + Reducers.HELP)
    String reduce;

    TokenReducer reducer(VitConfig c) {
        return Reducers.parse(reduce, c);
    }
}
