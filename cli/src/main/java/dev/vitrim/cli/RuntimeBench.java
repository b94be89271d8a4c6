package dev.vitrim.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vitrim.VitrimException;
import dev.vitrim.engine.Precision;
import dev.vitrim.engine.Torch;
import dev.vitrim.eval.Benchmark;
import dev.vitrim.io.FloatTensor;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.onnx.OnnxExport;
import dev.vitrim.onnx.OnnxModel;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.TokenReducer;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/** {@code bench --runtime …}: the same model and reducer on vitrim and ONNX Runtime, interleaved in one process. */
final class RuntimeBench {
    private final BenchCommand cmd;

    RuntimeBench(BenchCommand cmd) {
        this.cmd = cmd;
    }

    /**
     * Times the runtimes; vitrim runs in {@code vitrimFormat} (ONNX Runtime always in fp32, exported from the fp32
     * weights before vitrim's are converted).
     */
    int run(boolean onnxFile, Precision vitrimFormat) throws Exception {
        PrintWriter out = cmd.spec.commandLine().getOut();
        if (onnxFile) {
            try (OnnxModel ort = OnnxModel.open(cmd.model.source.model, cmd.common.threads)) {
                long[] s = ort.inputShape();
                if (s[2] < 1 || s[3] < 1) {
                    throw new VitrimException(cmd.model.source.model + ": the graph's image size is symbolic "
                            + java.util.Arrays.toString(s) + "; bench needs a fixed H and W");
                }
                String spec = ort.reduceSpec() == null ? "(unknown)" : ort.reduceSpec();
                report(out, cmd.model.name(), spec, Double.NaN, cmd.common.threads, List.of("onnxruntime"), null,
                        b -> new Body[] {ortBody(ort, images(b, s[2], s[3]))});
            }
            return 0;
        }
        Torch.engine(cmd.common.threads);
        int threads = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        try (VisionTransformer vit = cmd.model.load()) {
            TokenReducer r = cmd.reduce.reducer(vit);
            OnnxModel ort = null;
            try {
                if (cmd.runtimes.contains("onnxruntime")) {
                    // ONNX Runtime's workers spin after each run and would take the cores from vitrim's next
                    // forward (docs/onnx.md): side by side, they sleep between runs; alone, ONNX Runtime keeps its
                    // default
                    ort = OnnxModel.of(OnnxExport.bytes(vit, r, OnnxExport.Options.defaults()), threads,
                            cmd.model.name() + " exported", !cmd.runtimes.contains("vitrim"));
                }
                Precision.Choice format = vit.usePrecision(vitrimFormat);
                OnnxModel onnx = ort;
                int px = vit.config().imageSize();
                report(out, cmd.model.name(), r.spec(), Macs.plan(vit.config(), r).gmacs(), threads, cmd.runtimes,
                        format, b -> {
                    FloatTensor x = images(b, px, px);
                    Body[] bodies = new Body[cmd.runtimes.size()];
                    for (int i = 0; i < bodies.length; i++) {
                        bodies[i] = cmd.runtimes.get(i).equals("vitrim") ? vitrimBody(vit, r, x) : ortBody(onnx, x);
                    }
                    return bodies;
                });
            } finally {
                if (ort != null) {
                    ort.close();
                }
            }
        }
        return 0;
    }

    /** A timed forward with its clean-up. */
    interface Body extends Runnable, AutoCloseable {
        @Override
        void close();
    }

    interface Bodies {
        Body[] at(int batch);
    }

    /** Random images N(0,1), the same for every runtime. */
    static FloatTensor images(int b, long h, long w) {
        Random rng = new Random(b);
        float[] v = new float[(int) (b * 3 * h * w)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return new FloatTensor(new long[] {b, 3, h, w}, v);
    }

    static Body ortBody(OnnxModel ort, FloatTensor x) {
        return new Body() {
            @Override
            public void run() {
                ort.forward(x);
            }

            @Override
            public void close() {}
        };
    }

    static Body vitrimBody(VisionTransformer vit, TokenReducer r, FloatTensor images) {
        NDManager m = vit.manager().newSubManager();
        Torch.inference();
        NDArray x = m.create(images.data(), new Shape(images.shape()));
        Runnable f = Benchmark.forward(m, x, vit, r);
        return new Body() {
            @Override
            public void run() {
                f.run();
            }

            @Override
            public void close() {
                m.close();
            }
        };
    }

    private void report(PrintWriter out, String name, String spec, double gmacs, int threads, List<String> runtimes,
                        Precision.Choice format, Bodies make) throws Exception {
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode doc = om.createObjectNode();
        doc.put("model", name).put("reduce", spec).put("threads", threads).put("cpu", Benchmark.cpu());
        if (runtimes.contains("vitrim")) {
            doc.put("vitrim_precision", format.chosen().label()).put("vitrim_precision_reason", format.reason());
        }
        if (!Double.isNaN(gmacs)) {
            doc.put("gmacs", gmacs);
        }
        boolean sideBySide = runtimes.contains("vitrim") && runtimes.contains("onnxruntime");
        if (runtimes.contains("onnxruntime")) {
            doc.put("onnxruntime_spinning", !sideBySide);
        }
        ArrayNode rows = doc.putArray("results");
        boolean pair = runtimes.size() == 2;
        if (!cmd.json) {
            out.printf(Locale.ROOT, "%s, %s%s, %s (%s); ms/image: median [min, max] of interleaved runs%n",
                    name, spec, Double.isNaN(gmacs) ? "" : String.format(Locale.ROOT, " (%.3f GMACs/image)", gmacs),
                    BenchCommand.threads(threads), Benchmark.cpu());
            if (format.requested() != Precision.FP32) {
                out.println("vitrim runs in " + format.reason() + "; ONNX Runtime in fp32");
            }
            if (sideBySide) {
                out.println("ONNX Runtime's worker threads sleep between runs here (no spin-waiting), so that they"
                        + " leave the cores to vitrim's next forward");
            }
            StringBuilder h = new StringBuilder(String.format(Locale.ROOT, "%6s", "batch"));
            for (String rt : runtimes) {
                h.append(String.format(Locale.ROOT, " %28s", rt));
            }
            if (pair) {
                h.append(String.format(Locale.ROOT, " %9s", runtimes.get(0) + "/" + runtimes.get(1)).replace(
                        "vitrim/onnxruntime", "  vitrim/ORT"));
            }
            out.println(h);
        }
        for (int b : cmd.batches) {
            Body[] bodies = make.at(b);
            Benchmark.Timing[] t;
            try {
                t = Benchmark.interleaved(cmd.warmup, cmd.runs, 1000, cmd.seconds, bodies);
            } finally {
                for (Body body : bodies) {
                    body.close();
                }
            }
            ObjectNode row = rows.addObject().put("batch", b);
            ObjectNode per = row.putObject("runtimes");
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%6d", b));
            for (int i = 0; i < runtimes.size(); i++) {
                per.putObject(runtimes.get(i)).put("ms_per_image", t[i].medianMs() / b)
                        .put("min_ms_per_image", t[i].minMs() / b).put("max_ms_per_image", t[i].maxMs() / b)
                        .put("images_per_s", b / (t[i].medianMs() / 1e3)).put("runs", t[i].runs());
                line.append(String.format(Locale.ROOT, " %10.2f [%7.2f, %7.2f]", t[i].medianMs() / b,
                        t[i].minMs() / b, t[i].maxMs() / b));
            }
            if (pair) {
                double ratio = t[0].medianMs() / t[1].medianMs();
                row.put("ratio", ratio);
                line.append(String.format(Locale.ROOT, " %10.3f", ratio));
            }
            if (!cmd.json) {
                out.println(line);
                out.flush();
            }
        }
        if (cmd.json) {
            out.println(om.writeValueAsString(doc));
        }
    }
}
