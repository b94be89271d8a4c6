/**
 * vitrim: Vision Transformers made faster by pruning and merging tokens, on DJL and libtorch.
 *
 * <p>Start at {@link dev.vitrim.api.Vitrim#load(java.nio.file.Path)}; reducers come from
 * {@link dev.vitrim.reduce.Reducers}; {@link dev.vitrim.djl.VitrimTranslators} plugs a model into DJL's
 * {@code Predictor}. The packages exported here are the API; the others ({@code data}: data sets and their
 * fetching, {@code eval}: the evaluation and benchmark harness, {@code train}: training) serve the command-line
 * tool and may change between releases.
 */
module dev.vitrim.core {
    requires transitive ai.djl.api;
    requires transitive java.desktop;
    requires transitive ai.djl.pytorch_engine;
    requires transitive com.fasterxml.jackson.databind;
    requires org.apache.commons.compress;
    requires java.management;
    requires org.slf4j;

    exports dev.vitrim;
    exports dev.vitrim.api;
    exports dev.vitrim.arch;
    exports dev.vitrim.coco;
    exports dev.vitrim.dense;
    exports dev.vitrim.djl;
    exports dev.vitrim.engine;
    exports dev.vitrim.image;
    exports dev.vitrim.infer;
    exports dev.vitrim.io;
    exports dev.vitrim.model;
    exports dev.vitrim.reduce;
}
