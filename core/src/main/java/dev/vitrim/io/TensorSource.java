package dev.vitrim.io;

import dev.vitrim.VitrimException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SortedSet;

/** Anything that holds named tensors: one safetensors file or a sharded set. */
public interface TensorSource extends AutoCloseable {

    /** Name of the index file of a sharded checkpoint, as written by Hugging Face tools. */
    String INDEX_FILE_NAME = "model.safetensors.index.json";

    /** Names of all tensors, sorted. */
    SortedSet<String> names();

    boolean contains(String name);

    /** @throws VitrimException naming the file and the tensor if there is no such tensor */
    TensorInfo info(String name);

    /**
     * The tensor's values converted to float32, row-major: F32 as is, F16 and BF16 widened exactly, F64 rounded.
     *
     * @throws VitrimException if there is no such tensor or its dtype is not a float type
     */
    float[] floats(String name);

    /** The {@code __metadata__} strings (empty map if none); for a sharded set, merged from the shards' headers. */
    Map<String, String> metadata();

    /** The file (or the index json) this source was opened from. */
    Path path();

    @Override
    void close();

    /**
     * Opens a {@code .safetensors} file, or a sharded checkpoint through its {@code *.index.json} (whose
     * {@code weight_map} maps tensor names to shard files relative to the index's folder). A folder is accepted too:
     * its {@code model.safetensors.index.json} if present, else its {@code model.safetensors}.
     */
    static TensorSource open(Path path) {
        if (Files.isDirectory(path)) {
            Path index = path.resolve(INDEX_FILE_NAME);
            if (Files.isRegularFile(index)) {
                return ShardedSafeTensors.open(index);
            }
            Path single = path.resolve("model.safetensors");
            if (Files.isRegularFile(single)) {
                return SafeTensorsFile.open(single);
            }
            throw new VitrimException(path + ": folder holds neither " + INDEX_FILE_NAME + " nor model.safetensors");
        }
        Path fileName = path.getFileName();
        if (fileName != null && fileName.toString().toLowerCase(java.util.Locale.ROOT).endsWith(".json")) {
            return ShardedSafeTensors.open(path);
        }
        return SafeTensorsFile.open(path);
    }
}
