package dev.vitrim.cli;

import dev.vitrim.VitrimException;
import dev.vitrim.engine.Torch;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code vitrim} command line: one class per command, each a thin layer over the core library. */
@Command(name = "vitrim", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Faster Vision Transformers by pruning and merging the tokens that don't matter.", ""},
        subcommands = {ForwardCommand.class, ClassifyCommand.class, InfoCommand.class, FlopsCommand.class,
                ExplainCommand.class, EvalCommand.class, EvalCocoCommand.class, DenseCommand.Segment.class,
                DenseCommand.Detect.class,
                DemoCommand.class,
                BenchCommand.class, ExportCommand.class, DataCommand.class, TrainCommand.class, ConvertCommand.class,
                CommandLine.HelpCommand.class},
        footer = {"", "Exit status: 0 success, 2 bad input (the message names the file, tensor or parameter), "
                + "1 internal error.", "Add --verbose to any command for a stack trace."})
public final class Main implements Runnable {
    /** The version the build wrote into {@code vitrim.properties} (from the POM). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws java.io.IOException {
            java.util.Properties p = new java.util.Properties();
            try (java.io.InputStream in = Main.class.getResourceAsStream("/dev/vitrim/cli/vitrim.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {"vitrim " + p.getProperty("version", "(unknown version)"),
                "Java " + System.getProperty("java.version") + ", " + System.getProperty("os.arch")};
        }
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line with the given streams and returns the exit status (used by tests too). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        Torch.useApplicationDefaults();
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setUsageHelpWidth(110);
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("vitrim: " + ex.getMessage());
            c.getErr().println("Try 'vitrim " + (c.getCommandName().equals("vitrim") ? "" : c.getCommandName() + " ")
                    + "--help'.");
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
            Throwable t = ex;
            if (t instanceof VitrimException) {
                c.getErr().println("vitrim: " + t.getMessage());
                if (verbose) {
                    t.printStackTrace(c.getErr());
                }
                return 2;
            }
            c.getErr().println("vitrim: internal error: " + t + (verbose ? "" : " (run with --verbose for details)"));
            if (verbose) {
                t.printStackTrace(c.getErr());
            }
            return 1;
        });
        return cl.execute(args);
    }
}
