package dev.vitrim;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.Npy;
import java.nio.file.Path;

/** Access to the golden fixtures written by tools/make_fixtures.py (an independent PyTorch reference). */
public final class Golden {
    public static final Path DIR = Path.of("src/test/resources/golden");

    private Golden() {}

    public static Path path(String name) {
        return DIR.resolve(name);
    }

    public static FloatTensor npy(String name) {
        return Npy.read(path(name));
    }

    public static double maxAbsDiff(FloatTensor a, FloatTensor b) {
        assertThat(a.shape()).as("shape").containsExactly(b.shape());
        double m = 0;
        for (int i = 0; i < a.data().length; i++) {
            m = Math.max(m, Math.abs((double) a.data()[i] - b.data()[i]));
        }
        return m;
    }

    public static void assertClose(FloatTensor actual, FloatTensor expected, double tol) {
        double d = maxAbsDiff(actual, expected);
        assertThat(d).as("max abs error vs reference").isLessThanOrEqualTo(tol);
    }
}
