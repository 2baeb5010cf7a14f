package dev.openbatch.upstream.local;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;

/**
 * The baseline of {@code bench/embeddings.sh}: the same texts embedded by calling the model
 * directly in one process, with no HTTP, no database, no JSON. Not a test; run it with
 * {@code java -cp 'target/quarkus-app/lib/main/*:target/test-classes' dev.openbatch.upstream.local.DirectEmbeddingBench
 * TEXTS_FILE THREADS GROUP_SIZE [VARIANT...]}.
 *
 * <p>Variants:
 * <ul>
 * <li>{@code same}: the model exactly as the service loads it ({@link MiniLm}), {@code embedAll} in
 * groups of GROUP_SIZE on a pool of THREADS threads: what the service does, minus the service;</li>
 * <li>{@code stock}: langchain4j's {@code new AllMiniLmL6V2EmbeddingModel()} as its README shows it,
 * {@code embedAll} in groups of GROUP_SIZE from one thread (the model spreads each group over its
 * own pool of one thread per core).</li>
 * </ul>
 * Each variant warms up (load, then 200 texts) before it is timed. Prints one line per variant:
 * {@code direct VARIANT TEXTS SECONDS RATE CPU_SECONDS OTHERS}: CPU time of this whole process while
 * timed, and how many cores other processes kept busy meanwhile (from {@code /proc/stat}, with
 * {@code -Dclk.tck=$(getconf CLK_TCK)}; -1 where there is no {@code /proc/stat}).
 */
public final class DirectEmbeddingBench {
    private DirectEmbeddingBench() {
    }

    public static void main(String[] args) throws Exception {
        List<String> texts = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8);
        int threads = Integer.parseInt(args[1]);
        int group = Integer.parseInt(args[2]);
        List<String> variants = args.length > 3 ? List.of(args).subList(3, args.length) : List.of("same", "stock");
        var cpu = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        for (String v : variants) {
            Encoder model = switch (v) {
                case "same" -> MiniLm.load();
                case "stock" -> stock();
                default -> throw new IllegalArgumentException("unknown variant " + v + " (same, stock)");
            };
            int poolSize = v.equals("stock") ? 1 : threads;
            run(model, texts.subList(0, Math.min(200, texts.size())), poolSize, group); // warm-up
            long busy0 = machineBusyTicks();
            long cpu0 = cpu.getProcessCpuTime();
            long t0 = System.nanoTime();
            run(model, texts, poolSize, group);
            double s = (System.nanoTime() - t0) / 1e9;
            double cpuS = (cpu.getProcessCpuTime() - cpu0) / 1e9;
            long busy1 = machineBusyTicks();
            double others = busy0 < 0 || busy1 < 0 ? -1 : Math.max(0, ((busy1 - busy0) / (double) Long.getLong("clk.tck", 100) - cpuS) / s);
            System.out.printf("direct %s %d %.3f %.1f %.3f %.2f%n", v, texts.size(), s, texts.size() / s, cpuS, others);
        }
        System.exit(0);
    }

    /** Ticks all CPUs spent busy since boot (user, nice, system, irq, softirq, steal), or -1. */
    static long machineBusyTicks() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            return Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
                    + Long.parseLong(f[7]) + Long.parseLong(f[8]);
        } catch (Exception e) {
            return -1;
        }
    }

    private static Encoder stock() {
        AllMiniLmL6V2EmbeddingModel m = new AllMiniLmL6V2EmbeddingModel();
        return new Encoder() {
            @Override
            public List<float[]> embedAll(List<String> texts) {
                return m.embedAll(texts.stream().map(TextSegment::from).toList()).content().stream().map(e -> e.vector()).toList();
            }

            @Override
            public int countTokens(String text) {
                throw new UnsupportedOperationException();
            }
        };
    }

    private static void run(Encoder model, List<String> texts, int threads, int group) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < texts.size(); i += group) {
                List<String> g = texts.subList(i, Math.min(texts.size(), i + group));
                done.add(pool.submit(() -> model.embedAll(g)));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
    }
}
