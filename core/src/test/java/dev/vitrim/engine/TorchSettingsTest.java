package dev.vitrim.engine;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Starting the engine leaves DJL's global settings to the application; the CLI's defaults are asked for by name. */
class TorchSettingsTest {
    static final String[] KEYS = {"ai.djl.pytorch.graph_optimizer", "ai.djl.pytorch.num_interop_threads",
        "ai.djl.offline"};

    @Test
    void startingTheEngineSetsNoDjlProperty() {
        String[] before = new String[KEYS.length];
        for (int i = 0; i < KEYS.length; i++) {
            before[i] = System.getProperty(KEYS[i]);
        }
        Torch.engine();
        Torch.inference();
        for (int i = 0; i < KEYS.length; i++) {
            assertThat(System.getProperty(KEYS[i])).as(KEYS[i]).isEqualTo(before[i]);
        }
    }

    @Test
    void theApplicationDefaultsKeepWhatTheApplicationSet() {
        String[] before = new String[KEYS.length];
        for (int i = 0; i < KEYS.length; i++) {
            before[i] = System.getProperty(KEYS[i]);
        }
        try {
            System.setProperty("ai.djl.pytorch.num_interop_threads", "2");
            System.clearProperty("ai.djl.pytorch.graph_optimizer");
            Torch.useApplicationDefaults();
            assertThat(System.getProperty("ai.djl.pytorch.num_interop_threads")).isEqualTo("2");
            assertThat(System.getProperty("ai.djl.pytorch.graph_optimizer")).isEqualTo("false");
        } finally {
            for (int i = 0; i < KEYS.length; i++) {
                if (before[i] == null) {
                    System.clearProperty(KEYS[i]);
                } else {
                    System.setProperty(KEYS[i], before[i]);
                }
            }
        }
    }
}
