package dev.vitrim;

/**
 * A problem with the user's input (a file, a tensor, a parameter) that vitrim reports as one line and
 * exit status 2. The message must name the offending file, tensor or parameter and say what is wrong.
 */
public class VitrimException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public VitrimException(String message) {
        super(message);
    }

    public VitrimException(String message, Throwable cause) {
        super(message, cause);
    }
}
