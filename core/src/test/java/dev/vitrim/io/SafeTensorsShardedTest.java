package dev.vitrim.io;

import static dev.vitrim.io.StBytes.entry;
import static dev.vitrim.io.StBytes.f32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vitrim.VitrimException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sharded checkpoints: model.safetensors.index.json + shard files in one folder. */
class SafeTensorsShardedTest {

    @TempDir
    Path dir;

    private Path index;

    private static FloatTensor t(float... v) {
        return new FloatTensor(new long[] {v.length}, v);
    }

    @BeforeEach
    void twoShards() throws Exception {
        SafeTensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), Map.of("format", "pt", "shard", "1"),
                Map.of("embed.weight", t(1f, 2f), "blocks.0.w", t(3f)));
        SafeTensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), Map.of("format", "pt", "shard", "2", "extra", "x"),
                Map.of("blocks.1.w", t(4f, 5f, 6f), "head.weight", t(7f)), DType.BF16);
        index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, """
                {"metadata": {"total_size": 30},
                 "weight_map": {
                   "embed.weight": "model-00001-of-00002.safetensors",
                   "blocks.0.w": "model-00001-of-00002.safetensors",
                   "blocks.1.w": "model-00002-of-00002.safetensors",
                   "head.weight": "model-00002-of-00002.safetensors"}}
                """);
    }

    private void index(String json) throws Exception {
        Files.writeString(index, json);
    }

    @Test
    void readsAcrossShards() {
        try (TensorSource s = TensorSource.open(index)) {
            assertThat(s).isInstanceOf(ShardedSafeTensors.class);
            assertThat(s.path()).isEqualTo(index);
            assertThat(s.names()).containsExactly("blocks.0.w", "blocks.1.w", "embed.weight", "head.weight");
            assertThat(s.contains("head.weight")).isTrue();
            assertThat(s.contains("nope")).isFalse();
            assertThat(s.floats("embed.weight")).containsExactly(1f, 2f);
            assertThat(s.floats("blocks.0.w")).containsExactly(3f);
            assertThat(s.floats("blocks.1.w")).containsExactly(4f, 5f, 6f);
            assertThat(s.floats("head.weight")).containsExactly(7f);
            assertThat(s.info("blocks.1.w").dtype()).isEqualTo(DType.BF16);
            assertThat(s.info("blocks.1.w").shape()).containsExactly(3);
            assertThat(s.info("embed.weight").dtype()).isEqualTo(DType.F32);
            // merged from both shards' headers; on conflicts the first shard (by name) wins
            assertThat(s.metadata()).containsOnly(Map.entry("format", "pt"), Map.entry("shard", "1"), Map.entry("extra", "x"));
            ShardedSafeTensors sh = (ShardedSafeTensors) s;
            assertThat(sh.shardPath("head.weight")).isEqualTo(dir.resolve("model-00002-of-00002.safetensors"));
            assertThat(sh.shardPaths()).containsExactly(dir.resolve("model-00001-of-00002.safetensors"),
                    dir.resolve("model-00002-of-00002.safetensors"));
        }
    }

    @Test
    void openingTheFolderFindsTheIndex() {
        try (TensorSource s = TensorSource.open(dir)) {
            assertThat(s).isInstanceOf(ShardedSafeTensors.class);
            assertThat(s.names()).hasSize(4);
        }
    }

    @Test
    void missingTensorNamesTheIndex() {
        try (ShardedSafeTensors s = ShardedSafeTensors.open(index)) {
            assertThatThrownBy(() -> s.floats("nope"))
                    .isInstanceOf(VitrimException.class)
                    .hasMessage(index + ": no tensor named 'nope'");
            assertThatThrownBy(() -> s.info("nope")).isInstanceOf(VitrimException.class).hasMessage(index + ": no tensor named 'nope'");
        }
    }

    @Test
    void missingShard() throws Exception {
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        assertThatThrownBy(() -> TensorSource.open(index))
                .isInstanceOf(VitrimException.class)
                .hasMessage(index + ": shard 'model-00002-of-00002.safetensors' listed for tensor 'blocks.1.w' does not exist");
    }

    @Test
    void tensorListedButAbsentFromItsShard() throws Exception {
        index("""
                {"weight_map": {"embed.weight": "model-00001-of-00002.safetensors",
                  "blocks.0.w": "model-00001-of-00002.safetensors", "ghost": "model-00001-of-00002.safetensors",
                  "blocks.1.w": "model-00002-of-00002.safetensors", "head.weight": "model-00002-of-00002.safetensors"}}""");
        assertThatThrownBy(() -> ShardedSafeTensors.open(index))
                .isInstanceOf(VitrimException.class)
                .hasMessageStartingWith(index + ": ")
                .hasMessageContaining("tensor 'ghost' is listed in weight_map for shard 'model-00001-of-00002.safetensors'")
                .hasMessageContaining("has no such tensor");
    }

    @Test
    void tensorFoundInAnotherShardThanListed() throws Exception {
        index("""
                {"weight_map": {"embed.weight": "model-00002-of-00002.safetensors",
                  "blocks.0.w": "model-00001-of-00002.safetensors",
                  "blocks.1.w": "model-00002-of-00002.safetensors", "head.weight": "model-00002-of-00002.safetensors"}}""");
        assertThatThrownBy(() -> ShardedSafeTensors.open(index))
                .isInstanceOf(VitrimException.class)
                .hasMessageContaining("tensor 'embed.weight' is listed for shard 'model-00002-of-00002.safetensors'")
                .hasMessageContaining("found in shard 'model-00001-of-00002.safetensors'");
    }

    @Test
    void duplicateTensorAcrossShards() throws Exception {
        SafeTensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), null,
                Map.of("blocks.1.w", t(4f), "head.weight", t(7f), "embed.weight", t(9f, 9f)));
        assertThatThrownBy(() -> ShardedSafeTensors.open(index))
                .isInstanceOf(VitrimException.class)
                .hasMessage(index + ": tensor 'embed.weight' appears in both shard 'model-00001-of-00002.safetensors'"
                        + " and shard 'model-00002-of-00002.safetensors'");
    }

    @Test
    void tensorInShardButNotInWeightMap() throws Exception {
        index("""
                {"weight_map": {"embed.weight": "model-00001-of-00002.safetensors",
                  "blocks.1.w": "model-00002-of-00002.safetensors", "head.weight": "model-00002-of-00002.safetensors"}}""");
        assertThatThrownBy(() -> ShardedSafeTensors.open(index))
                .isInstanceOf(VitrimException.class)
                .hasMessageContaining("holds tensor 'blocks.0.w' which weight_map does not list");
    }

    @Test
    void malformedIndexes() throws Exception {
        String[][] cases = {
            {"{\"weight_map\": ", "index is not valid JSON"},
            {"[]", "index is not a JSON object"},
            {"{\"metadata\": {}}", "index has no 'weight_map'"},
            {"{\"weight_map\": [\"a\"]}", "'weight_map' must be an object"},
            {"{\"weight_map\": {}}", "'weight_map' is empty"},
            {"{\"weight_map\": {\"a\": 3}}", "weight_map entry for tensor 'a' must be a shard file name"},
            {"{\"weight_map\": {\"a\": \"x.safetensors\", \"a\": \"y.safetensors\"}}", "duplicate key"},
            {"{\"weight_map\": {\"a\": \"/etc/x.safetensors\"}}", "must be a file name relative to the index's folder"},
            {"", "index is empty"},
        };
        for (String[] c : cases) {
            index(c[0]);
            assertThatThrownBy(() -> ShardedSafeTensors.open(index))
                    .as(c[0])
                    .isInstanceOf(VitrimException.class)
                    .hasMessageStartingWith(index + ": ")
                    .hasMessageContaining(c[1])
                    .hasMessageNotContaining("\n");
        }
    }

    @Test
    void missingIndex() {
        Path missing = dir.resolve("other.index.json");
        assertThatThrownBy(() -> TensorSource.open(missing))
                .isInstanceOf(VitrimException.class)
                .hasMessage(missing + ": no such file");
    }

    @Test
    void corruptShardIsReportedByItsOwnName() throws Exception {
        Path shard = dir.resolve("model-00002-of-00002.safetensors");
        Files.write(shard, StBytes.file("{" + entry("blocks.1.w", "F32", "[2]", 0, 8) + "}", f32(1f)));
        assertThatThrownBy(() -> ShardedSafeTensors.open(index))
                .isInstanceOf(VitrimException.class)
                .hasMessageStartingWith(shard + ": ")
                .hasMessageContaining("tensor 'blocks.1.w'");
    }

    @Test
    void shardsInASubfolderResolveRelativeToTheIndex() throws Exception {
        Path sub = Files.createDirectory(dir.resolve("weights"));
        SafeTensorsWriter.write(sub.resolve("s.safetensors"), null, Map.of("w", t(8f)));
        index("{\"weight_map\": {\"w\": \"weights/s.safetensors\"}}");
        try (TensorSource s = TensorSource.open(index)) {
            assertThat(s.floats("w")).containsExactly(8f);
            assertThat(s.metadata()).isEmpty();
        }
    }
}
