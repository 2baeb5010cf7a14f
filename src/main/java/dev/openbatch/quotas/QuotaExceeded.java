package dev.openbatch.quotas;

import dev.openbatch.api.ApiException;

/**
 * A creation refused by a quota: 413 for bytes, 429 for the others, code {@code quota_exceeded},
 * the message naming the quota, its limit and the current use. Validation turns one of the
 * enqueued quotas into a batch error {@code token_limit_exceeded} instead.
 */
public final class QuotaExceeded extends ApiException {
    /** The code of a refusal at the API. */
    public static final String CODE = "quota_exceeded";
    /** The batch error of a batch over an enqueued quota, as OpenAI's batch queue limit. */
    public static final String BATCH_ERROR = "token_limit_exceeded";

    private final Quota quota;
    private final long limit;
    private final long used;

    QuotaExceeded(Quota quota, long limit, long used, String message) {
        super(quota == Quota.FILE_BYTES ? 413 : 429, quota == Quota.FILE_BYTES ? "invalid_request_error" : "rate_limit_error",
                message, null, CODE);
        this.quota = quota;
        this.limit = limit;
        this.used = used;
    }

    public Quota quota() { return quota; }

    public long limit() { return limit; }

    public long used() { return used; }
}
