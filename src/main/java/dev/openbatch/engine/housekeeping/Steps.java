package dev.openbatch.engine.housekeeping;

import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/** The housekeeping jobs' loop (retention, secret sealing): one small transaction after another until a step finds nothing left. */
final class Steps {
    private Steps() {
    }

    /**
     * Runs {@code step} again and again, each after the one before has ended, until one is
     * {@code done}; the sum of what each {@code counted}, the one that is done left out (so a step
     * is done when it found nothing, not when it found less than it could take).
     */
    static <T> Uni<Long> untilDone(Supplier<Uni<T>> step, Predicate<T> done, ToLongFunction<T> counted) {
        return Multi.createBy().repeating().<T>uni(() -> step.get()).until(done)
                .collect().in(() -> new long[1], (sum, s) -> sum[0] += counted.applyAsLong(s))
                .map(sum -> sum[0]);
    }
}
