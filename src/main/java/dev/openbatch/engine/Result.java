package dev.openbatch.engine;

/**
 * What became of one claimed line, ready to be written with its fence.
 *
 * @param state        succeeded | failed | queued (retry later) | cancelled | expired
 * @param notBefore    for a retry, the earliest time (epoch ms) it may be claimed again
 */
record Result(String batchId, int line, long fence, String state, long notBefore, Integer statusCode, String requestId,
        String response, String errorCode, String errorMessage, long inputTokens, long outputTokens, long totalTokens) {

    static Result aborted(Claimed c, String state, String code, String message) {
        return new Result(c.batchId(), c.line(), c.fence(), state, 0, null, null, null, code, message, 0, 0, 0);
    }

    boolean settled() {
        return !"queued".equals(state);
    }
}
