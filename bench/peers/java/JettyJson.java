// bench/peers/java/JettyJson.java: embedded Jetty 9 (Debian libjetty9-java) with one servlet
// serving GET /json -> {"message":"Hello, World!"}, for bench/compare.py: the closest to Spring
// Boot's embedded servlet container that Debian packages. JVM and Jetty defaults otherwise (its
// thread pool, 30 s idle timeout).

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.servlet.ServletContextHandler;

public final class JettyJson {
    private static final byte[] BODY =
        "{\"message\":\"Hello, World!\"}".getBytes(StandardCharsets.UTF_8);

    public static final class Hello extends HttpServlet {
        @Override
        protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
            res.setContentType("application/json");
            res.setContentLength(BODY.length);
            res.getOutputStream().write(BODY);
        }
    }

    public static void main(String[] args) throws Exception {
        Server server = new Server();
        ServerConnector http = new ServerConnector(server);
        http.setHost("127.0.0.1");
        http.setPort(Integer.parseInt(args[0]));
        server.addConnector(http);
        ServletContextHandler context = new ServletContextHandler();
        context.addServlet(Hello.class, "/json");
        server.setHandler(context);
        server.start();
        server.join();
    }
}
