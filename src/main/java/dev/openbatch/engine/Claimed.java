package dev.openbatch.engine;

/** A line this process holds: its place, its claim's fence, what to send, and whose it is. */
record Claimed(String batchId, int line, long fence, int attempts, String body, String endpoint, String project,
        String jobId, Long deadlineMillis) {

    String key() {
        return key(batchId, line);
    }

    static String key(String batchId, int line) {
        return batchId + '#' + line;
    }
}
