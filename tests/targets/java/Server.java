// Server.java: a JVM target, the JDK's own com.sun.net.httpserver.HttpServer (JDK 17, no
// dependencies, one file).
//
// Run as a single-file program:   PORT=3140 MODE=leak java tests/targets/java/Server.java
// or compiled (scripts/accuracy does this: the in-process compiler of the single-file launcher
// would otherwise sit in the measured heap):
//   javac -d /tmp/lh-java tests/targets/java/Server.java && PORT=3140 java -cp /tmp/lh-java Server
//
// MODE (default clean) picks what /work keeps per request:
//   clean    nothing: builds a small response and a LEAK_BYTES scratch array, drops both.
//   leak     BUG: a fresh byte[LEAK_BYTES] (default 1024, bytes written so the pages are
//            touched) appended to a static list that is never trimmed: ~LEAK_BYTES + ~24 B of
//            array header and list slot per request, in the old generation.
//   bounded  a LinkedHashMap LRU (access order, removeEldestEntry) of at most MAX entries
//            (default 10000) keyed by the `id` query parameter, each value a byte[LEAK_BYTES]:
//            grows while it fills (~MAX x (LEAK_BYTES + ~100 B)), then every insert evicts.
// The server runs on a fixed thread pool (THREADS, default 8). Endpoints: /work (any method;
// `?id=` keys the bounded cache, default a sequence number), /health, /stats (heap used after
// System.gc(), the list or cache size). Listens on 127.0.0.1:$PORT only; exits when its parent
// process goes away (polled every second), like the Node targets' common.js.
// Retained per request: see tests/targets/README.md.

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

public final class Server {
    // BUG in MODE=leak: appended on every request, never removed.
    private static final List<byte[]> KEPT = new ArrayList<>();
    private static final AtomicLong SEQ = new AtomicLong();

    private static int envInt(String name, int dflt, int min, int max) {
        String raw = System.getenv(name);
        if (raw == null || raw.isEmpty()) return dflt;
        try {
            int v = Integer.parseInt(raw.trim());
            if (v < min || v > max) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            System.err.println("Server.java: " + name + " must be " + min + ".." + max + " (got " + raw + ")");
            System.exit(2);
            return dflt;
        }
    }

    private static final class Lru extends LinkedHashMap<String, byte[]> {
        private final int max;

        Lru(int max) {
            super(16, 0.75f, true);
            this.max = max;
        }

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, byte[]> eldest) {
            return size() > max;
        }
    }

    private static void send(HttpExchange ex, int status, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("content-type", "application/json");
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(body);
        }
    }

    // Reads and discards the request body (bounded reads), so keep-alive connections stay usable.
    private static void drain(HttpExchange ex) throws IOException {
        byte[] buf = new byte[8192];
        try (InputStream in = ex.getRequestBody()) {
            while (in.read(buf) >= 0) {
                // discard
            }
        }
    }

    private static String queryParam(String query, String name) {
        if (query == null) return null;
        for (String kv : query.split("&")) {
            int eq = kv.indexOf('=');
            if (eq > 0 && kv.substring(0, eq).equals(name)) return kv.substring(eq + 1);
        }
        return null;
    }

    private static void exitWithParent() {
        final long parent = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
        Thread t = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
                long now = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
                if (now != parent) Runtime.getRuntime().halt(0);
            }
        }, "exit-with-parent");
        t.setDaemon(true);
        t.start();
    }

    public static void main(String[] args) throws IOException {
        int port = envInt("PORT", -1, 1, 65535);
        if (port < 0) {
            System.err.println("Server.java: set PORT to a port number");
            System.exit(2);
        }
        String mode = System.getenv().getOrDefault("MODE", "clean");
        if (!mode.equals("clean") && !mode.equals("leak") && !mode.equals("bounded")) {
            System.err.println("Server.java: MODE must be clean, leak or bounded (got " + mode + ")");
            System.exit(2);
        }
        final int leakBytes = envInt("LEAK_BYTES", 1024, 0, 1 << 20);
        final int max = envInt("MAX", 10000, 1, 10_000_000);
        final int threads = envInt("THREADS", 8, 1, 256);
        final Lru cache = new Lru(max);

        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 512);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        server.setExecutor(pool);
        server.createContext("/health", ex -> {
            drain(ex);
            send(ex, 200, "{\"ok\":true}");
        });
        server.createContext("/stats", ex -> {
            drain(ex);
            System.gc();
            Runtime rt = Runtime.getRuntime();
            long used = rt.totalMemory() - rt.freeMemory();
            int kept;
            int entries;
            synchronized (KEPT) {
                kept = KEPT.size();
            }
            synchronized (cache) {
                entries = cache.size();
            }
            send(ex, 200, "{\"heap_used_bytes\":" + used + ",\"kept\":" + kept + ",\"entries\":" + entries
                    + ",\"mode\":\"" + mode + "\"}");
        });
        server.createContext("/work", ex -> {
            drain(ex);
            if (!ex.getRequestURI().getPath().equals("/work")) {
                send(ex, 404, "{\"error\":\"not found\"}");
                return;
            }
            long seq = SEQ.incrementAndGet();
            byte[] data = new byte[leakBytes];
            java.util.Arrays.fill(data, (byte) (seq % 251));
            switch (mode) {
                case "leak":
                    synchronized (KEPT) {
                        KEPT.add(data);
                    }
                    break;
                case "bounded": {
                    String id = queryParam(ex.getRequestURI().getRawQuery(), "id");
                    synchronized (cache) {
                        cache.put(id != null ? id : Long.toString(seq), data);
                    }
                    break;
                }
                default:
                    break; // clean: `data` is garbage as soon as this returns
            }
            send(ex, 200, "{\"seq\":" + seq + "}");
        });
        exitWithParent();
        server.start();
        System.out.println("java-" + mode + " listening on http://127.0.0.1:" + port + " (pid "
                + ProcessHandle.current().pid() + ")");
    }
}
