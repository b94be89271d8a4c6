package dev.vitrim.api;

/**
 * One input's outcome in a batch: its result, or the reason it failed. One bad image never costs the others their
 * results.
 *
 * @param source the file name, or {@code "image <i>"} for in-memory inputs
 * @param result the result, null when {@link #ok()} is false
 * @param error what went wrong (naming the input), null when {@link #ok()} is true
 * @param <T> the result type
 */
public record Outcome<T>(String source, T result, String error) {
    public boolean ok() {
        return error == null;
    }
}
