package dev.vitrim.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.arch.VitConfig;
import dev.vitrim.data.DataHome;
import dev.vitrim.data.DataSource;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.Fetcher;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.engine.Torch;
import dev.vitrim.eval.Comparison;
import dev.vitrim.eval.ComparisonTable;
import dev.vitrim.eval.CostMatch;
import dev.vitrim.eval.ExampleImages;
import dev.vitrim.eval.KeptPatches;
import dev.vitrim.eval.StandardMethods;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.reduce.Reducers;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"What vitrim does, in about two minutes: the shipped MNIST model with each token-reduction "
                + "method at about the same cost, its accuracy on test images, its MACs and its speed measured against "
                + "the unreduced model, and a picture of the patches each method kept.", "",
                "Methods (every row prints its spec; re-run one with `vitrim eval --reduce SPEC`):",
                "  none           the unreduced model: every block sees all the patches (196 + CLS).",
                "  attn           vitrim's attention-guided pruning, seed defaults: from block 3 on, keep the patches",
                "                 the CLS token attends to most (averaged over heads and the last 3 blocks), a share",
                "                 falling from 80%% to 40%%.",
                "  attn mass=0.9  the same, but each image keeps the fewest patches holding 90%% of that attention",
                "                 (never more than attn): the count follows how concentrated the attention is.",
                "  evit           EViT (Liang et al. 2022): between attention and MLP, keep the 70%% most",
                "                 attended patches, fuse the rest into one token; blocks chosen to cost what attn costs.",
                "  tome           ToMe (Bolya et al. 2023): merge the r most similar token pairs in every block,",
                "                 nothing discarded; r is chosen to cost what attn costs.",
                "  random         random pruning with the keep/at parameters whose MACs come closest to attn's: the",
                "                 control a method has to beat to be choosing tokens at all.",
                "  cropr          Token Cropr (learned pruning, seed 001) on its own checkpoint: the model fine-tuned",
                "                 with Cropr's modules (`vitrim train --reduce cropr:...`), at the schedule it was",
                "                 trained with (--cropr; found next to --model as NAME-cropr-llf or NAME-cropr).",
                "                 Its speed is measured against the compared model, unreduced.", "",
                "Accuracy: a seeded sample of --limit test images (0: all of them). Speed: each method runs "
                        + "interleaved with the unreduced model on one batch of --batch test images (warm-up, then "
                        + "medians), so both see the same machine. The data set is fetched on first use."},
        footer = {"", "Examples:", "  vitrim demo", "  vitrim demo --limit 0 --json",
                "  vitrim demo --model models/fmnist-vit.safetensors --data fashion-mnist:test --markdown --no-png"})
public final class DemoCommand implements Callable<Integer> {
    /** The name of the Token Cropr row. */
    static final String CROPR = "cropr";

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    PrecisionOption precision;

    @Option(names = {"-m", "--model"}, paramLabel = "PATH", defaultValue = "models/mnist-vit.safetensors",
            description = "The model (default: ${DEFAULT-VALUE}).")
    Path model;

    @Option(names = "--data", paramLabel = "DATASET", defaultValue = "mnist:test",
            description = "Labelled images: " + Datasets.USAGE + " (default: ${DEFAULT-VALUE}).")
    String data;

    @Option(names = "--cropr", paramLabel = "PATH", defaultValue = "auto",
            description = "A Token Cropr checkpoint of the same architecture to add as the cropr row; 'auto' (the "
                    + "default) takes NAME-cropr-llf.safetensors or NAME-cropr.safetensors next to --model "
                    + "(NAME: the model's file name without -vit), 'none' leaves the row out.")
    String cropr;

    @Option(names = "--limit", paramLabel = "N", defaultValue = "2500",
            description = "Accuracy on a seeded sample of N images; 0 for all (default: ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = {"-o", "--out"}, paramLabel = "PNG", defaultValue = "demo-kept-patches.png",
            description = "The picture of the kept patches (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--no-png", description = "Write no picture.")
    boolean noPng;

    @Option(names = "--batch", paramLabel = "B", defaultValue = "8",
            description = "Batch size of the speed measurement (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "3",
            description = "Unmeasured runs per method before timing (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--runs", paramLabel = "N", defaultValue = "10",
            description = "Minimum measured runs per method (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--seconds", paramLabel = "S", defaultValue = "2",
            description = "Minimum measuring time per method (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--json", description = "Print the results as JSON: {model, data, images, batch, "
            + "baseline_gmacs, attn_gmacs, cropr_model, methods: [{name, spec, top1, gmacs, images_per_s, "
            + "baseline_images_per_s, speedup}], examples: [{index, label, role, tokens: {method: count}}], picture}.")
    boolean json;

    @Option(names = "--markdown", description = "Print the table as Markdown (model, method, spec, top-1, GMACs, "
            + "speedup).")
    boolean markdown;

    @Option(names = "--scenes", paramLabel = "PATH", defaultValue = "models/scenes-vit.safetensors",
            description = "The dense model of the scenes part: segmentation, detection and instances on objects placed "
                    + "on real photos, most of each image background ('none' leaves the part out; default: "
                    + "${DEFAULT-VALUE}).")
    String scenes;

    @Option(names = "--scenes-limit", paramLabel = "N", defaultValue = "200",
            description = "Test scenes the scenes part evaluates (default: ${DEFAULT-VALUE}).")
    int scenesLimit;

    @Option(names = "--scenes-out", paramLabel = "PNG", defaultValue = "demo-scenes.png",
            description = "The picture of the scenes part: the first test scenes with what the model found "
                    + "(default: ${DEFAULT-VALUE}).")
    Path scenesOut;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws IOException {
        long start = System.nanoTime();
        if (limit < 0) {
            throw new VitrimException("--limit must be 0 (all images) or more, got " + limit);
        }
        if (json && markdown) {
            throw new VitrimException("--json and --markdown: choose one");
        }
        if (batch < 1 || runs < 1 || warmup < 0 || seconds < 0) {
            throw new VitrimException("--batch and --runs must be at least 1, --warmup and --seconds at least 0");
        }
        Comparison.Timing timing = new Comparison.Timing(batch, warmup, runs, seconds);
        Datasets.Spec dataSpec = Datasets.parse(data);
        model = Home.resolve(model);
        if (!Files.exists(model)) {
            throw new VitrimException(model + ": no such model file (--model)");
        }
        if (!noPng) {
            prepare(out);
        }
        PrintWriter o = spec.commandLine().getOut();
        boolean text = !json && !markdown;
        Path croprFile = croprFile();
        Torch.engine(common.threads);
        try (VisionTransformer vit = VisionTransformer.load(model, 0);
             VisionTransformer croprVit = croprFile == null ? null : VisionTransformer.load(croprFile, 0)) {
            precision.apply(vit, spec.commandLine().getErr());
            if (croprVit != null) {
                croprVit.usePrecision(precision.requested());
            }
            VitConfig c = vit.config();
            StandardMethods.Lineup lineup;
            try {
                lineup = StandardMethods.of(c);
            } catch (VitrimException e) {
                throw new VitrimException(model + ": " + e.getMessage());
            }
            List<Comparison.Method> methods = new ArrayList<>(lineup.methods());
            if (croprVit != null) {
                Comparison.Method m;
                try {
                    String stem = croprFile.getFileName().toString().replaceFirst("\\.safetensors$", "");
                    m = new Comparison.Method(CROPR + " (" + stem + ")", Reducers.parse("cropr", croprVit), croprVit);
                    Comparison.check(vit, m);
                } catch (VitrimException e) {
                    throw new VitrimException(croprFile + ": " + e.getMessage() + " (--cropr)");
                }
                if (!dev.vitrim.reduce.Cropr.hasQueries(croprVit)) {
                    throw new VitrimException(croprFile + ": no Cropr queries ('cropr.0.cross_attn.queries'): not a "
                            + "model trained with `vitrim train --reduce cropr:...` (--cropr; 'none' leaves the row out)");
                }
                methods.add(m);
            }
            LabeledImages all = load(dataSpec, c);
            LabeledImages sample = Comparison.sample(all, limit, 0);
            if (text) {
                o.printf(Locale.ROOT, "%s on %s: accuracy on %s, speed at batch %d (each method interleaved with "
                        + "the unreduced model, medians after warm-up)%n%n", model, data, sample.size() < all.size()
                        ? String.format(Locale.ROOT, "%d of %d images (seeded sample; --limit 0 for all)",
                        sample.size(), all.size()) : "all " + all.size() + " images", batch);
                o.flush();
            }
            Comparison.Result result;
            try (Bars bars = new Bars()) {
                result = Comparison.run(vit, sample, methods, timing, bars);
            }
            List<ExampleImages.Example> examples = ExampleImages.pick(all);
            KeptPatches.Grid grid = KeptPatches.trace(vit, all, examples, methods);
            if (!noPng) {
                List<String> captions = new ArrayList<>();
                for (ExampleImages.Example e : examples) {
                    captions.add(e.role() + " (image " + e.index() + " of " + data + ")");
                }
                write(KeptPatches.render(grid, captions, c.preprocess(), c), out);
            }
            if (text) {
                report(o, result, lineup, grid, croprFile, (System.nanoTime() - start) / 1e9);
                o.flush();
            }
            ScenesDemo.Result sr = scenesPart(o, text);
            if (json) {
                ObjectNode doc = json(result, lineup, grid, croprFile);
                if (sr != null) {
                    doc.set("scenes", sr.json());
                }
                o.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(doc));
            } else if (markdown) {
                o.print(ComparisonTable.markdownHeader(batch));
                o.print(ComparisonTable.markdownRows(model.getFileName().toString().replaceFirst("\\.safetensors$", ""),
                        result));
                if (sr != null) {
                    o.println();
                    o.print(sr.markdown());
                }
            } else if (sr != null) {
                o.println();
                o.print(sr.text());
                o.printf(Locale.ROOT, "%.0f s in all%n", (System.nanoTime() - start) / 1e9);
            }
            o.flush();
        }
        return 0;
    }

    /** The scenes part, or null when left out (--scenes none, or the default model is not installed). */
    private ScenesDemo.Result scenesPart(PrintWriter o, boolean text) {
        if (scenes.equals("none")) {
            return null;
        }
        Path p = Home.resolve(Path.of(scenes));
        boolean isDefault = spec.commandLine().getParseResult().matchedOption("--scenes") == null;
        if (!Files.exists(p)) {
            if (isDefault) {
                if (text) {
                    o.println("(no " + scenes + ": the scenes part is left out)");
                }
                return null;
            }
            throw new VitrimException(p + ": no such model file (--scenes; 'none' leaves the scenes part out)");
        }
        if (scenesLimit < 1) {
            throw new VitrimException("--scenes-limit must be at least 1, got " + scenesLimit);
        }
        if (!noPng) {
            prepare(scenesOut);
        }
        return ScenesDemo.run(p, scenesLimit, noPng ? null : scenesOut, batch, precision.requested(),
                spec.commandLine().getErr());
    }

    /** The Token Cropr checkpoint of the cropr row, or null for none. */
    private Path croprFile() {
        if (cropr.equals("none")) {
            return null;
        }
        if (!cropr.equals("auto")) {
            Path p = Path.of(cropr);
            if (!Files.exists(p)) {
                throw new VitrimException(p + ": no such model file (--cropr; 'none' leaves the cropr row out)");
            }
            return p;
        }
        String name = model.getFileName().toString().replaceFirst("\\.safetensors$", "").replaceFirst("-vit$", "");
        for (String suffix : new String[] {"-cropr-llf.safetensors", "-cropr.safetensors"}) {
            Path p = model.resolveSibling(name + suffix);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    /** The data set, fetched first when it is a named one whose folder is not there yet. */
    private LabeledImages load(Datasets.Spec ds, VitConfig c) {
        PrintWriter err = spec.commandLine().getErr();
        Fetcher f = new Fetcher(DataHome.root(), line -> {
            err.println("vitrim: " + line);
            err.flush();
        });
        for (DataSource src : Datasets.sources(ds)) {
            if (!f.isComplete(src) && !Files.isDirectory(f.folder(src))) {
                f.fetch(src);
            }
        }
        return Datasets.load(ds, DataHome.root(), c.preprocess());
    }

    /** Creates the picture's folder and checks it can be written, before the long run rather than after it. */
    private static void prepare(Path file) {
        Path dir = file.toAbsolutePath().getParent();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new VitrimException(file + ": cannot create the folder " + dir + " (--out)");
        }
        if (!Files.isWritable(dir) || Files.isDirectory(file)) {
            throw new VitrimException(file + ": cannot write the picture there (--out)");
        }
    }

    private static void write(BufferedImage picture, Path file) {
        try {
            if (!ImageIO.write(picture, "png", file.toFile())) {
                throw new VitrimException(file + ": could not write a PNG (--out)");
            }
        } catch (IOException e) {
            throw new VitrimException(file + ": cannot write the picture (" + e.getMessage() + ") (--out)");
        }
    }

    private void report(PrintWriter o, Comparison.Result r, StandardMethods.Lineup lineup, KeptPatches.Grid grid,
                        Path croprFile, double seconds) {
        o.print(ComparisonTable.text(r));
        CostMatch.Match rnd = lineup.random();
        o.printf(Locale.ROOT, "%nevit, tome and random are matched to attn's %.4f GMACs (evit %+.1f%%, tome %+.1f%%, "
                        + "random %+.1f%%); attn mass=0.9 reports its measured mean.%n", lineup.attnMacs() / 1e9,
                100 * lineup.evit().relativeError(), 100 * lineup.tome().relativeError(), 100 * rnd.relativeError());
        if (croprFile != null) {
            o.println("cropr runs " + croprFile + " (fine-tuned with Cropr's modules) at the schedule it was trained "
                    + "with: vitrim eval --model " + croprFile + " --data " + data + " --reduce cropr");
        } else if (cropr.equals("auto")) {
            o.println("No Cropr model next to " + model + " (--cropr PATH adds one).");
        }
        o.println("Re-run a row: vitrim eval --model " + model + " --data " + data + " --reduce 'SPEC'");
        o.println();
        List<Comparison.Method> methods = grid.methods();
        int w = grid.examples().stream().mapToInt(e -> e.role().length()).max().orElse(10) + 14;
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-" + w + "s", "tokens kept"));
        for (Comparison.Method m : methods) {
            head.append(String.format(Locale.ROOT, " %" + Math.max(5, m.name().length()) + "s", m.name()));
        }
        o.println(head);
        for (int i = 0; i < grid.examples().size(); i++) {
            ExampleImages.Example e = grid.examples().get(i);
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-" + w + "s",
                    e.role() + " (image " + e.index() + ")"));
            for (int m = 0; m < methods.size(); m++) {
                row.append(String.format(Locale.ROOT, " %" + Math.max(5, methods.get(m).name().length()) + "d",
                        grid.tokens(i, m)));
            }
            o.println(row);
        }
        int mass = methods.stream().map(Comparison.Method::name).toList().indexOf(StandardMethods.ATTN_MASS_NAME);
        if (grid.examples().size() >= 2 && mass >= 0) {
            ExampleImages.Example a = grid.examples().get(0);
            ExampleImages.Example b = grid.examples().get(1);
            int ta = grid.tokens(0, mass);
            int tb = grid.tokens(1, mass);
            o.printf(Locale.ROOT, "%nUnder %s the %s keeps %d tokens and the %s keeps %d (the fewest patches "
                    + "holding 90%% of the CLS attention: the count follows how concentrated it is).%n",
                    StandardMethods.ATTN_MASS, a.role(), ta, b.role(), tb);
        }
        if (!noPng) {
            o.println("wrote " + out + " (rows: images; columns: methods; pruned patches greyed and hatched, merged "
                    + "or fused ones outlined)");
        }
        o.printf(Locale.ROOT, "%.0f s%n", seconds);
    }

    private ObjectNode json(Comparison.Result r, StandardMethods.Lineup lineup, KeptPatches.Grid grid, Path croprFile) {
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode doc = om.createObjectNode();
        doc.put("model", model.toString()).put("data", data).put("images", r.images()).put("batch", r.batch())
                .put("baseline_gmacs", r.baselineGmacs()).put("attn_gmacs", lineup.attnMacs() / 1e9)
                .put("cropr_model", croprFile == null ? null : croprFile.toString());
        ArrayNode rows = doc.putArray("methods");
        for (Comparison.Row x : r.rows()) {
            rows.addObject().put("name", x.name()).put("spec", x.spec()).put("top1", x.top1()).put("gmacs", x.gmacs())
                    .put("images_per_s", x.imagesPerS()).put("baseline_images_per_s", x.baselineImagesPerS())
                    .put("speedup", x.speedup()).put("runs", x.runs());
        }
        ArrayNode ex = doc.putArray("examples");
        for (int i = 0; i < grid.examples().size(); i++) {
            ExampleImages.Example e = grid.examples().get(i);
            ObjectNode n = ex.addObject().put("index", e.index()).put("label", e.label()).put("role", e.role());
            ObjectNode tokens = n.putObject("tokens");
            for (int m = 0; m < grid.methods().size(); m++) {
                tokens.put(grid.methods().get(m).name(), grid.tokens(i, m));
            }
        }
        if (noPng) {
            doc.putNull("picture");
        } else {
            doc.put("picture", out.toString());
        }
        return doc;
    }

    /** Progress bars on stderr, one per task, only on a terminal (logs and pipes stay clean). */
    private static final class Bars implements Comparison.Progress, AutoCloseable {
        private final boolean on = System.console() != null;
        private ProgressBar bar;
        private String task;

        @Override
        public void update(String t, long done, long total) {
            if (!on) {
                return;
            }
            if (!t.equals(task)) {
                close();
                task = t;
                bar = new ProgressBarBuilder().setTaskName(t).setInitialMax(total)
                        .setConsumer(new ConsoleProgressBarConsumer(System.err)).build();
            }
            bar.stepTo(done);
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
                bar = null;
            }
        }
    }
}
