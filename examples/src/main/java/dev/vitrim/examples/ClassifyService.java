package dev.vitrim.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.vitrim.VitrimException;
import dev.vitrim.api.ClassProbabilities;
import dev.vitrim.api.Vitrim;
import dev.vitrim.api.VitrimModel;
import dev.vitrim.infer.Classification;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Executors;

/**
 * A small HTTP service that classifies uploaded images with a token reducer. {@code POST /classify} with the image
 * file as the body (JPEG, PNG, BMP or GIF) answers
 * <pre>{"top":[{"label":"7","index":7,"prob":0.93},…],"reduce":"attn:…","gmacs":0.049,"latency_ms":3.1}</pre>
 * where {@code latency_ms} is the time from the last byte received to the answer computed (decode, preprocess,
 * forward). An image that cannot be read gets HTTP 400 and {@code {"error":"…"}}; another method, 405.
 *
 * <pre>java dev.vitrim.examples.ClassifyService MODEL.safetensors [PORT] [REDUCE-SPEC]
 * curl --data-binary @digit.png http://localhost:8080/classify</pre>
 */
public final class ClassifyService implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_BYTES = 32 << 20;

    private final VitrimModel model;
    private final HttpServer server;

    /** Serves {@code model} (with its reducer) on {@code port} (0: any free port). */
    public ClassifyService(VitrimModel model, int port) throws IOException {
        this.model = model;
        this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/classify", this::handle);
        server.setExecutor(Executors.newFixedThreadPool(2)); // the model serves requests side by side
        server.start();
    }

    /** The port the service listens on. */
    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            if (!"POST".equals(ex.getRequestMethod())) {
                send(ex, 405, error("POST the image file as the request body"));
                return;
            }
            byte[] body;
            try (InputStream in = ex.getRequestBody()) {
                body = in.readNBytes(MAX_BYTES + 1);
            }
            if (body.length > MAX_BYTES) {
                send(ex, 413, error("image larger than " + MAX_BYTES + " bytes"));
                return;
            }
            long start = System.nanoTime();
            ClassProbabilities p;
            try {
                p = model.classify(body);
            } catch (VitrimException e) {
                send(ex, 400, error(e.getMessage()));
                return;
            }
            double ms = (System.nanoTime() - start) / 1e6;
            ObjectNode out = JSON.createObjectNode();
            ArrayNode top = out.putArray("top");
            for (Classification.Top t : p.top(3)) {
                top.addObject().put("label", t.label()).put("index", t.index()).put("prob", t.prob());
            }
            out.put("reduce", model.reducer().spec());
            out.put("gmacs", model.gmacs());
            out.put("latency_ms", ms);
            send(ex, 200, out);
        } catch (RuntimeException e) {
            send(ex, 500, error(String.valueOf(e.getMessage())));
        }
    }

    private static ObjectNode error(String message) {
        return JSON.createObjectNode().put("error", message);
    }

    private static void send(HttpExchange ex, int status, ObjectNode json) throws IOException {
        byte[] b = JSON.writeValueAsString(json).getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(b);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdown();
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            System.err.println("usage: ClassifyService MODEL.safetensors [PORT] [REDUCE-SPEC]");
            System.exit(2);
        }
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 8080;
        String spec = args.length > 2 ? args[2] : "attn:keep=0.8..0.4,start=3";
        VitrimModel vit = Vitrim.load(Path.of(args[0]));
        ClassifyService service = new ClassifyService(vit.reduce(spec), port);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            service.close();
            vit.close();
        }));
        System.out.println("POST images to http://127.0.0.1:" + service.port() + "/classify (reduce " + spec + ")");
    }
}
