/**
 * Calling other servers: one cancellable HTTP exchange ({@link dev.openbatch.outbound.Exchange}),
 * the backoff between attempts ({@link dev.openbatch.outbound.Backoff}).
 * <p>
 * The engine's upstream calls and the webhook deliveries both build on this package; it depends on
 * none of them (only on Vert.x, Mutiny and the JDK), so what each caller reads of an answer, and
 * what it makes of a failure, stays with the caller.
 */
package dev.openbatch.outbound;
