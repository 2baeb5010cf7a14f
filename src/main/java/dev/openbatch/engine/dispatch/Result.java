package dev.openbatch.engine.dispatch;
import dev.openbatch.status.LineState;
import dev.openbatch.store.LineStore;

/**
 * What became of one claimed line, ready to be written under its claim's fence. Made only
 * through the factories below, one per outcome; they make every value storable (see
 * {@link #storable(String)}, {@link #storable(Answers.Usage)}), so that what an upstream sends
 * cannot make PostgreSQL refuse the write.
 *
 * @param claim      the line and the claim it was held under
 * @param state      the line's next state: settled, or {@code queued} for a retry or a give-back
 * @param notBefore  for a retry, the earliest time (epoch ms) it may be claimed again
 * @param refund     give back the attempt the claim counted (the line was never sent)
 */
public record Result(Claimed claim, LineState state, long notBefore, Integer statusCode, String requestId, String response,
        String errorCode, String errorMessage, Answers.Usage usage, boolean refund) implements LineStore.Outcome {

    /** The error code of a line whose result PostgreSQL refused to store. */
    public static final String NOT_STORABLE = "result_not_storable";
    /**
     * Most tokens one answer may count, per kind (about 10^12): more is no real answer, and a
     * batch's sums (bigint) stay far from overflowing.
     */
    public static final long MAX_TOKENS = 1L << 40;

    /** A 2xx answer, with the token counts read from its body. */
    public static Result succeeded(Claimed c, int status, String requestId, String body, Answers.Usage usage) {
        return new Result(c, LineState.SUCCEEDED, 0, status, storable(requestId), storable(body), null, null, storable(usage), false);
    }

    /** Back to the queue, to be tried again at {@code at}; the last answer (or the reason none came) is kept. */
    static Result retry(Claimed c, long at, Integer status, String requestId, String body, String code, String message) {
        return new Result(c, LineState.QUEUED, at, status, storable(requestId), storable(body), code, storable(message), Answers.Usage.NONE,
                false);
    }

    /** Settled for the error file: the upstream's answer, or an error of our own when none came. */
    static Result failed(Claimed c, Integer status, String requestId, String body, String code, String message) {
        return new Result(c, LineState.FAILED, 0, status, storable(requestId), storable(body), code, storable(message), Answers.Usage.NONE,
                false);
    }

    /** The error code of a line whose request body went with its batch's input file, deleted. */
    public static final String INPUT_FILE_DELETED = "input_file_deleted";

    /**
     * Settled for the error file without a send: its body was kept in the batch's input file (V18),
     * and the file is gone. A retry is refused once the input file is deleted; this covers a
     * deletion that commits while a retry batch is being created.
     */
    static Result bodyGone(Claimed c) {
        return new Result(c, LineState.FAILED, 0, null, null, null, INPUT_FILE_DELETED,
                "The request body of this line was kept in the batch's input file, which was deleted.", Answers.Usage.NONE, true);
    }

    /**
     * Settled for the error file because PostgreSQL refused to store the result it had
     * ({@code why}, its own words): nothing of that result is kept.
     */
    static Result notStorable(Claimed c, String why) {
        String reason = why == null ? "" : ": " + (why.length() > 200 ? why.substring(0, 200) : why);
        return new Result(c, LineState.FAILED, 0, null, null, null, NOT_STORABLE,
                storable("The answer to this request could not be stored; the database refused one of its values" + reason + "."),
                Answers.Usage.NONE, false);
    }

    /** Settled as {@code cancelled} or {@code expired} while this process held it. */
    static Result aborted(Claimed c, LineState state, String code, String message) {
        return new Result(c, state, 0, null, null, null, code, message, Answers.Usage.NONE, false);
    }

    /** Given back to the queue unanswered; a line that was never sent gets its attempt back. */
    static Result released(Claimed c, boolean sent) {
        return new Result(c, LineState.QUEUED, 0, null, null, null, null, null, Answers.Usage.NONE, !sent);
    }

    /**
     * Text PostgreSQL can store: it has no NUL character (a header such as {@code x-request-id}
     * may bring one), so each becomes U+FFFD, the replacement character.
     */
    static String storable(String s) {
        return s == null || s.indexOf('\0') < 0 ? s : s.replace('\0', '\uFFFD');
    }

    /** Token counts a batch can sum: none negative, none over {@link #MAX_TOKENS}. */
    static Answers.Usage storable(Answers.Usage u) {
        if (u.input() >= 0 && u.input() <= MAX_TOKENS && u.output() >= 0 && u.output() <= MAX_TOKENS && u.total() >= 0 && u.total() <= MAX_TOKENS) {
            return u;
        }
        return new Answers.Usage(clamp(u.input()), clamp(u.output()), clamp(u.total()));
    }

    private static long clamp(long tokens) {
        return Math.max(0, Math.min(MAX_TOKENS, tokens));
    }

    @Override
    public String batchId() {
        return claim.batchId();
    }

    @Override
    public int line() {
        return claim.line();
    }

    @Override
    public long fence() {
        return claim.fence();
    }

    @Override
    public long inputTokens() {
        return usage.input();
    }

    @Override
    public long outputTokens() {
        return usage.output();
    }

    @Override
    public long totalTokens() {
        return usage.total();
    }

    public boolean settled() {
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
