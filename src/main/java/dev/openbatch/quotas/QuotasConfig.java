package dev.openbatch.quotas;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * The default quota of every project ({@code openbatch.quotas.*}); unset means unlimited. The
 * admin API overrides each for one project ({@code POST /v1/organization/projects/{id}/quotas}).
 */
@ConfigMapping(prefix = "openbatch.quotas")
public interface QuotasConfig {
    /** Batches a project may have validating, in_progress, finalizing or cancelling at once; more get 429. */
    OptionalLong liveBatches();

    /** Lines not yet settled of a project's live batches of one model; a batch over it fails validation ({@code token_limit_exceeded}). */
    OptionalLong enqueuedLines();

    /**
     * Input tokens not yet settled of a project's live batches of one model, estimated as the
     * bytes of the request bodies / 4; a batch over it fails validation ({@code token_limit_exceeded}).
     */
    OptionalLong enqueuedInputTokens();

    /** Bytes of a project's stored files (its uploads and the files its batches wrote); an upload over it gets 413. */
    OptionalLong fileBytes();

    /** Uploads of a project in progress at once, on every replica together; more get 429. */
    OptionalLong uploadsAtOnce();

    /**
     * Dry runs ({@code POST /v1/batches/validate}) of a project in progress at once, on every
     * replica together; more get 429. One by default: a process runs two at once
     * ({@code openbatch.limits.dry-runs}), so one project never holds them all.
     */
    @WithDefault("1")
    OptionalLong dryRunsAtOnce();

    /**
     * Reads of {@code GET /v1/batches/{id}/results} a project may make in one second, on every
     * replica together; more get 429. Each read streams from the database: 20 by default keeps a
     * client polling in a loop from taking the database from everyone else.
     */
    @WithDefault("20")
    OptionalLong resultsReadsPerSecond();

    /** Webhook endpoints a project may have; more get 429. */
    @WithDefault("100")
    OptionalLong webhookEndpoints();

    /**
     * Input plus output tokens a project's lines may use in a UTC day; once its settled lines of the
     * day reach it, its batches pause until the next day (or until the cap is raised).
     */
    OptionalLong spendTokensPerDay();

    /** As {@link #spendTokensPerDay}, over a UTC calendar month. */
    OptionalLong spendTokensPerMonth();

    /**
     * US dollars (to a millionth) a project's lines may cost in a UTC day, priced with the price
     * table ({@code openbatch.prices.*}); once reached, its batches pause until the next day.
     */
    Optional<BigDecimal> spendUsdPerDay();

    /** As {@link #spendUsdPerDay}, over a UTC calendar month. */
    Optional<BigDecimal> spendUsdPerMonth();

    /**
     * How often each engine sums the spend of the projects with running batches, pauses those at a
     * cap and resumes those under every cap again: a pause or a resume takes effect on every replica
     * within about this long.
     */
    @WithDefault("1s")
    Duration spendCheck();

    /**
     * How long an upload's or dry run's slot counts when its process dies without giving it back
     * (one that runs longer stops counting then, too).
     */
    @WithDefault("15m")
    Duration leaseTime();
}
