package dev.vitrim.data;

import java.nio.file.Path;

/**
 * Where fetched data sets live: {@code $VITRIM_DATA}, else {@code ~/.cache/vitrim}. The system property
 * {@code vitrim.data} takes precedence over both (tests use it to work in a temporary folder).
 */
public final class DataHome {
    /** Environment variable that moves the data cache. */
    public static final String ENV = "VITRIM_DATA";
    /** System property that moves the data cache (wins over the environment). */
    public static final String PROPERTY = "vitrim.data";

    private DataHome() {}

    public static Path root() {
        String p = System.getProperty(PROPERTY);
        if (p == null || p.isBlank()) {
            p = System.getenv(ENV);
        }
        if (p != null && !p.isBlank()) {
            return Path.of(p).toAbsolutePath();
        }
        return Path.of(System.getProperty("user.home"), ".cache", "vitrim").toAbsolutePath();
    }
}
