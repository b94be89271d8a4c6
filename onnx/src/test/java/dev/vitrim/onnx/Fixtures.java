package dev.vitrim.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vitrim.io.FloatTensor;
import dev.vitrim.io.Npy;
import java.nio.file.Path;

/** The core's golden fixtures (written by an independent PyTorch reference, tools/make_fixtures.py). */
final class Fixtures {
    static final Path DIR = Path.of("../core/src/test/resources/golden");

    private Fixtures() {}

    static Path path(String name) {
        return DIR.resolve(name);
    }

    static FloatTensor npy(String name) {
        return Npy.read(path(name));
    }

    static double maxAbsDiff(FloatTensor a, FloatTensor b) {
        assertThat(a.shape()).as("shape").containsExactly(b.shape());
        double m = 0;
        for (int i = 0; i < a.data().length; i++) {
            m = Math.max(m, Math.abs((double) a.data()[i] - b.data()[i]));
        }
        return m;
    }

    /** Image {@code i} of a batch, as a batch of one. */
    static FloatTensor image(FloatTensor x, int i) {
        long[] s = x.shape().clone();
        int per = (int) (x.data().length / s[0]);
        s[0] = 1;
        return new FloatTensor(s, java.util.Arrays.copyOfRange(x.data(), i * per, (i + 1) * per));
    }
}
