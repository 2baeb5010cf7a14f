package dev.openbatch.engine;

/**
 * What became of one claimed line, ready to be written under its claim's fence. Made only
 * through the factories below, one per outcome.
 *
 * @param claim      the line and the claim it was held under
 * @param state      the line's next state: settled, or {@code queued} for a retry or a give-back
 * @param notBefore  for a retry, the earliest time (epoch ms) it may be claimed again
 * @param refund     give back the attempt the claim counted (the line was never sent)
 */
record Result(Claimed claim, LineState state, long notBefore, Integer statusCode, String requestId, String response,
        String errorCode, String errorMessage, Answers.Usage usage, boolean refund) {

    /** A 2xx answer, with the token counts read from its body. */
    static Result succeeded(Claimed c, int status, String requestId, String body, Answers.Usage usage) {
        return new Result(c, LineState.SUCCEEDED, 0, status, requestId, body, null, null, usage, false);
    }

    /** Back to the queue, to be tried again at {@code at}; the last answer (or the reason none came) is kept. */
    static Result retry(Claimed c, long at, Integer status, String requestId, String body, String code, String message) {
        return new Result(c, LineState.QUEUED, at, status, requestId, body, code, message, Answers.Usage.NONE, false);
    }

    /** Settled for the error file: the upstream's answer, or an error of our own when none came. */
    static Result failed(Claimed c, Integer status, String requestId, String body, String code, String message) {
        return new Result(c, LineState.FAILED, 0, status, requestId, body, code, message, Answers.Usage.NONE, false);
    }

    /** Settled as {@code cancelled} or {@code expired} while this process held it. */
    static Result aborted(Claimed c, LineState state, String code, String message) {
        return new Result(c, state, 0, null, null, null, code, message, Answers.Usage.NONE, false);
    }

    /** Given back to the queue unanswered; a line that was never sent gets its attempt back. */
    static Result released(Claimed c, boolean sent) {
        return new Result(c, LineState.QUEUED, 0, null, null, null, null, null, Answers.Usage.NONE, !sent);
    }

    boolean settled() {
        return state.settled();
    }

    /** How the metrics name this outcome. */
    String outcome() {
        if (settled()) {
            return state.wire();
        }
        return notBefore > 0 ? "retried" : "released";
    }
}
