package dev.vitrim.spark;

import dev.vitrim.data.DataHome;
import dev.vitrim.data.DenseData;
import dev.vitrim.data.Datasets;
import dev.vitrim.data.ImageFolder;
import dev.vitrim.data.LabeledImages;
import dev.vitrim.dense.DenseDataset;
import dev.vitrim.image.PreprocessConfig;
import java.util.HashMap;
import java.util.Map;

/**
 * Labelled data sets on an executor: a fetched data set ({@code mnist:test}, …) is read once per JVM from the data
 * home ({@code VITRIM_DATA} or {@code ~/.cache/vitrim} on that machine) and sliced; a folder of class folders is
 * listed once per JVM and only a task's slice of files is decoded.
 */
final class DataCache {
    private static final Map<String, LabeledImages> SETS = new HashMap<>();
    private static final Map<String, ImageFolder.Listing> FOLDERS = new HashMap<>();
    private static final Map<String, DenseDataset> DENSE = new HashMap<>();

    private DataCache() {}

    /** Images {@code [from, to)} of {@code data}, preprocessed to {@code pre}'s size where the set needs it. */
    static LabeledImages slice(String data, PreprocessConfig pre, int from, int to) {
        Datasets.Spec spec = Datasets.parse(data);
        int[] idx = new int[to - from];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = from + i;
        }
        if (spec.isFolder()) {
            return ImageFolder.load(listing(spec), idx, pre, spec.toString());
        }
        LabeledImages all;
        synchronized (SETS) {
            all = SETS.computeIfAbsent(data, k -> Datasets.load(spec, DataHome.root(), pre));
        }
        return all.subset(idx, all.name());
    }

    /** The number of images of {@code data} (a folder is listed, a fetched set read). */
    static int size(String data) {
        Datasets.Spec spec = Datasets.parse(data);
        if (spec.isFolder()) {
            return listing(spec).files().size();
        }
        synchronized (SETS) {
            return SETS.computeIfAbsent(data, k -> Datasets.load(spec, DataHome.root(), null)).size();
        }
    }

    /** A dense data set ({@code scenes:val}, {@code coco:DIR}, …) at {@code size} pixels, opened once per JVM. */
    static DenseDataset dense(String data, int size) {
        synchronized (DENSE) {
            return DENSE.computeIfAbsent(data + "\u0000" + size, k -> DenseData.open(data, DataHome.root(), size));
        }
    }

    private static ImageFolder.Listing listing(Datasets.Spec spec) {
        synchronized (FOLDERS) {
            return FOLDERS.computeIfAbsent(spec.folder().toString(), k -> ImageFolder.list(spec.folder()));
        }
    }
}
