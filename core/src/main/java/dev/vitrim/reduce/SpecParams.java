package dev.vitrim.reduce;

import dev.vitrim.VitrimException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** The {@code key=value} parameters of one reducer spec, with errors that name the spec and the allowed values. */
final class SpecParams {
    final String spec;
    final String method;
    private final Map<String, String> values = new LinkedHashMap<>();

    SpecParams(String spec, String method, String params, Set<String> allowed) {
        this.spec = spec;
        this.method = method;
        if (params != null && !params.isBlank()) {
            for (String kv : params.split(",")) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    throw error("'" + kv + "' is not key=value (allowed keys: " + String.join(", ", allowed) + ")");
                }
                String k = kv.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                if (!allowed.contains(k)) {
                    throw error("unknown parameter '" + k + "' for " + method + " (allowed: " + String.join(", ", allowed)
                            + ")");
                }
                if (values.put(k, kv.substring(eq + 1).trim()) != null) {
                    throw error("parameter '" + k + "' given twice");
                }
            }
        }
    }

    VitrimException error(String problem) {
        return new VitrimException("reducer '" + spec + "': " + problem);
    }

    boolean has(String k) {
        return values.containsKey(k);
    }

    String string(String k, String dflt) {
        return values.getOrDefault(k, dflt);
    }

    double dbl(String k, double dflt) {
        String v = values.get(k);
        if (v == null) {
            return dflt;
        }
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw error(k + "=" + v + " is not a number");
        }
    }

    int integer(String k, int dflt) {
        String v = values.get(k);
        if (v == null) {
            return dflt;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw error(k + "=" + v + " is not a whole number");
        }
    }

    long lng(String k, long dflt) {
        String v = values.get(k);
        if (v == null) {
            return dflt;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw error(k + "=" + v + " is not a whole number");
        }
    }

    boolean bool(String k, boolean dflt) {
        String v = values.get(k);
        if (v == null) {
            return dflt;
        }
        switch (v.toLowerCase(Locale.ROOT)) {
            case "true":
            case "1":
            case "yes":
                return true;
            case "false":
            case "0":
            case "no":
                return false;
            default:
                throw error(k + "=" + v + " must be true or false");
        }
    }

    /** A '/'-separated list of whole numbers, e.g. {@code 3/6/9}. */
    int[] ints(String k, int[] dflt) {
        String v = values.get(k);
        if (v == null) {
            return dflt;
        }
        List<Integer> out = new ArrayList<>();
        for (String p : v.split("/")) {
            try {
                out.add(Integer.parseInt(p.trim()));
            } catch (NumberFormatException e) {
                throw error(k + "=" + v + ": '" + p + "' is not a whole number (use e.g. " + k + "=3/6/9)");
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A fraction in (0, 1]. */
    double fraction(String k, double dflt) {
        double f = dbl(k, dflt);
        if (!(f > 0 && f <= 1)) {
            throw error(k + "=" + f + " must be in (0, 1]");
        }
        return f;
    }

    /** A range {@code a..b} of fractions in (0, 1], or a single value. */
    double[] range(String k, double a, double b) {
        String v = values.get(k);
        if (v == null) {
            return new double[] {a, b};
        }
        String[] parts = v.split("\\.\\.");
        double[] r = new double[2];
        try {
            r[0] = Double.parseDouble(parts[0]);
            r[1] = parts.length > 1 ? Double.parseDouble(parts[1]) : r[0];
        } catch (NumberFormatException e) {
            throw error(k + "=" + v + " must be a fraction or a range like 0.8..0.4");
        }
        if (parts.length > 2 || !(r[0] > 0 && r[0] <= 1) || !(r[1] > 0 && r[1] <= 1)) {
            throw error(k + "=" + v + " must be fractions in (0, 1], e.g. 0.8..0.4");
        }
        return r;
    }
}
