package dev.vitrim.eval;

import java.util.Locale;

/** A {@link Comparison.Result} as a plain-text table for the terminal or as Markdown rows for a README. */
public final class ComparisonTable {
    /** The Markdown header (two lines) that {@link #markdownRows} fill. */
    public static final String MARKDOWN_HEADER = "| model | method | spec | top-1 | GMACs | speedup batch %d |%n"
            + "|---|---|---|---|---|---|%n";

    private ComparisonTable() {}

    /** Aligned columns: method, top-1, GMACs, MAC ratio, images/s, speedup, spec. */
    public static String text(Comparison.Result r) {
        int w = Math.max(6, r.rows().stream().mapToInt(x -> x.name().length()).max().orElse(6));
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-" + w + "s %8s %8s %9s %9s %8s  %s%n", "method", "top-1", "GMACs",
                "MAC ratio", "images/s", "speedup", "spec"));
        for (Comparison.Row x : r.rows()) {
            sb.append(String.format(Locale.ROOT, "%-" + w + "s %7.2f%% %8.4f %8.2fx %9.1f %7.2fx  %s%n", x.name(),
                    100 * x.top1(), x.gmacs(), r.baselineGmacs() / x.gmacs(), x.imagesPerS(), x.speedup(), x.spec()));
        }
        return sb.toString();
    }

    /** The Markdown header for a timing batch size. */
    public static String markdownHeader(int batch) {
        return String.format(Locale.ROOT, MARKDOWN_HEADER, batch);
    }

    /** One Markdown row per method: model, method, spec, top-1, GMACs (of the unreduced), speedup. */
    public static String markdownRows(String model, Comparison.Result r) {
        StringBuilder sb = new StringBuilder();
        for (Comparison.Row x : r.rows()) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | `%s` | %.2f%% | %.4f (of %.4f) | %.2fx |%n", model,
                    x.name(), x.spec(), 100 * x.top1(), x.gmacs(), r.baselineGmacs(), x.speedup()));
        }
        return sb.toString();
    }
}
