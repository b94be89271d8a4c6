package dev.vitrim.cli;

import picocli.CommandLine.Option;

/** Options every command takes. */
public final class CommonOptions {
    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;

    @Option(names = "--threads", paramLabel = "N",
            description = "Intra-op threads for PyTorch (default: one per physical core).")
    int threads;
}
