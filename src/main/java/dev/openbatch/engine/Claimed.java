package dev.openbatch.engine;

/** A line this process holds: its place, its fence, and what to send. */
record Claimed(String batchId, int line, long fence, int attempts, String body, String endpoint, String project,
        String jobId, Long deadlineMillis) {
}
