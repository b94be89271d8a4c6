package dev.vitrim.dense;

import java.util.List;

/** Images with dense annotations, addressed by index (generated or read on demand; thread-safe). */
public interface DenseDataset {
    /** Where the images come from, e.g. "scenes:val" or "coco:/data/set". */
    String name();

    /** The object classes (category k is {@code classes().get(k)}; segmentation label k + 1). */
    List<String> classes();

    int size();

    DenseExample get(int index);
}
