package dev.vitrim.data.scenes;

import dev.vitrim.VitrimException;
import java.util.Locale;

/**
 * The three splits of the scenes data set. Training scenes take their clothing items from the Fashion-MNIST
 * training images minus a held-out tenth, validation scenes from that tenth, test scenes from the official
 * Fashion-MNIST test images; training and validation scenes share the training photos, test scenes have photos of
 * their own (see {@code scene-photos.txt}).
 */
public enum SceneSplit {
    TRAIN, VAL, TEST;

    /** "train", "val" or "test", as in data set names like {@code scenes:val}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static SceneSplit parse(String s) {
        for (SceneSplit v : values()) {
            if (v.id().equalsIgnoreCase(s.strip())) {
                return v;
            }
        }
        throw new VitrimException("unknown scenes split '" + s + "' (allowed: train, val, test)");
    }
}
