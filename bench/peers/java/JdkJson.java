// bench/peers/java/JdkJson.java: the JDK's own com.sun.net.httpserver serving
// GET /json -> {"message":"Hello, World!"}, for bench/compare.py: Java with no library at all.
// A fixed pool of as many threads as CPUs runs the handlers (the default runs them on the one
// dispatcher thread).

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

public final class JdkJson {
    private static final byte[] BODY =
        "{\"message\":\"Hello, World!\"}".getBytes(StandardCharsets.UTF_8);

    private static void hello(HttpExchange ex) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, BODY.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(BODY);
        }
    }

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(args[0]);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 2048);
        server.createContext("/json", JdkJson::hello);
        server.setExecutor(
            Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors()));
        server.start();
    }
}
