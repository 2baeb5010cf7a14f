package dev.openbatch.engine.dispatch;

/** A line this process holds: its place, its claim's fence, what to send, and whose it is. */
public record Claimed(String batchId, int line, long fence, int attempts, String body, String endpoint, String project,
        String jobId, Long deadlineMillis) {

    public String key() {
        return key(batchId, line);
    }

    public static String key(String batchId, int line) {
        return batchId + '#' + line;
    }
}
