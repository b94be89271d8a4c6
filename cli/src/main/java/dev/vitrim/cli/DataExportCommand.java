package dev.vitrim.cli;

import dev.vitrim.VitrimException;
import dev.vitrim.data.DataHome;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.scenes.SceneExport;
import dev.vitrim.data.scenes.SceneGenerator;
import dev.vitrim.data.scenes.SceneSplit;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Write scenes as PNG files with label maps and COCO annotations.", "",
                "A scene is a 112x112 crop of a real photo with one to four Fashion-MNIST clothing items pasted on "
                        + "it, each tinted with a random colour and scaled to 28..64 px. The same split, index and "
                        + "seed always give the same scene. Validation and test are fixed sets of 2,000 scenes "
                        + "(validation items are held out of the Fashion-MNIST training images, test items and test "
                        + "photos are used by no other split).", "",
                "DIR (new or empty) receives:",
                "  images/000000.png ...  the scenes, RGB",
                "  labels/000000.png ...  8-bit grey: 0 background, 1..10 the item's class + 1, 255 ignore (the "
                        + "last few visible pixels of an item that later items almost covered)",
                "  instances.json         COCO: images (id = index + 1, file_name relative to images/, height, "
                        + "width, photo), categories 1..10 (T-shirt/top .. Ankle boot), annotations (category_id, "
                        + "bbox [x, y, w, h] and area of the visible pixels, iscrowd 0, segmentation as uncompressed "
                        + "RLE {\"size\": [h, w], \"counts\": [...]}, column-major runs starting with background)", "",
                "Needs the data of 'vitrim data fetch scenes'."},
        footer = {"", "Examples:", "  vitrim data export scenes:test scenes-test/",
                "  vitrim data export scenes:val val-single/ --single --limit 200",
                "  vitrim data export scenes:train train-5k/ --limit 5000 --seed 3"})
final class DataExportCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DATA",
            description = "scenes:train, scenes:val, scenes:test, or scenes-1:SPLIT (one item per scene, as --single).")
    String data;

    @Parameters(index = "1", paramLabel = "DIR", description = "Output folder, new or empty.")
    Path dir;

    @Option(names = "--limit", paramLabel = "N",
            description = "Export scenes 0..N-1 (default: ${DEFAULT-VALUE}, the whole validation or test set).",
            defaultValue = "2000")
    int limit;

    @Option(names = "--single", description = "Exactly one item per scene (the scenes-1 variant).")
    boolean single;

    @Option(names = "--seed", paramLabel = "S",
            description = "Seed of training scenes (default 0). Validation and test are fixed sets and take none.")
    Long seed;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Datasets.Spec ds = Datasets.parse(data);
        if (!ds.kind().equals("scenes") && !ds.kind().equals("scenes-1")) {
            throw new VitrimException("data export: '" + data + "' cannot be exported; only scenes[:train|val|test] and"
                    + " scenes-1[:train|val|test] are generated");
        }
        SceneSplit split = SceneSplit.parse(ds.split());
        if (seed != null && split != SceneSplit.TRAIN) {
            throw new VitrimException("--seed: " + ds + " is a fixed set; --seed applies to training scenes only");
        }
        if (limit < 1) {
            throw new VitrimException("--limit must be positive, got " + limit);
        }
        boolean one = single || ds.kind().equals("scenes-1");
        long s = split == SceneSplit.TRAIN ? (seed != null ? seed : 0L) : SceneGenerator.EVAL_SEED;
        SceneGenerator gen = SceneGenerator.open(DataHome.root());
        out.printf(Locale.ROOT, "exporting %,d %s of %s (seed %d) to %s%n", limit,
                one ? "single-item scenes" : "scenes", split.id(), s, dir);
        out.flush();
        SceneExport.write(gen, new SceneExport.Request(split, s, one, limit), dir, line -> {
            out.println(line);
            out.flush();
        });
        out.println("wrote " + dir.resolve("images") + ", " + dir.resolve("labels") + " and "
                + dir.resolve("instances.json"));
        return 0;
    }
}
