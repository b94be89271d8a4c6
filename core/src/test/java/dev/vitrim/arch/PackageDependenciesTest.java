package dev.vitrim.arch;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The core's packages form a layered graph with no cycle: reducers see the model through {@code ModelView}, not the
 * model class, and evaluation does not reach into training. Read from the sources (imports and fully qualified
 * names), so a new dependency in the wrong direction fails here.
 */
class PackageDependenciesTest {
    private static final Path MAIN = Path.of("src/main/java/dev/vitrim");
    private static final Pattern REF = Pattern.compile("\\bdev\\.vitrim\\.([a-z]+)\\.[A-Z]");

    static Map<String, Set<String>> graph() throws IOException {
        Map<String, Set<String>> g = new TreeMap<>();
        try (Stream<Path> files = Files.walk(MAIN)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
                Path rel = MAIN.relativize(f);
                if (rel.getNameCount() < 2) {
                    continue; // dev.vitrim itself (VitrimException): below every package
                }
                String pkg = rel.getName(0).toString();
                Matcher m = REF.matcher(Files.readString(f));
                Set<String> deps = g.computeIfAbsent(pkg, k -> new TreeSet<>());
                while (m.find()) {
                    if (!m.group(1).equals(pkg)) {
                        deps.add(m.group(1));
                    }
                }
            }
        }
        return g;
    }

    @Test
    void reducersDoNotDependOnTheModelAndEvaluationNotOnTraining() throws IOException {
        Map<String, Set<String>> g = graph();
        assertThat(g).containsKeys("reduce", "model", "eval", "train");
        assertThat(g.get("reduce")).doesNotContain("model", "train", "eval", "infer");
        assertThat(g.get("arch")).doesNotContain("model", "reduce", "train", "eval");
        assertThat(g.get("engine")).doesNotContain("model", "reduce", "train", "eval", "arch");
        assertThat(g.get("model")).doesNotContain("train", "eval", "infer");
        assertThat(g.get("eval")).doesNotContain("train");
        // the facade sits on top: only the DJL adapter builds on it, and nothing on the DJL adapter
        g.forEach((pkg, deps) -> {
            if (!pkg.equals("djl")) {
                assertThat(deps).as(pkg).doesNotContain("api", "djl");
            }
        });
        assertThat(g.get("api")).doesNotContain("djl", "train", "eval", "data");
    }

    @Test
    void thePackageGraphHasNoCycle() throws IOException {
        Map<String, Set<String>> g = graph();
        List<String> cycle = new ArrayList<>();
        for (String start : g.keySet()) {
            if (reaches(g, start, start, new TreeSet<>(), cycle)) {
                break;
            }
        }
        assertThat(cycle).as("a package cycle").isEmpty();
    }

    private static boolean reaches(Map<String, Set<String>> g, String from, String target, Set<String> seen,
                                   List<String> path) {
        for (String next : g.getOrDefault(from, Set.of())) {
            if (next.equals(target)) {
                path.add(from);
                path.add(next);
                return true;
            }
            if (seen.add(next) && reaches(g, next, target, seen, path)) {
                path.add(0, from);
                return true;
            }
        }
        return false;
    }
}
