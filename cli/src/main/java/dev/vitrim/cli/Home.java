package dev.vitrim.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the installation lives (the launcher passes {@code -Dvitrim.home}): a relative default such as
 * {@code models/mnist-vit.safetensors} that is not in the working directory is looked up there, so commands with
 * shipped defaults work from any directory.
 */
final class Home {
    static final String PROPERTY = "vitrim.home";

    private Home() {}

    static Path resolve(Path p) {
        String home = System.getProperty(PROPERTY);
        if (p.isAbsolute() || Files.exists(p) || home == null || home.isBlank()) {
            return p;
        }
        Path alt = Path.of(home).resolve(p);
        return Files.exists(alt) ? alt : p;
    }
}
