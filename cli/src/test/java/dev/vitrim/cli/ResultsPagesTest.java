package dev.vitrim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every results page under {@code docs/results} is what the script that measured it writes from the committed JSON:
 * each script's {@code --page} mode is run on a copy of the repository's {@code scripts/}, {@code docs/} and the
 * training records in {@code models/}, and every file under {@code docs/} must come out byte for byte as committed.
 * A hand-edited figure, a page left behind after its script changed, or a page no script writes fails here.
 */
class ResultsPagesTest {
    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    /** Each script's page mode and the pages it writes. */
    static final List<List<String>> SCRIPTS = List.of(
            List.of("accuracy-table --page", "accuracy.md"),
            List.of("learned-pruning-table --page", "learned-pruning.md"),
            List.of("onnxruntime-table --page", "onnxruntime.md"),
            List.of("precision-table --page", "precision-avx2.md", "precision-avx512-bf16.md", "precision-amx.md"),
            List.of("reduction-table --page", "reduction-speed.md"),
            List.of("scenes-mass-study --page", "scenes-mass.md"),
            List.of("scenes-results --page", "scenes.md"),
            List.of("scenes-schedule --page", "scenes-schedule.md"),
            List.of("spark-figures --page", "spark.md"),
            List.of("unreduced-speed --page", "unreduced-speed.md"),
            List.of("training-precision --page", "training-precision.md"),
            List.of("scenes-reduction-table --page val", "scenes-reduction-val.md"),
            List.of("scenes-reduction-table --page test", "scenes-reduction-test.md"));

    @TempDir
    Path tmp;

    @Test
    void everyPageIsWhatItsScriptWritesFromTheCommittedJson() throws Exception {
        copy(ROOT.resolve("scripts"), tmp.resolve("scripts"));
        copy(ROOT.resolve("docs"), tmp.resolve("docs"));
        Files.createDirectories(tmp.resolve("models"));
        try (Stream<Path> s = Files.list(ROOT.resolve("models"))) {
            for (Path p : (Iterable<Path>) s.filter(f -> f.toString().endsWith(".tsv")
                    || f.toString().endsWith(".jsonl"))::iterator) {
                Files.copy(p, tmp.resolve("models").resolve(p.getFileName()));
            }
        }

        Set<String> written = new TreeSet<>();
        for (List<String> script : SCRIPTS) {
            List<String> cmd = new ArrayList<>(Arrays.asList(script.get(0).split(" ")));
            cmd.set(0, tmp.resolve("scripts").resolve(cmd.get(0)).toString());
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true);
            for (String v : List.of("ONLY", "LIMIT", "TASKS", "SEEDS", "THREADS", "ACCURACY", "BENCH")) {
                pb.environment().remove(v);
            }
            Process p = pb.start();
            byte[] out = p.getInputStream().readAllBytes();
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("scripts/%s finishes", script.get(0)).isTrue();
            assertThat(p.exitValue()).as("scripts/%s:\n%s", script.get(0), new String(out, StandardCharsets.UTF_8))
                    .isZero();
            written.addAll(script.subList(1, script.size()));
        }

        List<String> differ = new ArrayList<>();
        try (Stream<Path> s = Files.walk(ROOT.resolve("docs"))) {
            for (Path committed : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                Path made = tmp.resolve("docs").resolve(ROOT.resolve("docs").relativize(committed).toString());
                if (!Arrays.equals(Files.readAllBytes(committed), Files.readAllBytes(made))) {
                    differ.add(ROOT.relativize(committed).toString());
                }
            }
        }
        assertThat(differ).as("pages that differ from what `scripts/NAME --page` writes from the committed JSON "
                + "(rewrite them with the script, never by hand)").isEmpty();

        try (Stream<Path> s = Files.list(ROOT.resolve("docs/results"))) {
            Set<String> pages = s.map(f -> f.getFileName().toString()).filter(f -> f.endsWith(".md"))
                    .collect(Collectors.toCollection(TreeSet::new));
            assertThat(written).as("every results page has a script that writes it").containsAll(pages);
        }
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }
}
