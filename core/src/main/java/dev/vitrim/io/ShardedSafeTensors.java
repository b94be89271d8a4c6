package dev.vitrim.io;

import static dev.vitrim.io.IoSupport.error;
import static dev.vitrim.io.IoSupport.show;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;

/**
 * A sharded checkpoint: an index json ({@code model.safetensors.index.json}) whose {@code weight_map} maps each
 * tensor name to the shard file holding it, relative to the index's folder.
 *
 * <p>All shards are opened (headers parsed and validated, data mapped) when the index is opened, so every
 * inconsistency is reported up front: a missing shard, a tensor the weight_map lists but its shard lacks, a tensor
 * found in two shards, or a tensor in a shard that the weight_map does not list.
 */
final class ShardedSafeTensors implements TensorSource {

    private final Path index;
    private final Map<String, SafeTensorsFile> shards; // shard name -> file, sorted by shard name
    private final TreeMap<String, SafeTensorsFile> byTensor;
    private final SortedSet<String> names;
    private final Map<String, String> metadata;

    private ShardedSafeTensors(Path index, Map<String, SafeTensorsFile> shards, TreeMap<String, SafeTensorsFile> byTensor,
            Map<String, String> metadata) {
        this.index = index;
        this.shards = shards;
        this.byTensor = byTensor;
        this.names = Collections.unmodifiableSortedSet(byTensor.navigableKeySet());
        this.metadata = metadata;
    }

    /** Opens a sharded checkpoint through its index json. */
    public static ShardedSafeTensors open(Path index) {
        byte[] bytes;
        try {
            long size = Files.size(index);
            if (size > SafeTensorsFile.MAX_HEADER_BYTES) {
                throw error(index, "index is " + size + " bytes, larger than the limit of " + SafeTensorsFile.MAX_HEADER_BYTES);
            }
            bytes = Files.readAllBytes(index);
        } catch (NoSuchFileException e) {
            throw error(index, "no such file");
        } catch (IOException e) {
            throw error(index, "cannot read: " + IoSupport.describe(e), e);
        }
        JsonNode root = IoSupport.parseJson(index, IoSupport.decodeUtf8(index, bytes, "index"), "index");
        if (!root.isObject()) {
            throw error(index, "index is not a JSON object but " + show(root));
        }
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null) {
            throw error(index, "index has no 'weight_map'");
        }
        if (!weightMap.isObject()) {
            throw error(index, "'weight_map' must be an object mapping tensor names to shard files, got " + show(weightMap));
        }
        if (weightMap.isEmpty()) {
            throw error(index, "'weight_map' is empty");
        }

        // tensor -> shard name, and shard name -> first tensor listing it (for messages)
        Map<String, String> tensorToShard = new TreeMap<>();
        Map<String, String> shardFirstTensor = new TreeMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String tensor = e.getKey();
            if (!e.getValue().isTextual()) {
                throw error(index, "weight_map entry for tensor '" + tensor + "' must be a shard file name, got " + show(e.getValue()));
            }
            String shard = e.getValue().textValue();
            if (shard.isEmpty() || Path.of(shard).isAbsolute()) {
                throw error(index, "shard '" + shard + "' listed for tensor '" + tensor + "' must be a file name relative to the index's folder");
            }
            tensorToShard.put(tensor, shard);
            shardFirstTensor.putIfAbsent(shard, tensor);
        }
        for (Map.Entry<String, String> s : shardFirstTensor.entrySet()) {
            if (!Files.isRegularFile(index.resolveSibling(s.getKey()))) {
                throw error(index, "shard '" + s.getKey() + "' listed for tensor '" + s.getValue() + "' does not exist");
            }
        }

        Map<String, SafeTensorsFile> shards = new LinkedHashMap<>();
        try {
            for (String shard : shardFirstTensor.keySet()) {
                shards.put(shard, SafeTensorsFile.open(index.resolveSibling(shard)));
            }
            TreeMap<String, SafeTensorsFile> byTensor = new TreeMap<>();
            Map<String, String> foundIn = new TreeMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Map.Entry<String, SafeTensorsFile> s : shards.entrySet()) {
                for (String tensor : s.getValue().names()) {
                    String other = foundIn.putIfAbsent(tensor, s.getKey());
                    if (other != null) {
                        throw error(index, "tensor '" + tensor + "' appears in both shard '" + other + "' and shard '" + s.getKey() + "'");
                    }
                    String listed = tensorToShard.get(tensor);
                    if (listed == null) {
                        throw error(index, "shard '" + s.getKey() + "' holds tensor '" + tensor + "' which weight_map does not list");
                    }
                    if (!listed.equals(s.getKey())) {
                        throw error(index, "tensor '" + tensor + "' is listed for shard '" + listed + "' but found in shard '" + s.getKey() + "'");
                    }
                    byTensor.put(tensor, s.getValue());
                }
                s.getValue().metadata().forEach(metadata::putIfAbsent);
            }
            for (Map.Entry<String, String> t : tensorToShard.entrySet()) {
                if (!byTensor.containsKey(t.getKey())) {
                    throw error(index, "tensor '" + t.getKey() + "' is listed in weight_map for shard '" + t.getValue()
                            + "' but that shard has no such tensor");
                }
            }
            return new ShardedSafeTensors(index, Collections.unmodifiableMap(shards), byTensor,
                    Collections.unmodifiableMap(metadata));
        } catch (RuntimeException e) {
            shards.values().forEach(SafeTensorsFile::close);
            throw e;
        }
    }

    private SafeTensorsFile shardOf(String name) {
        SafeTensorsFile f = byTensor.get(name);
        if (f == null) {
            throw error(index, "no tensor named '" + name + "'");
        }
        return f;
    }

    @Override
    public SortedSet<String> names() {
        return names;
    }

    @Override
    public boolean contains(String name) {
        return byTensor.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        return shardOf(name).info(name);
    }

    @Override
    public float[] floats(String name) {
        return shardOf(name).floats(name);
    }

    /** Metadata of all shards merged; where shards disagree on a key, the shard whose name sorts first wins. */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public Path path() {
        return index;
    }

    /** The shard files, in shard-name order. */
    public List<Path> shardPaths() {
        List<Path> out = new ArrayList<>();
        shards.values().forEach(s -> out.add(s.path()));
        return Collections.unmodifiableList(out);
    }

    /** The shard file holding the tensor. */
    public Path shardPath(String name) {
        return shardOf(name).path();
    }

    @Override
    public void close() {
        shards.values().forEach(SafeTensorsFile::close);
    }

    @Override
    public String toString() {
        return "ShardedSafeTensors[" + index + ", " + shards.size() + " shards, " + byTensor.size() + " tensors]";
    }
}
