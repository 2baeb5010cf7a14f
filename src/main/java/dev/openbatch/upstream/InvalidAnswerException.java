package dev.openbatch.upstream;

/**
 * An upstream's answer carried a header HTTP does not allow (a control character such as NUL in
 * {@code x-request-id}, a name that is not a token): nothing of it is read or kept, and the line
 * fails for good (the same request would get the same answer).
 */
public class InvalidAnswerException extends RuntimeException {
    public InvalidAnswerException(int status, String header) {
        super("answer (HTTP " + status + ") with a character HTTP forbids in header " + header, null, false, false);
    }
}
