/**
 * The examples, compiled as a module of their own: they use only what vitrim's module exports, as a user's
 * application on the module path would.
 */
module dev.vitrim.examples {
    requires dev.vitrim.core;
    requires jdk.httpserver;
}
